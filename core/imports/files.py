"""The uploaded file: stored in the database in encrypted chunks (a worker on another machine
reads it from there; no local disk), and read back as a stream of rows.

Nothing holds the whole file: the upload writes a chunk as soon as it has one, and reading
goes through :class:`ChunkFile`, a seekable file object that fetches one chunk at a time (the
CSV reader reads it in order; openpyxl's read-only mode seeks in the zip and streams the
sheet). Reading runs inside ``session.run_sync``, so the chunk fetches are ordinary ORM loads
in that session's transaction, decrypted by the encrypted column.
"""

from __future__ import annotations

import base64
import codecs
import csv
import io
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.imports.models import ImportChunk
from core.kernel.errors import Invalid, PayloadTooLarge

__all__ = ["CHUNK_BYTES", "ChunkFile", "ChunkWriter", "Row", "count_rows", "detect", "read_rows"]

#: Plaintext bytes per stored chunk.
CHUNK_BYTES = 256 * 1024
Row = list[str | None]


class ChunkWriter:
    """Receives the file's bytes as they arrive and stores them chunk by chunk."""

    def __init__(self, session: AsyncSession, import_id: uuid.UUID, max_bytes: int) -> None:
        self.session = session
        self.import_id = import_id
        self.max_bytes = max_bytes
        self.size = 0
        self.head = b""
        self._buffer = bytearray()
        self._seq = 0

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise PayloadTooLarge(
                f"The file is larger than the import limit of {self.max_bytes // 1_048_576} MiB; "
                "split it into several files.",
                field="file",
            )
        if len(self.head) < 4096:
            self.head += data[: 4096 - len(self.head)]
        self._buffer += data
        while len(self._buffer) >= CHUNK_BYTES:
            await self._store(bytes(self._buffer[:CHUNK_BYTES]))
            del self._buffer[:CHUNK_BYTES]

    async def close(self) -> None:
        if self._buffer or self._seq == 0:
            await self._store(bytes(self._buffer))
            self._buffer.clear()

    async def _store(self, data: bytes) -> None:
        chunk = ImportChunk(import_id=self.import_id, seq=self._seq, data=base64.b64encode(data).decode())
        self._seq += 1
        self.session.add(chunk)
        await self.session.flush()
        self.session.expunge(chunk)  # the session keeps no chunk: memory stays one chunk


class ChunkFile(io.RawIOBase):
    """The stored file as a seekable, read-only file object. ``session`` is a sync session
    (from ``run_sync``) and may be replaced between reads (a job reads batch by batch, each
    in its own transaction)."""

    def __init__(self, session: Session, import_id: uuid.UUID, size: int) -> None:
        self.session = session
        self.import_id = import_id
        self.size = size
        self._pos = 0
        self._cache: dict[int, bytes] = {}

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _chunk(self, seq: int) -> bytes:
        data = self._cache.get(seq)
        if data is None:
            # The entity, not a Core select of its column: loading it decrypts the data.
            chunk = self.session.scalars(
                select(ImportChunk).where(ImportChunk.import_id == self.import_id, ImportChunk.seq == seq)
            ).one_or_none()
            data = base64.b64decode(chunk.data) if chunk is not None else b""
            if chunk is not None:
                self.session.expunge(chunk)
            if len(self._cache) >= 2:
                self._cache.pop(next(iter(self._cache)))
            self._cache[seq] = data
        return data

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self.size:
            return 0
        seq, offset = divmod(self._pos, CHUNK_BYTES)
        data = self._chunk(seq)[offset : offset + len(buffer)]
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def detect(filename: str, head: bytes) -> tuple[str, str | None]:
    """``(format, encoding)`` of an upload from its name and first bytes.

    Raises:
        Invalid: not a CSV or XLSX file (an old ``.xls``: save it as XLSX).
    """
    name = filename.lower()
    if head.startswith(b"PK\x03\x04"):
        return "xlsx", None
    if name.endswith(".xls") or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise Invalid(
            "Old Excel files (.xls) are not read: save the sheet as .xlsx or CSV.",
            field="file",
            code="unsupported_format",
        )
    if name.endswith(".xlsx"):
        raise Invalid("This is not a valid XLSX file.", field="file", code="unsupported_format")
    if head.startswith(codecs.BOM_UTF8):
        return "csv", "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a character cut at the end of ``head`` is fine
        return "csv", "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
    except UnicodeDecodeError:
        raise Invalid(
            "The file is neither UTF-8 nor GBK/GB18030 text: save it as CSV (UTF-8) or XLSX.",
            field="file",
            code="unsupported_encoding",
        ) from None
    return "csv", "gb18030"


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number typed as a number: 13800138000.0
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _csv_rows(file: ChunkFile, encoding: str) -> Iterator[Row]:
    text = io.TextIOWrapper(
        io.BufferedReader(file, CHUNK_BYTES), encoding=encoding, newline="", errors="replace"
    )
    first = text.readline()
    delimiter = max((",", "\t", ";"), key=first.count)
    yield from ([_cell(v) for v in row] for row in csv.reader(io.StringIO(first), delimiter=delimiter))
    for row in csv.reader(text, delimiter=delimiter):
        yield [_cell(v) for v in row]


def _xlsx_rows(file: ChunkFile) -> Iterator[Row]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BufferedReader(file, CHUNK_BYTES), read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, XML errors...
        raise Invalid("This is not a readable XLSX file.", field="file", code="unsupported_format") from exc
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_cell(v) for v in row]
    finally:
        workbook.close()


def read_rows(file: ChunkFile, file_format: str, encoding: str | None) -> Iterator[Row]:
    """Every row of the sheet (the header first), blank rows included (they keep numbering)."""
    if file_format == "xlsx":
        return _xlsx_rows(file)
    return _csv_rows(file, encoding or "utf-8")


def count_rows(rows: Iterator[Row]) -> int:
    """Data rows (not the header, not trailing blank ones)."""
    last_filled = 0
    for number, row in enumerate(rows, start=1):
        if any(row):
            last_filled = number
    return max(0, last_filled - 1)
