/*
 * _fastpath_lines.c: read_lines, queue_log.read_asterisk's loop over a batch of lines in C
 * (what it does, and which lines it hands back to Python, is at the top of _fastpath.c).
 *
 * Here: the loop's state (Loop) and the handing of a line to Python (slow_line); the caches
 * of recent agent names and call keys; the readers of a line's fields (the bars, the epoch,
 * the event, the small numbers of its data); fast_line, one line of the common shape.
 */

#include "_fastpath.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Lines between two checks for a signal (Ctrl-C stops a long import within a batch). */
#define SIGNAL_EVERY 8192

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

/* The caches of recent_string (_fastpath.h) for the line loop. */
#define AGENT_SLOTS 64
#define KEY_SLOTS 1024
static PyObject *agent_slots[AGENT_SLOTS];
static PyObject *key_slots[KEY_SLOTS];

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

const char read_lines_doc[] = PyDoc_STR(
"read_lines(batch, number, high_water, oldest, jumping, ignored, open_calls, closed,\n"
"           closed_old, pending_append, reorder_seconds, reorder_lines, max_open, max_jump,\n"
"           read_line) -> (number, high_water, oldest, jumping, ignored)\n\n"
"read_asterisk's loop over one batch of lines; see the top of _fastpath.c.");

PyObject *
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
