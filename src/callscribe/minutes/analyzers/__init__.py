"""Analyzers: a transcript (turns) in, a MinutesDraft out, behind one Protocol and a
registry (`base`). Implementations: `local` (default; rule-based, no network, one module
per concern) and `openai` (any OpenAI-compatible chat endpoint, JSON-schema output).

The package's face for other domains is the registry: what a caller needs to configure
and pick an analyzer, without knowing the implementations."""

from callscribe.minutes.analyzers.base import (
    ANALYZERS,
    DEFAULT_MODELS,
    PRESETS,
    Analyzer,
    AnalyzerConfig,
    AnalyzerFailed,
    AnalyzerKeyMissing,
    AnalyzerKeyRefused,
    AnalyzerUnreachable,
    get_analyzer,
)

__all__ = [
    "ANALYZERS",
    "DEFAULT_MODELS",
    "PRESETS",
    "Analyzer",
    "AnalyzerConfig",
    "AnalyzerFailed",
    "AnalyzerKeyMissing",
    "AnalyzerKeyRefused",
    "AnalyzerUnreachable",
    "get_analyzer",
]
