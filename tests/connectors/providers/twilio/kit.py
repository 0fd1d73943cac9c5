"""The Twilio kit for the shared contract and flow tests (tests/connectors/providers/)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from callscribe.connectors.base import WebhookRequest
from tests.connectors.conftest import Tracks
from tests.connectors.providers.twilio.server import (
    API,
    FakeTwilio,
    TwilioCall,
    TwilioRecording,
    rfc2822,
    stereo_wav,
)

TWILIO_NUMBER = "+15550009999"


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """As Twilio's security docs describe it: the URL, then each POST parameter's name
    and value in name order, HMAC-SHA1 with the Auth Token, base64."""
    data = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class TwilioKit:
    type = "twilio"
    in_progress = True  # the Recordings list shows recordings still processing

    def __init__(self, tracks: Tracks):
        self.server = FakeTwilio().start()
        self.tracks = tracks
        # agent (the dialled leg) on the second channel of an inbound call's recording
        self.audio = stereo_wav(tracks.user, tracks.bot)

    def credentials(self, good: bool = True) -> dict[str, str]:
        return {
            "account_sid": self.server.account_sid,
            "auth_token": self.server.auth_token if good else "0" * 32,
        }

    def secret(self) -> str:
        return self.server.auth_token

    def at(self, minutes_ago: int) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)

    def add_call(self, n: int, minutes_ago: int, *, complete: bool = True) -> str:
        call_sid = "CA" + f"{n:032x}"
        rec_sid = "RE" + f"{n:032x}"
        when = self.at(minutes_ago)
        self.server.add(
            TwilioCall(call_sid, f"+1555010{n:04d}", TWILIO_NUMBER, "inbound", when),
            TwilioRecording(
                rec_sid,
                call_sid,
                when,
                self.audio,
                status="completed" if complete else "processing",
            ),
        )
        return rec_sid

    def break_call(self, external_id: str) -> None:
        call_sid = self.server.recordings[external_id].call_sid
        self.server.fail_paths[f"{API}/Accounts/{self.server.account_sid}/Calls/{call_sid}"] = 503

    def mend(self) -> None:
        self.server.fail_paths.clear()

    def callback_params(self, external_id: str, status: str = "completed") -> dict[str, str]:
        rec = self.server.recordings[external_id]
        return {
            "AccountSid": self.server.account_sid,
            "CallSid": rec.call_sid,
            "RecordingSid": rec.sid,
            "RecordingUrl": f"https://api.twilio.com{API}/Accounts/{self.server.account_sid}/Recordings/{rec.sid}",
            "RecordingStatus": status,
            "RecordingDuration": str(rec.duration),
            "RecordingChannels": str(rec.channels),
            "RecordingStartTime": rfc2822(rec.date_created),
            "RecordingSource": "StartCallRecordingAPI",
            "RecordingTrack": "both",
            "ErrorCode": "0",
        }

    def delivery(
        self,
        external_id: str,
        *,
        url: str,
        secret: str = "",
        valid: bool = True,
        status: str = "completed",
    ) -> WebhookRequest:
        params = self.callback_params(external_id, status)
        signature = twilio_signature(self.server.auth_token, url, params)
        if not valid:  # one byte of the proof changed
            signature = ("B" if signature[0] != "B" else "C") + signature[1:]
        return WebhookRequest(
            url=url,
            headers={
                "content-type": "application/x-www-form-urlencoded; charset=UTF-8",
                "x-twilio-signature": signature,
                "i-twilio-idempotency-token": external_id,
            },
            body=urlencode(params).encode(),
            content_type="application/x-www-form-urlencoded",
        )


KIT = TwilioKit
