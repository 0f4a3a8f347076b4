"""A whole CSV file checked in bytes before it is parsed: encoding, NUL bytes, line
lengths and quotes.

pyarrow's CSV reader needs its encoding before it starts, stores a NUL byte as it
is, and reads a quote that is never closed as a value running to the end of the
file (or to the next stray quote), so that every row after it silently disappears.
So the whole file is scanned first, in large chunks and with vectorised byte
operations (no work per row in Python):

- its encoding is decided over the whole file: UTF-8 when every byte of it is
  (with or without a BOM), else Windows-1252 when every byte is and no part of it
  is UTF-8; a file mixing both is refused, naming the first line that is not UTF-8;
- a NUL byte, a line longer than ``MAX_LINE_BYTES``: refused, naming the line;
- quotes: each line's count of ``"``; a line with an odd count opens (or closes) a
  quoted value that runs over a line break. A quote opened and never closed, or a
  quoted value whose lines look like rows of their own (as many delimiters as the
  header), is refused, naming the line and column where the quote opened.

A refused file raises ``FileFormatError`` whose message says where (line, column):
nothing of it is imported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from listguard.errors import FileFormatError

CHUNK_BYTES = 1 << 24
# no record of any format comes near this; pyarrow reads a file in blocks of 4 MiB, and
# a longer line could not be read at all
MAX_LINE_BYTES = 1 << 20
_NL, _QUOTE = 0x0A, 0x22
# the five bytes Windows-1252 leaves undefined
_NOT_CP1252 = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
# UTF-8 of the accented Latin letters, œ, the no-break space and typographic
# punctuation (é is C3 A9, œ C5 93, ’ E2 80 99, € E2 82 AC): read as Windows-1252
# they are nonsense ("Ã©", "â€™"), so in a file that is not UTF-8 throughout they
# mean a part was written in UTF-8 and a part in another encoding. (Any two-byte
# sequence would be too broad: "É…" or "É" and a no-break space is Windows-1252
# that looks like UTF-8.)
_UTF8_SEQUENCE = re.compile(rb"[\xc2\xc3\xc5][\x80-\xbf]|\xe2[\x80-\x82][\x80-\xbf]")


@dataclass(frozen=True)
class Scanned:
    """What the scan found: the file's encoding, and the file offset of the last quote
    of each line whose count of quotes is odd (ascending)."""

    encoding: str
    odd_quotes: np.ndarray  # int64


def read_header(path: Path) -> bytes:
    """The first line of ``path`` (without its line break), read whole."""
    with path.open("rb") as f:
        line = f.readline(MAX_LINE_BYTES + 1)
    if len(line) > MAX_LINE_BYTES:
        raise FileFormatError(
            f"line 1 (the header) is longer than {MAX_LINE_BYTES:,} bytes: this is not a "
            "file of records (or its lines end with a carriage return alone, as old Mac "
            "files do: save it as CSV UTF-8)",
            where=str(path),
        )
    return line.rstrip(b"\r\n")


def scan(path: Path) -> Scanned:
    """Check the whole of ``path`` and decide its encoding (see the module)."""
    where = str(path)
    with path.open("rb") as f:
        head = f.read(4)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise FileFormatError(
                "this is not a UTF-8 or Windows-1252 text file (UTF-16 or binary?): "
                "save it as CSV UTF-8",
                where=where,
            )
        bom = head.startswith(b"\xef\xbb\xbf")
        f.seek(0)
        state = _State(path)
        chunk = bytearray(CHUNK_BYTES)  # one buffer, read into again and again
        while n := f.readinto(chunk):
            state.feed(chunk if n == len(chunk) else chunk[:n])
        state.finish()
    if state.utf8_error is None:
        encoding = "utf-8-sig" if bom else "utf-8"
    else:
        encoding = _not_utf8(path, state.utf8_error, bom)
    odd = np.concatenate(state.odd) if state.odd else np.empty(0, np.int64)
    return Scanned(encoding, odd)


class _State:
    """The scan's running state over the chunks of a file. Work is per chunk, in C
    (``bytes.find``, a UTF-8 check by Polars, NumPy): lines are counted only where a
    message needs one (``locate``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0  # bytes before the current chunk
        self.line_start = 0  # file offset where the current line starts
        self.carry = b""  # the end of the previous chunk after its last line break
        self.utf8_error: int | None = None  # file offset of the first byte not UTF-8
        self.quotes_in_line = 0  # quotes of the current line seen in earlier chunks
        self.last_quote = -1  # file offset of the current line's last quote
        self.odd: list[np.ndarray] = []

    def feed(self, chunk: bytearray) -> None:
        nul = chunk.find(b"\x00")
        if nul >= 0:
            line, column = locate(self.path, self.offset + nul)
            raise FileFormatError(
                f"line {line}, column {column}: a NUL byte (0x00); this is not a text file "
                "(UTF-16 or binary?) or it is damaged: save it as CSV UTF-8",
                where=str(self.path),
            )
        first_break, last_break = chunk.find(b"\n"), chunk.rfind(b"\n")
        self._utf8(chunk, first_break, last_break)
        self._lengths(chunk, first_break)
        if self.quotes_in_line or chunk.find(b'"') >= 0:
            self._quotes(chunk)
        if last_break >= 0:
            self.line_start = self.offset + last_break + 1
        self.offset += len(chunk)

    def _utf8(self, chunk: bytearray, first_break: int, last_break: int) -> None:
        """Check the lines ending in ``chunk`` (a line break is never inside a character):
        the one begun in the previous chunk, then the others in place."""
        if self.utf8_error is not None:
            return
        if last_break < 0:
            self.carry += chunk
            if len(self.carry) > MAX_LINE_BYTES:
                self.carry = b""  # a line too long: refused by ``_lengths``
            return
        head, head_at = self.carry + chunk[: first_break + 1], self.offset - len(self.carry)
        self.carry = bytes(chunk[last_break + 1 :])
        bad = _not_utf8_at(head)
        if bad is not None:
            self.utf8_error = head_at + bad
            return
        with memoryview(chunk) as view:
            bad = _not_utf8_at(view[first_break + 1 : last_break + 1])
        if bad is not None:
            self.utf8_error = self.offset + first_break + 1 + bad

    def _lengths(self, chunk: bytearray, first_break: int) -> None:
        """Refuse a line longer than ``MAX_LINE_BYTES``: such a line holds a stretch of
        half that length aligned on a multiple of it without a line break."""
        half = MAX_LINE_BYTES // 2
        end = first_break if first_break >= 0 else len(chunk)
        if self.offset + end - self.line_start > MAX_LINE_BYTES:
            self._too_long(self.line_start)
        for at in range(0, len(chunk), half):
            if chunk.find(b"\n", at, at + half) >= 0:
                continue
            start = chunk.rfind(b"\n", 0, at) + 1
            stop = chunk.find(b"\n", at)
            if start == 0 or stop < 0:
                continue  # the line the chunk starts or ends with: checked above or next
            if stop - start > MAX_LINE_BYTES:
                self._too_long(self.offset + start)

    def _quotes(self, chunk: bytearray) -> None:
        """Record the last quote of each line ending in this chunk whose count of quotes
        is odd (the quote left open, or closing a value opened on an earlier line)."""
        data = np.frombuffer(chunk, dtype=np.uint8)
        quotes = np.flatnonzero(data == _QUOTE)
        breaks = np.flatnonzero(data == _NL)
        if breaks.size:
            before = np.searchsorted(quotes, breaks)  # this chunk's quotes before each break
            previous = np.concatenate(([0], before[:-1]))
            count = before - previous
            count[0] += self.quotes_in_line
            odd = np.flatnonzero(count % 2 == 1)
            if odd.size:
                own = before[odd] > previous[odd]  # the line's last quote is in this chunk
                mine = quotes[np.maximum(before[odd] - 1, 0)] if quotes.size else own * 0
                self.odd.append(np.where(own, mine + self.offset, self.last_quote))
            rest = int(quotes.size - before[-1])
            self.quotes_in_line = rest
            self.last_quote = self.offset + int(quotes[-1]) if rest else -1
        elif quotes.size:
            self.quotes_in_line += int(quotes.size)
            self.last_quote = self.offset + int(quotes[-1])

    def finish(self) -> None:
        """The last line, when the file does not end with a line break."""
        if self.offset - self.line_start > MAX_LINE_BYTES:
            self._too_long(self.line_start)
        if self.carry and self.utf8_error is None:
            try:
                self.carry.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.utf8_error = self.offset - len(self.carry) + exc.start
        if self.quotes_in_line % 2:
            self.odd.append(np.array([self.last_quote], dtype=np.int64))

    def _too_long(self, start: int) -> None:
        line, _ = locate(self.path, start)
        raise FileFormatError(
            f"line {line} is longer than {MAX_LINE_BYTES:,} bytes: no record is that long "
            "(a damaged file, or one without line feeds, such as an old Mac file whose "
            "lines end with a carriage return alone? save it as CSV UTF-8)",
            where=str(self.path),
        )


def _not_utf8_at(data: bytes | memoryview) -> int | None:
    """The offset of the first byte of ``data`` that is not UTF-8, or None (checked by
    Arrow, in place and several times faster than decoding)."""
    import pyarrow as pa

    size = len(data)
    offsets = pa.py_buffer(np.array([0, size], dtype=np.int32 if size < 1 << 31 else np.int64))
    kind = pa.string() if size < 1 << 31 else pa.large_string()
    try:
        pa.Array.from_buffers(kind, 1, [None, offsets, pa.py_buffer(data)]).validate(full=True)
        return None
    except pa.ArrowInvalid:
        try:
            bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            return exc.start
        return None


def _not_utf8(path: Path, error: int, bom: bool) -> str:
    """The encoding of a file that is not UTF-8 throughout (its first bad byte at
    ``error``): Windows-1252 when the whole file is, and no part of it is UTF-8."""
    where = str(path)
    line, column = locate(path, error)
    with path.open("rb") as f:
        f.seek(error)
        byte = f.read(1)[0]
        skip = 3 if bom else 0  # the BOM itself is a UTF-8 sequence
        f.seek(skip)
        utf8 = _first_match(f, _UTF8_SEQUENCE)
        f.seek(0)
        undefined = _first_match(f, _NOT_CP1252)
    if bom or utf8 is not None:
        shown = (
            f"line {locate(path, utf8 + skip)[0]} is UTF-8"
            if utf8 is not None
            else "the file starts with a UTF-8 BOM"
        )
        raise FileFormatError(
            f"line {line}, column {column}: byte 0x{byte:02x} is not UTF-8, while {shown}: "
            "a file mixing encodings cannot be read faithfully; save it again as CSV UTF-8",
            where=where,
        )
    if undefined is not None:
        line, column = locate(path, undefined)
        with path.open("rb") as f:
            f.seek(undefined)
            byte = f.read(1)[0]
        raise FileFormatError(
            f"line {line}, column {column}: byte 0x{byte:02x} is neither UTF-8 nor "
            "Windows-1252: save the file as CSV UTF-8",
            where=where,
        )
    return "cp1252"


def _first_match(f: BinaryIO, pattern: re.Pattern[bytes]) -> int | None:
    """The file offset of the first match of ``pattern`` (at most 3 bytes long)."""
    offset, tail = 0, b""
    for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
        data = tail + chunk
        found = pattern.search(data)
        if found:
            return offset - len(tail) + found.start()
        tail = data[-3:]
        offset += len(chunk)
    return None


def locate(path: Path, offset: int) -> tuple[int, int]:
    """The 1-based line and column (in characters, UTF-8 read leniently) of the byte at
    ``offset`` of ``path``."""
    lines, start = 0, 0
    with path.open("rb") as f:
        read = 0
        while read < offset:
            chunk = f.read(min(CHUNK_BYTES, offset - read))
            if not chunk:
                break
            n = chunk.count(b"\n")
            if n:
                lines += n
                start = read + chunk.rindex(b"\n") + 1
            read += len(chunk)
        f.seek(start)
        prefix = f.read(min(offset - start, MAX_LINE_BYTES))
    return lines + 1, len(prefix.decode("utf-8", errors="replace")) + 1


def check_quotes(path: Path, scanned: Scanned, delimiter: str, columns: int) -> None:
    """Refuse ``path`` when a quote is never closed, or when a quoted value runs over
    lines that look like rows of their own (``columns`` - 1 delimiters or more)."""
    quotes = scanned.odd_quotes
    if not quotes.size:
        return
    where = str(path)
    advice = 'a quote inside a value must be doubled ("") and the value quoted'
    if quotes.size % 2:
        line, column = locate(path, int(quotes[-1]))
        raise FileFormatError(
            f"line {line}, column {column}: a quote opened here is never closed, so every "
            f"line after it would be read as one value; {advice}",
            where=where,
        )
    sep = delimiter.encode()
    # the lines inside each quoted value (from the line after the one where it opens to
    # the one where it closes): at most MAX_LINE_BYTES each time
    with path.open("rb") as f:
        for opened, closed in zip(quotes[0::2].tolist(), quotes[1::2].tolist(), strict=True):
            if closed - opened > MAX_LINE_BYTES:  # longer than any record, and than the
                # blocks the CSV reader reads in
                line, column = locate(path, opened)
                end, _ = locate(path, closed)
                raise FileFormatError(
                    f"line {line}, column {column}: a quote opened here closes only on line "
                    f"{end}, making a value of more than {MAX_LINE_BYTES:,} bytes; {advice}",
                    where=where,
                )
            if columns < 2:
                continue
            f.seek(opened)
            f.readline()  # the rest of the line where the value opens
            while f.tell() <= closed:
                at = f.tell()
                raw = f.readline()
                if not raw:
                    break
                if raw.count(sep) >= columns - 1:
                    line, column = locate(path, opened)
                    inner, _ = locate(path, at)
                    end, _ = locate(path, closed)
                    raise FileFormatError(
                        f"line {line}, column {column}: a quote opened here closes only on "
                        f"line {end}, so the value would take in line {inner}, which looks "
                        f"like a row of its own; {advice}",
                        where=where,
                    )
