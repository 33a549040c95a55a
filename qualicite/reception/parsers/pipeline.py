"""Parsing in a child process while the caller writes the calls: two cores for one import.

`parse_aside(source, fmt, **options)` forks a process that runs `parse` on the source and
sends the calls back through a pipe, in batches, while the parent writes the previous batch
to the database; it iterates like `parse`'s result (the same calls, as plain tuples in
`CallRecord` order) and has the same `report` and `carried` once they are consumed.

Why a fork: the child needs nothing but this package and the source (a file object or
bytes already open in the parent), and starts in milliseconds. It never touches the
parent's database connection or logging, and leaves with `os._exit` (multiprocessing's
way), so nothing of the parent is closed or flushed twice. The calls travel in batches of
plain tuples, made by C-level loops (the parser's lists, `map(tuple, …)`: no Python
bytecode per call) and serialised with `marshal` (a named tuple pickles three times slower
than a tuple, and marshal writes plain tuples faster than pickle); the report and the
carried state are pickled once, at the end. An error in the child is raised in the parent
(`ParseError`, with the child's traceback); an error in the parent (the database) stops the
child.

Only worth it for large files (the caller decides, see `reception.services`): on a small
file the fork and the pipe cost more than they save.
"""

from __future__ import annotations

import gc
import marshal
import multiprocessing
import pickle
import queue
import threading
import traceback
from collections.abc import Callable, Iterator

from qualicite.reception.parsers import parse
from qualicite.reception.parsers.calls import CarriedState
from qualicite.reception.parsers.report import ImportReport

BATCH = 10_000
# Batches the child may send before the writer takes them.
AHEAD = 8
# The child says how far it has read at most this often (bytes), even without calls to send.
PROGRESS_BYTES = 4 << 20


class ParseError(RuntimeError):
    """The parsing process failed: the message is its error, `details` its traceback."""

    def __init__(self, details: str):
        lines = details.strip().splitlines()
        super().__init__(lines[-1] if lines else details)
        self.details = details


class _Counting:
    """The source as the child reads it, counting bytes (at most `chunk` at a time)."""

    def __init__(self, source, tell: Callable[[int], None], chunk: int):
        self.source = source
        self.count = 0
        self.tell = tell
        self.chunk = chunk

    def read(self, size: int = -1) -> bytes:
        block = self.source.read(self.chunk if size < 0 else min(size, self.chunk))
        self.count += len(block)
        self.tell(self.count)
        return block


# The first byte of a message says how the rest is written.
CALLS, PICKLED = b"C", b"P"


def _pickled(message) -> bytes:
    return PICKLED + pickle.dumps(message, 5)


def _calls(records: list[tuple], count: int, lines_read: int) -> bytes:
    try:
        return CALLS + marshal.dumps((records, count, lines_read), 4)
    except ValueError:  # a value marshal does not know (never from the parsers of today)
        return _pickled(("calls", records, count, lines_read))


def _child(send, source, fmt: str, batch: int, chunk: int, options: dict) -> None:
    # The parser makes no reference cycles: a lazy collector saves a tenth of the time.
    gc.set_threshold(200_000, 50, 1000)
    result = None
    told = {"bytes": 0}

    def tell(count: int) -> None:
        if count - told["bytes"] >= min(PROGRESS_BYTES, chunk) and result is not None:
            told["bytes"] = count
            send.send_bytes(_pickled(("progress", count, result.report.lines_read)))

    try:
        reader = _Counting(source, tell, chunk) if hasattr(source, "read") else source
        result = parse(reader, fmt, **options)
        records: list[tuple] = []
        for assembled in result.batches():
            records += map(tuple, assembled)
            if len(records) >= batch:
                count = getattr(reader, "count", 0)
                send.send_bytes(_calls(records, count, result.report.lines_read))
                records = []
        count = getattr(reader, "count", 0)
        send.send_bytes(_pickled(("end", records, count, result.report, result.carried)))
    except BaseException:  # everything goes back to the parent, which decides
        send.send_bytes(_pickled(("error", traceback.format_exc())))
    finally:
        send.close()


class ParsedAside:
    """Iterate for the calls (plain tuples); then read `report` and `carried`."""

    def __init__(
        self,
        source,
        fmt: str,
        *,
        progress: Callable[[int, int], None] | None = None,
        batch: int = BATCH,
        read_chunk: int = 1 << 20,
        **options,
    ):
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_child, args=(send, source, fmt, batch, read_chunk, options), daemon=True
        )
        self._process.start()
        send.close()
        # A thread takes the child's messages off the pipe as they come, so that the child
        # runs up to AHEAD batches ahead of a writer that is waiting for its database.
        self._messages: queue.Queue[bytes | None] = queue.Queue(maxsize=AHEAD)
        self._stopping = False
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self.progress = progress
        self.report: ImportReport | None = None
        self._carried: CarriedState | None = None
        self._done = False
        self.bytes_read = 0
        self.lines_read = 0

    def _drain(self) -> None:
        while True:
            try:
                data = self._receive.recv_bytes()
            except (EOFError, OSError):
                data = None  # the child is gone: it said all it had to say, or died
            while True:
                try:
                    self._messages.put(data, timeout=0.1)
                    break
                except queue.Full:
                    if self._stopping:
                        return
            if data is None:
                return

    def _tell(self, bytes_read: int, lines_read: int) -> None:
        self.bytes_read, self.lines_read = bytes_read, lines_read
        if self.progress is not None:
            self.progress(bytes_read, lines_read)

    def __iter__(self) -> Iterator[tuple]:
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[tuple]]:
        """The calls as the child sends them: lists of about `batch` calls."""
        try:
            while True:
                data = self._messages.get()
                if data is None:
                    raise ParseError("the parsing process stopped without a word")
                if data[:1] == CALLS:
                    message = ("calls", *marshal.loads(memoryview(data)[1:]))
                else:
                    message = pickle.loads(memoryview(data)[1:])
                kind = message[0]
                if kind == "calls":
                    _kind, records, bytes_read, lines_read = message
                    self._tell(bytes_read, lines_read)
                    yield records
                elif kind == "progress":
                    self._tell(message[1], message[2])
                elif kind == "end":
                    _kind, records, bytes_read, self.report, self._carried = message
                    yield records
                    self._tell(bytes_read, self.report.lines_read)
                    self._done = True
                    return
                else:
                    raise ParseError(message[1])
        finally:
            self.close()

    @property
    def carried(self) -> CarriedState | None:
        if not self._done:
            raise RuntimeError("consume the calls before asking for the carried state")
        return self._carried

    def close(self) -> None:
        """Waits for the child; stops it first when the calls were not all consumed."""
        self._stopping = True
        if not self._done and self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._reader.join()  # the pipe is closed at the child's end: the reader has stopped
        self._receive.close()


def parse_aside(source, fmt: str, **options) -> ParsedAside:
    return ParsedAside(source, fmt, **options)
