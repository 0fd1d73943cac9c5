"""Private webhook targets (issue 18): an admin allows hosts/CIDRs per company in the
automation settings; webhook and Slack deliveries of that company may then reach them
(a real receiver on 127.0.0.1), every change is in the technical log, link-local and
metadata addresses stay refused even when listed, and nothing else (audio URLs, another
company) gains access."""

from __future__ import annotations

import pytest

from tests.conftest import CompanyCtx, LiveServer, make_company
from tests.delivery.conftest import Receiver
from tests.security.conftest import Network


@pytest.fixture
def refuse_private(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The production default: private, loopback and link-local addresses refused."""
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_ALLOW_PRIVATE_URLS", "false")
    reset_settings()


def webhook(api: object, url: str) -> object:
    return api.post(  # type: ignore[attr-defined]
        "/api/automations", json={"kind": "webhook", "name": "CRM", "url": url}
    )


def technical_log(company: CompanyCtx) -> list[str]:
    from callscribe.accounts import service as accounts
    from callscribe.db import session_scope

    with session_scope() as s:
        return [row.message for row in accounts.list_technical_log(s, company.id)]


def test_an_allowed_private_host_gets_the_webhook_and_the_change_is_logged(
    refuse_private: None, api_server: LiveServer, company: CompanyCtx, receiver: Receiver
) -> None:
    with api_server.client(headers=company.headers) as api:
        refused = webhook(api, receiver.url)
        assert refused.status_code == 400 and "127.0.0.1" in refused.json()["error"]["message"]
        assert api.get("/api/settings/private-targets").json() == {"hosts": []}
        saved = api.put(
            "/api/settings/private-targets", json={"hosts": ["127.0.0.1", "10.20.0.0/16"]}
        )
        assert saved.status_code == 200, saved.text
        assert saved.json() == {"hosts": ["127.0.0.1/32", "10.20.0.0/16"]}
        created = webhook(api, receiver.url)
        assert created.status_code == 201, created.text
        sent = api.post(f"/api/automations/{created.json()['id']}/test")
        assert sent.status_code == 200, sent.text
        assert sent.json()["status"] == "succeeded", sent.text
        # removing it refuses the next delivery at the guard
        assert api.put("/api/settings/private-targets", json={"hosts": []}).status_code == 200
        again = api.post(f"/api/automations/{created.json()['id']}/test").json()
        assert again["status"] != "succeeded" and "127.0.0.1" in again["last_error"]
    assert len(receiver.requests) == 1
    log = technical_log(company)
    assert any("added 127.0.0.1/32, 10.20.0.0/16" in m for m in log), log
    assert any("removed 127.0.0.1/32, 10.20.0.0/16" in m for m in log), log


@pytest.mark.parametrize(
    "entry", ["169.254.169.254", "169.254.0.0/16", "fd00:ec2::254", "0.0.0.0/0", "fe80::1"]
)
def test_link_local_and_metadata_entries_are_refused(
    refuse_private: None, api_server: LiveServer, company: CompanyCtx, entry: str
) -> None:
    with api_server.client(headers=company.headers) as api:
        refused = api.put("/api/settings/private-targets", json={"hosts": [entry]})
        assert refused.status_code == 400, refused.text
        assert "never allowed" in refused.json()["error"]["message"]
        assert api.get("/api/settings/private-targets").json() == {"hosts": []}


def test_an_allowed_name_resolving_to_the_metadata_address_is_still_refused(
    refuse_private: None, company: CompanyCtx, network: Network
) -> None:
    from callscribe.db import session_scope
    from callscribe.delivery import service
    from callscribe.delivery.senders import http_attempt

    network.answers["crm.internal"] = [["169.254.169.254"]]
    with session_scope() as s:
        service.set_private_targets(s, company.id, ["crm.internal"], changed_by="test")
    result = http_attempt("POST", "http://crm.internal/hook", b"{}", {}, 3, ("crm.internal",))
    assert not result.ok and "169.254.169.254" in (result.error or "")
    assert network.connects == []


def test_the_allow_list_is_for_that_companys_deliveries_only(
    refuse_private: None, api_server: LiveServer, company: CompanyCtx, receiver: Receiver
) -> None:
    other = make_company("Other Co")
    with api_server.client(headers=company.headers) as api:
        assert (
            api.put("/api/settings/private-targets", json={"hosts": ["127.0.0.1"]}).status_code
            == 200
        )
        audio = api.post(
            "/api/calls/from-url", json={"audio_url": receiver.url.replace("/hook", "/a.wav")}
        )
        assert audio.status_code == 400, audio.text
    with api_server.client(headers=other.headers) as api:
        assert webhook(api, receiver.url).status_code == 400
    assert receiver.requests == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_automations_page_saves_the_list_and_keeps_a_refused_entry_in_the_form(
    refuse_private: None, api_server: LiveServer, company: CompanyCtx
) -> None:
    from tests.web.conftest import create_user, sign_in

    create_user(company.id, "ann@acme.test", "admin")
    web = sign_in(api_server.url, "ann@acme.test")
    saved = web.post_form("/automations-private-targets", {"hosts": "127.0.0.1\ncrm.internal"})
    assert saved.status_code == 303, saved.text[:500]
    page = web.client.get("/automations").text
    assert "127.0.0.1/32\ncrm.internal</textarea>" in page
    refused = web.post_form("/automations-private-targets", {"hosts": "169.254.169.254"})
    assert refused.status_code == 400
    assert 'data-testid="private-targets-error"' in refused.text
    assert "169.254.169.254</textarea>" in refused.text
    with api_server.client(headers=company.headers) as api:
        assert api.get("/api/settings/private-targets").json() == {
            "hosts": ["127.0.0.1/32", "crm.internal"]
        }
    assert any("ann@acme.test" in m for m in technical_log(company))
