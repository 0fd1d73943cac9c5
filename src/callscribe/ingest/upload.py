"""Streaming multipart/form-data reader for recording uploads: the file part goes
straight into a staging file with the size limit checked as bytes arrive; small text
fields are kept in memory (bounded)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from python_multipart.multipart import MultipartParser, parse_options_header

from callscribe.errors import BadRequest, CallscribeError, ErrorCode
from callscribe.storage.staging import StagedAudio

MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 50
MAX_BOUNDARY = 70  # RFC 2046 §5.1.1; the parser fails on longer ones


class MultipartUpload:
    def __init__(self, content_type: str, file_field: str, max_bytes: int | None = None):
        ctype, params = parse_options_header(content_type)
        if ctype != b"multipart/form-data" or b"boundary" not in params:
            raise BadRequest(
                "Send multipart/form-data with the recording in the 'call' field.",
                code=ErrorCode.BAD_CONTENT_TYPE,
            )
        if not 1 <= len(params[b"boundary"]) <= MAX_BOUNDARY:
            raise BadRequest(
                f"The multipart boundary must be 1 to {MAX_BOUNDARY} characters.",
                code=ErrorCode.BAD_CONTENT_TYPE,
            )
        self.file_field = file_field
        self.max_bytes = max_bytes
        self.fields: dict[str, str] = {}
        self.staged: StagedAudio | None = None
        self.file_count = 0
        self._error: Exception | None = None
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._filename: str | None = None
        self._buf = bytearray()
        # bytes of the file part held back until `before_file` let the request go on
        self._held: bytearray | None = None
        self._parser = MultipartParser(
            params[b"boundary"],
            {
                "on_part_begin": self._part_begin,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_header_field": self._header_field_cb,
                "on_header_value": self._header_value_cb,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
            },
        )

    # parser callbacks -------------------------------------------------------------------
    def _part_begin(self) -> None:
        self._headers, self._name, self._filename = {}, None, None
        self._buf = bytearray()

    def _header_field_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _disp, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self._filename = filename.decode("utf-8", "replace") if filename is not None else None
        if self._filename is not None and self._name == self.file_field:
            self.file_count += 1
            if self.staged is None:
                self._held = bytearray()
                self.staged = StagedAudio(self.max_bytes)
                self.staged.filename = self._filename.replace("\\", "/").rsplit("/", 1)[-1][:300]
        elif self._filename is None and len(self.fields) >= MAX_FIELDS:
            raise BadRequest("Too many form fields.")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._filename is not None:
            if self._name == self.file_field and self.staged is not None and self.file_count == 1:
                if self._held is not None:
                    self._held += data[start:end]  # at most one network chunk
                else:
                    self.staged.write(data[start:end])
            return  # other files are ignored
        self._buf += data[start:end]
        if len(self._buf) > MAX_FIELD_BYTES:
            raise BadRequest(f"Form field {self._name!r} is too long.")

    def _part_end(self) -> None:
        if self._filename is None and self._name:
            self.fields[self._name] = self._buf.decode("utf-8", "replace")

    # ------------------------------------------------------------------------------------
    async def read(
        self,
        stream: AsyncIterator[bytes],
        before_file: Callable[[dict[str, str]], Awaitable[None]] | None = None,
    ) -> None:
        """Read the body. `before_file` runs once, when the file part begins, with the
        fields sent before it (add-calls authenticates there): when it raises, the file
        is refused before its bytes are read or staged."""
        try:
            async for chunk in stream:
                if chunk:
                    self._parser.write(chunk)
                    if self._held is not None:
                        await self._release_held(before_file)
            self._parser.finalize()
            if self._held is not None:
                await self._release_held(before_file)
        except CallscribeError:  # too large, malformed, refused by before_file
            self.discard()
            raise
        except Exception as exc:
            self.discard()
            raise BadRequest(f"The multipart body could not be read: {exc}.") from exc

    async def _release_held(
        self, before_file: Callable[[dict[str, str]], Awaitable[None]] | None
    ) -> None:
        held, self._held = self._held, None
        if before_file is not None:
            await before_file(dict(self.fields))
        if held and self.staged is not None:
            self.staged.write(bytes(held))

    def discard(self) -> None:
        if self.staged is not None:
            self.staged.discard()
