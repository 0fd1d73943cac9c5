"""Customers: normalisation (E.164 phones, emails, names), duplicate detection on import,
the pipeline of stages, typed custom fields, CRM object links, and the links of calls to
customers (definite from CRM objects, suggested from phone and name)."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import phonenumbers
from rapidfuzz import fuzz, process
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from callscribe.crm.models import (
    CrmObjectLink,
    Customer,
    CustomerIdentity,
    CustomFieldDef,
    EngagementLink,
    PipelineStage,
)
from callscribe.db import utcnow
from callscribe.errors import ErrorCode, NotFound, ValidationFailed
from callscribe.kit.pagination import paginate
from callscribe.kit.schemas import Page

OnDuplicate = Literal["skip", "update", "create"]
DEFAULT_STAGES = ("lead", "qualified", "opportunity", "customer", "churned")
DEFAULT_REGION = "US"
NAME_MATCH_CUTOFF = 88  # rapidfuzz ratio (0-100) on normalised, token-sorted names
MAX_SUGGESTIONS = 3
FIELD_TYPES = ("text", "number", "date", "choice")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
GMAIL_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


# -- normalisation -----------------------------------------------------------------------


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164 (`+14155550100`). Raises ValidationFailed for something that is no phone number."""
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region or DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(
            f"{raw!r} is not a phone number.", code=ErrorCode.INVALID_PHONE
        ) from exc
    if not phonenumbers.is_possible_number(number):
        raise ValidationFailed(
            f"{raw!r} is not a possible phone number.", code=ErrorCode.INVALID_PHONE
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_normalize_phone(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    if not raw:
        return None
    try:
        return normalize_phone(raw, region)
    except ValidationFailed:
        return None


def normalize_email(raw: str) -> str:
    """Lower case; for Gmail, dots and +tags in the local part do not make another inbox."""
    text = (raw or "").strip().lower()
    if not EMAIL_RE.match(text):
        raise ValidationFailed(f"{raw!r} is not an email address.", code=ErrorCode.INVALID_EMAIL)
    local, _, domain = text.rpartition("@")
    if domain in GMAIL_DOMAINS:
        domain = GMAIL_DOMAINS[domain]
        local = local.split("+", 1)[0].replace(".", "")
    return f"{local}@{domain}"


def _name_tokens(name: str | None) -> list[str]:
    if not name:
        return []
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return re.findall(r"[^\W_]+", text)


def name_key(name: str | None) -> str:
    """Accents, case, punctuation and token order removed: 'Smith, José' == 'jose smith'."""
    return " ".join(sorted(_name_tokens(name)))


def plain_name(name: str | None) -> str:
    """Accents, case and punctuation removed, order kept (a typo can reorder sorted keys:
    'Tobias Tituja' sorts as 'tituja tobias', 'Tobias Ttuja' as 'tobias ttuja')."""
    return " ".join(_name_tokens(name))


def name_scores(queries: list[str | None], names: list[str | None]):  # type: ignore[no-untyped-def]
    """Similarity matrix (0-100, uint8) of names: the better of token-sorted and
    as-written comparison; entries under NAME_MATCH_CUTOFF are 0."""
    import numpy as np

    sorted_scores = process.cdist(
        [name_key(q) for q in queries],
        [name_key(n) for n in names],
        scorer=fuzz.ratio,
        score_cutoff=NAME_MATCH_CUTOFF,
        dtype=np.uint8,
        workers=-1,
    )
    plain_scores = process.cdist(
        [plain_name(q) for q in queries],
        [plain_name(n) for n in names],
        scorer=fuzz.ratio,
        score_cutoff=NAME_MATCH_CUTOFF,
        dtype=np.uint8,
        workers=-1,
    )
    return np.maximum(sorted_scores, plain_scores)


# -- stages and custom fields ------------------------------------------------------------


def list_stages(session: Session, company_id: uuid.UUID) -> list[str]:
    rows = session.scalars(
        select(PipelineStage.name)
        .where(PipelineStage.company_id == company_id)
        .order_by(PipelineStage.position, PipelineStage.id)
    ).all()
    return list(rows) or list(DEFAULT_STAGES)


def set_stages(session: Session, company_id: uuid.UUID, names: list[str]) -> list[str]:
    clean = list(dict.fromkeys(n.strip()[:100] for n in names if n and n.strip()))
    if not clean:
        raise ValidationFailed("The pipeline needs at least one stage.")
    session.execute(delete(PipelineStage).where(PipelineStage.company_id == company_id))
    for position, name in enumerate(clean):
        session.add(PipelineStage(company_id=company_id, name=name, position=position))
    session.flush()
    return clean


def list_field_defs(session: Session, company_id: uuid.UUID) -> list[CustomFieldDef]:
    return list(
        session.scalars(
            select(CustomFieldDef)
            .where(CustomFieldDef.company_id == company_id)
            .order_by(CustomFieldDef.id)
        )
    )


def set_field_defs(
    session: Session, company_id: uuid.UUID, defs: list[dict[str, Any]]
) -> list[CustomFieldDef]:
    keys = [d["key"] for d in defs]
    if len(set(keys)) != len(keys):
        raise ValidationFailed("Custom field keys must be unique.")
    for d in defs:
        if d["type"] == "choice" and not d.get("choices"):
            raise ValidationFailed(f"Custom field {d['key']!r} is a choice: give its choices.")
    session.execute(delete(CustomFieldDef).where(CustomFieldDef.company_id == company_id))
    for d in defs:
        session.add(
            CustomFieldDef(
                company_id=company_id,
                key=d["key"],
                label=d.get("label") or d["key"],
                type=d["type"],
                choices=list(d.get("choices") or []) or None,
            )
        )
    session.flush()
    return list_field_defs(session, company_id)


def coerce_custom_fields(values: dict[str, Any], defs: dict[str, CustomFieldDef]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        d = defs.get(key)
        if d is None:
            raise ValidationFailed(
                f"Unknown custom field {key!r}; define it first (PUT /api/customers/fields).",
                code=ErrorCode.UNKNOWN_CUSTOM_FIELD,
            )
        if value is None or value == "":
            out[key] = None
            continue
        if d.type == "number":
            try:
                number = float(value)
            except (TypeError, ValueError, OverflowError) as exc:  # a 400-digit integer
                raise ValidationFailed(f"Custom field {key!r} needs a number.") from exc
            if number != number or number in (float("inf"), float("-inf")):
                raise ValidationFailed(f"Custom field {key!r} needs a finite number.")
            out[key] = int(number) if number.is_integer() and abs(number) < 2**53 else number
        elif d.type == "date":
            try:
                out[key] = date.fromisoformat(str(value)[:10]).isoformat()
            except ValueError as exc:
                raise ValidationFailed(f"Custom field {key!r} needs a date (YYYY-MM-DD).") from exc
        elif d.type == "choice":
            if str(value) not in (d.choices or []):
                raise ValidationFailed(
                    f"Custom field {key!r} must be one of: {', '.join(d.choices or [])}."
                )
            out[key] = str(value)
        else:
            out[key] = str(value)[:1000]
    return out


# -- import with duplicate detection -----------------------------------------------------


@dataclass
class Suggestion:
    customer_id: uuid.UUID
    name: str | None
    score: float
    reason: str = "name"


@dataclass
class RowResult:
    row: int
    status: str  # created | updated | skipped | error
    customer_id: uuid.UUID | None = None
    duplicate_of: uuid.UUID | None = None
    matched_on: list[str] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    error: str | None = None


@dataclass
class CleanCustomer:
    name: str | None
    phones: list[str]
    emails: list[str]
    company_name: str | None
    stage: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    crm_objects: list[tuple[str, str, str]]


class CustomerImporter:
    """Adds customers one row at a time with duplicate detection against the company's
    customers and the rows before it in the same request. Exact duplicates (a shared
    E.164 phone or normalised email) follow `on_duplicate`; near matches (similar names)
    come back as suggestions once all rows are in (`finish`)."""

    def __init__(
        self,
        session: Session,
        company_id: uuid.UUID,
        on_duplicate: OnDuplicate = "skip",
        region: str = DEFAULT_REGION,
    ):
        self.session = session
        self.company_id = company_id
        self.on_duplicate = on_duplicate
        self.region = region
        self.stages = set(list_stages(session, company_id))
        self.defs = {d.key: d for d in list_field_defs(session, company_id)}
        # (kind, value) -> customer, for the values this request uses (see `preload`) and
        # the customers it adds
        self.identities: dict[tuple[str, str], uuid.UUID] = {}
        self.customers: dict[uuid.UUID, Customer] = {}
        self.results: list[RowResult] = []

    def preload(self, rows: Iterable[dict[str, Any]]) -> None:
        """Fetch the stored identities matching the rows' phones and emails, in chunks,
        instead of one query per row or the whole company's list."""
        wanted: set[str] = set()
        for data in rows:
            for raw in data.get("phones") or []:
                if (e164 := try_normalize_phone(raw, self.region)) is not None:
                    wanted.add(e164)
            for raw in data.get("emails") or []:
                with suppress(ValidationFailed):
                    wanted.add(normalize_email(raw))
        values = sorted(wanted)
        for start in range(0, len(values), 500):
            for kind, value, customer_id in self.session.execute(
                select(CustomerIdentity.kind, CustomerIdentity.value, CustomerIdentity.customer_id)
                .where(
                    CustomerIdentity.company_id == self.company_id,
                    CustomerIdentity.value.in_(values[start : start + 500]),
                )
                .order_by(CustomerIdentity.id)
            ):
                self.identities.setdefault((kind, value), customer_id)

    # -- one row -------------------------------------------------------------------------
    def clean(self, data: dict[str, Any]) -> CleanCustomer:
        phones = list(dict.fromkeys(normalize_phone(p, self.region) for p in data["phones"]))
        emails = list(dict.fromkeys(normalize_email(e) for e in data["emails"]))
        stage = data.get("stage")
        if stage is not None and stage not in self.stages:
            raise ValidationFailed(
                f"Unknown stage {stage!r}; the pipeline is: {', '.join(sorted(self.stages))}.",
                code=ErrorCode.UNKNOWN_STAGE,
            )
        objects = [
            (o["connection_id"], o["object_type"], o["object_id"])
            for o in data.get("crm_objects") or []
        ]
        return CleanCustomer(
            name=(data.get("name") or None),
            phones=phones,
            emails=emails,
            company_name=data.get("company") or None,
            stage=stage,
            tags=list(dict.fromkeys(t.strip()[:100] for t in data.get("tags") or [] if t.strip())),
            custom_fields=coerce_custom_fields(data.get("custom_fields") or {}, self.defs),
            crm_objects=objects,
        )

    def add(self, row: int, data: dict[str, Any]) -> RowResult:
        """`data` is a validated CustomerIn dump (snake_case)."""
        try:
            clean = self.clean(data)
            if not (clean.name or clean.phones or clean.emails):
                raise ValidationFailed("A customer needs a name, a phone or an email.")
        except ValidationFailed as exc:
            result = RowResult(row=row, status="error", error=exc.message)
            self.results.append(result)
            return result
        keys = [("phone", p) for p in clean.phones] + [("email", e) for e in clean.emails]
        matched_on: list[str] = []
        existing_id: uuid.UUID | None = None
        for kind, value in keys:
            hit = self.identities.get((kind, value))
            if hit is not None:
                existing_id = existing_id or hit
                if kind not in matched_on:
                    matched_on.append(kind)
        if existing_id is not None and self.on_duplicate == "skip":
            result = RowResult(row, "skipped", existing_id, existing_id, matched_on)
        elif existing_id is not None and self.on_duplicate == "update":
            customer = self._load(existing_id)
            self._merge(customer, clean)
            result = RowResult(row, "updated", existing_id, existing_id, matched_on)
        else:
            customer = self._create(clean)
            result = RowResult(row, "created", customer.id, existing_id, matched_on)
        self.results.append(result)
        return result

    def _load(self, customer_id: uuid.UUID) -> Customer:
        customer = self.customers.get(customer_id) or self.session.get(Customer, customer_id)
        assert customer is not None
        self.customers[customer_id] = customer
        return customer

    def _add_identities(self, customer: Customer, clean: CleanCustomer) -> None:
        for kind, values in (("phone", clean.phones), ("email", clean.emails)):
            for value in values:
                if self.identities.get((kind, value)) == customer.id:
                    continue
                self.session.add(
                    CustomerIdentity(
                        company_id=self.company_id, customer_id=customer.id, kind=kind, value=value
                    )
                )
                self.identities.setdefault((kind, value), customer.id)
        for connection_id, object_type, object_id in clean.crm_objects:
            upsert_crm_object(
                self.session, self.company_id, customer.id, connection_id, object_type, object_id
            )

    def _create(self, clean: CleanCustomer) -> Customer:
        customer = Customer(
            id=uuid.uuid4(),
            company_id=self.company_id,
            name=clean.name,
            phones=clean.phones,
            emails=clean.emails,
            company_name=clean.company_name,
            stage=clean.stage,
            tags=clean.tags,
            custom_fields=clean.custom_fields,
        )
        self.session.add(customer)
        self.customers[customer.id] = customer
        self._add_identities(customer, clean)
        return customer

    def _merge(self, customer: Customer, clean: CleanCustomer) -> None:
        if clean.name:
            customer.name = clean.name
        if clean.company_name:
            customer.company_name = clean.company_name
        if clean.stage:
            customer.stage = clean.stage
        customer.phones = list(dict.fromkeys([*(customer.phones or []), *clean.phones]))
        customer.emails = list(dict.fromkeys([*(customer.emails or []), *clean.emails]))
        customer.tags = list(dict.fromkeys([*(customer.tags or []), *clean.tags]))
        customer.custom_fields = {**(customer.custom_fields or {}), **clean.custom_fields}
        customer.updated_at = utcnow()
        self._add_identities(customer, clean)

    # -- after all rows ------------------------------------------------------------------
    def finish(self) -> list[RowResult]:
        """Flush, then attach near-match suggestions (similar names, not the same
        customer and not already an exact duplicate) to created rows."""
        self.session.flush()
        created = [r for r in self.results if r.status == "created" and r.customer_id]
        if not created:
            return self.results
        rows = self.session.execute(
            select(Customer.id, Customer.name).where(
                Customer.company_id == self.company_id, Customer.name.is_not(None)
            )
        ).all()
        ids = [r[0] for r in rows]
        names = {r[0]: r[1] for r in rows}
        all_names = [r[1] for r in rows]
        queries = [(r, self.customers[r.customer_id].name) for r in created]  # type: ignore[index]
        queries = [(r, q) for r, q in queries if name_key(q)]
        for start in range(0, len(queries), 1000):
            chunk = queries[start : start + 1000]
            scores = name_scores([q for _r, q in chunk], all_names)
            for (result, _q), line in zip(chunk, scores, strict=True):
                hits = line.nonzero()[0]
                found = sorted(
                    (
                        (int(line[i]), ids[i])
                        for i in hits
                        if ids[i] != result.customer_id and ids[i] != result.duplicate_of
                    ),
                    key=lambda t: -t[0],
                )[:MAX_SUGGESTIONS]
                result.suggestions = [
                    Suggestion(customer_id=cid, name=names[cid], score=score / 100)
                    for score, cid in found
                ]
        return self.results


def add_customers(
    session: Session,
    company_id: uuid.UUID,
    rows: Iterable[tuple[int, dict[str, Any] | str]],
    on_duplicate: OnDuplicate = "skip",
    region: str = DEFAULT_REGION,
) -> list[RowResult]:
    """Rows are (row number, validated data) or (row number, error message)."""
    importer = CustomerImporter(session, company_id, on_duplicate, region)
    rows = list(rows)
    importer.preload(data for _row, data in rows if not isinstance(data, str))
    for row, data in rows:
        if isinstance(data, str):
            importer.results.append(RowResult(row=row, status="error", error=data))
        else:
            importer.add(row, data)
    return importer.finish()


# -- queries -----------------------------------------------------------------------------


def get_customer(session: Session, company_id: uuid.UUID, customer_id: uuid.UUID | str) -> Customer:
    try:
        cid = uuid.UUID(str(customer_id))
    except ValueError as exc:
        raise NotFound("Customer not found.") from exc
    customer = session.get(Customer, cid)
    if customer is None or customer.company_id != company_id:
        raise NotFound("Customer not found.")
    return customer


def list_customers(
    session: Session, company_id: uuid.UUID, q: str | None, page: int, page_size: int
) -> Page[Customer]:
    stmt = select(Customer).where(Customer.company_id == company_id)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Customer.name.ilike(like), Customer.company_name.ilike(like)))
    return paginate(
        session, stmt, page, page_size, order_by=(Customer.created_at.desc(), Customer.id)
    )


def crm_objects_of(session: Session, customer_id: uuid.UUID) -> list[CrmObjectLink]:
    return list(
        session.scalars(
            select(CrmObjectLink)
            .where(CrmObjectLink.customer_id == customer_id)
            .order_by(CrmObjectLink.created_at)
        )
    )


# -- CRM objects and call links ----------------------------------------------------------


def upsert_crm_object(
    session: Session,
    company_id: uuid.UUID,
    customer_id: uuid.UUID,
    connection_id: str,
    object_type: str,
    object_id: str,
) -> CrmObjectLink:
    link = session.scalars(
        select(CrmObjectLink).where(
            CrmObjectLink.company_id == company_id,
            CrmObjectLink.connection_id == connection_id,
            CrmObjectLink.object_type == object_type,
            CrmObjectLink.object_id == object_id,
        )
    ).first()
    if link is None:
        link = CrmObjectLink(
            company_id=company_id,
            customer_id=customer_id,
            connection_id=connection_id,
            object_type=object_type,
            object_id=object_id,
        )
        session.add(link)
        session.flush()
    else:
        link.customer_id = customer_id
    return link


def find_crm_objects(
    session: Session,
    company_id: uuid.UUID,
    connection_id: str,
    objects: list[tuple[str, str]],
) -> tuple[list[CrmObjectLink], list[tuple[str, str]]]:
    """Split (type, id) pairs into the objects that exist in the connection and those that
    do not."""
    found, unknown = [], []
    for object_type, object_id in dict.fromkeys(objects):
        link = session.scalars(
            select(CrmObjectLink).where(
                CrmObjectLink.company_id == company_id,
                CrmObjectLink.connection_id == connection_id,
                CrmObjectLink.object_type == object_type,
                CrmObjectLink.object_id == object_id,
            )
        ).first()
        if link is None:
            unknown.append((object_type, object_id))
        else:
            found.append(link)
    return found, unknown


def customer_by_phone(
    session: Session, company_id: uuid.UUID, phone: str | None, region: str = DEFAULT_REGION
) -> uuid.UUID | None:
    e164 = try_normalize_phone(phone, region)
    if e164 is None:
        return None
    return session.scalars(
        select(CustomerIdentity.customer_id)
        .where(
            CustomerIdentity.company_id == company_id,
            CustomerIdentity.kind == "phone",
            CustomerIdentity.value == e164,
        )
        .order_by(CustomerIdentity.id)
    ).first()


def customer_by_email(
    session: Session, company_id: uuid.UUID, email: str | None
) -> uuid.UUID | None:
    try:
        value = normalize_email(email or "")
    except ValidationFailed:
        return None
    return session.scalars(
        select(CustomerIdentity.customer_id)
        .where(
            CustomerIdentity.company_id == company_id,
            CustomerIdentity.kind == "email",
            CustomerIdentity.value == value,
        )
        .order_by(CustomerIdentity.id)
    ).first()


def resolve_customer(
    session: Session,
    company_id: uuid.UUID,
    *,
    customer_id: uuid.UUID | str | None = None,
    name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    region: str = DEFAULT_REGION,
) -> uuid.UUID | None:
    """The customer an engagement belongs to, the same way for every ingest source: our
    id (404 when it is not this company's), else the customer with that phone (E.164),
    else with that email, else, when only a name is known, the one customer of that
    name; created from what is known when none matches. A phone or email that does not
    normalise is ignored; a name shared by several customers links none (the
    suggestions are for a person to pick)."""
    if customer_id:
        return get_customer(session, company_id, customer_id).id
    e164 = try_normalize_phone(phone, region)
    clean_email: str | None = None
    if email:
        with suppress(ValidationFailed):
            clean_email = normalize_email(email)
    found = customer_by_phone(session, company_id, e164, region) if e164 else None
    if found is None and clean_email:
        found = customer_by_email(session, company_id, clean_email)
    if found is not None:
        return found
    clean_name = (name or "").strip()[:200] or None
    if not (e164 or clean_email):
        if clean_name is None:
            return None
        same = list(
            session.scalars(
                select(Customer.id)
                .where(
                    Customer.company_id == company_id,
                    func.lower(Customer.name) == clean_name.lower(),
                )
                .limit(2)
            )
        )
        if len(same) > 1:
            return None
        if same:
            return same[0]
    customer = Customer(
        id=uuid.uuid4(),
        company_id=company_id,
        name=clean_name,
        phones=[e164] if e164 else [],
        emails=[clean_email] if clean_email else [],
        tags=[],
        custom_fields={},
    )
    session.add(customer)
    for kind, value in (("phone", e164), ("email", clean_email)):
        if value:
            session.add(
                CustomerIdentity(
                    company_id=company_id, customer_id=customer.id, kind=kind, value=value
                )
            )
    session.flush()
    return customer.id


def suggest_customers(
    session: Session,
    company_id: uuid.UUID,
    phone: str | None,
    name: str | None,
    region: str = DEFAULT_REGION,
) -> list[Suggestion]:
    """Customers a call probably belongs to: the same phone (score 1), similar names."""
    out: dict[uuid.UUID, Suggestion] = {}
    e164 = try_normalize_phone(phone, region)
    if e164:
        for cid in session.scalars(
            select(CustomerIdentity.customer_id).where(
                CustomerIdentity.company_id == company_id,
                CustomerIdentity.kind == "phone",
                CustomerIdentity.value == e164,
            )
        ):
            customer = session.get(Customer, cid)
            out[cid] = Suggestion(cid, customer.name if customer else None, 1.0, "phone")
    if name_key(name):
        rows = session.execute(
            select(Customer.id, Customer.name).where(
                Customer.company_id == company_id, Customer.name.is_not(None)
            )
        ).all()
        if rows:
            line = name_scores([name], [r[1] for r in rows])[0]
            best = sorted(((int(line[i]), i) for i in line.nonzero()[0]), reverse=True)
            for score, index in best[:MAX_SUGGESTIONS]:
                cid, cname = rows[index]
                if cid not in out:
                    out[cid] = Suggestion(cid, cname, round(score / 100, 3), "name")
    return sorted(out.values(), key=lambda s: -s.score)[: MAX_SUGGESTIONS + 1]


def link_engagement(
    session: Session,
    company_id: uuid.UUID,
    engagement_id: uuid.UUID,
    *,
    definite: list[CrmObjectLink] = (),  # type: ignore[assignment]
    suggested: list[Suggestion] = (),  # type: ignore[assignment]
) -> list[EngagementLink]:
    links = []
    for obj in definite:
        links.append(
            EngagementLink(
                company_id=company_id,
                engagement_id=engagement_id,
                customer_id=obj.customer_id,
                crm_object_id=obj.id,
                kind="definite",
                reason="crm_object",
                score=1.0,
            )
        )
    for s in suggested:
        links.append(
            EngagementLink(
                company_id=company_id,
                engagement_id=engagement_id,
                customer_id=s.customer_id,
                kind="suggested",
                reason=s.reason,
                score=s.score,
            )
        )
    session.add_all(links)
    session.flush()
    return links


def engagement_links(session: Session, engagement_id: uuid.UUID) -> list[EngagementLink]:
    return list(
        session.scalars(
            select(EngagementLink)
            .where(EngagementLink.engagement_id == engagement_id)
            .order_by(EngagementLink.created_at, EngagementLink.id)
        )
    )


def confirm_link(
    session: Session, company_id: uuid.UUID, engagement_id: uuid.UUID, link_id: uuid.UUID
) -> EngagementLink:
    """A person confirms a suggested link: the call now belongs to that customer."""
    from callscribe.calls.models import Engagement

    link = session.get(EngagementLink, link_id)
    if link is None or link.company_id != company_id or link.engagement_id != engagement_id:
        raise NotFound("Link not found.")
    link.kind = "confirmed" if link.kind == "suggested" else link.kind
    call = session.get(Engagement, engagement_id)
    if call is not None and link.customer_id:
        call.customer_id = link.customer_id
    session.flush()
    return link
