"""Issue 18: a company time zone (Settings -> Company) and each user's own (the profile),
the user's defaulting to the company's; pages show every time in the user's zone with
the zone named, the API stays UTC ISO-8601, and unknown zone names are a 422."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.conftest import CompanyCtx, LiveServer
from tests.web.conftest import create_user, insert_transcribed_call, sign_in

STARTED = datetime(2026, 11, 20, 14, 3, tzinfo=UTC)


def _call(company_id):  # type: ignore[no-untyped-def]
    from callscribe.calls.models import Engagement
    from callscribe.db import session_scope

    call_id = insert_transcribed_call(company_id, customer_name="Harper")
    with session_scope() as s:
        s.get(Engagement, call_id).started_at = STARTED  # type: ignore[union-attr]
    return call_id


def test_unknown_zone_names_are_refused_with_422_and_nothing_changes(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    create_user(company.id, "ann@acme.test", "admin")
    with api_server.client() as c:
        for bad in ["Mars/Olympus", "europe/berlin", "../../etc/passwd", "X" * 64]:
            answer = c.put(
                "/api/settings/company", headers=company.headers, json={"time_zone": bad}
            )
            assert answer.status_code == 422, (bad, answer.text)
            assert "Unknown time zone" in answer.json()["error"]["message"]
        too_long = c.put(
            "/api/settings/company", headers=company.headers, json={"time_zone": "X" * 65}
        )
        assert too_long.status_code == 422
        assert c.get("/api/settings/company", headers=company.headers).json() == {"time_zone": None}
        ok = c.put(
            "/api/settings/company", headers=company.headers, json={"time_zone": "Europe/Berlin"}
        )
        assert ok.status_code == 200 and ok.json() == {"time_zone": "Europe/Berlin"}
        # an API key acts for no user: it has no own zone
        assert (
            c.put(
                "/api/me/time-zone", headers=company.headers, json={"time_zone": "UTC"}
            ).status_code
            == 400
        )

    web = sign_in(api_server.url, "ann@acme.test")
    refused = web.post_form("/profile", {"time_zone": "Atlantis/Capital"})
    assert refused.status_code == 422
    assert "Unknown time zone" in refused.text and 'value="Atlantis/Capital"' in refused.text
    mine = web.client.put(
        "/api/me/time-zone", headers={"X-CSRF-Token": web.csrf}, json={"time_zone": "Nowhere"}
    )
    assert mine.status_code == 422
    assert web.client.get("/api/me/time-zone").json() == {
        "time_zone": None,
        "effective_time_zone": "Europe/Berlin",
    }


def test_only_admins_set_the_company_zone(api_server: LiveServer, company: CompanyCtx) -> None:
    create_user(company.id, "max@acme.test", "manager")
    manager = sign_in(api_server.url, "max@acme.test")
    answer = manager.client.put(
        "/api/settings/company",
        headers={"X-CSRF-Token": manager.csrf},
        json={"time_zone": "Asia/Tokyo"},
    )
    assert answer.status_code == 403
    assert manager.client.get("/settings/company").status_code == 403
    assert "/settings/company" not in manager.client.get("/calls").text


def test_pages_show_times_in_the_users_zone_named_and_the_api_stays_utc(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    """GIVEN a call started 2026-11-20 14:03 UTC WHEN the company zone is Europe/Berlin
    THEN its page and the list say 15:03 CET; WHEN the user picks America/New_York THEN
    09:03 EST, while another user still sees CET and the API says 14:03 UTC."""
    create_user(company.id, "ann@acme.test", "admin")
    create_user(company.id, "bob@acme.test", "admin")
    call_id = _call(company.id)
    ann = sign_in(api_server.url, "ann@acme.test")
    bob = sign_in(api_server.url, "bob@acme.test")

    page = ann.client.get(f"/calls/{call_id}").text
    assert "2026-11-20 14:03 UTC" in page  # no zone set anywhere: UTC, named

    saved = ann.post_form("/settings/company", {"time_zone": "Europe/Berlin"})
    assert saved.status_code == 303
    for web in (ann, bob):
        assert "2026-11-20 15:03 CET" in web.client.get(f"/calls/{call_id}").text
        assert "2026-11-20 15:03 CET" in web.client.get("/calls").text

    assert ann.post_form("/profile", {"time_zone": "America/New_York"}).status_code == 303
    profile = ann.client.get("/profile").text
    assert re.search(r'data-testid="effective-zone">America/New_York<', profile)
    assert "2026-11-20 09:03 EST" in ann.client.get(f"/calls/{call_id}").text
    assert "2026-11-20 15:03 CET" in bob.client.get(f"/calls/{call_id}").text

    api = ann.client.get(f"/api/calls/{call_id}").json()
    assert api["started_at"].startswith("2026-11-20T14:03:00")
    assert api["started_at"].endswith(("Z", "+00:00"))

    # back to the company's
    assert ann.post_form("/profile", {"time_zone": ""}).status_code == 303
    assert "2026-11-20 15:03 CET" in ann.client.get(f"/calls/{call_id}").text


def test_format_moment_names_the_zone_and_handles_summer_time() -> None:
    from callscribe.kit.timefmt import format_moment

    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert format_moment(summer, "Europe/Berlin") == "2026-07-01 14:00 CEST"
    assert format_moment(summer, None) == "2026-07-01 12:00 UTC"
    assert format_moment(summer.replace(tzinfo=None), "Asia/Kolkata") == "2026-07-01 17:30 IST"
    assert format_moment(None, "Europe/Berlin") == "—"
