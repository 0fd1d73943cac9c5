"""Email: the Minutes in HTML and plain text to the call's agent and fixed addresses,
through a real SMTP server on 127.0.0.1, with the company's SMTP settings."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import CompanyCtx, LiveServer
from tests.delivery.conftest import (
    add_automation,
    attempts_of,
    deliveries_of,
    make_agent,
    processed_call,
)
from tests.delivery.smtp_server import SmtpSink, start_smtp
from tests.security.conftest import PUBLIC_IP, Network

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PASSWORD = "smtp-pa55word"


@pytest.fixture
def smtp(app_env: dict[str, str]) -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink(refuse={"gone@example.com": "550 5.1.1 No such user"})
    controller, port = start_smtp(sink, credentials=("mailer", PASSWORD))
    yield sink, port
    controller.stop()


def set_smtp(company: CompanyCtx, port: int, password: str = PASSWORD) -> None:
    from callscribe.db import session_scope
    from callscribe.delivery import service
    from callscribe.delivery.schemas import SmtpSettingsIn

    with session_scope() as s:
        service.update_smtp_settings(
            s,
            company.id,
            SmtpSettingsIn(
                host="127.0.0.1",
                port=port,
                tls_mode="none",
                username="mailer",
                password=password,
                from_address="minutes@acme.example",
            ),
        )


def deliver_one(automation_id: uuid.UUID) -> object:
    from callscribe.delivery import service

    (delivery,) = deliveries_of(automation_id)
    assert service.attempt_delivery(delivery.id) is None
    return delivery


def test_email_reaches_the_agent_and_fixed_addresses_with_both_parts(
    smtp: tuple[SmtpSink, int], company: CompanyCtx
) -> None:
    sink, port = smtp
    set_smtp(company, port)
    agent_id = make_agent(company, email="dana@acme.example")
    automation_id = add_automation(company, kind="email", recipients=["lead@acme.example"])
    call_id = processed_call(company, agent_id=agent_id)
    delivery = deliver_one(automation_id)
    (received,) = sink.messages
    assert received.rcpt_tos == ["dana@acme.example", "lead@acme.example"]
    assert received.mail_from == "minutes@acme.example"
    msg = received.message
    assert msg["Subject"].startswith("Minutes: ")
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Agent: Dana Agent" in plain and "Summary" in plain and "Action items" in plain
    assert "<h3>Summary</h3>" in html and f"/calls/{call_id}" in html
    (attempt,) = attempts_of(delivery.id)  # type: ignore[attr-defined]
    assert attempt.ok and attempt.smtp_reply == "250 Message accepted for delivery"


def test_agent_without_email_gets_it_at_the_linked_users_address(
    smtp: tuple[SmtpSink, int], company: CompanyCtx
) -> None:
    from callscribe.accounts import service as accounts
    from callscribe.db import session_scope

    sink, port = smtp
    set_smtp(company, port)
    agent_id = make_agent(company, name="Lee", email=None)
    with session_scope() as s:
        user = accounts.create_user(
            s, company.id, email="lee@acme.example", name="Lee", password=None
        )
        user.agent_id = agent_id
    automation_id = add_automation(company, kind="email")
    processed_call(company, agent_id=agent_id)
    deliver_one(automation_id)
    assert sink.messages[0].rcpt_tos == ["lee@acme.example"]


def test_refused_recipient_is_logged_and_not_retried(
    smtp: tuple[SmtpSink, int], company: CompanyCtx
) -> None:
    sink, port = smtp
    set_smtp(company, port)
    automation_id = add_automation(
        company, kind="email", recipients=["gone@example.com"], send_to_agent=False
    )
    processed_call(company)
    delivery = deliver_one(automation_id)
    (attempt,) = attempts_of(delivery.id)  # type: ignore[attr-defined]
    assert not attempt.ok and attempt.smtp_reply.startswith("550")
    assert deliveries_of(automation_id)[0].status == "failed"
    assert not sink.messages


def test_wrong_smtp_password_fails_with_the_servers_reply(
    smtp: tuple[SmtpSink, int], company: CompanyCtx
) -> None:
    sink, port = smtp
    set_smtp(company, port, password="wrong")
    automation_id = add_automation(company, kind="email", recipients=["a@acme.example"])
    processed_call(company)
    delivery = deliver_one(automation_id)
    (attempt,) = attempts_of(delivery.id)  # type: ignore[attr-defined]
    assert attempt.error == "SMTP login refused." and attempt.smtp_reply.startswith("535")


def test_smtp_settings_api_keeps_the_password_encrypted_and_hidden(
    api_server: LiveServer, company: CompanyCtx
) -> None:
    from sqlalchemy import text

    from callscribe.db import session_scope

    with api_server.client(headers=company.headers) as api:
        assert api.get("/api/settings/smtp").json() == {
            "configured": False,
            "host": None,
            "port": None,
            "tls_mode": None,
            "username": None,
            "password_set": False,
            "from_address": None,
        }
        body = {
            "host": "smtp.acme.example",
            "port": 465,
            "tls_mode": "ssl",
            "username": "mailer",
            "password": PASSWORD,
            "from_address": "minutes@acme.example",
        }
        saved = api.put("/api/settings/smtp", json=body)
        assert saved.status_code == 200, saved.text
        assert PASSWORD not in saved.text and saved.json()["password_set"] is True
        # omitting the password keeps it
        kept = api.put("/api/settings/smtp", json={**body, "password": None}).json()
        assert kept["password_set"] is True
        bad = api.put("/api/settings/smtp", json={**body, "tls_mode": "tls13"})
        assert bad.status_code == 422
    with session_scope() as s:
        row = " ".join(str(v) for v in s.execute(text("SELECT * FROM smtp_settings")).one())
    assert PASSWORD not in row


def test_email_without_smtp_settings_fails_with_a_readable_error(company: CompanyCtx) -> None:
    automation_id = add_automation(company, kind="email", recipients=["a@acme.example"])
    processed_call(company)
    delivery = deliver_one(automation_id)
    (attempt,) = attempts_of(delivery.id)  # type: ignore[attr-defined]
    assert "No SMTP server" in attempt.error


# -- the SSRF guard on the SMTP host (issue 17 #5) ---------------------------------------


@pytest.fixture
def refuse_private(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The production default: private, loopback and link-local addresses refused."""
    from callscribe.settings import reset_settings

    monkeypatch.setenv("CALLSCRIBE_ALLOW_PRIVATE_URLS", "false")
    reset_settings()


def store_smtp_row(company: CompanyCtx, host: str, port: int) -> None:
    """SMTP settings written past the save-time check (saved while private hosts were
    allowed, or a name that resolved to a public address then)."""
    from callscribe.db import session_scope
    from callscribe.delivery.models import SmtpSettings
    from callscribe.security.crypto import encrypt_secret

    with session_scope() as s:
        s.add(
            SmtpSettings(
                company_id=company.id,
                host=host,
                port=port,
                tls_mode="none",
                username="mailer",
                password_enc=encrypt_secret(PASSWORD),
                from_address="minutes@acme.example",
            )
        )


def test_a_loopback_smtp_host_is_refused_when_saved(
    smtp: tuple[SmtpSink, int], company: CompanyCtx, refuse_private: None
) -> None:
    from callscribe.security.outbound import UnsafeURL

    _sink, port = smtp
    for host in ("127.0.0.1", "localhost", "[::1]", "169.254.169.254", "10.0.0.8"):
        with pytest.raises(UnsafeURL):
            set_smtp_host(company, host, port)
    with pytest.raises(UnsafeURL, match="not a host name"):
        set_smtp_host(company, "smtp.example.com/x", port)


def test_the_smtp_settings_api_refuses_a_private_host_with_a_message(
    smtp: tuple[SmtpSink, int],
    company: CompanyCtx,
    refuse_private: None,
    api_server: LiveServer,
) -> None:
    _sink, port = smtp
    body = {
        "host": "127.0.0.1",
        "port": port,
        "tls_mode": "none",
        "from_address": "minutes@acme.example",
    }
    with api_server.client(headers=company.headers) as api:
        refused = api.put("/api/settings/smtp", json=body)
        assert refused.status_code == 400, refused.text
        assert "127.0.0.1" in refused.json()["error"]["message"]
        assert api.get("/api/settings/smtp").json()["configured"] is False


def test_a_private_smtp_host_is_refused_at_send_time_and_nothing_is_relayed(
    smtp: tuple[SmtpSink, int], company: CompanyCtx, refuse_private: None
) -> None:
    sink, port = smtp
    store_smtp_row(company, "127.0.0.1", port)
    automation_id = add_automation(company, kind="email", recipients=["a@acme.example"])
    processed_call(company)
    delivery = deliver_one(automation_id)
    (attempt,) = attempts_of(delivery.id)  # type: ignore[attr-defined]
    assert not attempt.ok and "127.0.0.1" in attempt.error
    assert deliveries_of(automation_id)[0].status == "failed"  # final: not retried
    assert sink.messages == []


def set_smtp_host(company: CompanyCtx, host: str, port: int) -> None:
    from callscribe.db import session_scope
    from callscribe.delivery import service
    from callscribe.delivery.schemas import SmtpSettingsIn

    with session_scope() as s:
        service.update_smtp_settings(
            s,
            company.id,
            SmtpSettingsIn(
                host=host,
                port=port,
                tls_mode="none",
                username="mailer",
                password=PASSWORD,
                from_address="minutes@acme.example",
            ),
        )


def test_an_smtp_name_rebinding_to_loopback_after_the_save_never_reaches_it(
    smtp: tuple[SmtpSink, int],
    company: CompanyCtx,
    refuse_private: None,
    network: Network,
) -> None:
    """GIVEN a name that answers a public address when the settings are saved and
    127.0.0.1 on every later lookup, and a real SMTP server on 127.0.0.1
    WHEN an email automation delivers through it
    THEN the send resolves the name again, refuses 127.0.0.1, and the server sees nothing."""
    sink, port = smtp
    network.answers["mail.rebind.test"] = [[PUBLIC_IP], ["127.0.0.1"]]
    set_smtp_host(company, "mail.rebind.test", port)  # the check sees the public address
    automation_id = add_automation(company, kind="email", recipients=["a@acme.example"])
    processed_call(company)
    delivery = deliver_one(automation_id)
    (attempt,) = attempts_of(delivery.id)  # type: ignore[attr-defined]
    assert not attempt.ok and "127.0.0.1" in attempt.error
    assert network.connects == [] and sink.messages == []


def test_an_smtp_connection_dials_the_address_that_was_checked(
    smtp: tuple[SmtpSink, int],
    company: CompanyCtx,
    refuse_private: None,
    network: Network,
) -> None:
    """One lookup per connection: a name that answers public then loopback is dialled on
    the public address it was checked on (here NATed to the local server), never on a
    second answer; the message arrives."""
    sink, port = smtp
    network.answers["mail.public.test"] = [[PUBLIC_IP]]
    set_smtp_host(company, "mail.public.test", port)
    network.answers["mail.public.test"] = [[PUBLIC_IP], ["127.0.0.1"]]
    network.nat[PUBLIC_IP] = "127.0.0.1"  # the "public" mail server is our local one
    network.lookups.clear()
    automation_id = add_automation(company, kind="email", recipients=["a@acme.example"])
    processed_call(company)
    delivery = deliver_one(automation_id)
    (attempt,) = attempts_of(delivery.id)  # type: ignore[attr-defined]
    assert attempt.ok, attempt.error
    assert network.lookups == ["mail.public.test"]
    assert network.connects == [(PUBLIC_IP, port)]
    assert len(sink.messages) == 1
