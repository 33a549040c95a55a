/*
 * _fastpath.h: what the C files of the queue_log parser's fast path share (_fastpath.c,
 * _fastpath_lines.c, _fastpath_due.c; what the module does and why is at the top of
 * _fastpath.c).
 *
 * It holds the tables that setup_lines and setup_calls (in _fastpath.c) fill from the
 * constants of queue_log.py and calls.py, and that read_lines and due read; the module's
 * functions that _fastpath.c lists; and the small helpers both loops use, `static inline` so
 * that each file's copy is compiled into its loop as it was when they were one file.
 *
 * The shared names have hidden visibility: only PyInit__fastpath is exported, as before, so no
 * other library's `small` or `events` can stand in for them, and the loops reach them directly
 * rather than through the global offset table.
 */

#ifndef QUALICITE_FASTPATH_H
#define QUALICITE_FASTPATH_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* Beyond this, C arithmetic on times could overflow: such values go through Python. */
#define SAFE_LIMIT (1LL << 53)
#define MAX_EVENTS 256
/* by_length[n]: the events whose name has n characters, -1 ended (names up to 31 long). */
#define LONGEST_NAME 31

#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* ------------------------------------------------------------------------------------------
 * Tables, given once by the Python modules: set by setup_lines and setup_calls, defined in
 * _fastpath.c. */

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

typedef struct {
    PyObject *name; /* the event name (str, ASCII), owned */
    PyObject *rank; /* its rank (int), owned; NULL for R_IGNORE */
    const char *text;
    Py_ssize_t length;
    long rank_value;
    int reader;
} Event;

/* setup_lines: the events, the small numbers and the bounds of a time (read_lines). */
extern Event events[MAX_EVENTS];
extern int events_count;
extern short by_length[LONGEST_NAME + 1][MAX_EVENTS + 1];
extern PyObject **small; /* small[n] is the int n, for "0".."len-1" written plainly */
extern Py_ssize_t small_count;
extern long long min_ts, max_ts;
extern long end_rank; /* set by both setup functions */
extern int lines_ready;

/* setup_calls: the constants of calls.py (due). */
extern PyObject *record_type; /* CallRecord */
extern PyObject *end_outcomes;
extern PyObject *transfers;
extern PyObject *answered;
extern PyObject *not_admitted;
extern PyObject *ring_no_answer;
extern PyObject *enter_obj, *end_obj;
extern long ring_rank, connect_rank, enter_rank;
extern PyObject *signature_function; /* calls._signature, for events of another type */
extern int calls_ready;

/* PyInit__fastpath: constants made once. */
extern PyObject *empty;
extern PyObject *newline;
extern PyObject *zero, *one;
/* Interned: a name built for each lookup would take a new slot of CPython's type cache. */
extern PyObject *popleft_name, *sort_name;

/* The module's two loops, listed by _fastpath.c. */
extern const char read_lines_doc[]; /* _fastpath_lines.c */
PyObject *read_lines(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
extern const char due_doc[]; /* _fastpath_due.c */
PyObject *due(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

/* ------------------------------------------------------------------------------------------
 * Helpers of both loops */

/* An exact int within +-SAFE_LIMIT: 1 and its value, or 0 (never an error). */
static inline int
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

/* The text [start, end) of a one-byte line as a str. */
static inline PyObject *
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

/* Recent strings, looked up by their characters: the agent and queue names and call keys
 * repeat from line to line, and reusing the str saves an allocation, a free and (for a key,
 * whose hash the str keeps) the hash of each dict lookup. Equal strings either way: only the
 * speed differs. The slots hold a reference to their last string, for ever: 64 agents and
 * 1024 keys in _fastpath_lines.c, 64 queues in _fastpath_due.c. */

/* A cheap hash of a text for the caches: its length and its last eight characters, where
 * call ids ("1736150400.123"), queue and agent names differ. A collision only costs a miss. */
static inline size_t
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

static inline PyObject *
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

#endif /* QUALICITE_FASTPATH_H */
