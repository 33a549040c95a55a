"""Bytes in, lines out: the reading every parser shares, in constant memory.

A source is a binary file object (anything with `read`), a `bytes` value, or an iterable of
`bytes` pieces (lines or arbitrary chunks: the pieces are joined and split again on b"\\n").
It is read in blocks of 1 MiB; each block is decoded at once (C speed) and split on "\\n";
only a block that fails to decode is decoded line by line, so that a line that is not valid
in the encoding is reported alone (`None`) and the rest of the file is read.

Batches of lines are yielded: a line is a `str` without its end of line ("\\r\\n" is folded to
"\\n" first), `None` when it cannot be decoded, `False` when it is longer than `MAX_LINE`
bytes (the rest of such a line is skipped, so a file without any newline cannot fill the
memory). A final line without an end of line comes alone in the last batch, a `LastLine`
(and `unterminated` is set): a queue_log written by Asterisk always ends its lines, so such a
line is a file copied while it was being written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

BLOCK = 1 << 20
MAX_LINE = 1 << 16

Line = str | None | bool


class LastLine(list):
    """The last batch when the file does not end with an end of line: that one line."""


Source = bytes | bytearray | Iterable[bytes]


def pieces(source: Source) -> Iterator[bytes]:
    """The source's bytes, in pieces of any size."""
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        for start in range(0, len(view), BLOCK):
            yield bytes(view[start : start + BLOCK])
        return
    read = getattr(source, "read", None)
    if read is not None:
        while True:
            block = read(BLOCK)
            if not block:
                return
            if isinstance(block, str):
                raise TypeError("open the file in binary mode ('rb')")
            yield block
    buffer: list[bytes] = []
    size = 0
    for item in source:
        if isinstance(item, str):
            raise TypeError("the lines must be bytes, not str")
        buffer.append(item)
        size += len(item)
        if size >= BLOCK:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


class LineReader:
    """Iterates over batches of lines of `source`; see the module docstring."""

    def __init__(self, source: Source, encoding: str = "utf-8"):
        self.source = source
        self.encoding = encoding
        self.unterminated = False
        self._first = True

    def _decode(self, body: bytes) -> list[Line]:
        try:
            text = body.decode(self.encoding)
        except UnicodeDecodeError:
            lines: list[Line] = []
            for raw in body.split(b"\n"):
                try:
                    line = raw.decode(self.encoding)
                except UnicodeDecodeError:
                    lines.append(None)
                    continue
                lines.append(line[:-1] if line.endswith("\r") else line)
            first = lines[0]
        else:
            if "\r" in text:
                text = text.replace("\r\n", "\n")
            lines = text.split("\n")
            first = lines[0]
        if self._first:
            self._first = False
            if isinstance(first, str) and first.startswith("\ufeff"):
                lines[0] = first[1:]
        return lines

    def __iter__(self) -> Iterator[list[Line]]:
        tail = b""
        skipping = False  # inside an overlong line, until its end
        for piece in pieces(self.source):
            if skipping:
                end = piece.find(b"\n")
                if end < 0:
                    continue
                skipping = False
                piece = piece[end + 1 :]
            data = tail + piece if tail else piece
            cut = data.rfind(b"\n")
            if cut < 0:
                tail = data
                if len(tail) > MAX_LINE:
                    skipping, tail = True, b""
                    yield [False]
                continue
            tail = data[cut + 1 :]
            batch = self._decode(data[:cut])
            if max(map(len, filter(None, batch)), default=0) > MAX_LINE:
                batch = [False if line and len(line) > MAX_LINE else line for line in batch]
            if len(tail) > MAX_LINE:
                skipping, tail = True, b""
                batch.append(False)
            yield batch
        if tail:
            self.unterminated = True
            yield LastLine(self._decode(tail))
