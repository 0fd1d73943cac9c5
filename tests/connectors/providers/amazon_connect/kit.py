"""The Amazon Connect kit the shared contract and flow tests drive: contact trace
records written to S3 as a Kinesis Data Firehose stream writes them (one object per
delivery under <prefix>YYYY/MM/DD/HH/), recordings and chat transcripts where Amazon
Connect stores them, and EventBridge contact events."""

from __future__ import annotations

import copy
import io
import json
import uuid
import wave
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from callscribe.connectors.base import WebhookRequest
from tests.connectors.conftest import Tracks
from tests.connectors.providers.amazon_connect.server import REGION, FakeS3

ACCOUNT = "123456789012"
INSTANCE = "0b6e4a52-7c1d-4f8e-9a3b-5d2c8e1f4a70"
INSTANCE_ARN = f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/{INSTANCE}"
AGENT_ID = "a41f9c3e-2b7d-4e15-8c6a-93d0f2b7e518"


def stereo(left: bytes, right: bytes) -> bytes:
    """Two mono 16-bit WAVs of one length as one stereo WAV (Amazon Connect records the
    customer on the left, the agent on the right)."""
    with wave.open(io.BytesIO(left)) as a, wave.open(io.BytesIO(right)) as b:
        rate, fa, fb = a.getframerate(), a.readframes(a.getnframes()), b.readframes(b.getnframes())
    n = min(len(fa), len(fb)) // 2
    frames = bytearray()
    for i in range(n):
        frames += fa[2 * i : 2 * i + 2] + fb[2 * i : 2 * i + 2]
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return out.getvalue()


def ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ctr(
    contact_id: str, start: datetime, *, channel: str = "VOICE", recording: str | None = None
) -> dict[str, Any]:
    """A contact trace record in the shape of a real one (2017-03-10 format)."""
    connected = start + timedelta(seconds=71)
    ended = start + timedelta(seconds=104)
    record: dict[str, Any] = {
        "AWSAccountId": ACCOUNT,
        "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "Agent": {
            "ARN": f"{INSTANCE_ARN}/agent/{AGENT_ID}",
            "AfterContactWorkDuration": 32,
            "AfterContactWorkEndTimestamp": ts(ended + timedelta(seconds=32)),
            "AfterContactWorkStartTimestamp": ts(ended),
            "AgentInteractionDuration": 33,
            "ConnectedToAgentTimestamp": ts(connected),
            "CustomerHoldDuration": 4,
            "HierarchyGroups": None,
            "LongestHoldDuration": 4,
            "NumberOfHolds": 1,
            "RoutingProfile": {
                "ARN": f"{INSTANCE_ARN}/routing-profile/4f2a",
                "Name": "Basic Routing Profile",
            },
            "Username": "admin1",
        },
        "AgentConnectionAttempts": 1,
        "Attributes": {"greetingPlayed": "true", "tier": "gold"},
        "Channel": channel,
        "ConnectedToSystemTimestamp": ts(start),
        "ContactId": contact_id,
        "CustomerEndpoint": {"Address": "+15550142077", "Type": "TELEPHONE_NUMBER"}
        if channel == "VOICE"
        else None,
        "DisconnectReason": "CUSTOMER_DISCONNECT",
        "DisconnectTimestamp": ts(ended),
        "InitialContactId": None,
        "InitiationMethod": "INBOUND" if channel == "VOICE" else "API",
        "InitiationTimestamp": ts(start),
        "InstanceARN": INSTANCE_ARN,
        "LastUpdateTimestamp": ts(ended + timedelta(seconds=100)),
        "Queue": {
            "ARN": f"{INSTANCE_ARN}/queue/9e3b1d42",
            "DequeueTimestamp": ts(connected),
            "Duration": 7,
            "EnqueueTimestamp": ts(connected - timedelta(seconds=7)),
            "Name": "BasicQueue",
        },
        "Recording": None,
        "Recordings": None,
        "SystemEndpoint": {"Address": "+15550190300", "Type": "TELEPHONE_NUMBER"},
    }
    if recording:
        kind = "CHAT" if channel == "CHAT" else "AUDIO"
        record["Recording"] = {
            "DeletionReason": None,
            "Location": recording,
            "Status": "AVAILABLE",
            "Type": kind,
        }
        record["Recordings"] = [
            {
                "DeletionReason": None,
                "Location": recording,
                "MediaStreamType": kind,
                "Status": "AVAILABLE",
                "StorageType": "S3",
            }
        ]
    return record


def chat_transcript(contact_id: str, start: datetime) -> dict[str, Any]:
    """Amazon Connect's chat transcript format (Participants, Transcript items)."""
    agent, customer = "agent-" + contact_id[:8], "cust-" + contact_id[:8]

    def at(s: int) -> str:
        return (start + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    return {
        "Version": "2019-08-26",
        "AWSAccountId": ACCOUNT,
        "InstanceId": INSTANCE,
        "InitialContactId": contact_id,
        "ContactId": contact_id,
        "Participants": [{"ParticipantId": agent}, {"ParticipantId": customer}],
        "Transcript": [
            {
                "AbsoluteTime": at(0),
                "ContentType": "application/vnd.amazonaws.connect.event.participant.joined",
                "Id": "e1",
                "Type": "EVENT",
                "ParticipantId": customer,
                "DisplayName": "Dana Ruiz",
                "ParticipantRole": "CUSTOMER",
            },
            {
                "AbsoluteTime": at(1),
                "Content": "Hi, my parcel never arrived.",
                "ContentType": "text/plain",
                "Id": "m1",
                "Type": "MESSAGE",
                "ParticipantId": customer,
                "DisplayName": "Dana Ruiz",
                "ParticipantRole": "CUSTOMER",
            },
            {
                "AbsoluteTime": at(2),
                "Content": "Thank you for contacting us. An agent will join shortly.",
                "ContentType": "text/plain",
                "Id": "m2",
                "Type": "MESSAGE",
                "ParticipantId": "SYSTEM",
                "DisplayName": "SYSTEM_MESSAGE",
                "ParticipantRole": "SYSTEM",
            },
            {
                "AbsoluteTime": at(9),
                "Content": "Sorry to hear that. Can I have the order number?",
                "ContentType": "text/plain",
                "Id": "m3",
                "Type": "MESSAGE",
                "ParticipantId": agent,
                "DisplayName": "admin1",
                "ParticipantRole": "AGENT",
            },
            {
                "AbsoluteTime": at(15),
                "Content": "It is 4471.",
                "ContentType": "text/plain",
                "Id": "m4",
                "Type": "MESSAGE",
                "ParticipantId": customer,
                "DisplayName": "Dana Ruiz",
                "ParticipantRole": "CUSTOMER",
            },
            {
                "AbsoluteTime": at(20),
                "ContentType": "application/vnd.amazonaws.connect.event.participant.left",
                "Id": "e2",
                "Type": "EVENT",
                "ParticipantId": customer,
                "DisplayName": "Dana Ruiz",
                "ParticipantRole": "CUSTOMER",
            },
        ],
    }


class AmazonConnectKit:
    type = "amazon_connect"
    in_progress = False  # a CTR is written only once the contact has ended

    def __init__(self, tracks: Tracks):
        self.server = FakeS3().start()
        self.tracks = tracks
        tag = uuid.uuid4().hex[:10]
        self.bucket = f"connect-ctr-{tag}"
        self.recordings_bucket = f"amazon-connect-{tag}"
        self.prefix = "ctr/"
        self.s3 = self.server.boto()
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.create_bucket(Bucket=self.recordings_bucket)
        self.audio = stereo(tracks.user, tracks.bot)
        self.locations: dict[str, tuple[str, str]] = {}

    def credentials(self, good: bool = True) -> dict[str, str]:
        return {
            "access_key_id": self.server.access_key,
            "secret_access_key": self.server.secret_key if good else "wrong-password-123",
            "region": REGION,
            "bucket": self.bucket,
            "prefix": self.prefix,
        }

    def secret(self) -> str:
        return self.server.secret_key

    def at(self, minutes_ago: int) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)

    def put_export(
        self, records: list[dict[str, Any]], when: datetime, *, lines: bool = False
    ) -> str:
        """One Firehose delivery: the records concatenated (or one per line) in an object
        named by the delivery time."""
        key = (
            f"{self.prefix}{when:%Y/%m/%d/%H}/callscribe-ctr-1-{when:%Y-%m-%d-%H-%M-%S}-"
            f"{uuid.uuid4()}"
        )
        body = ("\n" if lines else "").join(json.dumps(r) for r in records)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode())
        return key

    @staticmethod
    def folder(kind: str, start: datetime) -> str:
        return f"connect/acme-cc/{kind}/{start:%Y/%m/%d}"

    def contact(
        self, n: int, minutes_ago: int, *, channel: str = "VOICE", audio: bool = True
    ) -> dict[str, Any]:
        contact_id = str(uuid.UUID(int=(uuid.uuid4().int >> 32 << 32) + n))
        start = self.at(minutes_ago)
        location = None
        if channel == "CHAT":
            name = f"{contact_id}_{start:%Y%m%dT%H:%M}_UTC.json"
            key = f"{self.folder('ChatTranscripts', start)}/{name}"
            self.s3.put_object(
                Bucket=self.recordings_bucket,
                Key=key,
                Body=json.dumps(chat_transcript(contact_id, start)).encode(),
            )
            location = f"{self.recordings_bucket}/{key}"
        elif audio:
            key = (
                f"{self.folder('CallRecordings', start)}/{contact_id}_{start:%Y%m%dT%H:%M}_UTC.wav"
            )
            self.s3.put_object(Bucket=self.recordings_bucket, Key=key, Body=self.audio)
            location = f"{self.recordings_bucket}/{key}"
            self.locations[contact_id] = (self.recordings_bucket, key)
        return ctr(contact_id, start, channel=channel, recording=location)

    def add_call(self, n: int, minutes_ago: int, *, complete: bool = True) -> str:
        record = self.contact(n, minutes_ago)
        self.put_export([record], self.at(minutes_ago) + timedelta(minutes=3))
        return str(record["ContactId"])

    def break_call(self, external_id: str) -> None:
        bucket, key = self.locations[external_id]
        self.server.fail_paths[f"/{bucket}/{quote(key, safe='/~')}"] = 503

    def mend(self) -> None:
        self.server.fail_paths.clear()
        self.server.down = False

    def event(self, external_id: str, event_type: str = "DISCONNECTED") -> dict[str, Any]:
        """EventBridge's "Amazon Connect Contact Event" (the shape of AWS's sample)."""
        now = datetime.now(UTC)
        return {
            "version": "0",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{external_id}/{event_type}")),
            "detail-type": "Amazon Connect Contact Event",
            "source": "aws.connect",
            "account": ACCOUNT,
            "time": ts(now),
            "region": REGION,
            "resources": [f"{INSTANCE_ARN}/contact/{external_id}", INSTANCE_ARN],
            "detail": {
                "eventType": event_type,
                "contactId": external_id,
                "channel": "VOICE",
                "instanceArn": INSTANCE_ARN,
                "initiationMethod": "INBOUND",
                "initiationTimestamp": ts(now - timedelta(minutes=5)),
                "disconnectTimestamp": ts(now - timedelta(minutes=2)),
                "queueInfo": {
                    "queueArn": f"{INSTANCE_ARN}/queue/9e3b1d42",
                    "queueType": "STANDARD",
                },
                "agentInfo": {"agentArn": f"{INSTANCE_ARN}/agent/{AGENT_ID}"},
            },
        }

    def delivery(
        self, external_id: str, *, url: str, secret: str, valid: bool = True
    ) -> WebhookRequest:
        token = secret if valid else secret[:-1] + ("x" if secret[-1:] != "x" else "y")
        return WebhookRequest(
            url=url,
            headers={
                "content-type": "application/json; charset=utf-8",
                "x-callscribe-secret": token,
            },
            body=json.dumps(copy.deepcopy(self.event(external_id))).encode(),
            content_type="application/json; charset=utf-8",
        )


KIT = AmazonConnectKit
