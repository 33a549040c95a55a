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
 * writing them in C would double this code and give the rules two places to drift apart. The
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
 * The files. This one holds the module (its functions, PyInit__fastpath), the two setup
 * functions and the tables they fill; _fastpath.h declares those tables and the small helpers
 * both loops use; _fastpath_lines.c is read_lines, with its string caches and the readers of
 * a line's fields; _fastpath_due.c is due, with the fast _single, the signatures and the
 * prefetching of the calls due.
 *
 * Reference counting: every function owns what it creates and releases it on every path;
 * borrowed references to objects that a call back into Python could drop (a call's event list,
 * a line) are held while in use. Errors (MemoryError, an exception raised by a callback) are
 * propagated as they are.
 */

#include "_fastpath.h"

/* ------------------------------------------------------------------------------------------
 * Tables, given once by the Python modules (declared and described in _fastpath.h). */

static const char *reader_names[] = {"ignore", "none",  "enter",    "connect",  "complete",
                                     "wait2",  "wait3", "transfer", "attended", "slow"};

Event events[MAX_EVENTS];
int events_count = 0;
short by_length[LONGEST_NAME + 1][MAX_EVENTS + 1];
PyObject **small = NULL;
Py_ssize_t small_count = 0;
long long min_ts, max_ts;
long end_rank;
int lines_ready = 0;

PyObject *record_type = NULL;
PyObject *end_outcomes = NULL;
PyObject *transfers = NULL;
PyObject *answered = NULL;
PyObject *not_admitted = NULL;
PyObject *ring_no_answer = NULL;
PyObject *enter_obj = NULL, *end_obj = NULL;
long ring_rank, connect_rank, enter_rank;
PyObject *signature_function = NULL;
int calls_ready = 0;

PyObject *empty = NULL;
PyObject *newline = NULL;
PyObject *zero = NULL, *one = NULL;
PyObject *popleft_name = NULL, *sort_name = NULL;

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
"The constants that Assembler._single and due use (records.py, calls.py): CallRecord,\n"
"Outcome, END_OUTCOMES, TRANSFER_EVENTS, _signature and the ranks of the events.");

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
