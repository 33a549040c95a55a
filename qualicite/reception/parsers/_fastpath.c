/*
 * _fastpath: the common case of the Asterisk queue_log parser's two hot spots, in C.
 *
 * What it does. A 10-million-line import spends its time in two places: the per-line loop of
 * queue_log.read_asterisk and Assembler.due (with _single and _signature), which turns ended
 * calls into CallRecords. This module does the common case of both, with the same objects the
 * Python code builds:
 *
 *   read_lines(batch, number, high_water, oldest, jumping, ignored, open_calls, closed,
 *              closed_old, pending_append, reorder_seconds, reorder_lines, max_open,
 *              max_jump, read_line) -> (number, high_water, oldest, jumping, ignored)
 *       read_asterisk's inner `for line in batch:` loop. A line of the common shape (at least
 *       five "|" fields, one-byte characters, a plain integer epoch within [oldest, high_water
 *       + max_jump], a known event whose data is read by the loop's inline rules or by
 *       queue_log's simple readers: ENTERQUEUE, the rings, CONNECT, COMPLETE*, the
 *       transfers and the exits with small or empty numbers, the agent and queue events; its
 *       call open, or not among the recently closed) gets the same event tuple
 *       (ts, rank, number, event, agent, line, a, b), the same dict and pending updates and
 *       the same high_water/oldest/ignored bookkeeping as in Python.
 *
 *   due(pending, open_calls, closed, high_water, until, now_line, single, assemble) -> records
 *       Assembler.due's loop, with _single's fast case (ENTERQUEUE, rings, at most one
 *       CONNECT, one end) and _signature done here on plain event tuples; the CallRecord is
 *       allocated as tuple.__new__(CallRecord, ...) does.
 *
 * What it hands back to Python, and why. Every other case goes back to the Python code,
 * so that there is one semantics, written once, in Python: a line of another shape (blank,
 * undecodable, two- or four-byte characters, too few fields, a time that is not a plain
 * integer or is out of order or jumps ahead, an unknown event, a number that is not small, a
 * call recently closed…)
 * is passed to `read_line`, the Python body of read_asterisk's loop for one line, with the
 * loop's state (number, high_water, oldest, jumping, ignored) passed in and taken back; a
 * call that is not the fast case goes to `single` (Assembler._single, for event tuples of
 * another type) or `assemble` (Assembler._assemble, the general state machine). The decision
 * to hand a line back is taken before this code changes anything, so Python sees the state
 * exactly as its own loop would. These cases are a fraction of a percent of a real log (the
 * first lines of each day, which confirm the night's jump in time, are most of them):
 * writing them in C would double this file and give the rules two places to drift apart. The
 * rotation of the closed calls, the report's counters, the garbage collector pause and the
 * end of file stay in Python too.
 *
 * Where the time goes. Both loops are bound by CPython's objects: allocating the event
 * tuples and ints, and freeing them when their call is assembled. Three things keep that
 * down, none visible from Python: small caches of recent strings give an agent, a queue or a
 * call key already built the same characters (equal str, one allocation and one hash fewer);
 * the events of the calls about to be assembled are prefetched a group at a time
 * (prefetch_calls); a list of events already in order is not sorted again.
 *
 * The tables (event names and how their data is read, the small numbers, the CallRecord type,
 * the outcomes) are given by calls.py and queue_log.py at import (setup_calls, setup_lines),
 * from their own constants. The Python tests parse the same logs with and without this module
 * (QUALICITE_PURE_PARSERS=1) and compare the records, reports and carried states.
 *
 * Reference counting: every function owns what it creates and releases it on every path;
 * borrowed references to objects that a call back into Python could drop (a call's event list,
 * a line) are held while in use. Errors (MemoryError, an exception raised by a callback) are
 * propagated as they are.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Beyond this, C arithmetic on times could overflow: such values go through Python. */
#define SAFE_LIMIT (1LL << 53)
#define MAX_EVENTS 256
#define SIGNAL_EVERY 8192

/* ------------------------------------------------------------------------------------------
 * Tables, given once by the Python modules. */

enum reader {
    R_IGNORE,   /* an agent or queue event: counted as ignored */
    R_NONE,     /* no data wanted: a = b = None */
    R_ENTER,    /* a = the second data field (caller id) */
    R_CONNECT,  /* a = the first data field, a small number */
    R_COMPLETE, /* a, b = the first two data fields, small numbers */
    R_WAIT2,    /* a = the third data field (waittime), small or empty, None if missing */
    R_WAIT3,    /* a = the fourth data field, the same way */
    R_TRANSFER, /* a, b = the third and fourth data fields (of four or more), small or empty */
    R_ATTENDED, /* a, b = the third and second last data fields, trailing "|" stripped */
    R_SLOW,     /* read by Python (queue_log.DATA) */
};

static const char *reader_names[] = {"ignore", "none",  "enter",    "connect",  "complete",
                                     "wait2",  "wait3", "transfer", "attended", "slow"};

typedef struct {
    PyObject *name; /* the event name (str, ASCII), owned */
    PyObject *rank; /* its rank (int), owned; NULL for R_IGNORE */
    const char *text;
    Py_ssize_t length;
    long rank_value;
    int reader;
} Event;

static Event events[MAX_EVENTS];
static int events_count = 0;
/* by_length[n]: the events whose name has n characters, -1 ended (names up to 31 long). */
#define LONGEST_NAME 31
static short by_length[LONGEST_NAME + 1][MAX_EVENTS + 1];
static PyObject **small = NULL; /* small[n] is the int n, for "0".."len-1" written plainly */
static Py_ssize_t small_count = 0;
static long long min_ts, max_ts;
static long end_rank;
static int lines_ready = 0;

static PyObject *record_type = NULL; /* CallRecord */
static PyObject *end_outcomes = NULL;
static PyObject *transfers = NULL;
static PyObject *answered = NULL;
static PyObject *not_admitted = NULL;
static PyObject *ring_no_answer = NULL;
static PyObject *enter_obj = NULL, *end_obj = NULL;
static long ring_rank, connect_rank, enter_rank;
static PyObject *signature_function = NULL; /* calls._signature, for events of another type */
static PyObject *empty = NULL;
static PyObject *newline = NULL;
static PyObject *zero = NULL, *one = NULL;
/* Interned: a name built for each lookup would take a new slot of CPython's type cache. */
static PyObject *popleft_name = NULL, *sort_name = NULL;
static int calls_ready = 0;

/* An exact int within +-SAFE_LIMIT: 1 and its value, or 0 (never an error). */
static int
plain_int(PyObject *object, long long *value)
{
    if (!PyLong_CheckExact(object)) {
        return 0;
    }
    int overflow = 0;
    long long number = PyLong_AsLongLongAndOverflow(object, &overflow);
    if (overflow || (number == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    if (number > SAFE_LIMIT || number < -SAFE_LIMIT) {
        return 0;
    }
    *value = number;
    return 1;
}

static void
clear_events(void)
{
    for (int i = 0; i < events_count; i++) {
        Py_CLEAR(events[i].name);
        Py_CLEAR(events[i].rank);
    }
    events_count = 0;
}

static void
clear_small(void)
{
    if (small != NULL) {
        for (Py_ssize_t i = 0; i < small_count; i++) {
            Py_XDECREF(small[i]);
        }
        PyMem_Free(small);
        small = NULL;
    }
    small_count = 0;
}

PyDoc_STRVAR(setup_lines_doc,
"setup_lines(readers, small_numbers, min_ts, max_ts, end_rank)\n\n"
"readers: {event name: (rank or None, reader name)}; small_numbers: [0, 1, ...] as\n"
"queue_log.SMALL gives them; the bounds of a time; the rank of an end event.");

static PyObject *
setup_lines(PyObject *module, PyObject *args)
{
    PyObject *readers, *numbers;
    long long low, high;
    long end;
    if (!PyArg_ParseTuple(args, "O!O!LLl:setup_lines", &PyDict_Type, &readers, &PyList_Type,
                          &numbers, &low, &high, &end)) {
        return NULL;
    }
    lines_ready = 0;
    clear_events();
    clear_small();
    if (PyDict_GET_SIZE(readers) > MAX_EVENTS) {
        PyErr_SetString(PyExc_ValueError, "too many events");
        return NULL;
    }
    PyObject *name, *value;
    Py_ssize_t position = 0;
    while (PyDict_Next(readers, &position, &name, &value)) {
        PyObject *rank, *reader_name;
        if (!PyUnicode_CheckExact(name) || !PyUnicode_IS_ASCII(name) ||
            !PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 2) {
            PyErr_SetString(PyExc_TypeError, "readers: {ASCII name: (rank, reader)}");
            goto error;
        }
        rank = PyTuple_GET_ITEM(value, 0);
        reader_name = PyTuple_GET_ITEM(value, 1);
        int reader = -1;
        for (int i = 0; i < (int)(sizeof(reader_names) / sizeof(*reader_names)); i++) {
            if (PyUnicode_Check(reader_name) &&
                PyUnicode_CompareWithASCIIString(reader_name, reader_names[i]) == 0) {
                reader = i;
            }
        }
        if (reader < 0 || (reader == R_IGNORE) != (rank == Py_None) ||
            (rank != Py_None && !PyLong_CheckExact(rank))) {
            PyErr_Format(PyExc_ValueError, "bad reader for %R", name);
            goto error;
        }
        Event *event = &events[events_count++];
        event->name = Py_NewRef(name);
        event->rank = rank == Py_None ? NULL : Py_NewRef(rank);
        event->text = (const char *)PyUnicode_1BYTE_DATA(name);
        event->length = PyUnicode_GET_LENGTH(name);
        event->rank_value = rank == Py_None ? -1 : PyLong_AsLong(rank);
        event->reader = reader;
        if (event->rank_value == -1 && PyErr_Occurred()) {
            goto error;
        }
    }
    for (int length = 0; length <= LONGEST_NAME; length++) {
        int found = 0;
        for (int i = 0; i < events_count; i++) {
            if (events[i].length == length) {
                by_length[length][found++] = (short)i;
            }
        }
        by_length[length][found] = -1;
    }
    Py_ssize_t count = PyList_GET_SIZE(numbers);
    small = PyMem_Calloc(count ? count : 1, sizeof(PyObject *));
    if (small == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *number = PyList_GET_ITEM(numbers, i);
        long long check;
        if (!plain_int(number, &check) || check != i) {
            PyErr_SetString(PyExc_ValueError, "small_numbers must be [0, 1, 2, ...]");
            small_count = i;
            goto error;
        }
        small[i] = Py_NewRef(number);
    }
    small_count = count;
    min_ts = low;
    max_ts = high;
    end_rank = end;
    lines_ready = 1;
    Py_RETURN_NONE;
error:
    clear_events();
    clear_small();
    return NULL;
}

PyDoc_STRVAR(setup_calls_doc,
"setup_calls(record_type, outcome, end_outcomes, transfers, signature,\n"
"            (enter, ring, connect, end))\n\n"
"The constants of calls.py that Assembler._single and due use: CallRecord, Outcome,\n"
"_END_OUTCOMES, _TRANSFERS, _signature and the ranks of the events.");

static PyObject *
setup_calls(PyObject *module, PyObject *args)
{
    PyObject *type, *outcome, *outcomes, *transfer_names, *signature;
    PyObject *enter, *ring, *connect, *end;
    if (!PyArg_ParseTuple(args, "O!OO!OO(O!O!O!O!):setup_calls", &PyType_Type, &type, &outcome,
                          &PyDict_Type, &outcomes, &transfer_names, &signature, &PyLong_Type,
                          &enter, &PyLong_Type, &ring, &PyLong_Type, &connect, &PyLong_Type,
                          &end)) {
        return NULL;
    }
    if (!PyType_IsSubtype((PyTypeObject *)type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "the record type must be a tuple type");
        return NULL;
    }
    if (!PyAnySet_Check(transfer_names) || !PyCallable_Check(signature)) {
        PyErr_SetString(PyExc_TypeError, "transfers: a set; signature: a function");
        return NULL;
    }
    long ring_value = PyLong_AsLong(ring), connect_value = PyLong_AsLong(connect);
    long enter_value = PyLong_AsLong(enter), end_value = PyLong_AsLong(end);
    if (PyErr_Occurred()) {
        return NULL;
    }
    PyObject *answered_name = PyObject_GetAttrString(outcome, "ANSWERED");
    PyObject *not_admitted_name = PyObject_GetAttrString(outcome, "NOT_ADMITTED");
    PyObject *ring_name = PyUnicode_InternFromString("RINGNOANSWER"); /* as in _single */
    if (answered_name == NULL || not_admitted_name == NULL || ring_name == NULL) {
        Py_XDECREF(answered_name);
        Py_XDECREF(not_admitted_name);
        Py_XDECREF(ring_name);
        return NULL;
    }
    calls_ready = 0;
    Py_XSETREF(record_type, Py_NewRef(type));
    Py_XSETREF(end_outcomes, Py_NewRef(outcomes));
    Py_XSETREF(transfers, Py_NewRef(transfer_names));
    Py_XSETREF(answered, answered_name);
    Py_XSETREF(not_admitted, not_admitted_name);
    Py_XSETREF(ring_no_answer, ring_name);
    Py_XSETREF(enter_obj, Py_NewRef(enter));
    Py_XSETREF(end_obj, Py_NewRef(end));
    Py_XSETREF(signature_function, Py_NewRef(signature));
    ring_rank = ring_value;
    connect_rank = connect_value;
    enter_rank = enter_value;
    end_rank = end_value;
    calls_ready = 1;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------------------------
 * The line loop */

typedef struct {
    /* Given for the batch. */
    PyObject *open_calls, *closed, *closed_old, *pending_append, *read_line;
    long long reorder_seconds, reorder_lines, max_open, max_jump;
    int constants_ok; /* all four are plain ints and open_calls is a dict */
    /* The loop's state. The objects are the truth unless `dirty`, when hw and old are. */
    Py_ssize_t number;
    Py_ssize_t ignored;
    PyObject *high_water, *oldest, *jumping; /* owned */
    long long hw, old;
    int ints;        /* high_water and oldest are plain ints, in hw and old */
    int dirty;       /* hw and old moved on: the objects must be rebuilt before use */
    int not_jumping; /* jumping is the int 0 */
} Loop;

static void
load_state(Loop *loop)
{
    long long jumping;
    loop->ints = plain_int(loop->high_water, &loop->hw) && plain_int(loop->oldest, &loop->old);
    loop->not_jumping = plain_int(loop->jumping, &jumping) && jumping == 0;
    loop->dirty = 0;
}

static int
sync_state(Loop *loop)
{
    if (!loop->dirty) {
        return 0;
    }
    PyObject *high_water = PyLong_FromLongLong(loop->hw);
    if (high_water == NULL) {
        return -1;
    }
    PyObject *oldest = PyLong_FromLongLong(loop->old);
    if (oldest == NULL) {
        Py_DECREF(high_water);
        return -1;
    }
    Py_SETREF(loop->high_water, high_water);
    Py_SETREF(loop->oldest, oldest);
    loop->dirty = 0;
    return 0;
}

/* Hands one line to Python's body of the loop, with the state in and out. */
static int
slow_line(Loop *loop, PyObject *line)
{
    if (sync_state(loop) < 0) {
        return -1;
    }
    PyObject *number = PyLong_FromSsize_t(loop->number);
    if (number == NULL) {
        return -1;
    }
    PyObject *ignored = PyLong_FromSsize_t(loop->ignored);
    if (ignored == NULL) {
        Py_DECREF(number);
        return -1;
    }
    PyObject *call_args[6] = {line, number, loop->high_water, loop->oldest, loop->jumping,
                              ignored};
    PyObject *result = PyObject_Vectorcall(loop->read_line, call_args, 6, NULL);
    Py_DECREF(number);
    Py_DECREF(ignored);
    if (result == NULL) {
        return -1;
    }
    if (!PyTuple_Check(result) || PyTuple_GET_SIZE(result) != 4) {
        PyErr_SetString(PyExc_TypeError,
                        "read_line must return (high_water, oldest, jumping, ignored)");
        Py_DECREF(result);
        return -1;
    }
    Py_ssize_t count = PyLong_AsSsize_t(PyTuple_GET_ITEM(result, 3));
    if (count == -1 && PyErr_Occurred()) {
        Py_DECREF(result);
        return -1;
    }
    loop->ignored = count;
    Py_SETREF(loop->high_water, Py_NewRef(PyTuple_GET_ITEM(result, 0)));
    Py_SETREF(loop->oldest, Py_NewRef(PyTuple_GET_ITEM(result, 1)));
    Py_SETREF(loop->jumping, Py_NewRef(PyTuple_GET_ITEM(result, 2)));
    Py_DECREF(result);
    load_state(loop);
    return 0;
}

/* The text [start, end) of a one-byte line as a str. */
static PyObject *
piece(const Py_UCS1 *text, int ascii, Py_ssize_t start, Py_ssize_t end)
{
    if (ascii) {
        PyObject *string = PyUnicode_New(end - start, 127);
        if (string != NULL && end > start) {
            memcpy(PyUnicode_1BYTE_DATA(string), text + start, end - start);
        }
        return string;
    }
    return PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, text + start, end - start);
}

/* f"{call_id}\x00{queue}" (calls.key_of) from the line's two fields. */
static PyObject *
key_of(const Py_UCS1 *text, int ascii, Py_ssize_t call_start, Py_ssize_t call_end,
       Py_ssize_t queue_start, Py_ssize_t queue_end)
{
    Py_UCS4 widest = 127;
    if (!ascii) {
        for (Py_ssize_t i = call_start; i < call_end; i++) {
            widest |= text[i];
        }
        for (Py_ssize_t i = queue_start; i < queue_end; i++) {
            widest |= text[i];
        }
        widest = widest > 127 ? 255 : 127;
    }
    Py_ssize_t call_length = call_end - call_start, queue_length = queue_end - queue_start;
    PyObject *key = PyUnicode_New(call_length + 1 + queue_length, widest);
    if (key == NULL) {
        return NULL;
    }
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(key);
    memcpy(out, text + call_start, call_length);
    out[call_length] = 0;
    memcpy(out + call_length + 1, text + queue_start, queue_length);
    return key;
}

/* Recent strings, looked up by their characters: the agent and queue names and call keys
 * repeat from line to line, and reusing the str saves an allocation, a free and (for a key,
 * whose hash the str keeps) the hash of each dict lookup. Equal strings either way: only the
 * speed differs. The slots hold a reference to their last string (at most 1152, for ever). */
#define AGENT_SLOTS 64
#define QUEUE_SLOTS 64
#define KEY_SLOTS 1024
static PyObject *agent_slots[AGENT_SLOTS];
static PyObject *queue_slots[QUEUE_SLOTS];
static PyObject *key_slots[KEY_SLOTS];

/* A cheap hash of a text for the caches: its length and its last eight characters, where
 * call ids ("1736150400.123"), queue and agent names differ. A collision only costs a miss. */
static size_t
tail_hash(size_t hash, const Py_UCS1 *text, Py_ssize_t length)
{
    unsigned long long tail = 0;
    if (length >= 8) {
        memcpy(&tail, text + length - 8, 8); /* one load */
    }
    else {
        for (Py_ssize_t i = 0; i < length; i++) {
            tail = tail << 8 | text[i];
        }
    }
    hash = (hash ^ (size_t)length) * 0x9E3779B97F4A7C15ULL;
    hash = (hash ^ tail) * 0x9E3779B97F4A7C15ULL;
    return hash ^ (hash >> 29);
}

static PyObject *
recent_string(PyObject **slots, size_t count, const Py_UCS1 *text, int ascii, Py_ssize_t start,
              Py_ssize_t end)
{
    PyObject **slot = &slots[tail_hash(0, text + start, end - start) % count];
    PyObject *cached = *slot;
    if (cached != NULL && PyUnicode_GET_LENGTH(cached) == end - start &&
        memcmp(PyUnicode_1BYTE_DATA(cached), text + start, end - start) == 0) {
        return Py_NewRef(cached);
    }
    PyObject *agent = piece(text, ascii, start, end);
    if (agent != NULL) {
        Py_XSETREF(*slot, Py_NewRef(agent));
    }
    return agent;
}

static PyObject *
cached_key(const Py_UCS1 *text, int ascii, Py_ssize_t call_start, Py_ssize_t call_end,
           Py_ssize_t queue_start, Py_ssize_t queue_end)
{
    Py_ssize_t call_length = call_end - call_start, queue_length = queue_end - queue_start;
    size_t hash = tail_hash(tail_hash(0, text + call_start, call_length), text + queue_start,
                            queue_length);
    PyObject **slot = &key_slots[hash % KEY_SLOTS];
    PyObject *cached = *slot;
    if (cached != NULL && PyUnicode_GET_LENGTH(cached) == call_length + 1 + queue_length) {
        const Py_UCS1 *known = PyUnicode_1BYTE_DATA(cached);
        if (known[call_length] == 0 && memcmp(known, text + call_start, call_length) == 0 &&
            memcmp(known + call_length + 1, text + queue_start, queue_length) == 0) {
            return Py_NewRef(cached);
        }
    }
    PyObject *key = key_of(text, ascii, call_start, call_end, queue_start, queue_end);
    if (key != NULL) {
        Py_XSETREF(*slot, Py_NewRef(key));
    }
    return key;
}

/* queue_log.SMALL.get(text): the int of a number written plainly ("0", "17", not "017"),
 * below len(SMALL); NULL otherwise. Borrowed. */
static PyObject *
small_of(const Py_UCS1 *text, Py_ssize_t start, Py_ssize_t end)
{
    Py_ssize_t length = end - start;
    if (length < 1 || length > 9 || (length > 1 && text[start] == '0')) {
        return NULL;
    }
    Py_ssize_t value = 0;
    for (Py_ssize_t i = start; i < end; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return NULL;
        }
        value = value * 10 + (text[i] - '0');
    }
    return value < small_count ? small[value] : NULL;
}

/* End of the data field that starts at `start`: the next "|" or the end of the line. */
static Py_ssize_t
field_end(const Py_UCS1 *text, Py_ssize_t start, Py_ssize_t length)
{
    const Py_UCS1 *bar = memchr(text + start, '|', length - start);
    return bar == NULL ? length : bar - text;
}

/* Start of data field `index` (0 is the first), or -1 when there are fewer fields. */
static Py_ssize_t
field_start(const Py_UCS1 *text, Py_ssize_t start, Py_ssize_t length, int index)
{
    for (int i = 0; i < index; i++) {
        const Py_UCS1 *bar = memchr(text + start, '|', length - start);
        if (bar == NULL) {
            return -1;
        }
        start = bar - text + 1;
    }
    return start;
}

/* _seconds(text[start:end]): a new reference (None when empty), or NULL to hand the line back
 * (a number that is not small, or not a number: Python decides). */
static PyObject *
seconds_of(const Py_UCS1 *text, Py_ssize_t start, Py_ssize_t end)
{
    if (end == start) {
        Py_RETURN_NONE;
    }
    PyObject *number = small_of(text, start, end);
    return number == NULL ? NULL : Py_NewRef(number);
}

/* _transfer(data): fields = data.split("|"), at least four, a and b from fields 2 and 3. */
static int
transfer_of(const Py_UCS1 *text, Py_ssize_t data_start, Py_ssize_t length, int has_data,
            PyObject **a, PyObject **b)
{
    Py_ssize_t third = has_data ? field_start(text, data_start, length, 2) : -1;
    Py_ssize_t third_end = third < 0 ? length : field_end(text, third, length);
    if (third < 0 || third_end == length) {
        return 0; /* fewer than four fields: Python rejects the line */
    }
    Py_ssize_t fourth_end = field_end(text, third_end + 1, length);
    *a = seconds_of(text, third, third_end);
    *b = *a == NULL ? NULL : seconds_of(text, third_end + 1, fourth_end);
    if (*b == NULL) {
        Py_CLEAR(*a);
        return 0;
    }
    return 1;
}

/* _attended_transfer(data): fields = data.rstrip("|").split("|"), at least four, a and b from
 * fields -3 and -2. */
static int
attended_of(const Py_UCS1 *text, Py_ssize_t data_start, Py_ssize_t length, PyObject **a,
            PyObject **b)
{
    Py_ssize_t end = length;
    while (end > data_start && text[end - 1] == '|') {
        end--;
    }
    Py_ssize_t bar[3]; /* the last three bars, from the right */
    int found = 0;
    for (Py_ssize_t i = end - 1; i >= data_start && found < 3; i--) {
        if (text[i] == '|') {
            bar[found++] = i;
        }
    }
    if (found < 3) {
        return 0; /* fewer than four fields: Python rejects the line */
    }
    *a = seconds_of(text, bar[2] + 1, bar[1]);
    *b = *a == NULL ? NULL : seconds_of(text, bar[1] + 1, bar[0]);
    if (*b == NULL) {
        Py_CLEAR(*a);
        return 0;
    }
    return 1;
}

/* _seconds(field) for a wait: NULL to hand the line back, else a new reference (None when
 * the field is missing or empty). */
static PyObject *
wait_of(const Py_UCS1 *text, Py_ssize_t data_start, Py_ssize_t length, int has_data, int index)
{
    /* data.split("|") has one field even when data is "" */
    Py_ssize_t start = has_data ? field_start(text, data_start, length, index)
                                : (index == 0 ? data_start : -1);
    if (start < 0) {
        Py_RETURN_NONE;
    }
    return seconds_of(text, start, field_end(text, start, length));
}

static const Event *
find_event(const Py_UCS1 *text, Py_ssize_t start, Py_ssize_t end)
{
    Py_ssize_t length = end - start;
    if (length < 1 || length > LONGEST_NAME) {
        return NULL; /* an unknown event, or one Python finds */
    }
    for (const short *index = by_length[length]; *index >= 0; index++) {
        const Event *event = &events[*index];
        if (memcmp(event->text, text + start, length) == 0) {
            return event;
        }
    }
    return NULL;
}

/* The positions of the first (up to) five "|" of a line; how many there are. */
static int
find_bars(const Py_UCS1 *text, Py_ssize_t length, Py_ssize_t *bar)
{
    int bars = 0;
    Py_ssize_t position = 0;
#if defined(__SSE2__)
    /* sixteen characters at a time: the five bars are in the first fifty or so */
    const __m128i pipe = _mm_set1_epi8('|');
    for (; bars < 5 && position + 16 <= length; position += 16) {
        __m128i chunk = _mm_loadu_si128((const __m128i *)(text + position));
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, pipe));
        while (mask != 0 && bars < 5) {
            bar[bars++] = position + __builtin_ctz(mask);
            mask &= mask - 1;
        }
    }
#endif
    for (; bars < 5 && position < length; position++) {
        if (text[position] == '|') {
            bar[bars++] = position;
        }
    }
    return bars;
}

/* int(text[:length]) for plain digits only (1 to 18 of them): 1 and the value, or 0. */
static int
digits_of(const Py_UCS1 *text, Py_ssize_t length, long long *value)
{
    if (length < 1 || length > 18) {
        return 0;
    }
    long long number = 0;
    Py_ssize_t i = 0;
    if (length >= 8) {
        /* eight digits at once (an epoch has ten): check them, then fold them in pairs */
        unsigned long long chunk;
        memcpy(&chunk, text, 8);
        unsigned long long low = chunk - 0x3030303030303030ULL;
        if (((chunk & 0xF0F0F0F0F0F0F0F0ULL) != 0x3030303030303030ULL) ||
            ((low + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) != 0) {
            return 0;
        }
        /* little-endian: the first digit is the lowest byte */
        low = (low * 10 + (low >> 8)) & 0x00FF00FF00FF00FFULL;
        low = (low * 100 + (low >> 16)) & 0x0000FFFF0000FFFFULL;
        low = (low * 10000 + (low >> 32)) & 0x00000000FFFFFFFFULL;
        number = (long long)low;
        i = 8;
    }
    for (; i < length; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return 0;
        }
        number = number * 10 + (text[i] - '0');
    }
    *value = number;
    return 1;
}

/* key in container */
static int
contains(PyObject *container, PyObject *key)
{
    return PyDict_CheckExact(container) ? PyDict_Contains(container, key)
                                        : PySequence_Contains(container, key);
}

/* One line: 1 done, 0 to hand back to Python (nothing changed), -1 error. */
static int
fast_line(Loop *loop, PyObject *line)
{
    if (!PyUnicode_CheckExact(line) || PyUnicode_KIND(line) != PyUnicode_1BYTE_KIND) {
        return 0;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(line);
    const Py_UCS1 *text = PyUnicode_1BYTE_DATA(line);
    int ascii = PyUnicode_IS_ASCII(line);
    Py_ssize_t bar[5];
    int bars = find_bars(text, length, bar);
    if (bars < 4) {
        return 0;
    }
    /* line.split("|", 5): ts, call id, queue, agent, event[, data] */
    int has_data = bars == 5;
    Py_ssize_t event_end = has_data ? bar[4] : length;
    Py_ssize_t data_start = has_data ? bar[4] + 1 : length;
    /* int(ts): only plain digits here */
    long long ts;
    if (!digits_of(text, bar[0], &ts) || ts < loop->old || ts > max_ts) {
        return 0;
    }
    int advance = ts > loop->hw;
    if (advance && (ts > loop->hw + loop->max_jump || !loop->not_jumping)) {
        return 0;
    }
    const Event *event = find_event(text, bar[3] + 1, event_end);
    if (event == NULL) {
        return 0;
    }
    if (event->reader == R_IGNORE) {
        if (advance) {
            loop->hw = ts;
            loop->old = ts - loop->max_open < min_ts ? min_ts : ts - loop->max_open;
            loop->dirty = 1;
        }
        loop->ignored++;
        return 1;
    }
    PyObject *a = NULL, *b = NULL, *key = NULL, *calls = NULL;
    PyObject *agent = NULL, *call = NULL, *stamp = NULL, *number = NULL;
    int outcome = 0;
    Py_ssize_t first_end = field_end(text, data_start, length);
    switch (event->reader) {
    case R_NONE:
        a = Py_NewRef(Py_None);
        break;
    case R_ENTER:
        /* data.partition("|")[2].partition("|")[0] */
        if (first_end == length) {
            a = PyUnicode_New(0, 0);
        }
        else {
            a = piece(text, ascii, first_end + 1, field_end(text, first_end + 1, length));
        }
        if (a == NULL) {
            return -1;
        }
        break;
    case R_CONNECT:
        a = small_of(text, data_start, first_end);
        if (a == NULL) {
            return 0;
        }
        Py_INCREF(a);
        break;
    case R_COMPLETE:
        if (first_end == length) {
            return 0; /* no second field: b is None, Python reads it */
        }
        a = small_of(text, data_start, first_end);
        b = small_of(text, first_end + 1, field_end(text, first_end + 1, length));
        if (a == NULL || b == NULL) {
            return 0;
        }
        Py_INCREF(a);
        Py_INCREF(b);
        break;
    case R_TRANSFER:
        if (!transfer_of(text, data_start, length, has_data, &a, &b)) {
            return 0;
        }
        break;
    case R_ATTENDED:
        if (!attended_of(text, data_start, length, &a, &b)) {
            return 0;
        }
        break;
    case R_WAIT2:
    case R_WAIT3:
        a = wait_of(text, data_start, length, has_data, event->reader == R_WAIT2 ? 2 : 3);
        if (a == NULL) {
            return 0;
        }
        break;
    default:
        return 0;
    }
    if (b == NULL) {
        b = Py_NewRef(Py_None);
    }
    key = cached_key(text, ascii, bar[0] + 1, bar[1], bar[1] + 1, bar[2]);
    if (key == NULL) {
        goto error;
    }
    calls = PyDict_GetItemWithError(loop->open_calls, key);
    if (calls == NULL) {
        if (PyErr_Occurred()) {
            goto error;
        }
        /* A call not open but recently closed: assembler.absorb decides, in Python. */
        int found = contains(loop->closed, key);
        if (found == 0) {
            found = contains(loop->closed_old, key);
        }
        if (found != 0) {
            outcome = found < 0 ? -1 : 0;
            goto done;
        }
    }
    else if (!PyList_CheckExact(calls)) {
        calls = NULL; /* borrowed: not ours to release */
        goto done;    /* outcome 0: Python appends */
    }
    else {
        Py_INCREF(calls);
    }
    /* The line is ours from here: commit the time, then build and store the event. */
    if (advance) {
        loop->hw = ts;
        loop->old = ts - loop->max_open < min_ts ? min_ts : ts - loop->max_open;
        loop->dirty = 1;
    }
    agent = recent_string(agent_slots, AGENT_SLOTS, text, ascii, bar[2] + 1, bar[3]);
    stamp = PyLong_FromLongLong(ts);
    number = PyLong_FromSsize_t(loop->number);
    call = PyTuple_New(8);
    if (agent == NULL || stamp == NULL || number == NULL || call == NULL) {
        goto error;
    }
    PyTuple_SET_ITEM(call, 0, Py_NewRef(stamp));
    PyTuple_SET_ITEM(call, 1, Py_NewRef(event->rank));
    PyTuple_SET_ITEM(call, 2, Py_NewRef(number));
    PyTuple_SET_ITEM(call, 3, Py_NewRef(event->name));
    PyTuple_SET_ITEM(call, 4, Py_NewRef(agent));
    PyTuple_SET_ITEM(call, 5, Py_NewRef(line));
    PyTuple_SET_ITEM(call, 6, Py_NewRef(a));
    PyTuple_SET_ITEM(call, 7, Py_NewRef(b));
    if (calls != NULL) {
        if (PyList_Append(calls, call) < 0) {
            goto error;
        }
    }
    else {
        calls = PyList_New(1);
        if (calls == NULL) {
            goto error;
        }
        PyList_SET_ITEM(calls, 0, Py_NewRef(call));
        if (PyDict_SetItem(loop->open_calls, key, calls) < 0) {
            goto error;
        }
    }
    if (event->rank_value == end_rank) {
        PyObject *due = PyTuple_New(3);
        if (due == NULL) {
            goto error;
        }
        PyObject *due_ts = PyLong_FromLongLong(ts + loop->reorder_seconds);
        PyObject *due_line = PyLong_FromLongLong(loop->number + loop->reorder_lines);
        PyTuple_SET_ITEM(due, 0, due_ts);
        PyTuple_SET_ITEM(due, 1, due_line);
        PyTuple_SET_ITEM(due, 2, Py_NewRef(key));
        if (due_ts == NULL || due_line == NULL) {
            Py_DECREF(due);
            goto error;
        }
        PyObject *result = PyObject_CallOneArg(loop->pending_append, due);
        Py_DECREF(due);
        if (result == NULL) {
            goto error;
        }
        Py_DECREF(result);
    }
    outcome = 1;
    goto done;
error:
    outcome = -1;
done:
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_XDECREF(key);
    Py_XDECREF(calls);
    Py_XDECREF(agent);
    Py_XDECREF(call);
    Py_XDECREF(stamp);
    Py_XDECREF(number);
    return outcome;
}

PyDoc_STRVAR(read_lines_doc,
"read_lines(batch, number, high_water, oldest, jumping, ignored, open_calls, closed,\n"
"           closed_old, pending_append, reorder_seconds, reorder_lines, max_open, max_jump,\n"
"           read_line) -> (number, high_water, oldest, jumping, ignored)\n\n"
"read_asterisk's loop over one batch of lines; see the top of _fastpath.c.");

static PyObject *
read_lines(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!lines_ready) {
        PyErr_SetString(PyExc_RuntimeError, "setup_lines was not called");
        return NULL;
    }
    if (nargs != 15) {
        PyErr_Format(PyExc_TypeError, "read_lines takes 15 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *batch = args[0];
    if (!PyList_Check(batch)) {
        PyErr_SetString(PyExc_TypeError, "the batch must be a list");
        return NULL;
    }
    Loop loop;
    loop.number = PyLong_AsSsize_t(args[1]);
    loop.ignored = PyLong_AsSsize_t(args[5]);
    if ((loop.number == -1 || loop.ignored == -1) && PyErr_Occurred()) {
        return NULL;
    }
    loop.high_water = Py_NewRef(args[2]);
    loop.oldest = Py_NewRef(args[3]);
    loop.jumping = Py_NewRef(args[4]);
    loop.open_calls = args[6];
    loop.closed = args[7];
    loop.closed_old = args[8];
    loop.pending_append = args[9];
    loop.read_line = args[14];
    loop.constants_ok = PyDict_Check(loop.open_calls) &&
                        plain_int(args[10], &loop.reorder_seconds) &&
                        plain_int(args[11], &loop.reorder_lines) &&
                        plain_int(args[12], &loop.max_open) && plain_int(args[13], &loop.max_jump);
    load_state(&loop);
    Py_INCREF(batch);
    PyObject *result = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(batch); i++) {
        PyObject *line = Py_NewRef(PyList_GET_ITEM(batch, i));
        loop.number++;
        int done = 0;
        if (loop.ints && loop.constants_ok) {
            done = fast_line(&loop, line);
        }
        if (done == 0) {
            done = slow_line(&loop, line) < 0 ? -1 : 1;
        }
        Py_DECREF(line);
        if (done < 0 || ((i + 1) % SIGNAL_EVERY == 0 && PyErr_CheckSignals() < 0)) {
            goto finally;
        }
    }
    if (sync_state(&loop) == 0) {
        result = Py_BuildValue("(nOOOn)", loop.number, loop.high_water, loop.oldest,
                               loop.jumping, loop.ignored);
    }
finally:
    Py_DECREF(batch);
    Py_DECREF(loop.high_water);
    Py_DECREF(loop.oldest);
    Py_DECREF(loop.jumping);
    return result;
}

/* ------------------------------------------------------------------------------------------
 * Assembler.due */

/* object[index] as Python does it (a new reference), fast for a tuple. */
static PyObject *
item_of(PyObject *object, Py_ssize_t index)
{
    if (PyTuple_CheckExact(object) && index >= 0 && index < PyTuple_GET_SIZE(object)) {
        return Py_NewRef(PyTuple_GET_ITEM(object, index));
    }
    PyObject *position = PyLong_FromSsize_t(index);
    if (position == NULL) {
        return NULL;
    }
    PyObject *result = PyObject_GetItem(object, position);
    Py_DECREF(position);
    return result;
}

/* object[index] <op> other, as Python does it: 1, 0 or -1. */
static int
item_compare(PyObject *object, Py_ssize_t index, PyObject *other, int op)
{
    PyObject *item = item_of(object, index);
    if (item == NULL) {
        return -1;
    }
    int result = PyObject_RichCompareBool(item, other, op);
    Py_DECREF(item);
    return result;
}

enum { SINGLE_ERROR = -1, SINGLE_NONE = 0, SINGLE_RECORD = 1, SINGLE_PYTHON = 2 };

#define EVENT(index) PyList_GET_ITEM(calls, (index))
#define FIELD(event, index) PyTuple_GET_ITEM((event), (index))

/* An event's time and rank, read once from a plain event tuple. */
typedef struct {
    long long ts, rank;
} Stamp;
#define MAX_STAMPS 64

/* The stamps of a list of plain events: exact 8-tuples whose time is a plain int and rank
 * an exact int, at most MAX_STAMPS of them. 0 (never an error) for anything else. */
static int
stamps_of(PyObject *calls, Stamp *stamps)
{
    Py_ssize_t count = PyList_GET_SIZE(calls);
    if (count < 1 || count > MAX_STAMPS) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *event = EVENT(i);
        if (!PyTuple_CheckExact(event) || PyTuple_GET_SIZE(event) != 8 ||
            !plain_int(FIELD(event, 0), &stamps[i].ts) ||
            !plain_int(FIELD(event, 1), &stamps[i].rank)) {
            return 0;
        }
    }
    return 1;
}

/* Assembler._single on plain event tuples, whose times and ranks are `stamps` (stamps_of).
 * SINGLE_PYTHON when a value it needs is of another kind (a wait or talk time that is not a
 * plain int, a name that is not a str, ...): _single decides. */
static int
fast_single(PyObject *key, PyObject *calls, const Stamp *stamps, PyObject **record)
{
    Py_ssize_t count = PyList_GET_SIZE(calls);
    if (!PyUnicode_CheckExact(key)) {
        return SINGLE_PYTHON;
    }
    PyObject *connect = NULL;
    Py_ssize_t connect_index = 0;
    long rna = 0;
    int ringing = 0;
    long long ring_ts = 0;
    for (Py_ssize_t i = 1; i < count - 1; i++) {
        PyObject *event = EVENT(i);
        long long rank = stamps[i].rank, ts = stamps[i].ts;
        if (rank == ring_rank) {
            if (ringing && ts == ring_ts) {
                return SINGLE_NONE; /* two rings in the same second: maybe a duplicate */
            }
            ringing = 1;
            ring_ts = ts;
            PyObject *name = FIELD(event, 3);
            if (!PyUnicode_CheckExact(name)) {
                return SINGLE_PYTHON;
            }
            int same = PyUnicode_Compare(name, ring_no_answer);
            if (same == -1 && PyErr_Occurred()) {
                return SINGLE_ERROR;
            }
            rna += same == 0;
        }
        else if (rank == connect_rank && connect == NULL) {
            connect = event;
            connect_index = i;
        }
        else {
            return SINGLE_NONE;
        }
    }
    PyObject *first = EVENT(0), *last = EVENT(count - 1);
    long long entered = stamps[0].ts, end_ts = stamps[count - 1].ts;
    PyObject *name = FIELD(last, 3);
    PyObject *caller = FIELD(first, 6);
    if (!PyUnicode_CheckExact(name) || !(caller == Py_None || PyUnicode_CheckExact(caller))) {
        return SINGLE_PYTHON;
    }
    PyObject *outcome = PyDict_GetItemWithError(end_outcomes, name); /* borrowed */
    if (outcome == NULL) {
        return PyErr_Occurred() ? SINGLE_ERROR : SINGLE_PYTHON; /* _single raises KeyError */
    }
    int is_answered = PyObject_RichCompareBool(outcome, answered, Py_EQ);
    if (is_answered < 0) {
        return SINGLE_ERROR;
    }
    PyObject *agent, *talk, *wait = NULL; /* borrowed; wait may be made below */
    long long wait_value = 0, talk_value = 0;
    int transfer = 0, wait_made = 0;
    if (is_answered) {
        talk = FIELD(last, 7);
        if (talk != Py_None && !plain_int(talk, &talk_value)) {
            return SINGLE_PYTHON; /* a talk time to round */
        }
        if (connect != NULL) {
            agent = FIELD(connect, 4);
            wait = FIELD(connect, 6);
            if (wait == Py_None) {
                wait = FIELD(last, 6);
            }
            if (wait == Py_None) {
                wait_value = stamps[connect_index].ts - entered;
                wait_made = 1;
            }
        }
        else {
            agent = FIELD(last, 4);
            wait = FIELD(last, 6);
            if (wait == Py_None) {
                wait_value = end_ts - (talk == Py_None ? 0 : talk_value) - entered;
                wait_made = 1;
            }
        }
        transfer = PySet_Contains(transfers, name);
        if (transfer < 0) {
            return SINGLE_ERROR;
        }
    }
    else {
        int refused = PyObject_RichCompareBool(outcome, not_admitted, Py_EQ);
        if (refused < 0) {
            return SINGLE_ERROR;
        }
        if (refused || connect != NULL) {
            return SINGLE_NONE;
        }
        agent = empty;
        talk = Py_None;
        wait = FIELD(last, 6);
        if (wait == Py_None) {
            wait_value = end_ts - entered;
            wait_made = 1;
        }
    }
    if (!wait_made) {
        if (!plain_int(wait, &wait_value)) {
            return SINGLE_PYTHON; /* a wait to round, or not a number */
        }
        if (wait_value < 0) {
            wait = zero;
        }
    }
    /* The record's items, as new references taken before anything is allocated: an
     * allocation may run the garbage collector, and a finalizer could drop the events. */
    PyObject *items[13] = {
        NULL,
        NULL,
        Py_NewRef(FIELD(first, 0)),
        wait_made ? NULL : Py_NewRef(wait),
        Py_NewRef(outcome),
        Py_NewRef(agent),
        Py_NewRef(talk),
        Py_NewRef(transfer ? one : zero),
        NULL,
        Py_NewRef(FIELD(last, 0)),
        Py_NewRef(caller == Py_None || PyUnicode_GET_LENGTH(caller) == 0 ? empty : caller),
        Py_NewRef(FIELD(first, 2)),
        Py_NewRef(FIELD(last, 2)),
    };
    /* key.partition(SEP) */
    Py_ssize_t key_length = PyUnicode_GET_LENGTH(key);
    Py_ssize_t sep = PyUnicode_FindChar(key, 0, 0, key_length, 1);
    PyObject *result = NULL;
    if (sep == -2) {
        goto error;
    }
    if (sep < 0) {
        items[0] = Py_NewRef(key);
        items[1] = Py_NewRef(empty);
    }
    else {
        items[0] = PyUnicode_Substring(key, 0, sep);
        items[1] = PyUnicode_KIND(key) == PyUnicode_1BYTE_KIND
                       ? recent_string(queue_slots, QUEUE_SLOTS, PyUnicode_1BYTE_DATA(key),
                                       PyUnicode_IS_ASCII(key), sep + 1, key_length)
                       : PyUnicode_Substring(key, sep + 1, key_length);
    }
    if (wait_made) {
        items[3] = PyLong_FromLongLong(wait_value < 0 ? 0 : wait_value);
    }
    items[8] = PyLong_FromLong(rna);
    for (int i = 0; i < 13; i++) {
        if (items[i] == NULL) {
            goto error;
        }
    }
    /* What tuple.__new__(CallRecord, (...)) does: allocate the subtype, set the items. */
    result = ((PyTypeObject *)record_type)->tp_alloc((PyTypeObject *)record_type, 13);
    if (result == NULL) {
        goto error;
    }
    for (int i = 0; i < 13; i++) {
        PyTuple_SET_ITEM(result, i, items[i]);
    }
    *record = result;
    return SINGLE_RECORD;
error:
    for (int i = 0; i < 13; i++) {
        Py_XDECREF(items[i]);
    }
    return SINGLE_ERROR;
}

/* calls._signature(end_ts, events) for a list of 8-tuples whose end time is a plain int: their
 * texts, then repr(end_ts), joined by newlines. Written at once when the texts are ASCII. */
static PyObject *
signature_of(PyObject *end_ts, PyObject *calls)
{
    Py_ssize_t count = PyList_GET_SIZE(calls);
    long long end_value;
    char end_text[32];
    if (plain_int(end_ts, &end_value)) {
        /* repr() of the int, written backwards then moved to the front */
        int end_length = 0;
        unsigned long long rest = end_value < 0 ? 0ULL - (unsigned long long)end_value
                                                : (unsigned long long)end_value;
        do {
            end_text[sizeof(end_text) - 1 - end_length++] = (char)('0' + rest % 10);
            rest /= 10;
        } while (rest);
        if (end_value < 0) {
            end_text[sizeof(end_text) - 1 - end_length++] = '-';
        }
        memmove(end_text, end_text + sizeof(end_text) - end_length, end_length);
        Py_ssize_t total = end_length + count;
        int ascii = 1;
        for (Py_ssize_t i = 0; i < count && ascii; i++) {
            PyObject *text = FIELD(EVENT(i), 5);
            ascii = PyUnicode_CheckExact(text) && PyUnicode_IS_ASCII(text);
            total += ascii ? PyUnicode_GET_LENGTH(text) : 0;
        }
        if (ascii) {
            PyObject *result = PyUnicode_New(total, 127);
            if (result == NULL) {
                return NULL;
            }
            Py_UCS1 *out = PyUnicode_1BYTE_DATA(result);
            for (Py_ssize_t i = 0; i < count; i++) {
                PyObject *text = FIELD(EVENT(i), 5);
                Py_ssize_t length = PyUnicode_GET_LENGTH(text);
                memcpy(out, PyUnicode_1BYTE_DATA(text), length);
                out[length] = '\n';
                out += length + 1;
            }
            memcpy(out, end_text, end_length);
            return result;
        }
    }
    PyObject *texts = PyList_New(count + 1);
    if (texts == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyList_SET_ITEM(texts, i, Py_NewRef(FIELD(EVENT(i), 5)));
    }
    PyObject *end = PyObject_Repr(end_ts);
    if (end == NULL) {
        Py_DECREF(texts);
        return NULL;
    }
    PyList_SET_ITEM(texts, count, end);
    PyObject *result = PyUnicode_Join(newline, texts);
    Py_DECREF(texts);
    return result;
}

/* Whether a list of plain event tuples (stamps_of) is already in the order list.sort()
 * gives: each event's (time, rank, line number) greater than the previous one's. Then sorting
 * would change nothing; any doubt (a tie, a line number of another type) answers 0. */
static int
in_order(PyObject *calls, const Stamp *stamps)
{
    for (Py_ssize_t i = 1; i < PyList_GET_SIZE(calls); i++) {
        const Stamp *before = &stamps[i - 1], *after = &stamps[i];
        if (after->ts != before->ts) {
            if (after->ts < before->ts) {
                return 0;
            }
            continue;
        }
        if (after->rank != before->rank) {
            if (after->rank < before->rank) {
                return 0;
            }
            continue;
        }
        long long line_before, line_after;
        if (!plain_int(FIELD(EVENT(i - 1), 2), &line_before) ||
            !plain_int(FIELD(EVENT(i), 2), &line_after) || line_after <= line_before) {
            return 0;
        }
    }
    return 1;
}

/* Due's loop body for one key whose events are `calls` (a list). 0 or -1. */
static int
due_one(PyObject *key, PyObject *calls, PyObject *open_calls, PyObject *closed,
        PyObject *until, const long long *until_value, PyObject *single, PyObject *assemble,
        PyObject *records)
{
    PyObject *first = NULL, *last = NULL, *record = NULL, *signature = NULL, *result;
    Stamp stamps[MAX_STAMPS];
    int status = -1;
    /* events.sort() */
    int plain = PyList_CheckExact(calls) && stamps_of(calls, stamps);
    if (!plain || !in_order(calls, stamps)) {
        if (PyList_CheckExact(calls)) {
            if (PyList_Sort(calls) < 0) {
                return -1;
            }
            plain = plain && stamps_of(calls, stamps);
        }
        else {
            result = PyObject_CallMethodNoArgs(calls, sort_name);
            if (result == NULL) {
                return -1;
            }
            Py_DECREF(result);
        }
    }
    /* events[-1][1] == END and events[0][1] == ENTER and events[-1][0] <= until */
    int ready = 0;
    if (plain) {
        Py_ssize_t count = PyList_GET_SIZE(calls);
        first = Py_NewRef(EVENT(0));
        last = Py_NewRef(EVENT(count - 1));
        ready = stamps[count - 1].rank == end_rank && stamps[0].rank == enter_rank;
        if (ready) {
            ready = until_value != NULL ? stamps[count - 1].ts <= *until_value
                                        : item_compare(last, 0, until, Py_LE);
        }
    }
    else if (!PyList_CheckExact(calls) || PyList_GET_SIZE(calls) > 0) {
        last = item_of(calls, -1);
        first = last == NULL ? NULL : item_of(calls, 0);
        if (first == NULL) {
            goto finally;
        }
        ready = item_compare(last, 1, end_obj, Py_EQ);
        if (ready > 0) {
            ready = item_compare(first, 1, enter_obj, Py_EQ);
        }
        if (ready > 0) {
            ready = item_compare(last, 0, until, Py_LE);
        }
    }
    /* else: _assemble raises the IndexError due would */
    if (ready < 0) {
        goto finally;
    }
    if (ready) {
        int made = plain ? fast_single(key, calls, stamps, &record) : SINGLE_PYTHON;
        if (made == SINGLE_ERROR) {
            goto finally;
        }
        if (made == SINGLE_PYTHON) {
            record = PyObject_CallFunctionObjArgs(single, key, calls, NULL);
            if (record == NULL) {
                goto finally;
            }
            if (record == Py_None) {
                Py_CLEAR(record);
            }
        }
        if (record != NULL) {
            if (PyList_Append(records, record) < 0 || PyDict_DelItem(open_calls, key) < 0) {
                goto finally;
            }
            PyObject *end_ts = item_of(last, 0);
            if (end_ts == NULL) {
                goto finally;
            }
            if (made == SINGLE_RECORD) {
                signature = signature_of(end_ts, calls);
            }
            else {
                signature = PyObject_CallFunctionObjArgs(signature_function, end_ts, calls, NULL);
            }
            Py_DECREF(end_ts);
            if (signature == NULL || PyObject_SetItem(closed, key, signature) < 0) {
                goto finally;
            }
            status = 0;
            goto finally;
        }
    }
    result = PyObject_CallFunctionObjArgs(assemble, key, until, records, NULL);
    if (result != NULL) {
        Py_DECREF(result);
        status = 0;
    }
finally:
    Py_XDECREF(first);
    Py_XDECREF(last);
    Py_XDECREF(record);
    Py_XDECREF(signature);
    return status;
}

/* pending[0][index] <= bound, in C when both are plain ints (`bound_value` given). */
static int
head_before(PyObject *head, Py_ssize_t index, PyObject *bound, const long long *bound_value)
{
    long long value;
    if (bound_value != NULL && PyTuple_CheckExact(head) && PyTuple_GET_SIZE(head) > index &&
        plain_int(PyTuple_GET_ITEM(head, index), &value)) {
        return value <= *bound_value;
    }
    return item_compare(head, index, bound, Py_LE);
}

/* The events of the calls due were made up to a batch of lines ago, out of the processor's
 * caches: reaching them is a chain of misses (pending entry, key, event list, events, their
 * texts), about three quarters of due's time if taken one by one. Before a group of calls is
 * assembled, this walks the chain one level at a time for the whole group, asking the
 * processor to fetch each level's memory (__builtin_prefetch) so that the misses overlap.
 * It only reads objects alive at that moment, runs no Python code and changes nothing: a
 * hint, whatever happens next. */
#define PREFETCH_GROUP 16
#define PREFETCH_EVENTS 8

static void
prefetch_calls(PyObject *pending, PyObject *open_calls)
{
    PyObject *entries[PREFETCH_GROUP], *calls[PREFETCH_GROUP];
    Py_ssize_t count = PySequence_Size(pending);
    if (count < 0) {
        PyErr_Clear();
        return;
    }
    int group = count < PREFETCH_GROUP ? (int)count : PREFETCH_GROUP;
    for (int k = 0; k < group; k++) {
        entries[k] = PySequence_GetItem(pending, k); /* the deque keeps it alive */
        if (entries[k] == NULL) {
            PyErr_Clear();
            group = k;
            break;
        }
        Py_DECREF(entries[k]);
        __builtin_prefetch(entries[k]);
    }
    for (int k = 0; k < group; k++) {
        PyObject *entry = entries[k];
        entries[k] = PyTuple_CheckExact(entry) && PyTuple_GET_SIZE(entry) == 3
                         ? PyTuple_GET_ITEM(entry, 2)
                         : NULL;
        if (entries[k] != NULL) {
            __builtin_prefetch(PyTuple_GET_ITEM(entry, 0)); /* the due time and line */
            __builtin_prefetch(PyTuple_GET_ITEM(entry, 1));
            __builtin_prefetch(entries[k]);
        }
    }
    for (int k = 0; k < group; k++) {
        calls[k] = NULL;
        if (entries[k] != NULL && PyUnicode_CheckExact(entries[k])) {
            calls[k] = PyDict_GetItemWithError(open_calls, entries[k]);
            if (calls[k] == NULL) {
                PyErr_Clear();
            }
            else if (PyList_CheckExact(calls[k])) {
                __builtin_prefetch(calls[k]);
            }
            else {
                calls[k] = NULL;
            }
        }
    }
    for (int k = 0; k < group; k++) {
        if (calls[k] != NULL) {
            __builtin_prefetch(((PyListObject *)calls[k])->ob_item);
        }
    }
    for (int k = 0; k < group; k++) {
        Py_ssize_t size = calls[k] == NULL ? 0 : PyList_GET_SIZE(calls[k]);
        for (Py_ssize_t i = 0; i < size && i < PREFETCH_EVENTS; i++) {
            __builtin_prefetch(PyList_GET_ITEM(calls[k], i));
        }
    }
    for (int k = 0; k < group; k++) {
        Py_ssize_t size = calls[k] == NULL ? 0 : PyList_GET_SIZE(calls[k]);
        for (Py_ssize_t i = 0; i < size && i < PREFETCH_EVENTS; i++) {
            PyObject *event = PyList_GET_ITEM(calls[k], i);
            if (PyTuple_CheckExact(event) && PyTuple_GET_SIZE(event) == 8) {
                __builtin_prefetch(PyTuple_GET_ITEM(event, 0));
                __builtin_prefetch(PyTuple_GET_ITEM(event, 2));
                __builtin_prefetch(PyTuple_GET_ITEM(event, 5));
                __builtin_prefetch((char *)PyTuple_GET_ITEM(event, 5) + 64);
                if (i == 0) {
                    __builtin_prefetch(PyTuple_GET_ITEM(event, 6)); /* the caller */
                }
            }
        }
    }
}

PyDoc_STRVAR(due_doc,
"due(pending, open_calls, closed, high_water, until, now_line, single, assemble) -> list\n\n"
"Assembler.due's loop: the records of the ended calls the log has moved past.");

static PyObject *
due(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!calls_ready) {
        PyErr_SetString(PyExc_RuntimeError, "setup_calls was not called");
        return NULL;
    }
    if (nargs != 8) {
        PyErr_Format(PyExc_TypeError, "due takes 8 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *pending = args[0], *open_calls = args[1], *closed = args[2];
    PyObject *high_water = args[3], *until = args[4], *now_line = args[5];
    PyObject *single = args[6], *assemble = args[7];
    if (!PyDict_Check(open_calls)) {
        PyErr_SetString(PyExc_TypeError, "open_calls must be a dict");
        return NULL;
    }
    long long high_water_value = 0, until_value = 0, now_line_value = 0;
    int high_water_plain = plain_int(high_water, &high_water_value);
    int until_plain = plain_int(until, &until_value);
    int now_line_plain = plain_int(now_line, &now_line_value);
    PyObject *popleft = PyObject_GetAttr(pending, popleft_name);
    if (popleft == NULL) {
        return NULL;
    }
    PyObject *records = PyList_New(0);
    if (records == NULL) {
        Py_DECREF(popleft);
        return NULL;
    }
    int prefetched = 0; /* calls left of the group whose memory was asked for */
    for (;;) {
        /* while pending and pending[0][0] <= high_water and pending[0][1] <= now_line */
        if (prefetched-- == 0) {
            prefetch_calls(pending, open_calls);
            prefetched = PREFETCH_GROUP - 1;
        }
        int more = PyObject_IsTrue(pending);
        if (more <= 0) {
            if (more < 0) {
                goto error;
            }
            break;
        }
        PyObject *head = PySequence_GetItem(pending, 0);
        if (head == NULL) {
            goto error;
        }
        more = head_before(head, 0, high_water, high_water_plain ? &high_water_value : NULL);
        if (more > 0) {
            more = head_before(head, 1, now_line, now_line_plain ? &now_line_value : NULL);
        }
        Py_DECREF(head);
        if (more <= 0) {
            if (more < 0) {
                goto error;
            }
            break;
        }
        PyObject *popped = PyObject_CallNoArgs(popleft);
        if (popped == NULL) {
            goto error;
        }
        PyObject *key = item_of(popped, 2);
        Py_DECREF(popped);
        if (key == NULL) {
            goto error;
        }
        PyObject *calls = PyDict_GetItemWithError(open_calls, key);
        if (calls == NULL) {
            Py_DECREF(key);
            if (PyErr_Occurred()) {
                goto error;
            }
            continue;
        }
        Py_INCREF(calls);
        int status = due_one(key, calls, open_calls, closed, until,
                             until_plain ? &until_value : NULL, single, assemble, records);
        Py_DECREF(calls);
        Py_DECREF(key);
        if (status < 0) {
            goto error;
        }
    }
    Py_DECREF(popleft);
    return records;
error:
    Py_DECREF(popleft);
    Py_DECREF(records);
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * The module */

static PyMethodDef methods[] = {
    {"setup_lines", setup_lines, METH_VARARGS, setup_lines_doc},
    {"setup_calls", setup_calls, METH_VARARGS, setup_calls_doc},
    {"read_lines", (PyCFunction)(void (*)(void))read_lines, METH_FASTCALL, read_lines_doc},
    {"due", (PyCFunction)(void (*)(void))due, METH_FASTCALL, due_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT,
    "qualicite.reception.parsers._fastpath",
    "The common case of the Asterisk queue_log parser in C; see the top of _fastpath.c.",
    -1,
    methods,
};

PyMODINIT_FUNC
PyInit__fastpath(void)
{
    empty = PyUnicode_New(0, 0);
    newline = PyUnicode_FromString("\n");
    zero = PyLong_FromLong(0);
    one = PyLong_FromLong(1);
    popleft_name = PyUnicode_InternFromString("popleft");
    sort_name = PyUnicode_InternFromString("sort");
    if (empty == NULL || newline == NULL || zero == NULL || one == NULL || popleft_name == NULL ||
        sort_name == NULL) {
        return NULL;
    }
    return PyModule_Create(&module_definition);
}
