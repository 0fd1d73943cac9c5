"""Email sender: the Minutes as HTML and plain text, through the company's SMTP server.

SMTP is spoken step by step (not `sendmail`) so the log can show the server's own final
reply, and so 4xx replies (try again later) are told apart from 5xx (refused)."""

from __future__ import annotations

import html
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from typing import Any

from callscribe.delivery.models import AutomationKind, TlsMode
from callscribe.delivery.senders import AttemptResult, Message, SmtpConfig, Target, truncate
from callscribe.delivery.slack import duration_text
from callscribe.errors import UpstreamError
from callscribe.security import outbound
from callscribe.security.outbound import UnsafeURL

TIMEOUT_S = 30.0


def render_subject(body: dict[str, Any]) -> str:
    subject = (body.get("minutes") or {}).get("subject") or "Call completed"
    return f"Minutes: {subject}"[:250].replace("\r", " ").replace("\n", " ")


def _facts(body: dict[str, Any], context: dict[str, Any]) -> list[tuple[str, str]]:
    call = body.get("call") or {}
    minutes = body.get("minutes") or {}
    facts = [
        ("Agent", call.get("agent_name") or "—"),
        ("Customer", context.get("customer_name") or "—"),
        ("Direction", call.get("direction") or "—"),
        ("Duration", duration_text(call.get("duration_sec"))),
        ("Sentiment", minutes.get("sentiment") or "—"),
        ("Outcome", minutes.get("outcome") or "—"),
    ]
    return [(k, str(v)) for k, v in facts]


def render_text(body: dict[str, Any], context: dict[str, Any]) -> str:
    minutes = body.get("minutes") or {}
    lines = [render_subject(body), ""]
    lines += [f"{k}: {v}" for k, v in _facts(body, context)]
    if minutes.get("summary"):
        lines += ["", "Summary", minutes["summary"]]
    for section in minutes.get("sections") or []:
        lines += ["", section.get("heading") or ""]
        lines += [f"- {b}" for b in section.get("bullets") or []]
    items = body.get("action_items") or []
    if items:
        lines += ["", "Action items"]
        lines += [
            f"[{'x' if i.get('status') == 'done' else ' '}] {i.get('title')} ({i.get('priority')})"
            for i in items
        ]
    if context.get("call_url"):
        lines += ["", f"Open the call: {context['call_url']}"]
    return "\n".join(lines) + "\n"


def render_html(body: dict[str, Any], context: dict[str, Any]) -> str:
    e = html.escape
    minutes = body.get("minutes") or {}
    parts = [
        '<!doctype html><html><body style="font-family:sans-serif">',
        f"<h2>{e(render_subject(body))}</h2>",
        "<table>",
        *[
            f'<tr><th align="left">{e(k)}</th><td>{e(v)}</td></tr>'
            for k, v in _facts(body, context)
        ],
        "</table>",
    ]
    if minutes.get("summary"):
        parts.append(f"<h3>Summary</h3><p>{e(minutes['summary'])}</p>")
    for section in minutes.get("sections") or []:
        bullets = "".join(f"<li>{e(str(b))}</li>" for b in section.get("bullets") or [])
        parts.append(f"<h3>{e(section.get('heading') or '')}</h3><ul>{bullets}</ul>")
    items = body.get("action_items") or []
    if items:
        rows = "".join(
            f"<li>{e(str(i.get('title')))} <small>({e(str(i.get('priority')))}, "
            f"{e(str(i.get('status')))})</small></li>"
            for i in items
        )
        parts.append(f"<h3>Action items</h3><ul>{rows}</ul>")
    if context.get("call_url"):
        parts.append(f'<p><a href="{e(context["call_url"])}">Open the call in callscribe</a></p>')
    parts.append("</body></html>")
    return "".join(parts)


def build_email(
    body: dict[str, Any], context: dict[str, Any], sender: str, to: list[str]
) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = render_subject(body)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1] or "callscribe")
    # quoted-printable: no line over SMTP's 998-character limit, whatever the summary
    msg.set_content(render_text(body, context), cte="quoted-printable")
    msg.add_alternative(render_html(body, context), subtype="html", cte="quoted-printable")
    return msg


class _PinnedSMTP(smtplib.SMTP):
    """smtplib's client with its TCP connection made by the SSRF guard: the host is
    resolved once, every address checked, and the socket dials a checked address.
    smtplib keeps the host name (`_host`) for STARTTLS / SMTPS, so SNI and the certificate
    check are on the name; EHLO names this machine, as before."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return outbound.connect_tcp(host, port, timeout=timeout, source_address=self.source_address)


class _PinnedSMTPS(smtplib.SMTP_SSL, _PinnedSMTP):
    """SMTPS: SMTP_SSL wraps the socket _PinnedSMTP opened, with server_hostname=host."""


def _connect(cfg: SmtpConfig) -> smtplib.SMTP:
    if cfg.tls_mode == TlsMode.SSL:
        return _PinnedSMTPS(
            cfg.host, cfg.port, timeout=TIMEOUT_S, context=ssl.create_default_context()
        )
    smtp = _PinnedSMTP(cfg.host, cfg.port, timeout=TIMEOUT_S)
    smtp.ehlo()
    if cfg.tls_mode == TlsMode.STARTTLS:
        smtp.starttls(context=ssl.create_default_context())
        smtp.ehlo()
    return smtp


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return truncate(f"{code} {text}", 500) or ""


class EmailSender:
    kind: str = AutomationKind.EMAIL

    def send(self, target: Target, message: Message) -> AttemptResult:
        cfg = target.smtp
        if cfg is None:
            return AttemptResult(
                ok=False,
                error="No SMTP server is set: enter it under Automations → Email settings.",
            )
        to = list(dict.fromkeys(target.recipients))
        if not to:
            return AttemptResult(
                ok=False,
                error="No recipient: the call's agent has no email and no fixed address is set.",
            )
        msg = build_email(message.body, message.context, cfg.from_address, to)
        try:
            smtp = _connect(cfg)
        except UnsafeURL as exc:  # the host resolves to an address the guard refuses
            return AttemptResult(
                ok=False, retryable=False, error=f"SMTP server refused: {exc.message}"
            )
        except UpstreamError as exc:  # the name does not resolve (now): try again later
            return AttemptResult(
                ok=False, retryable=True, error=f"SMTP connection failed: {exc.message}"
            )
        except (OSError, smtplib.SMTPException) as exc:
            return AttemptResult(ok=False, retryable=True, error=f"SMTP connection failed: {exc}")
        try:
            if cfg.username:
                smtp.login(cfg.username, cfg.password or "")
            code, resp = smtp.mail(cfg.from_address)
            if code != 250:
                return _refused(code, resp, "sender")
            accepted = []
            refused: list[str] = []
            last = (code, resp)
            for rcpt in to:
                code, resp = smtp.rcpt(rcpt)
                if code in (250, 251):
                    accepted.append(rcpt)
                else:
                    refused.append(f"{rcpt}: {_reply(code, resp)}")
                    last = (code, resp)
            if not accepted:
                return _refused(last[0], last[1], "every recipient", "; ".join(refused))
            code, resp = smtp.data(msg.as_bytes(policy=SMTP_POLICY))  # CRLF line ends
            if code != 250:
                return _refused(code, resp, "the message")
            return AttemptResult(
                ok=True,
                smtp_reply=_reply(code, resp),
                response=truncate("Refused: " + "; ".join(refused)) if refused else None,
            )
        except smtplib.SMTPAuthenticationError as exc:
            return AttemptResult(
                ok=False,
                smtp_reply=_reply(exc.smtp_code, exc.smtp_error),
                error="SMTP login refused.",
            )
        except smtplib.SMTPResponseException as exc:
            return _refused(exc.smtp_code, exc.smtp_error, "the session")
        except (OSError, smtplib.SMTPException) as exc:  # timeouts are OSErrors
            return AttemptResult(ok=False, retryable=True, error=f"SMTP error: {exc}")
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def _refused(code: int, text: bytes | str, what: str, detail: str = "") -> AttemptResult:
    reply = _reply(code, text)
    temporary = 400 <= code < 500  # 4xx: try again later; 5xx: refused for good
    return AttemptResult(
        ok=False,
        retryable=temporary,
        smtp_reply=reply,
        response=truncate(detail) if detail else None,
        error=f"SMTP server refused {what}: {reply}",
    )
