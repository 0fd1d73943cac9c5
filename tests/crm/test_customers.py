"""Customers: normalisation, duplicate detection at scale, CSV import, typed fields."""

from __future__ import annotations

import random

import httpx
import pytest

from callscribe.errors import ValidationFailed
from tests.conftest import CompanyCtx, LiveServer

FIRST = [
    "Adrian",
    "Beatrice",
    "Cornelius",
    "Dolores",
    "Evangeline",
    "Fitzgerald",
    "Gwendolyn",
    "Horatio",
    "Isadora",
    "Jebediah",
    "Katarina",
    "Leopold",
    "Marguerite",
    "Nathaniel",
    "Octavia",
    "Percival",
    "Quentin",
    "Rosalind",
    "Sebastian",
    "Theodora",
    "Ulysses",
    "Valentina",
    "Winifred",
    "Xavier",
    "Yolanda",
    "Zacharias",
    "Anastasia",
    "Bartholomew",
    "Clementine",
    "Desmond",
    "Esmeralda",
    "Ferdinand",
    "Genevieve",
    "Humphrey",
    "Imogen",
    "Josephine",
    "Kingsley",
    "Lavinia",
    "Montgomery",
    "Nicolette",
    "Oswald",
    "Penelope",
    "Reginald",
    "Seraphina",
    "Tobias",
    "Ursula",
    "Vivienne",
    "Wilhelmina",
]
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "sa",
    "ti",
    "vo",
    "ze",
    "ba",
    "de",
    "fi",
    "gu",
    "ho",
    "ja",
    "ke",
    "li",
    "mo",
    "nu",
    "pa",
    "qui",
    "re",
    "so",
    "tu",
    "va",
    "we",
    "xi",
    "yo",
    "zu",
]


def _dataset(seed: int = 7) -> tuple[list[dict], dict[str, list[int]]]:
    """8,000 customers, then 2,000 rows that are some of them again: 800 with the phone
    written another way, 600 with the email spelled another way (case, Gmail dots and
    +tags), 600 with a typo in the name (new phone and email: near matches only)."""
    rnd = random.Random(seed)
    base: list[dict] = []
    seen: set[str] = set()
    while len(base) < 8000:
        last = "".join(rnd.choice(SYLLABLES) for _ in range(3)).capitalize()
        name = f"{rnd.choice(FIRST)} {last}"
        if name in seen:
            continue
        seen.add(name)
        i = len(base)
        phone = f"415{201 + i // 10000:03d}{i % 10000:04d}"
        local = f"{name.split()[0].lower()}.{last.lower()}{i}"
        email = f"{local}@gmail.com" if i % 2 else f"{local}@example.com"
        base.append(
            {"name": name, "phone": f"+1 {phone[:3]} {phone[3:6]} {phone[6:]}", "email": email}
        )
    rows = list(base)
    kinds: dict[str, list[int]] = {"phone": [], "email": [], "typo": []}
    picks = rnd.sample(range(8000), 2000)
    formats = (
        "({a}) {b}-{c}",
        "{a}.{b}.{c}",
        "+1 {a} {b} {c}",
        "001 {a} {b} {c}",
        "1-{a}-{b}-{c}",
        "{a}{b}{c}",
    )
    for n, i in enumerate(picks):
        original = base[i]
        digits = original["phone"].replace(" ", "")[2:]
        a, b, c = digits[:3], digits[3:6], digits[6:]
        if n < 800:
            rows.append(
                {"name": original["name"], "phone": formats[n % len(formats)].format(a=a, b=b, c=c)}
            )
            kinds["phone"].append(i)
        elif n < 1400:
            local, domain = original["email"].split("@")
            if domain == "gmail.com":
                variant = (
                    f"{local.replace('.', '')}+crm@GMail.com"
                    if n % 2
                    else f"{'.'.join(local)}@googlemail.com"
                )
            else:
                variant = original["email"].upper()
            rows.append({"name": original["name"], "email": variant, "tags": ["from-email-dup"]})
            kinds["email"].append(i)
        else:
            first, last = original["name"].split()
            cut = rnd.randrange(1, len(last) - 1)
            typo = last[:cut] + last[cut + 1 :]  # one letter dropped
            rows.append(
                {
                    "name": f"{first} {typo}",
                    "phone": f"+1 628 555 {n:04d}",
                    "email": f"typo{n}@example.org",
                }
            )
            kinds["typo"].append(i)
    return rows, kinds


def test_normalisation() -> None:
    from callscribe.crm.service import name_key, normalize_email, normalize_phone

    e164 = {
        normalize_phone(p)
        for p in (
            "(415) 201-0042",
            "415.201.0042",
            "+1 415 201 0042",
            "001 415 201 0042",
            "1-415-201-0042",
        )
    }
    assert e164 == {"+14152010042"}
    assert normalize_phone("020 7946 0018", "GB") == "+442079460018"
    assert normalize_email(" Crystal.Minh+crm@GoogleMail.com ") == "crystalminh@gmail.com"
    assert normalize_email("Crystal.Minh@Example.com") == "crystal.minh@example.com"
    assert name_key("Smith,  José") == name_key("jose SMITH")
    with pytest.raises(ValidationFailed):
        normalize_phone("not a phone")
    with pytest.raises(ValidationFailed):
        normalize_email("nobody-at-example.com")


@pytest.mark.slow
def test_bulk_of_10000_with_duplicates_in_several_spellings(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN 10,000 rows: 8,000 people and 2,000 of them again, spelled differently
    WHEN they are sent as one bulk with on_duplicate=update
    THEN phone and email variants merge into the right customer, name typos become new
    customers with the original suggested, and every row has its result."""
    rows, kinds = _dataset()
    with httpx.Client(base_url=api_server.url, timeout=300) as client:
        r = client.post(
            "/api/customers/bulk",
            params={"on_duplicate": "update"},
            json=rows,
            headers=company.headers,
        )
        assert r.status_code == 200, r.text[:500]
        body = r.json()
        results = body["results"]
        assert len(results) == 10_000 and [x["row"] for x in results] == list(range(1, 10_001))
        assert (body["created"], body["updated"], body["skipped"], body["errors"]) == (
            8600,
            1400,
            0,
            0,
        )
        ids = [x["customer_id"] for x in results[:8000]]
        assert len(set(ids)) == 8000
        dup = results[8000:]
        for res, i in zip(dup[:800], kinds["phone"], strict=True):
            assert (res["status"], res["duplicate_of"], res["matched_on"]) == (
                "updated",
                ids[i],
                ["phone"],
            )
        for res, i in zip(dup[800:1400], kinds["email"], strict=True):
            assert (res["status"], res["duplicate_of"], res["matched_on"]) == (
                "updated",
                ids[i],
                ["email"],
            )
        for res, i in zip(dup[1400:], kinds["typo"], strict=True):
            assert res["status"] == "created" and res["duplicate_of"] is None
            assert ids[i] in [s["customer_id"] for s in res["suggestions"]], res
            assert all(0.88 <= s["score"] <= 1 for s in res["suggestions"])
        assert client.get("/api/customers", headers=company.headers).json()["total"] == 8600
        merged = client.get(
            f"/api/customers/{ids[kinds['email'][0]]}", headers=company.headers
        ).json()
        assert merged["tags"] == ["from-email-dup"]
        assert merged["phones"] == [rows[kinds["email"][0]]["phone"].replace(" ", "")]

        # the same rows again with skip: nothing changes, every row says which customer it is
        r = client.post(
            "/api/customers/bulk",
            params={"on_duplicate": "skip"},
            json=rows[:2000],
            headers=company.headers,
        )
        again = r.json()
        assert (again["created"], again["skipped"]) == (0, 2000)
        assert [x["customer_id"] for x in again["results"]] == ids[:2000]


def test_single_add_follows_on_duplicate(api_server: LiveServer, company: CompanyCtx) -> None:
    with api_server.client() as client:
        h = company.headers
        first = client.post(
            "/api/customers", json={"name": "Crystal Minh", "phone": "(977) 625-2661"}, headers=h
        )
        assert first.status_code == 201, first.text
        cid = first.json()["customer_id"]
        same = {
            "name": "Crystal Minh",
            "phones": ["+19776252661"],
            "emails": ["CMinh730@email.com"],
        }
        r = client.post("/api/customers", json=same, headers=h)
        assert r.status_code == 409 and r.json()["duplicate_of"] == cid
        r = client.post("/api/customers", params={"on_duplicate": "update"}, json=same, headers=h)
        assert r.status_code == 200 and r.json()["customer_id"] == cid
        got = client.get(f"/api/customers/{cid}", headers=h).json()
        assert got["emails"] == ["cminh730@email.com"] and got["phones"] == ["+19776252661"]
        r = client.post("/api/customers", params={"on_duplicate": "create"}, json=same, headers=h)
        assert (
            r.status_code == 201
            and r.json()["customer_id"] != cid
            and r.json()["duplicate_of"] == cid
        )
        r = client.post(
            "/api/customers", json={"name": "Crystal Minhh", "phone": "+1 628 555 0101"}, headers=h
        )
        assert r.status_code == 201 and cid in [s["customer_id"] for s in r.json()["suggestions"]]
        r = client.post("/api/customers", json={"name": "X", "phone": "12"}, headers=h)
        assert r.status_code == 422
        assert client.get("/api/customers", headers=h).json()["total"] == 3


def test_csv_import_reports_the_bad_rows(api_server: LiveServer, company: CompanyCtx) -> None:
    csv_text = (
        "name,phone,email,company,stage,tags\n"
        "Crystal Minh,(977) 625-2661,cminh730@email.com,Minh Imports,lead,vip;west\n"
        "Joseph Banter,415-201-0001,not-an-email,,lead,\n"  # bad email
        "Ana Lopez,415-201-0002,ana@example.com,,no-such-stage,\n"  # unknown stage
        "Too,Many,Cells,a,b,c,d\n"
        "crystal minh,+1 977 625 2661,,,customer,\n"  # duplicate of row 1 by phone
        "Dmitri Ivanov,+44 20 7946 0018,dmitri@example.com,,,\n"
    )
    with api_server.client() as client:
        r = client.post(
            "/api/customers/import",
            params={"on_duplicate": "update"},
            content=csv_text.encode(),
            headers={**company.headers, "Content-Type": "text/csv"},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        statuses = [(x["row"], x["status"]) for x in body["results"]]
        assert statuses == [
            (1, "created"),
            (2, "error"),
            (3, "error"),
            (4, "error"),
            (5, "updated"),
            (6, "created"),
        ]
        errors = {x["row"]: x["error"] for x in body["results"] if x["error"]}
        assert "email" in errors[2] and "stage" in errors[3] and "cells" in errors[4]
        crystal = client.get(
            f"/api/customers/{body['results'][0]['customer_id']}", headers=company.headers
        ).json()
        assert crystal["stage"] == "customer" and crystal["tags"] == ["vip", "west"]
        # multipart works too, unknown columns refuse the whole file
        r = client.post(
            "/api/customers/import",
            files={"file": ("c.csv", b"name,shoe_size\nA,42\n", "text/csv")},
            headers=company.headers,
        )
        assert r.status_code == 422 and "shoe_size" in r.json()["error"]["message"]
        assert client.get("/api/customers", headers=company.headers).json()["total"] == 2


def test_stages_and_typed_custom_fields(api_server: LiveServer, company: CompanyCtx) -> None:
    with api_server.client() as client:
        h = company.headers
        assert client.put(
            "/api/customers/stages", json={"stages": ["new", "won"]}, headers=h
        ).json() == {"stages": ["new", "won"]}
        fields = {
            "fields": [
                {"key": "plan", "type": "choice", "choices": ["bronze", "gold"]},
                {"key": "seats", "type": "number"},
                {"key": "renewal", "type": "date"},
                {"key": "notes", "type": "text"},
            ]
        }
        assert client.put("/api/customers/fields", json=fields, headers=h).status_code == 200
        ok = {
            "name": "Typed",
            "stage": "won",
            "custom_fields": {
                "plan": "gold",
                "seats": "12",
                "renewal": "2027-01-31",
                "notes": "hi",
            },
        }
        r = client.post("/api/customers", json=ok, headers=h)
        assert r.status_code == 201, r.text
        got = client.get(f"/api/customers/{r.json()['customer_id']}", headers=h).json()
        assert got["custom_fields"] == {
            "plan": "gold",
            "seats": 12,
            "renewal": "2027-01-31",
            "notes": "hi",
        }
        for bad in ({"plan": "platinum"}, {"seats": "many"}, {"renewal": "soon"}, {"color": "red"}):
            r = client.post("/api/customers", json={"name": "Bad", "custom_fields": bad}, headers=h)
            assert r.status_code == 422, bad
        r = client.post("/api/customers", json={"name": "Bad", "stage": "lead"}, headers=h)
        assert r.status_code == 422 and "stage" in r.json()["error"]["message"]
        r = client.put(
            "/api/customers/fields", json={"fields": [{"key": "x", "type": "choice"}]}, headers=h
        )
        assert r.status_code == 422
