"""Amazon Connect (voice and chat): contact trace records (CTRs) and what they point at.

Polling reads the S3 export of CTRs that a Kinesis Data Firehose delivery stream writes
under a bucket and prefix (objects of JSON records, one per line or concatenated,
optionally gzipped; keys under Firehose's default `YYYY/MM/DD/HH/` time folders): the
objects after the cursor's key, oldest key first. The real-time trigger is EventBridge's
"Amazon Connect Contact Event" with `eventType` DISCONNECTED, sent by an API destination
with our secret in a header; its import finds that contact's CTR in the export (it is
written when after-contact work ends, so it may not be there yet: the next sync has it).

A voice contact's recording is the CTR's `Recording.Location` ("bucket/key"), downloaded
through a pre-signed GET URL made with the same credentials (the SSRF-guarded
download); a chat contact's transcript (Amazon Connect's chat transcript JSON) becomes
the engagement's turns. Queue, agent, disconnect reason, hold / wait / after-contact-work
durations and contact attributes map into the engagement's columns.

The S3 endpoint is the connector's Base URL: Amazon S3 itself by default, or any
S3-compatible store (path-style addressing)."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from callscribe.connectors.base import (
    AgentInfo,
    CallPage,
    CallRef,
    CredentialField,
    FetchedCall,
    ProviderAuthError,
    ProviderError,
    Recording,
    WebhookDelivery,
    WebhookRequest,
)
from callscribe.errors import BadRequest, ErrorCode, Unauthorized
from callscribe.ingest.parsers.base import ParsedTurn
from callscribe.kit.schemas import parse_instant
from callscribe.security.crypto import constant_time_equals
from callscribe.security.outbound import check_url
from callscribe.settings import get_settings

AWS_S3 = "https://s3.amazonaws.com"  # the default Base URL: boto3 picks the region's endpoint
INITIAL_LOOKBACK = timedelta(days=30)
FOLDER_MARGIN = timedelta(hours=1)  # Firehose writes a CTR up to its buffer time late
MAX_OBJECT_BYTES = 64 * 1024 * 1024  # one export object (Firehose buffers at most 128 MB)
MAX_TRANSCRIPT_BYTES = 5 * 1024 * 1024
MAX_FIND_OBJECTS = 500  # a webhook's contact is looked for in this many objects at most
PRESIGN_S = 3600
CHANNELS = {"VOICE": "voice", "CHAT": "chat"}
ROLES = {"AGENT": "agent", "CUSTOMER": "customer", "SYSTEM": "bot", "CUSTOM_BOT": "bot"}
_FOLDER = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})/")
_AUTH_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
    "InvalidClientTokenId",
}

WEBHOOK_HEADER = "X-Callscribe-Secret"
WEBHOOK_INSTRUCTIONS = (
    "In Amazon EventBridge, create a connection of authorization type API key with the "
    f"key name {WEBHOOK_HEADER} and the secret below as its value, and an API destination "
    "with the endpoint URL below (method POST) using that connection. Then a rule on the "
    'default event bus with the event pattern {"source": ["aws.connect"], "detail-type": '
    '["Amazon Connect Contact Event"], "detail": {"eventType": ["DISCONNECTED"]}} and the '
    "API destination as its target (the event as it is: no input transformer), in the "
    "instance's account and region."
)

T = TypeVar("T")


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_instant(value)
    except ValueError:
        return None


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def split_location(location: str) -> tuple[str, str]:
    """A CTR location "bucket/key/with/slashes" as (bucket, key)."""
    bucket, _, key = location.strip().lstrip("/").partition("/")
    return bucket, key


def parse_records(data: bytes) -> list[dict[str, Any]]:
    """The JSON objects in one export object: one per line, or concatenated with nothing
    between them (Firehose's default); gzip is undone. Text that is not JSON is skipped
    to the next line."""
    if data[:2] == b"\x1f\x8b":
        inflater = zlib.decompressobj(wbits=31)
        data = inflater.decompress(data, MAX_OBJECT_BYTES)
        if inflater.unconsumed_tail:
            raise ProviderError(
                f"An export object is larger than {MAX_OBJECT_BYTES // 2**20} MB unpacked; "
                "lower the Firehose buffer size.",
                transient=False,
            )
    text = data.decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    out: list[dict[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n:
            break
        try:
            value, i = decoder.raw_decode(text, i)
        except ValueError:
            nl = text.find("\n", i)
            i = n if nl < 0 else nl + 1
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def chat_turns(transcript: Any) -> list[ParsedTurn]:
    """Amazon Connect's chat transcript (Participants, Transcript[] of MESSAGE and EVENT
    items with ParticipantRole, Content, AbsoluteTime) as turns: the messages, timed
    from the first one."""
    items = transcript.get("Transcript") if isinstance(transcript, dict) else None
    messages = []
    for item in items or []:
        if not isinstance(item, dict) or item.get("Type", "MESSAGE") != "MESSAGE":
            continue
        content = item.get("Content")
        if not isinstance(content, str) or not content.strip():
            continue
        when = parse_time(item.get("AbsoluteTime"))
        role = ROLES.get(str(item.get("ParticipantRole") or "").upper(), "unknown")
        messages.append((when, role, content.strip(), item.get("DisplayName")))
    start = next((w for w, *_ in messages if w is not None), None)
    turns = []
    for when, role, text, name in messages:
        ms = int((when - start).total_seconds() * 1000) if when and start else 0
        turns.append(
            ParsedTurn(
                role=role,
                text=text,
                start_ms=max(ms, 0),
                end_ms=max(ms, 0),
                speaker=str(name)[:200] if name else None,
                timed=start is not None,
            )
        )
    return turns


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class AmazonConnectConnector:
    type: ClassVar[str] = "amazon_connect"
    label: ClassVar[str] = "Amazon Connect"
    default_base_url: ClassVar[str] = AWS_S3
    base_url_help: ClassVar[str] = (
        "The S3 endpoint: https://s3.amazonaws.com for Amazon S3 (the region below picks "
        "the regional endpoint), or the URL of an S3-compatible store."
    )
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "access_key_id",
            "AWS access key ID",
            secret=False,
            placeholder="AKIA…",
            help="An IAM user's access key allowed s3:ListBucket on the CTR bucket and "
            "s3:GetObject on the CTRs, the call recordings and the chat transcripts.",
        ),
        CredentialField("secret_access_key", "AWS secret access key"),
        CredentialField("region", "AWS region", secret=False, placeholder="us-east-1"),
        CredentialField(
            "bucket",
            "CTR bucket",
            secret=False,
            help="The S3 bucket the Kinesis Data Firehose stream of contact trace records "
            "writes to.",
        ),
        CredentialField(
            "prefix",
            "CTR prefix",
            secret=False,
            placeholder="ctr/",
            help="The stream's S3 prefix (its objects are under <prefix>YYYY/MM/DD/HH/); "
            "/ for the bucket's root.",
        ),
    )
    supports_webhook: ClassVar[bool] = True
    webhook_header: ClassVar[str] = WEBHOOK_HEADER
    webhook_payload_template: ClassVar[str] = ""
    webhook_uses_secret: ClassVar[bool] = True
    webhook_instructions: ClassVar[str] = WEBHOOK_INSTRUCTIONS

    def __init__(self, base_url: str, credentials: dict[str, str]) -> None:
        self.base_url = base_url.rstrip("/")
        self.access_key_id = (credentials.get("access_key_id") or "").strip()
        self.secret_access_key = (credentials.get("secret_access_key") or "").strip()
        self.region = (credentials.get("region") or "").strip() or "us-east-1"
        self.bucket = (credentials.get("bucket") or "").strip().strip("/")
        prefix = (credentials.get("prefix") or "").strip().lstrip("/")
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self._client: Any = None

    def __repr__(self) -> str:  # never the secret key
        return f"AmazonConnectConnector(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def redact(self, text: str) -> str:
        return (
            text.replace(self.secret_access_key, "[redacted]") if self.secret_access_key else text
        )

    # -- S3 ------------------------------------------------------------------------------

    def host(self) -> str:
        if self.base_url == AWS_S3:
            return f"s3.{self.region}.amazonaws.com"
        return urlsplit(self.base_url).netloc or self.base_url

    def _s3(self) -> Any:
        if self._client is None:
            if not (self.access_key_id and self.secret_access_key and self.bucket):
                raise ProviderAuthError(
                    "Enter the AWS access key ID, secret access key and the CTR bucket.",
                    transient=False,
                )
            custom = self.base_url != AWS_S3
            if custom:
                check_url(self.base_url)  # an S3-compatible store: the SSRF rule of URLs
            timeout = get_settings().URL_TIMEOUT_S
            self._client = boto3.client(
                "s3",
                endpoint_url=self.base_url if custom else None,
                region_name=self.region,
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=self.secret_access_key,
                config=Config(
                    signature_version="s3v4",
                    s3={"addressing_style": "path" if custom else "auto"},
                    retries={"max_attempts": 2, "mode": "standard"},
                    connect_timeout=min(timeout, 10),
                    read_timeout=timeout,
                ),
            )
        return self._client

    def _call(self, what: str, fn: Callable[..., T], **kwargs: Any) -> T:
        """One S3 request, its failures turned into sentences (never a key or secret)."""
        timeout = get_settings().URL_TIMEOUT_S
        try:
            return fn(**kwargs)
        except ClientError as exc:
            raise self._client_error(exc, what) from exc
        except (ConnectTimeoutError, ReadTimeoutError) as exc:
            raise ProviderError(
                f"Amazon S3 at {self.host()} did not answer within {timeout:g} seconds. It "
                "may be overloaded or down; try again later.",
                code=ErrorCode.PROVIDER_TIMEOUT,
            ) from exc
        except EndpointConnectionError as exc:
            raise ProviderError(
                f"Cannot reach Amazon S3 at {self.host()} (connection failed). Check the Base "
                "URL and the region, and that the endpoint is reachable from this machine.",
                code=ErrorCode.PROVIDER_UNREACHABLE,
            ) from exc
        except NoCredentialsError as exc:
            raise ProviderAuthError(
                "Enter the AWS access key ID and secret access key.", transient=False
            ) from exc
        except BotoCoreError as exc:
            raise ProviderError(
                f"Amazon S3 could not be asked for {what}: {self.redact(type(exc).__name__)}.",
                code=ErrorCode.PROVIDER_UNREACHABLE,
            ) from exc

    def _client_error(self, exc: ClientError, what: str) -> ProviderError:
        error = exc.response.get("Error") or {}
        code = str(error.get("Code") or "")
        status = int((exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        if code in _AUTH_CODES or status == 403:
            reason = {
                "InvalidAccessKeyId": "the access key ID is not known to AWS",
                "SignatureDoesNotMatch": "the secret access key does not match the access key ID",
                "AccessDenied": "the access key may not read it",
            }.get(code, code or f"HTTP {status}")
            return ProviderAuthError(
                f"Amazon S3 refused {what} ({reason}). Check the AWS access key ID and secret "
                "access key, and that the key's IAM policy allows s3:ListBucket and "
                "s3:GetObject on the bucket.",
                transient=False,
            )
        if code == "NoSuchBucket":
            return ProviderError(
                f"Amazon S3 has no bucket {self.bucket!r} (in {self.region}). Check the CTR "
                "bucket and the region.",
                code=ErrorCode.PROVIDER_NOT_FOUND,
                transient=False,
            )
        if code in ("NoSuchKey", "404") or status == 404:
            return ProviderError(
                f"Amazon S3 has no {what}.", code=ErrorCode.PROVIDER_NOT_FOUND, transient=False
            )
        if status == 429 or code in ("SlowDown", "RequestLimitExceeded", "Throttling"):
            return ProviderError(
                "Amazon S3 is slowing this key down (SlowDown); the next sync carries on from "
                "where this one stopped.",
                code=ErrorCode.PROVIDER_RATE_LIMITED,
            )
        if status >= 500:
            return ProviderError(
                f"Amazon S3 answered HTTP {status} to {what} (a server error on its side). Try "
                "again later; contacts are picked up by the next sync.",
                code=ErrorCode.PROVIDER_SERVER_ERROR,
            )
        return ProviderError(
            f"Amazon S3 refused {what}: {self.redact(code or f'HTTP {status}')}.", transient=False
        )

    def _read(self, bucket: str, key: str, limit: int, what: str) -> bytes:
        body = self._call(what, self._s3().get_object, Bucket=bucket, Key=key)["Body"]
        try:
            data = bytes(body.read(limit + 1))
        except (BotoCoreError, OSError) as exc:
            raise ProviderError(
                f"Amazon S3 broke off while sending {what}; try again later.",
                code=ErrorCode.PROVIDER_UNREACHABLE,
            ) from exc
        finally:
            body.close()
        if len(data) > limit:
            raise ProviderError(
                f"{what.capitalize()} is larger than {limit // 2**20} MB.", transient=False
            )
        return data

    def _objects(self, start_after: str) -> Iterator[dict[str, Any]]:
        """The export's objects after `start_after`, in key order."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix, "MaxKeys": 1000}
        if start_after:
            params["StartAfter"] = start_after
        while True:
            body = self._call(
                f"the list of s3://{self.bucket}/{self.prefix}",
                self._s3().list_objects_v2,
                **params,
            )
            for item in body.get("Contents") or []:
                if isinstance(item, dict) and item.get("Key") and not item["Key"].endswith("/"):
                    yield item
            token = body.get("NextContinuationToken")
            if not body.get("IsTruncated") or not token:
                return
            params.pop("StartAfter", None)
            params["ContinuationToken"] = token

    def _folder(self, when: datetime) -> str:
        """The key Firehose's time folder of `when` starts at (listing starts after it)."""
        return f"{self.prefix}{when.astimezone(UTC):%Y/%m/%d/%H}/"

    def _ctrs(self, key: str) -> list[dict[str, Any]]:
        data = self._read(self.bucket, key, MAX_OBJECT_BYTES, f"the export object {key}")
        return [
            r
            for r in parse_records(data)
            if r.get("ContactId") and str(r.get("Channel") or "").upper() in CHANNELS
        ]

    # -- the Protocol --------------------------------------------------------------------

    def test_connection(self) -> str:
        body = self._call(
            f"the list of s3://{self.bucket}/{self.prefix}",
            self._s3().list_objects_v2,
            Bucket=self.bucket,
            Prefix=self.prefix,
            MaxKeys=20,
        )
        count = int(body.get("KeyCount") or len(body.get("Contents") or []))
        seen = f"{count}{'+' if body.get('IsTruncated') else ''} object(s)"
        return (
            f"Connected to Amazon S3: the access key can list s3://{self.bucket}/{self.prefix} "
            f"({seen} there)."
        )

    def cursor_for(self, last_seen: datetime) -> dict[str, Any]:
        return {"since": iso(last_seen)}

    def list_calls(self, cursor: dict[str, Any] | None) -> Iterator[CallPage]:
        cursor = cursor or {}
        after_key = cursor.get("after_key") if isinstance(cursor.get("after_key"), str) else None
        since = None
        if not after_key:
            since = parse_time(cursor.get("since")) or datetime.now(UTC) - INITIAL_LOOKBACK
            after_key = self._folder(since - FOLDER_MARGIN)
        for item in self._objects(after_key):
            refs = []
            for ctr in self._ctrs(item["Key"]):
                started = parse_time(ctr.get("InitiationTimestamp"))
                if since is not None and started is not None and started < since:
                    continue
                refs.append(CallRef(str(ctr["ContactId"]), started, ctr))
            refs.sort(key=lambda r: r.created_at or datetime.min.replace(tzinfo=UTC))
            yield CallPage(refs, cursor={"after_key": item["Key"]})

    def _find_ctr(self, ref: CallRef) -> dict[str, Any] | None:
        """A contact's CTR from its id alone (a webhook's): the export objects from the
        contact's time folder on."""
        when = parse_time(ref.data.get("disconnected_at")) or datetime.now(UTC) - FOLDER_MARGIN
        for n, item in enumerate(self._objects(self._folder(when - FOLDER_MARGIN))):
            if n >= MAX_FIND_OBJECTS:
                break
            for ctr in self._ctrs(item["Key"]):
                if str(ctr.get("ContactId")) == ref.external_id:
                    return ctr
        return None

    def fetch_call(self, ref: CallRef) -> FetchedCall:
        ctr = ref.data if ref.data.get("ContactId") else self._find_ctr(ref)
        if ctr is None:
            # the CTR is written when after-contact work ends: the next sync imports it
            return FetchedCall(external_id=ref.external_id, complete=False)
        channel = CHANNELS.get(str(ctr.get("Channel") or "").upper(), "voice")
        fetched = FetchedCall(
            external_id=str(ctr["ContactId"]),
            channel=channel,
            direction=self._direction(ctr, channel),
            agent=self._agent(ctr),
            started_at=parse_time(ctr.get("InitiationTimestamp")),
            columns=self._columns(ctr),
            meta={"provider": self._provider_meta(ctr)},
        )
        endpoint = _obj(ctr.get("CustomerEndpoint"))
        if endpoint.get("Type") == "TELEPHONE_NUMBER" and endpoint.get("Address"):
            fetched.customer_phone = str(endpoint["Address"])[:40]
        start, end = fetched.started_at, parse_time(ctr.get("DisconnectTimestamp"))
        if start and end and end >= start:
            fetched.duration_s = (end - start).total_seconds()
        locations = self._locations(ctr)
        if channel == "chat":
            self._add_transcript(fetched, locations)
            return fetched
        audio = locations.get("audio")
        if audio:
            bucket, key = split_location(audio)
            url = self._s3().generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=PRESIGN_S
            )
            fetched.recordings = [Recording("mixed", url)]
            # Amazon Connect records the customer on the left channel, the agent on the right
            fetched.meta["channel_roles"] = {"0": "customer", "1": "agent"}
        else:
            fetched.no_media = True  # abandoned, or recording off: the contact without audio
        return fetched

    def _add_transcript(self, fetched: FetchedCall, locations: dict[str, str]) -> None:
        location = locations.get("chat")
        if not location:
            raise ProviderError(
                f"Chat contact {fetched.external_id} has no transcript location in its CTR "
                "(enable chat transcripts in the instance's data storage).",
                transient=False,
            )
        bucket, key = split_location(location)
        data = self._read(bucket, key, MAX_TRANSCRIPT_BYTES, f"the chat transcript {key}")
        try:
            transcript = json.loads(data)
        except ValueError as exc:
            raise ProviderError(f"The chat transcript {key} is not JSON.", transient=False) from exc
        turns = chat_turns(transcript)
        if not turns:
            raise ProviderError(f"The chat transcript {key} has no messages.", transient=False)
        fetched.turns = turns
        fetched.thread_id = str(
            (transcript.get("InitialContactId") if isinstance(transcript, dict) else None)
            or fetched.external_id
        )[:200]
        customer = next((t.speaker for t in turns if t.role == "customer" and t.speaker), None)
        if customer and customer.lower() != "customer":
            fetched.customer_name = customer

    @staticmethod
    def _locations(ctr: dict[str, Any]) -> dict[str, str]:
        """The recording ("audio") and the chat transcript ("chat") in S3, when available."""
        found: dict[str, str] = {}
        entries = [r for r in ctr.get("Recordings") or [] if isinstance(r, dict)]
        if isinstance(ctr.get("Recording"), dict):
            entries.append(ctr["Recording"])
        for entry in entries:
            location = entry.get("Location")
            status = str(entry.get("Status") or "AVAILABLE").upper()
            if not isinstance(location, str) or "/" not in location or status != "AVAILABLE":
                continue
            if entry.get("DeletionReason"):
                continue
            kind = str(entry.get("MediaStreamType") or entry.get("Type") or "").upper()
            if kind in ("CHAT", "TRANSCRIPT") or location.lower().endswith(".json"):
                found.setdefault("chat", location)
            elif kind in ("AUDIO", "") and entry.get("StorageType", "S3") == "S3":
                found.setdefault("audio", location)
        return found

    @staticmethod
    def _direction(ctr: dict[str, Any], channel: str) -> str | None:
        method = str(ctr.get("InitiationMethod") or "").upper()
        if method == "INBOUND":
            return "inbound"
        if method in ("OUTBOUND", "CALLBACK"):
            return "outbound"
        if method == "API":  # StartChatContact is a customer's; StartOutboundVoiceContact ours
            return "inbound" if channel == "chat" else "outbound"
        return None  # TRANSFER, QUEUE_TRANSFER, MONITOR, DISCONNECT: kept as an attribute

    @staticmethod
    def _agent(ctr: dict[str, Any]) -> AgentInfo | None:
        agent = _obj(ctr.get("Agent"))
        if not agent:
            return None  # abandoned in the queue, or handled by a flow alone
        arn = str(agent.get("ARN") or "")
        username = str(agent.get("Username") or "")
        agent_id = arn.rsplit("/", 1)[-1] if "/agent/" in arn else ""
        if not (username or agent_id):
            return None
        return AgentInfo(external_id=agent_id or username, name=(username or agent_id)[:200])

    @staticmethod
    def _columns(ctr: dict[str, Any]) -> dict[str, Any]:
        agent = _obj(ctr.get("Agent"))
        queue = _obj(ctr.get("Queue"))
        columns: dict[str, Any] = {}
        if queue.get("Name"):
            columns["queue"] = str(queue["Name"])[:200]
        if ctr.get("DisconnectReason"):
            columns["outcome"] = str(ctr["DisconnectReason"])[:100]
        for column, value in (
            ("wait_s", queue.get("Duration")),
            ("hold_s", agent.get("CustomerHoldDuration")),
            ("wrapup_s", agent.get("AfterContactWorkDuration")),
            ("talk_s", agent.get("AgentInteractionDuration")),
        ):
            seconds = _seconds(value)
            if seconds is not None:
                columns[column] = seconds
        attributes = {
            str(k)[:100]: str(v)[:100]
            for k, v in (ctr.get("Attributes") or {}).items()
            if isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v).strip()
        }
        for name, value in (
            ("disconnect_reason", ctr.get("DisconnectReason")),
            ("initiation_method", ctr.get("InitiationMethod")),
            ("routing_profile", (agent.get("RoutingProfile") or {}).get("Name")),
        ):
            if isinstance(value, str) and value:
                attributes.setdefault(name, value[:100])
        if attributes:
            columns["attributes"] = attributes
        facts = {
            name: float(agent[field])
            for name, field in (
                ("number_of_holds", "NumberOfHolds"),
                ("longest_hold_s", "LongestHoldDuration"),
            )
            if _seconds(agent.get(field)) is not None
        }
        if _seconds(ctr.get("AgentConnectionAttempts")) is not None:
            facts["agent_connection_attempts"] = float(ctr["AgentConnectionAttempts"])
        if facts:
            columns["facts"] = facts
        return columns

    @staticmethod
    def _provider_meta(ctr: dict[str, Any]) -> dict[str, Any]:
        queue = _obj(ctr.get("Queue"))
        return {
            "contact_id": ctr.get("ContactId"),
            "initial_contact_id": ctr.get("InitialContactId"),
            "previous_contact_id": ctr.get("PreviousContactId"),
            "instance_arn": ctr.get("InstanceARN"),
            "queue_arn": queue.get("ARN"),
            "system_endpoint": (ctr.get("SystemEndpoint") or {}).get("Address")
            if isinstance(ctr.get("SystemEndpoint"), dict)
            else None,
            "disconnect_reason": ctr.get("DisconnectReason"),
        }

    # -- the webhook ---------------------------------------------------------------------

    def verify_webhook(self, request: WebhookRequest, secret: str) -> WebhookDelivery:
        given = request.headers.get(WEBHOOK_HEADER.lower())
        if not given:
            raise Unauthorized(
                f"The {WEBHOOK_HEADER} header is missing: give the EventBridge connection the "
                f"API key name {WEBHOOK_HEADER} and this connector's secret as its value."
            )
        if not secret or not constant_time_equals(given.strip(), secret):
            raise Unauthorized(
                f"The {WEBHOOK_HEADER} header does not match this connector's secret."
            )
        event = request.json()
        if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
            raise BadRequest(
                "The body is not an EventBridge event (no detail): send the event as it is, "
                "without an input transformer.",
                code="malformed_body",
            )
        detail = event["detail"]
        delivery_id = str(event.get("id") or "")[:150] or None
        if event.get("detail-type") != "Amazon Connect Contact Event":
            return WebhookDelivery(delivery_id=delivery_id, ignored="not a contact event")
        if detail.get("eventType") != "DISCONNECTED":
            return WebhookDelivery(
                delivery_id=delivery_id,
                ignored=f"contact event {str(detail.get('eventType'))[:40]}, not DISCONNECTED",
            )
        if str(detail.get("channel") or "VOICE").upper() not in CHANNELS:
            return WebhookDelivery(delivery_id=delivery_id, ignored="not a voice or chat contact")
        contact_id = detail.get("contactId")
        if not isinstance(contact_id, str) or not contact_id.strip():
            raise BadRequest("The contact event has no contactId.", code="malformed_body")
        return WebhookDelivery(
            refs=[
                CallRef(
                    contact_id.strip()[:200],
                    parse_time(detail.get("initiationTimestamp")),
                    {
                        "contact_id": contact_id.strip()[:200],
                        "instance_arn": str(detail.get("instanceArn") or "")[:300],
                        "channel": str(detail.get("channel") or "")[:20],
                        "disconnected_at": str(detail.get("disconnectTimestamp") or "")[:40],
                    },
                )
            ],
            delivery_id=delivery_id,
        )
