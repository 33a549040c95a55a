/*
 * _fastpath_due.c: due, Assembler.due's loop in C (what it does, and which calls it hands
 * back to Python, is at the top of _fastpath.c).
 *
 * Here: fast_single, Assembler._single's common case, which allocates the CallRecord;
 * signature_of, calls._signature; in_order, which spares sorting a call's events already in
 * order; prefetch_calls, which asks for the memory of a group of calls before they are
 * assembled; due_one, the loop's body for one call, and due.
 */

#include "_fastpath.h"

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

/* The cache of recent_string (_fastpath.h) for the queue names of the records. */
#define QUEUE_SLOTS 64
static PyObject *queue_slots[QUEUE_SLOTS];

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

const char due_doc[] = PyDoc_STR(
"due(pending, open_calls, closed, high_water, until, now_line, single, assemble) -> list\n\n"
"Assembler.due's loop: the records of the ended calls the log has moved past.");

PyObject *
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
