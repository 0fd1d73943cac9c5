"""ZIP safety: a batch is refused, whole, for path traversal, absolute names, symlinks,
nested archives, too many entries, too much decompressed data or a compression ratio
past the limit (zip bombs). `check_zip` reads the central directory before anything of
the batch is stored; `open_lines` enforces the same limits again while it actually
decompresses (headers can lie, and a `.jsonl.gz` member has a second layer)."""

from __future__ import annotations

import gzip
import io
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from callscribe.errors import BadRequest, ErrorCode
from callscribe.settings import get_settings

# `<dataset>[-<part>].jsonl[.gz]`, at the top of the archive or in folders
DATA_FILE = re.compile(
    r"^(?:.*/)?(?P<data_set>[a-z][a-z_]*)(?:-(?P<part>[A-Za-z0-9_.-]+?))?\.jsonl(?P<gz>\.gz)?$"
)
ARCHIVE_SUFFIXES = (".zip", ".jar", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar", ".zst")
ARCHIVE_MAGIC = (
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"\x1f\x8b",
    b"BZh",
    b"7z\xbc\xaf",
    b"Rar!",
    b"\xfd7zXZ",
)
# below this a high ratio is harmless (a small file of repeated values compresses well)
RATIO_FLOOR_BYTES = 1024 * 1024
MAX_LINE_BYTES = 8 * 1024 * 1024  # one JSONL item
READ_CHUNK = 64 * 1024


class ZipRefused(BadRequest):
    """The ZIP breaks a safety rule: the batch is refused and nothing of it is stored."""

    status = 422


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int
    max_uncompressed: int
    max_ratio: float

    @classmethod
    def from_settings(cls) -> ZipLimits:
        s = get_settings()
        return cls(
            max_entries=s.INGEST_ZIP_MAX_ENTRIES,
            max_uncompressed=s.INGEST_ZIP_MAX_UNCOMPRESSED_MB * 1024 * 1024,
            max_ratio=s.INGEST_ZIP_MAX_RATIO,
        )


@dataclass(frozen=True)
class ZipMember:
    name: str
    data_set: str | None  # None: not named like a data set file
    part: str | None
    gz: bool


def _refuse(code: ErrorCode, message: str) -> ZipRefused:
    return ZipRefused(message, code=code)


def check_name(name: str) -> None:
    if (
        name.startswith(("/", "\\"))
        or "\\" in name
        or re.match(r"^[A-Za-z]:", name)
        or any(part in ("..",) for part in name.split("/"))
    ):
        raise _refuse(
            ErrorCode.ZIP_PATH_TRAVERSAL,
            f"The ZIP entry {name[:200]!r} has an absolute path or '..': refused.",
        )
    if "\x00" in name:
        raise _refuse(ErrorCode.ZIP_INVALID, "A ZIP entry name contains a NUL character.")


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)  # the Unix mode a zip tool recorded


def _too_compressed(size: int, compressed: int, limits: ZipLimits) -> bool:
    return size > RATIO_FLOOR_BYTES and size > limits.max_ratio * max(compressed, 1)


def check_zip(path: Path | str, limits: ZipLimits | None = None) -> list[ZipMember]:
    """The data files of the ZIP at `path`, in archive order, or ZipRefused."""
    limits = limits or ZipLimits.from_settings()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _refuse(
            ErrorCode.ZIP_INVALID, f"The upload is not a readable ZIP file ({exc})."
        ) from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise _refuse(
                ErrorCode.ZIP_TOO_MANY_ENTRIES,
                f"The ZIP has {len(infos)} entries; at most {limits.max_entries} are allowed.",
            )
        members: list[ZipMember] = []
        total = 0
        for info in infos:
            check_name(info.filename)
            if _is_symlink(info):
                raise _refuse(
                    ErrorCode.ZIP_SYMLINK, f"The ZIP entry {info.filename[:200]!r} is a symlink."
                )
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                raise _refuse(ErrorCode.ZIP_INVALID, f"{info.filename[:200]!r} is encrypted.")
            match = DATA_FILE.match(info.filename)
            lower = info.filename.lower()
            if match is None and lower.endswith(ARCHIVE_SUFFIXES):
                raise _refuse(
                    ErrorCode.ZIP_NESTED_ARCHIVE,
                    f"The ZIP entry {info.filename[:200]!r} is an archive: nested archives "
                    "are refused (a data file may be .jsonl.gz).",
                )
            total += info.file_size
            if total > limits.max_uncompressed:
                raise _refuse(
                    ErrorCode.ZIP_TOO_LARGE,
                    f"The ZIP decompresses to more than {limits.max_uncompressed // (1024 * 1024)}"
                    " MB.",
                )
            if _too_compressed(info.file_size, info.compress_size, limits):
                raise _refuse(
                    ErrorCode.ZIP_BOMB,
                    f"The ZIP entry {info.filename[:200]!r} has a compression ratio over "
                    f"{limits.max_ratio:g}:1 (a zip bomb?).",
                )
            members.append(
                ZipMember(
                    info.filename,
                    match["data_set"] if match else None,
                    match["part"] if match else None,
                    bool(match and match["gz"]),
                )
            )
        return members


LOCAL_HEADER = b"PK\x03\x04"
LOCAL_HEADER_LEN = 30


class StreamScanner:
    """The local file headers of a ZIP as its bytes arrive (the PUT): names, entry count,
    declared sizes and ratios are checked while streaming, so a bad batch is cut off
    before the rest of it comes. Best effort by design: an entry whose sizes follow its
    data (a data descriptor) ends the scan, and symlinks are only in the central
    directory; `check_zip` over the whole file decides in every case."""

    def __init__(self, limits: ZipLimits | None = None) -> None:
        self.limits = limits or ZipLimits.from_settings()
        self.entries = 0
        self.total = 0
        self.done = False
        self._buf = bytearray()
        self._skip = 0

    def feed(self, chunk: bytes) -> None:
        if self.done:
            return
        view = memoryview(chunk)
        if self._skip:
            n = min(self._skip, len(view))
            self._skip -= n
            view = view[n:]
        self._buf += view
        while not self.done and not self._skip and self._header():
            pass

    def _header(self) -> bool:
        """Parse one local header from the buffer; False when more bytes are needed."""
        buf = self._buf
        if len(buf) < 4:
            return False
        if bytes(buf[:4]) != LOCAL_HEADER:  # the central directory (or not a ZIP at all)
            self.done = True
            return False
        if len(buf) < LOCAL_HEADER_LEN:
            return False
        flags = int.from_bytes(buf[6:8], "little")
        csize = int.from_bytes(buf[18:22], "little")
        usize = int.from_bytes(buf[22:26], "little")
        name_len = int.from_bytes(buf[26:28], "little")
        extra_len = int.from_bytes(buf[28:30], "little")
        end = LOCAL_HEADER_LEN + name_len + extra_len
        if len(buf) < end:
            return False
        raw_name = bytes(buf[LOCAL_HEADER_LEN : LOCAL_HEADER_LEN + name_len])
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        extra = bytes(buf[LOCAL_HEADER_LEN + name_len : end])
        del buf[:end]
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise _refuse(
                ErrorCode.ZIP_TOO_MANY_ENTRIES,
                f"The ZIP has more than {self.limits.max_entries} entries.",
            )
        check_name(name)
        if DATA_FILE.match(name) is None and name.lower().endswith(ARCHIVE_SUFFIXES):
            raise _refuse(
                ErrorCode.ZIP_NESTED_ARCHIVE,
                f"The ZIP entry {name[:200]!r} is an archive: nested archives are refused "
                "(a data file may be .jsonl.gz).",
            )
        if flags & 0x8:  # sizes after the data: the scan stops, check_zip decides
            self.done = True
            return False
        if 0xFFFFFFFF in (csize, usize):
            csize, usize = _zip64_sizes(extra, csize, usize)
        self.total += usize
        if self.total > self.limits.max_uncompressed:
            raise _refuse(
                ErrorCode.ZIP_TOO_LARGE,
                f"The ZIP decompresses to more than "
                f"{self.limits.max_uncompressed // (1024 * 1024)} MB.",
            )
        if _too_compressed(usize, csize, self.limits):
            raise _refuse(
                ErrorCode.ZIP_BOMB,
                f"The ZIP entry {name[:200]!r} has a compression ratio over "
                f"{self.limits.max_ratio:g}:1 (a zip bomb?).",
            )
        n = min(csize, len(buf))
        del buf[:n]
        self._skip = csize - n
        return True


def _zip64_sizes(extra: bytes, csize: int, usize: int) -> tuple[int, int]:
    i = 0
    while i + 4 <= len(extra):
        tag = int.from_bytes(extra[i : i + 2], "little")
        size = int.from_bytes(extra[i + 2 : i + 4], "little")
        body = extra[i + 4 : i + 4 + size]
        if tag == 0x0001:
            values = [int.from_bytes(body[j : j + 8], "little") for j in range(0, len(body) - 7, 8)]
            if usize == 0xFFFFFFFF and values:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF and values:
                csize = values.pop(0)
            break
        i += 4 + size
    return csize, usize


class _Counted(io.RawIOBase):
    """A raw stream that reports how many bytes came through it."""

    def __init__(self, inner: IO[bytes], on_bytes: Callable[[int], None]) -> None:
        self._inner = inner
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if n:
            self._on_bytes(n)
        return n


class Budget:
    """Decompressed bytes of a whole batch, against the uncompressed limit."""

    def __init__(self, limits: ZipLimits) -> None:
        self.limits = limits
        self.used = 0

    def spend(self, n: int) -> None:
        self.used += n
        if self.used > self.limits.max_uncompressed:
            raise _refuse(
                ErrorCode.ZIP_TOO_LARGE,
                "The batch decompresses to more than "
                f"{self.limits.max_uncompressed // (1024 * 1024)} MB.",
            )


def open_member(
    archive: zipfile.ZipFile, member: ZipMember, budget: Budget
) -> io.BufferedReader[_Counted]:
    """A buffered binary stream of the member's (decompressed) JSONL, refusing, while it
    reads, more data than the ratio allows, a nested archive and a batch over budget."""
    info = archive.getinfo(member.name)
    limits = budget.limits
    inner_bytes = 0
    outer_bytes = 0

    def outer(n: int) -> None:
        nonlocal outer_bytes
        outer_bytes += n
        if _too_compressed(outer_bytes, info.compress_size, limits):
            raise _refuse(
                ErrorCode.ZIP_BOMB,
                f"{member.name[:200]!r} decompresses past a {limits.max_ratio:g}:1 ratio.",
            )
        if not member.gz:
            budget.spend(n)

    def inner(n: int) -> None:
        nonlocal inner_bytes
        inner_bytes += n
        budget.spend(n)
        if _too_compressed(inner_bytes, info.compress_size, limits):
            raise _refuse(
                ErrorCode.ZIP_BOMB,
                f"{member.name[:200]!r} decompresses past a {limits.max_ratio:g}:1 ratio.",
            )

    stream = io.BufferedReader(_Counted(archive.open(info), outer), READ_CHUNK)
    if member.gz:
        unzipped: IO[bytes] = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
        stream = io.BufferedReader(_Counted(unzipped, inner), READ_CHUNK)
    try:
        head = stream.peek(8)[:8]
    except (OSError, EOFError, zlib.error) as exc:
        raise _refuse(
            ErrorCode.ZIP_INVALID, f"{member.name[:200]!r} cannot be read: {exc}."
        ) from exc
    if head.startswith(ARCHIVE_MAGIC):
        raise _refuse(
            ErrorCode.ZIP_NESTED_ARCHIVE,
            f"{member.name[:200]!r} holds an archive, not JSON lines: nested archives are refused.",
        )
    return stream


@dataclass
class Line:
    number: int  # 1-based
    data: bytes | None  # None: the line was longer than MAX_LINE_BYTES (skipped)


def iter_lines(stream: io.BufferedReader[_Counted], skip: int = 0) -> Iterator[Line]:
    """The lines of a stream one at a time (never the whole file), the first `skip`
    read past without being returned (a resumed batch). Blank lines count."""
    number = 0
    while True:
        try:
            data = stream.readline(MAX_LINE_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise _refuse(ErrorCode.ZIP_INVALID, f"A data file cannot be read: {exc}.") from exc
        if not data:
            return
        too_long = len(data) > MAX_LINE_BYTES and not data.endswith(b"\n")
        while too_long:  # read to the end of that line, without keeping it
            rest = stream.readline(MAX_LINE_BYTES)
            if not rest or rest.endswith(b"\n"):
                break
        number += 1
        if number <= skip:
            continue
        yield Line(number, None if too_long else data)
