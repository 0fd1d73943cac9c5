"""The company's speech-to-text credentials (the rest of the speech settings are plain
columns of `company_settings`, edited on the Settings -> AI & speech page)."""

from __future__ import annotations

from callscribe.accounts.models import CompanySettings
from callscribe.security.crypto import decrypt_secret, encrypt_secret


def speech_key(cs: CompanySettings) -> str | None:
    return decrypt_secret(cs.speech_api_key_enc) if cs.speech_api_key_enc else None


def set_speech_key(cs: CompanySettings, api_key: str | None) -> None:
    cs.speech_api_key_enc = encrypt_secret(api_key) if api_key else None
