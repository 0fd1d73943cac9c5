"""Who spoke when on a mono recording: a `Diarizer` protocol and its registry (base),
the classic signal-processing diarizer (classic), agent/customer from what each speaker
says (roles) and the diarization error rate (metrics)."""

from callscribe.speech.diarization.base import (
    DIARIZERS,
    Diarization,
    Diarizer,
    SpeakerTurn,
    get_diarizer,
    register_diarizer,
)

__all__ = [
    "DIARIZERS",
    "Diarization",
    "Diarizer",
    "SpeakerTurn",
    "get_diarizer",
    "register_diarizer",
]
