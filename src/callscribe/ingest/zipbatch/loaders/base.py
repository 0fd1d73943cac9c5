"""What every data-set loader shares: the outcome of one item, the messages it leaves
(warnings and rejections, with a code), the context of a chunk (session, account,
source, PIDs, reference caches), and the field readers that apply the format's rules
(labels over 100 characters trimmed, enumerations checked, facts numeric, dates to the
minute, durations in seconds)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from callscribe.accounts.service import MAX_ATTRIBUTE_LEN
from callscribe.errors import CallscribeError
from callscribe.ingest.request import pid_for
from callscribe.kit.schemas import parse_instant


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


class MessageCode(StrEnum):
    """The codes of a batch's messages (docs/ingest-format.md lists them)."""

    BAD_JSON = "bad_json"  # rejected: the line is not a JSON object
    LINE_TOO_LONG = "line_too_long"  # rejected
    MISSING_FIELD = "missing_field"  # rejected: id, or a field the data set needs
    BAD_ENUMERATION = "bad_enumeration"  # rejected: channel, direction, role ...
    BAD_VALUE = "bad_value"  # rejected: a date, number or text of the wrong kind
    UNKNOWN_REFERENCE = "unknown_reference"  # rejected (a turn's engagement) or warning
    TRIMMED = "trimmed"  # warning: an attribute or label over 100 characters
    FACT_NOT_NUMERIC = "fact_not_numeric"  # warning: the fact is ignored
    UNKNOWN_FIELD = "unknown_field"  # warning: the field is ignored
    UNKNOWN_DATA_SET = "unknown_data_set"  # warning: the file is skipped
    NOT_A_DATA_FILE = "not_a_data_file"  # warning: an entry not named <dataset>.jsonl


class Level(StrEnum):
    WARNING = "warning"
    ERROR = "error"  # the item was rejected


@dataclass
class Message:
    level: Level
    code: MessageCode
    message: str
    data_set: str | None = None
    file: str | None = None
    line: int | None = None
    item_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "level": self.level.value,
            "code": self.code.value,
            "message": self.message,
            "dataSet": self.data_set,
            "file": self.file,
            "line": self.line,
            "id": self.item_id,
        }


class Rejected(Exception):
    def __init__(self, code: MessageCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Chunk:
    """The context of one chunk of one file: everything a loader needs but its items."""

    session: Session
    company_id: uuid.UUID
    source_id: str  # the ingestion source's UUID, as text: part of every PID
    batch_id: uuid.UUID
    data_set: str
    file: str
    # ids of our rows by (data set, source id), shared across the chunks of a batch
    refs: dict[tuple[str, str], uuid.UUID | None] = field(default_factory=dict)
    # engagements this chunk created or whose turns it changed
    touched: set[uuid.UUID] = field(default_factory=set)


@dataclass
class Item:
    """One line being loaded: its data, and the messages it leaves."""

    chunk: Chunk
    line: int
    data: dict[str, Any]
    messages: list[Message] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.data.get("id"))

    def pid(self, data_set: str | None = None, external_id: str | None = None) -> uuid.UUID:
        return pid_for(
            self.chunk.company_id,
            self.chunk.source_id,
            data_set or self.chunk.data_set,
            external_id if external_id is not None else self.id,
        )

    def warn(self, code: MessageCode, message: str) -> None:
        self.messages.append(
            Message(
                Level.WARNING,
                code,
                message,
                self.chunk.data_set,
                self.chunk.file,
                self.line,
                str(self.data.get("id"))[:100] if self.data.get("id") is not None else None,
            )
        )

    # -- readers --------------------------------------------------------------------

    def text(self, name: str, *, max_len: int = 200, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise Rejected(MessageCode.MISSING_FIELD, f"{name} is required.")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise Rejected(MessageCode.BAD_VALUE, f"{name} must be text.")
        out = str(value).strip()
        if len(out) > max_len:
            raise Rejected(MessageCode.BAD_VALUE, f"{name} is longer than {max_len} characters.")
        return out or None

    def label(self, name: str, value: Any = None, *, given: bool = False) -> str | None:
        """An attribute or label: at most 100 characters, trimmed with a warning."""
        if not given:
            value = self.data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, (dict, list)):
            raise Rejected(
                MessageCode.BAD_VALUE, f"{name} must be text, not {type(value).__name__}."
            )
        out = str(value).strip()
        if len(out) > MAX_ATTRIBUTE_LEN:
            self.warn(
                MessageCode.TRIMMED,
                f"{name} was {len(out)} characters; trimmed to {MAX_ATTRIBUTE_LEN}.",
            )
            out = out[:MAX_ATTRIBUTE_LEN]
        return out or None

    def enum(self, name: str, allowed: Iterable[str], *, default: str | None = None) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        choices = list(allowed)
        if not isinstance(value, str) or value.strip().lower() not in choices:
            raise Rejected(
                MessageCode.BAD_ENUMERATION,
                f"{name} {str(value)[:60]!r} is not supported: use {', '.join(choices)}.",
            )
        return value.strip().lower()

    def moment(self, name: str, *, required: bool = False) -> datetime | None:
        """An ISO 8601 date and time, kept to the minute (the format's granularity)."""
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise Rejected(MessageCode.MISSING_FIELD, f"{name} is required.")
            return None
        if not isinstance(value, str):
            raise Rejected(MessageCode.BAD_VALUE, f"{name} must be an ISO 8601 date and time.")
        try:
            parsed = parse_instant(value)
        except ValueError as exc:
            raise Rejected(MessageCode.BAD_VALUE, f"{name}: {exc}.") from exc
        return parsed.replace(second=0, microsecond=0)

    def number(self, name: str, *, minimum: float | None = None) -> float | None:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise Rejected(MessageCode.BAD_VALUE, f"{name} must be a number.")
        if minimum is not None and value < minimum:
            raise Rejected(MessageCode.BAD_VALUE, f"{name} must be at least {minimum:g}.")
        return float(value)

    def seconds(self, name: str) -> float | None:
        return self.number(name, minimum=0)

    def integer(self, name: str, *, minimum: int = 0, required: bool = False) -> int | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise Rejected(MessageCode.MISSING_FIELD, f"{name} is required.")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise Rejected(MessageCode.BAD_VALUE, f"{name} must be a whole number >= {minimum}.")
        if value > 2**31 - 1:
            raise Rejected(MessageCode.BAD_VALUE, f"{name} is too large.")
        return value

    def flag(self, name: str) -> bool | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise Rejected(MessageCode.BAD_VALUE, f"{name} must be true or false.")
        return value

    def strings(self, name: str) -> list[str]:
        value = self.data.get(name)
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
            raise Rejected(MessageCode.BAD_VALUE, f"{name} must be a list of text values.")
        return [str(v).strip() for v in value if str(v).strip()]

    def attributes(self, name: str = "attributes") -> dict[str, str]:
        value = self.data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise Rejected(MessageCode.BAD_VALUE, f"{name} must be an object of name: value.")
        out: dict[str, str] = {}
        for key, raw in value.items():
            key = str(key).strip()[:MAX_ATTRIBUTE_LEN]
            if raw is None or not key:
                continue
            if isinstance(raw, (dict, list)):
                self.warn(MessageCode.BAD_VALUE, f"{name}.{key} is not a plain value; ignored.")
                continue
            text = self.label(f"{name}.{key}", raw, given=True)
            if text is not None:
                out[key] = text
        return out

    def facts(self, name: str = "facts") -> dict[str, float]:
        value = self.data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise Rejected(MessageCode.BAD_VALUE, f"{name} must be an object of name: number.")
        out: dict[str, float] = {}
        for key, raw in value.items():
            key = str(key).strip()[:MAX_ATTRIBUTE_LEN]
            if not key:
                continue
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
                self.warn(
                    MessageCode.FACT_NOT_NUMERIC,
                    f"{name}.{key} is {str(raw)[:40]!r}, not a number; ignored.",
                )
                continue
            out[key] = raw
        return out


def apply(row: object, values: dict[str, Any]) -> bool:
    """Set the values that differ; True when any did."""
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


class Loader:
    """One data set. `fields` are the names it reads (others are warned about);
    `load_item` loads one item (raises Rejected); `load_chunk` may do many at once."""

    data_set: ClassVar[str]
    fields: ClassVar[frozenset[str]]

    def load_item(self, item: Item) -> Outcome:
        raise NotImplementedError

    def load_chunk(self, chunk: Chunk, items: list[Item]) -> list[Outcome]:
        out = []
        for item in items:
            out.append(self.guarded(item, lambda it=item: self.load_item(it)))
        return out

    def guarded(self, item: Item, run: Any, *, savepoint: bool = True) -> Outcome:
        """Run one item in a savepoint (a rejected item writes nothing); `savepoint`
        False for a step that only reads."""
        self.check_fields(item)
        try:
            if item.data.get("id") in (None, ""):
                raise Rejected(MessageCode.MISSING_FIELD, "id is required.")
            if not savepoint:
                return run()  # type: ignore[no-any-return]
            with item.chunk.session.begin_nested():
                try:
                    return run()  # type: ignore[no-any-return]
                except CallscribeError as exc:  # the ingest path refused it: this item only
                    raise Rejected(MessageCode.BAD_VALUE, exc.message) from exc
        except Rejected as exc:
            item.messages.append(
                Message(
                    Level.ERROR,
                    exc.code,
                    f"Rejected: {exc.message}",
                    item.chunk.data_set,
                    item.chunk.file,
                    item.line,
                    str(item.data.get("id"))[:100] if item.data.get("id") is not None else None,
                )
            )
            return Outcome.REJECTED

    def check_fields(self, item: Item) -> None:
        unknown = sorted(set(item.data) - self.fields - {"id"})
        if unknown:
            item.warn(
                MessageCode.UNKNOWN_FIELD,
                f"Unknown field(s) ignored: {', '.join(u[:40] for u in unknown[:10])}.",
            )


def upsert_by_pid(item: Item, model: type, values: dict[str, Any]) -> tuple[Any, Outcome]:
    """The row of `model` with the item's PID: created, updated or unchanged."""
    from sqlalchemy import select

    chunk = item.chunk
    pid = item.pid()
    row = chunk.session.scalars(
        select(model).where(model.company_id == chunk.company_id, model.pid == pid)  # type: ignore[attr-defined]
    ).first()
    if row is None:
        row = model(
            id=uuid.uuid4(),
            company_id=chunk.company_id,
            pid=pid,
            source=chunk.source_id,
            external_id=item.id[:100],
            **values,
        )
        chunk.session.add(row)
        chunk.session.flush()
        outcome = Outcome.CREATED
    else:
        outcome = Outcome.UPDATED if apply(row, values) else Outcome.UNCHANGED
        chunk.session.flush()
    chunk.refs[(chunk.data_set, item.id)] = row.id
    return row, outcome


def reference(item: Item, data_set: str, model: type, name: str) -> uuid.UUID | None:
    """Our id of the row the item names in `name` (a source ID of `data_set`), or None
    with a warning when that data set has no such item (the reference is dropped)."""
    from sqlalchemy import select

    raw = item.data.get(name)
    if raw is None or raw == "":
        return None
    if isinstance(raw, (dict, list, bool)):
        raise Rejected(MessageCode.BAD_VALUE, f"{name} must be the source ID of a {data_set} item.")
    external = str(raw)
    chunk = item.chunk
    key = (data_set, external)
    if key not in chunk.refs:
        pid = pid_for(chunk.company_id, chunk.source_id, data_set, external)
        chunk.refs[key] = chunk.session.scalar(
            select(model.id).where(model.company_id == chunk.company_id, model.pid == pid)  # type: ignore[attr-defined]
        )
    found = chunk.refs[key]
    if found is None:
        item.warn(
            MessageCode.UNKNOWN_REFERENCE,
            f"{name} {external[:60]!r}: no such item in {data_set} (send it first); left empty.",
        )
    return found
