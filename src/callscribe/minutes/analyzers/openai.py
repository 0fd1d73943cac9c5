# ruff: noqa: E501  (regular expressions and prompt text read better unbroken)
"""Minutes from any OpenAI-compatible /chat/completions endpoint with JSON-schema
structured output, validated with pydantic, retried, chunked map/reduce for long
transcripts so nothing is silently cut. The HTTP side is callscribe.ai.llm."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from callscribe.ai.llm import ChatClient, InvalidAnswer, LLMFailed, LLMKeyRefused, LLMUnreachable
from callscribe.minutes.analyzers.base import (
    DEFAULT_MODELS,
    PRESETS,
    SPACE_RE,
    AnalyzerConfig,
    AnalyzerFailed,
    AnalyzerKeyMissing,
    AnalyzerKeyRefused,
    AnalyzerUnreachable,
    finalize_draft,
)
from callscribe.minutes.analyzers.local import LocalAnalyzer
from callscribe.minutes.analyzers.local.text import format_ms
from callscribe.minutes.schemas import (
    AnalysisContext,
    MinutesDraft,
    TurnIn,
)
from callscribe.privacy.masking import mask_text

SYSTEM_PROMPT = """You write the minutes of a customer conversation (a call, chat or meeting) for a contact-center team.
Answer with ONE JSON object that matches the given JSON schema, and nothing else.
Fields:
- subject: a short title (at most 80 characters) naming the customer's main request or the meeting's topic.
- summary: 2 to 4 sentences in the third person ("The customer ...", "The agent ...").
- overview: one sentence on who talked and what kind of conversation it was.
- sentiment: the customer's overall sentiment, weighted toward the end: positive, neutral, negative, or mixed (strong positive and negative both present).
- outcome: exactly one of the allowed outcome labels.
- sections: headed bullet lists such as "Customer request", "Discussion", "Resolution", "Next steps".
- action_items: who committed to what, by when. title is an imperative clause (at most 120 characters); owner is "agent", "customer" or a person's name; due is an ISO date (YYYY-MM-DD) when it can be computed from the call date, else the phrase used ("by Friday"), else null; priority is high for urgent or same-day items, low for "no rush", else medium; status is open unless the item was completed during the conversation.
- notes: facts worth keeping (amounts, dates, reference numbers) as short strings.
- tags: up to 8 short keyphrases.
Use only what the transcript says; do not invent names, numbers or commitments."""


MAP_INSTRUCTION = (
    "This is part {part} of {parts} of one long transcript. Write minutes for this part only; "
    "they will be merged with the other parts afterwards. Keep every action item and fact of this part."
)


REDUCE_INSTRUCTION = (
    "Below are partial minutes (JSON), one per consecutive part of the same conversation, in order. "
    "Merge them into the minutes of the whole conversation: one subject, a 2 to 4 sentence summary of the whole, "
    "sentiment and outcome for the conversation as a whole (outcome from the final state), merged sections, "
    "all action items without duplicates, all notes, up to 8 tags."
)


def minutes_json_schema(outcome_labels: Sequence[str] | None = None) -> dict[str, Any]:
    """JSON schema of MinutesDraft for strict structured output: every property
    required, no additional properties, nullable fields as ["string","null"]."""
    string: dict[str, Any] = {"type": "string"}
    strings: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
    outcome: dict[str, Any] = {"type": "string"}
    if outcome_labels:
        outcome = {"type": "string", "enum": list(outcome_labels)}
    section = {
        "type": "object",
        "properties": {"heading": string, "bullets": strings},
        "required": ["heading", "bullets"],
        "additionalProperties": False,
    }
    action = {
        "type": "object",
        "properties": {
            "title": string,
            "priority": {"type": "string", "enum": ["high", "medium", "low"]},
            "status": {"type": "string", "enum": ["open", "done"]},
            "owner": {"type": ["string", "null"]},
            "due": {"type": ["string", "null"]},
        },
        "required": ["title", "priority", "status", "owner", "due"],
        "additionalProperties": False,
    }
    properties = {
        "subject": string,
        "summary": string,
        "overview": string,
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative", "mixed"]},
        "outcome": outcome,
        "sections": {"type": "array", "items": section},
        "action_items": {"type": "array", "items": action},
        "notes": strings,
        "tags": strings,
    }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def transcript_lines(turns: Sequence[TurnIn], max_chars: int) -> list[str]:
    """ "[mm:ss] Agent: text" lines; a turn longer than max_chars is split into several
    lines at sentence or word boundaries so that no text is ever dropped."""
    lines: list[str] = []
    for turn in turns:
        # masked again here: whatever handed us the turns, no PII leaves for the model
        text = mask_text(SPACE_RE.sub(" ", turn.text or "").strip())
        if not text:
            continue
        who = turn.speaker or {"agent": "Agent", "customer": "Customer", "bot": "Bot"}.get(
            turn.role, "Speaker"
        )
        if turn.role == "customer":
            who = "Customer"  # the customer's name is PII: it is not sent to the model
        elif turn.speaker and turn.role == "agent":
            who = f"{turn.speaker} ({turn.role})"
        prefix = f"[{format_ms(turn.start_ms)}] {who}: "
        room = max(200, max_chars - len(prefix) - len(" (cont.)") - 1)
        while len(text) > room:
            cut = text.rfind(". ", 0, room)
            if cut < room // 2:
                cut = text.rfind(" ", 0, room)
            if cut <= 0:
                cut = room
            else:
                cut += 1
            lines.append(prefix + text[:cut].strip())
            text = text[cut:].strip()
            prefix = f"[{format_ms(turn.start_ms)}] {who} (cont.): "
        lines.append(prefix + text)
    return lines


def chunk_lines(lines: Sequence[str], max_chars: int) -> list[str]:
    """Pack whole lines into chunks of at most max_chars (a longer single line stays whole)."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if current and size + len(line) + 1 > max_chars:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        chunks.append("\n".join(current))
    return chunks


class OpenAIAnalyzer:
    """Minutes from an OpenAI-compatible chat completions endpoint, JSON-schema output."""

    name = "openai"

    def __init__(self, config: AnalyzerConfig) -> None:
        if not (config.api_key or "").strip():
            raise AnalyzerKeyMissing(
                "AI key not set: add an API key for the AI endpoint in the settings"
            )
        base = config.base_url or "openai"
        self.base_url = PRESETS.get(base.lower(), base).rstrip("/")
        self.model = config.model or DEFAULT_MODELS.get(self.base_url, "gpt-4o-mini")
        self.config = config
        self._api_key = (config.api_key or "").strip()
        self.backoff_cap_s = 5.0  # longest wait between retries, Retry-After included

    # -- public

    def analyze(self, turns: Sequence[TurnIn], context: AnalysisContext) -> MinutesDraft:
        lines = transcript_lines(turns, self.config.max_chunk_chars)
        if not lines:
            return LocalAnalyzer().analyze([], context)  # nothing to ask the model about
        chunks = chunk_lines(lines, self.config.max_chunk_chars)
        schema = minutes_json_schema(context.outcome_labels)
        system = self._system(context)
        chat = ChatClient(
            base_url=self.base_url,
            api_key=self._api_key,
            model=self.model,
            timeout_s=self.config.timeout_s,
            max_retries=self.config.max_retries,
        )
        chat.backoff_cap_s = self.backoff_cap_s
        with chat:
            if len(chunks) == 1:
                draft = self._ask(chat, system, f"Transcript:\n{chunks[0]}", schema)
            else:
                partials = [
                    self._ask(
                        chat,
                        system,
                        MAP_INSTRUCTION.format(part=i + 1, parts=len(chunks))
                        + f"\n\nTranscript part {i + 1}:\n{chunk}",
                        schema,
                    )
                    for i, chunk in enumerate(chunks)
                ]
                draft = self._reduce(chat, system, partials, schema)
        return finalize_draft(draft, context)

    # -- internals

    def _system(self, context: AnalysisContext) -> str:
        lines = [
            SYSTEM_PROMPT,
            "",
            "Allowed outcome labels: " + ", ".join(json.dumps(x) for x in context.outcome_labels),
        ]
        if context.started_at:
            lines.append(
                f"The conversation started on {context.started_at.date().isoformat()} "
                f"({context.started_at.strftime('%A')}); resolve relative dates against it."
            )
        if context.agent_name:
            lines.append(f"The agent's name is {context.agent_name}.")
        # the customer's name is not sent to an external model (PII, issue 11)
        lines.append(
            f"Channel: {context.channel}. Write the minutes in language: {context.language}."
        )
        return "\n".join(lines)

    def _reduce(
        self,
        chat: ChatClient,
        system: str,
        partials: list[MinutesDraft],
        schema: dict[str, Any],
    ) -> MinutesDraft:
        # merge in groups that fit the budget, then merge the merges (partial minutes are
        # far smaller than the transcript, so one reduce call is the usual case)
        budget = 2 * self.config.max_chunk_chars
        while len(partials) > 1:
            docs = [p.model_dump_json() for p in partials]
            groups: list[list[str]] = []
            size = 0
            for doc in docs:
                if groups and size + len(doc) + 1 <= budget:
                    groups[-1].append(doc)
                    size += len(doc) + 1
                else:
                    groups.append([doc])
                    size = len(doc) + 1
            if len(groups) == len(
                docs
            ):  # nothing fits together: merge pairs, so rounds still shrink
                groups = [docs[i : i + 2] for i in range(0, len(docs), 2)]
            merged = []
            for group in groups:
                if len(group) == 1:
                    merged.append(MinutesDraft.model_validate_json(group[0]))
                    continue
                body = (
                    REDUCE_INSTRUCTION
                    + "\n\n"
                    + "\n".join(f"Part {i + 1}:\n{doc}" for i, doc in enumerate(group))
                )
                merged.append(self._ask(chat, system, body, schema))
            partials = merged
        return partials[0]

    def _ask(
        self, chat: ChatClient, system: str, user: str, schema: dict[str, Any]
    ) -> MinutesDraft:
        try:
            return chat.complete_json(
                system, user, schema=schema, schema_name="minutes", parse=_parse_draft
            )
        except LLMKeyRefused as exc:
            raise AnalyzerKeyRefused(exc.message) from exc
        except LLMUnreachable as exc:
            raise AnalyzerUnreachable(exc.message) from exc
        except LLMFailed as exc:
            raise AnalyzerFailed(exc.message) from exc


def _parse_draft(content: str) -> MinutesDraft:
    try:
        return MinutesDraft.model_validate_json(content)
    except ValidationError as exc:
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors()[:8]
        )
        raise InvalidAnswer(f"the answer did not match the minutes schema ({errors})") from exc
