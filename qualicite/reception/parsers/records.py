"""What the parsers yield, and the events of the queue_log family they are assembled from.

`CallRecord` is what every parser yields: one visit of one call to one queue, keyed by
(call_id, queue, entered_at). A call that goes through two queues (a timeout to an overflow
queue, a transfer to another queue) yields one record per queue visit.

Outcomes (`Outcome`):

- `answered` — an agent picked up (CONNECT, COMPLETEAGENT, COMPLETECALLER). A transfer after
  the answer (TRANSFER, BLINDTRANSFER, ATTENDEDTRANSFER) ends the visit and is still
  `answered`, with `transfers` counting them. A visit whose end line is missing but whose
  CONNECT was seen is `answered` with `talk_seconds` None.
- `abandoned` — the caller hung up while waiting (ABANDON).
- `timeout` — the queue's time limit sent the call elsewhere (EXITWITHTIMEOUT).
- `exit_empty` — the queue had no agent left (EXITEMPTY; Wazo's LEAVEEMPTY).
- `exit_key` — the caller pressed a key to leave (EXITWITHKEY).
- `not_admitted` — the call was turned away at the door and never waited (Wazo's FULL,
  JOINEMPTY, CLOSED, DIVERT_CA_RATIO, DIVERT_HOLDTIME; an unanswered CDR leg).
- `incomplete` — the call entered the queue but no end came: no event for `max_open_seconds`
  of log time (the PBX restarted), or the call entered the same queue again before an end
  (`calls.Assembler`).

The events of the queue_log family (their sort ranks, which ones carry a call, the outcome of
each end) are read by queue_log.py and assembled into records by calls.py, which re-exports
everything here; the compiled fast path is given the same tables at import.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

_fromtimestamp = datetime.fromtimestamp


class Outcome:
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    TIMEOUT = "timeout"
    EXIT_EMPTY = "exit_empty"
    EXIT_KEY = "exit_key"
    NOT_ADMITTED = "not_admitted"
    INCOMPLETE = "incomplete"

    ALL = (ANSWERED, ABANDONED, TIMEOUT, EXIT_EMPTY, EXIT_KEY, NOT_ADMITTED, INCOMPLETE)


class CallRecord(NamedTuple):
    """One visit of one call to one queue.

    `entered_ts` and `ended_ts` are epoch seconds (int, or float for sources with sub-second
    times); `entered_at` and `ended_at` give them as aware UTC datetimes, built when asked
    (a bulk writer may format the epoch itself and build no datetime at all).
    `wait_seconds` is the time in the queue until the answer or until the call left it;
    `talk_seconds` is None unless answered (and None when the end of the call is unknown).
    `caller` is the caller id when the log has it: personal data. `first_line`, `last_line`
    are the lines of the file (or of the previous file, for a carried call) where the call's
    first and last events were read; they take no part in `==` and `hash`.

    A named tuple: cheap to build by the million, immutable (`_replace` makes a changed copy).
    """

    call_id: str
    queue: str
    entered_ts: float
    wait_seconds: int
    outcome: str
    agent: str = ""
    talk_seconds: int | None = None
    transfers: int = 0
    ring_no_answer: int = 0
    ended_ts: float | None = None
    caller: str = ""
    first_line: int = 0
    last_line: int = 0

    @property
    def entered_at(self) -> datetime:
        return _fromtimestamp(self[2], UTC)

    @property
    def ended_at(self) -> datetime | None:
        return None if self[9] is None else _fromtimestamp(self[9], UTC)

    @property
    def key(self) -> tuple[str, str, datetime]:
        """What identifies the visit across imports."""
        return (self[0], self[1], _fromtimestamp(self[2], UTC))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CallRecord):
            return self[:11] == other[:11]
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, CallRecord):
            return self[:11] != other[:11]
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self[:11])


# ---------------------------------------------------------------------------
# Events of the queue_log family (Asterisk file, Wazo/XiVO table)

# Sort rank of a call's events at equal times.
ENTER, RING, CONNECT, END = 0, 1, 2, 3

CALL_EVENTS: dict[str, int] = {
    "ENTERQUEUE": ENTER,
    "RINGNOANSWER": RING,
    "RINGCANCELED": RING,
    "AGENTDUMP": RING,
    "SYSCOMPAT": RING,
    "CONNECT": CONNECT,
    "COMPLETEAGENT": END,
    "COMPLETECALLER": END,
    "TRANSFER": END,
    "BLINDTRANSFER": END,
    "ATTENDEDTRANSFER": END,
    "ABANDON": END,
    "EXITWITHTIMEOUT": END,
    "EXITEMPTY": END,
    "EXITWITHKEY": END,
    # Wazo/XiVO write these for calls turned away before they enter the queue.
    "LEAVEEMPTY": END,
    "FULL": END,
    "JOINEMPTY": END,
    "CLOSED": END,
    "DIVERT_CA_RATIO": END,
    "DIVERT_HOLDTIME": END,
}

# Agent and queue events: they carry no call and are counted as ignored lines.
NO_CALL_EVENTS = frozenset(
    {
        "ADDMEMBER",
        "REMOVEMEMBER",
        "PAUSE",
        "UNPAUSE",
        "PAUSEALL",
        "UNPAUSEALL",
        "PENALTY",
        "AGENTLOGIN",
        "AGENTLOGOFF",
        "AGENTCALLBACKLOGIN",
        "AGENTCALLBACKLOGOFF",
        "CONFIGRELOAD",
        "QUEUESTART",
        "DID",
        "INFO",
        "WRAPUPSTART",
    }
)

END_OUTCOMES = {
    "COMPLETEAGENT": Outcome.ANSWERED,
    "COMPLETECALLER": Outcome.ANSWERED,
    "TRANSFER": Outcome.ANSWERED,
    "BLINDTRANSFER": Outcome.ANSWERED,
    "ATTENDEDTRANSFER": Outcome.ANSWERED,
    "ABANDON": Outcome.ABANDONED,
    "EXITWITHTIMEOUT": Outcome.TIMEOUT,
    "EXITEMPTY": Outcome.EXIT_EMPTY,
    "LEAVEEMPTY": Outcome.EXIT_EMPTY,
    "EXITWITHKEY": Outcome.EXIT_KEY,
    "FULL": Outcome.NOT_ADMITTED,
    "JOINEMPTY": Outcome.NOT_ADMITTED,
    "CLOSED": Outcome.NOT_ADMITTED,
    "DIVERT_CA_RATIO": Outcome.NOT_ADMITTED,
    "DIVERT_HOLDTIME": Outcome.NOT_ADMITTED,
}
TRANSFER_EVENTS = frozenset({"TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER"})

# An event, as buffered: (time, rank, line number, event, agent, text, a, b) where time is
# epoch seconds (int, or float for sub-second sources), text is the line as read (two equal
# texts are a duplicate) and a, b the parsed values the event needs:
#   ENTERQUEUE: a = caller id
#   CONNECT: a = holdtime
#   COMPLETE*, TRANSFER*: a = holdtime, b = calltime
#   ABANDON, EXIT*: a = waittime (None when the log's version does not write it)
Event = tuple
