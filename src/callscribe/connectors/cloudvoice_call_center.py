"""CloudVoice Call Center (dialer / CDR calls): a VICIdial-style non-agent API. Plain
text, one record a line, fields split by `|`, errors as `ERROR: <function> <reason>`.

There is no "calls since T": a sync asks which agents were active since the cursor,
then each agent's recordings day by day, and imports each recording once (external id
= recording_id). The customer's number comes from the lead, direction and status from
the number's call log, where the dialer gives them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar

from callscribe.connectors.base import (
    AgentInfo,
    CallPage,
    CallRef,
    ChallengeBasicAuth,
    CredentialField,
    FetchedCall,
    ProviderAuthError,
    ProviderError,
    ProviderHTTP,
    Recording,
)
from callscribe.errors import ErrorCode

API_PATH = "/vicidial/non_agent_api.php"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
INITIAL_LOOKBACK = timedelta(days=30)
# the dialer's clock is its own local time; look a day ahead so no time zone hides calls
CLOCK_SLACK = timedelta(days=1)
EMPTY_MARKERS = ("NO RECORDS FOUND", "NO RECORDINGS FOUND", "NO RESULTS", "NO DATA")


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value).strip().replace("T", " ")
    for fmt in (TIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text[:19], fmt)
        except ValueError:
            continue
    return None


def split_lines(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            rows.append([f.strip() for f in line.split("|")])
    return rows


class CloudVoiceCallCenterConnector:
    type: ClassVar[str] = "cloudvoice_call_center"
    label: ClassVar[str] = "CloudVoice Call Center"
    default_base_url: ClassVar[str] = "https://dialer.example.com"
    base_url_help: ClassVar[str] = (
        "The dialer's web address, without /vicidial/… (e.g. https://dialer.yourcompany.com)."
    )
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "username",
            "API user",
            secret=False,
            help="A dialer user with API access (user level 7 or more, 'API access' on).",
        ),
        CredentialField("password", "Password"),
    )
    supports_webhook: ClassVar[bool] = False

    def __init__(self, base_url: str, credentials: dict[str, str]) -> None:
        self.username = (credentials.get("username") or "").strip()
        self.password = credentials.get("password") or ""
        self.http = ProviderHTTP("CloudVoice Call Center", base_url, [self.password])

    def redact(self, text: str) -> str:
        return self.http.redact(text)

    # -- requests ------------------------------------------------------------------------

    def call(self, function: str, *, authenticated: bool = True, **params: Any) -> list[list[str]]:
        """One API function; its records, [] for 'no records', ProviderError otherwise."""
        query: dict[str, Any] = {"source": "callscribe", "function": function}
        if authenticated:
            query.update(user=self.username, **{"pass": self.password})
        query.update({k: v for k, v in params.items() if v is not None})
        response = self.http.get(API_PATH, params=query)
        text = response.text
        if response.status_code in (401, 403) and not text.startswith("ERROR"):
            raise ProviderAuthError(
                "The dialer's web server refused the request (HTTP "
                f"{response.status_code}). Check the username and password.",
                transient=False,
            )
        if response.status_code == 404:
            raise ProviderError(
                f"The dialer has no API at {self.http.host()}{API_PATH} (HTTP 404). Check the "
                "Base URL: the server's address without /vicidial.",
                code=ErrorCode.PROVIDER_NOT_FOUND,
                transient=False,
            )
        if response.status_code >= 400:
            raise ProviderError(
                f"The dialer answered HTTP {response.status_code} to {function}.",
                transient=response.status_code in (408, 425, 429),
            )
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        if first.upper().startswith("ERROR"):
            self._raise_for(function, first)
            return []
        return split_lines(text)

    def _raise_for(self, function: str, line: str) -> None:
        reason = self.redact(line.split(":", 1)[1].strip() if ":" in line else line)
        # the dialer echoes the user and password after the reason: keep only the reason
        reason = reason.split(" - ", 1)[0].split("|", 1)[0].strip(" :")
        upper = reason.upper()
        if any(marker in upper for marker in EMPTY_MARKERS):
            return
        if "USERNAME/PASSWORD" in upper or "INVALID USER" in upper or "LOGIN" in upper:
            raise ProviderAuthError(
                "The dialer rejected the username or password. Check them, and that the "
                "user is active.",
                transient=False,
            )
        if "PERMISSION" in upper or "NOT ALLOWED" in upper or "API ACCESS" in upper:
            raise ProviderAuthError(
                f"The dialer user may not use {function} ({reason}). In the dialer's admin, "
                "give the user API access and permission to view reports and recordings.",
                code=ErrorCode.PROVIDER_PERMISSION_DENIED,
                transient=False,
            )
        raise ProviderError(
            f"The dialer answered an error to {function}: {reason}.",
            transient=False,
        )

    # -- the Protocol --------------------------------------------------------------------

    def test_connection(self) -> str:
        if not self.username or not self.password:
            raise ProviderAuthError("Enter the dialer username and password.", transient=False)
        version = self.call("version", authenticated=False)
        today = datetime.now().strftime("%Y-%m-%d")
        self.call(
            "agent_stats_export",
            datetime_start=f"{today} 00:00:00",
            datetime_end=f"{today} 23:59:59",
            stage="pipe",
        )
        shown = "|".join(version[0])[:80] if version else "unknown version"
        return f"Connected to the dialer ({shown}): the username and password work."

    def cursor_for(self, last_seen: datetime) -> dict[str, Any]:
        return {"since": last_seen.strftime(TIME_FORMAT)}

    def list_calls(self, cursor: dict[str, Any] | None) -> Iterator[CallPage]:
        now = datetime.now()
        since = parse_time((cursor or {}).get("since")) or now - INITIAL_LOOKBACK
        until = now + CLOCK_SLACK
        agents = self.call(
            "agent_stats_export",
            datetime_start=since.strftime(TIME_FORMAT),
            datetime_end=until.strftime(TIME_FORMAT),
            stage="pipe",
        )
        for row in agents:
            user = row[0]
            if not user or user.lower() == "user":  # a header line
                continue
            agent_name = row[1] if len(row) > 1 and row[1] else user
            day = since.date()
            while day <= until.date():
                recordings = self.call(
                    "recording_lookup",
                    agent_user=user,
                    date=day.isoformat(),
                    duration="Y",
                )
                refs = []
                for rec in recordings:
                    ref = self._recording_ref(rec, agent_name)
                    if ref is not None and (ref.created_at is None or ref.created_at >= since):
                        refs.append(ref)
                refs.sort(key=lambda r: r.created_at or since)
                if refs:
                    yield CallPage(refs)
                day += timedelta(days=1)

    @staticmethod
    def _recording_ref(row: list[str], agent_name: str) -> CallRef | None:
        # start_time|user|recording_id|lead_id|duration|location
        if len(row) < 6 or not row[2] or row[2].lower() == "recording_id":
            return None
        start_time, user, recording_id, lead_id, duration, location = row[:6]
        return CallRef(
            external_id=recording_id,
            created_at=parse_time(start_time),
            data={
                "start_time": start_time,
                "user": user,
                "agent_name": agent_name,
                "lead_id": lead_id,
                "duration": duration,
                "location": location,
            },
        )

    def _lead_field(self, lead_id: str, name: str) -> str | None:
        try:
            rows = self.call("lead_field_info", lead_id=lead_id, field_name=name)
        except ProviderAuthError:
            return None  # the user may not read leads: import without it
        except ProviderError as exc:
            if exc.transient:
                raise
            return None
        return rows[0][0] if rows and rows[0] and rows[0][0] else None

    def fetch_call(self, ref: CallRef) -> FetchedCall:
        data = ref.data
        if not data:
            raise ProviderError(
                "The dialer cannot look a recording up by its id alone; it is imported by "
                "the next sync.",
                transient=False,
            )
        location = data.get("location") or ""
        started = parse_time(data.get("start_time"))
        duration = float(data["duration"]) if str(data.get("duration", "")).isdigit() else None
        if not location.startswith("http"):
            # still being recorded, or the file was not moved to the web server yet
            return FetchedCall(external_id=ref.external_id, complete=False)
        phone = name = None
        lead_id = data.get("lead_id") or ""
        if lead_id and lead_id != "0":
            phone = self._lead_field(lead_id, "phone_number")
            first = self._lead_field(lead_id, "first_name")
            last = self._lead_field(lead_id, "last_name")
            name = " ".join(p for p in (first, last) if p) or None
        direction: str | None = None
        meta: dict[str, Any] = {}
        if phone:
            direction, meta = self._call_log(phone, data.get("user") or "", started)
        return FetchedCall(
            external_id=ref.external_id,
            direction=direction,
            agent=AgentInfo(
                external_id=data.get("user") or "",
                name=data.get("agent_name") or data.get("user") or "",
                extension_id=data.get("user") or None,
            ),
            customer_phone=phone[:40] if phone else None,
            customer_name=name,
            started_at=started,
            duration_s=duration,
            recordings=[
                Recording(
                    "mixed",
                    location,
                    auth=ChallengeBasicAuth(self.username, self.password, self.http.base_url),
                )
            ],
            meta={"provider": {"recording_id": ref.external_id, "lead_id": lead_id, **meta}},
        )

    def _call_log(
        self, phone: str, user: str, started: datetime | None
    ) -> tuple[str | None, dict[str, Any]]:
        """Direction and status of the logged call closest to the recording's start."""
        try:
            rows = self.call("phone_number_log", phone_number=phone, type="ALL", detail="ALL")
        except ProviderError as exc:
            if exc.transient:
                raise
            return None, {}
        best: tuple[float, list[str]] | None = None
        for row in rows:
            # phone_number|call_date|list_id|length_in_sec|lead_status|hangup_reason|
            # call_status|source_id|user[|IN/OUT]
            if len(row) < 9 or row[0].lower() == "phone_number":
                continue
            when = parse_time(row[1])
            if row[8] and user and row[8] != user:
                continue
            gap = abs((when - started).total_seconds()) if when and started else 0.0
            if best is None or gap < best[0]:
                best = (gap, row)
        if best is None:
            return None, {}
        row = best[1]
        direction = None
        if len(row) > 9 and row[9]:
            flag = row[9].upper()
            direction = (
                "inbound"
                if flag.startswith("IN")
                else "outbound"
                if flag.startswith("OUT")
                else None
            )
        meta = {
            "lead_status": row[4] or None,
            "hangup_reason": row[5] or None,
            "call_status": row[6] or None,
            "list_id": row[2] or None,
        }
        return direction, {k: v for k, v in meta.items() if v}
