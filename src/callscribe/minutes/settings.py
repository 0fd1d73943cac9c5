"""The company's AI and speech settings (the Settings -> AI & speech page and
`GET/PUT /api/settings/ai`): the view shown to admins and the update that validates it.
The row is accounts' `company_settings`; what its AI fields mean is minutes' business."""

from __future__ import annotations

from typing import Any

from callscribe.accounts.models import CompanySettings
from callscribe.accounts.service import MAX_ATTRIBUTE_LEN
from callscribe.errors import CallscribeError, ValidationFailed
from callscribe.minutes.analyzers import PRESETS
from callscribe.minutes.schemas import DEFAULT_OUTCOME_LABELS
from callscribe.security.crypto import decrypt_secret, encrypt_secret, secret_last4
from callscribe.security.outbound import check_url
from callscribe.speech.settings import set_speech_key


def set_ai_key(cs: CompanySettings, api_key: str | None) -> None:
    if api_key:
        cs.ai_api_key_enc = encrypt_secret(api_key)
        cs.ai_api_key_last4 = secret_last4(api_key)
    else:
        cs.ai_api_key_enc = None
        cs.ai_api_key_last4 = None


def ai_key(cs: CompanySettings) -> str | None:
    return decrypt_secret(cs.ai_api_key_enc) if cs.ai_api_key_enc else None


def ai_settings_view(cs: CompanySettings) -> dict[str, Any]:
    """Company AI settings as shown to admins: secrets only as 'set' and last 4."""
    return {
        "ai_engine": cs.ai_engine or "local",
        "ai_provider": cs.ai_provider,
        "ai_base_url": cs.ai_base_url,
        "ai_model": cs.ai_model,
        "ai_api_key_set": bool(cs.ai_api_key_enc),
        "ai_api_key_last4": cs.ai_api_key_last4,
        "speech_engine": cs.speech_engine or "faster-whisper",
        "speech_model": cs.speech_model,
        "speech_base_url": cs.speech_base_url,
        "speech_api_key_set": bool(cs.speech_api_key_enc),
        "speech_language": cs.speech_language,
        "outcome_labels": cs.outcome_labels or list(DEFAULT_OUTCOME_LABELS),
        "channel_roles": cs.channel_roles or {},
        "redact_pii": bool(cs.redact_pii),
        "conversation_window_min": cs.conversation_window_min
        if cs.conversation_window_min is not None
        else 30,
        "ai_fallback_local": ai_fallback_local(cs),
    }


def ai_fallback_local(cs: CompanySettings) -> bool:
    """When the AI endpoint cannot be reached, make the Minutes with the built-in analyzer
    (kept in company_settings.extra: no column of its own)."""
    return bool((cs.extra or {}).get("ai_fallback_local", False))


def update_ai_settings(cs: CompanySettings, changes: dict[str, Any]) -> bool:
    """Apply the fields present in `changes`. Returns True when something a waiting call
    may need (engine, key, model, base URL) changed."""
    resume = False
    if "ai_provider" in changes and changes["ai_provider"] in PRESETS:
        changes.setdefault("ai_base_url", PRESETS[changes["ai_provider"]])
    for url_field in ("ai_base_url", "speech_base_url"):
        if changes.get(url_field):
            check_url(changes[url_field])
            changes[url_field] = changes[url_field].rstrip("/")
    for key, value in changes.items():
        if key == "ai_api_key":
            set_ai_key(cs, value or None)
            resume = True
        elif key == "speech_api_key":
            set_speech_key(cs, value or None)
            resume = True
        elif key == "ai_fallback_local":
            if value is not None:
                cs.extra = {**(cs.extra or {}), "ai_fallback_local": bool(value)}
        elif key == "outcome_labels" and value is not None:
            labels = [str(v).strip()[:MAX_ATTRIBUTE_LEN] for v in value if str(v).strip()]
            if not labels:
                raise ValidationFailed("Give at least one outcome label.")
            cs.outcome_labels = list(dict.fromkeys(labels))
        elif key == "conversation_window_min":
            if value is not None:  # null leaves it as it is (the column is required)
                cs.conversation_window_min = value
        else:
            setattr(cs, key, value)
            resume = resume or key.startswith("ai_") or key.startswith("speech_")
    if (cs.speech_engine or "faster-whisper") == "faster-whisper" and (
        "speech_model" in changes or "speech_language" in changes
    ):
        from callscribe.speech.service import check_model

        try:
            check_model(cs.speech_model or "tiny.en", cs.speech_language)
        except CallscribeError as exc:
            raise ValidationFailed(exc.message, code=exc.code) from exc
    if (cs.ai_engine or "local") != "local" and not cs.ai_base_url:
        raise ValidationFailed("An OpenAI-compatible engine needs a base URL (or a provider).")
    return resume
