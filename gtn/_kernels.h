/* gtn/_kernels.h: buffer helpers shared by the C files of the gtn._kernels extension.
 *
 * Every kernel takes 1-d C-contiguous 8-byte arrays (numpy int64 / float64) through the buffer
 * protocol; these helpers parse and check them, so that no kernel needs the numpy headers.
 */
#ifndef GTN_KERNELS_H
#define GTN_KERNELS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* --- buffers ------------------------------------------------------------------------------------ */

typedef struct {
    Py_buffer view;
    Py_ssize_t len; /* number of items */
    int held;
} Buf;

/* Get a C-contiguous 1-d buffer of 8-byte items: kind 'd' (float64) or 'q' (int64). */
static inline int get_buf(PyObject *obj, Buf *b, char kind, int writable, const char *name) {
    int flags = PyBUF_FORMAT | PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    b->held = 0;
    if (PyObject_GetBuffer(obj, &b->view, flags) < 0) {
        PyErr_Format(PyExc_TypeError, "[gtn._kernels] %s: expected a contiguous%s 1-d array",
                     name, writable ? " writable" : "");
        return -1;
    }
    b->held = 1;
    const char *f = b->view.format ? b->view.format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    int ok = b->view.itemsize == 8 && b->view.ndim <= 1 && f[1] == '\0' &&
             (kind == 'd' ? f[0] == 'd' : (f[0] == 'q' || f[0] == 'l'));
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "[gtn._kernels] %s: expected a 1-d %s array, got format '%s' itemsize %zd",
                     name, kind == 'd' ? "float64" : "int64", b->view.format ? b->view.format : "B",
                     b->view.itemsize);
        PyBuffer_Release(&b->view);
        b->held = 0;
        return -1;
    }
    b->len = b->view.len / 8;
    return 0;
}

static inline void release(Buf *bufs, int count) {
    for (int i = 0; i < count; i++)
        if (bufs[i].held) PyBuffer_Release(&bufs[i].view);
}

/* Parse the positional arguments of `fn` into buffers, one spec letter each: 'd' float64, 'q' int64,
 * upper case = must be writable; `names` is a NULL-terminated list for the error messages. */
static inline int parse_bufs(PyObject *args, const char *fn, const char *spec, const char *const *names, Buf *b) {
    Py_ssize_t k = (Py_ssize_t)strlen(spec);
    memset(b, 0, (size_t)k * sizeof(Buf));
    if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) != k) {
        PyErr_Format(PyExc_TypeError, "[gtn._kernels.%s] takes %zd arrays", fn, k);
        return -1;
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        int writable = spec[i] == 'D' || spec[i] == 'Q';
        char kind = (spec[i] == 'd' || spec[i] == 'D') ? 'd' : 'q';
        if (get_buf(PyTuple_GET_ITEM(args, i), &b[i], kind, writable, names[i]) < 0) {
            release(b, (int)i);
            return -1;
        }
    }
    return 0;
}

/* Release the buffers and return None (ok) or NULL (an exception is set). */
static inline PyObject *finish(Buf *b, int count, int ok) {
    release(b, count);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

#define D(b) ((double *)(b).view.buf)
#define I(b) ((int64_t *)(b).view.buf)

/* Check the shared arc arrays: reads, writes, p of one length A, node ids in [0, n). */
static inline int check_arcs(const Buf *reads, const Buf *writes, const Buf *p, Py_ssize_t n, const char *fn) {
    Py_ssize_t a = reads->len;
    if (writes->len != a || p->len != a) {
        PyErr_Format(PyExc_ValueError, "[gtn._kernels.%s] reads, writes, p have lengths %zd, %zd, %zd",
                     fn, a, writes->len, p->len);
        return -1;
    }
    const int64_t *r = (const int64_t *)reads->view.buf, *w = (const int64_t *)writes->view.buf;
    for (Py_ssize_t k = 0; k < a; k++) {
        if ((uint64_t)r[k] >= (uint64_t)n || (uint64_t)w[k] >= (uint64_t)n) {
            PyErr_Format(PyExc_ValueError, "[gtn._kernels.%s] arc %zd (%lld -> %lld) has a node outside [0, %zd)",
                         fn, k, (long long)r[k], (long long)w[k], n);
            return -1;
        }
    }
    return 0;
}

static inline int check_bounds(const Buf *bounds, Py_ssize_t a, const char *fn) {
    const int64_t *bd = I(*bounds);
    Py_ssize_t nb = bounds->len;
    if (nb < 1 || bd[0] != 0 || bd[nb - 1] != a) {
        PyErr_Format(PyExc_ValueError, "[gtn._kernels.%s] bounds must run from 0 to the number of arcs %zd", fn, a);
        return -1;
    }
    for (Py_ssize_t i = 1; i < nb; i++) {
        if (bd[i] < bd[i - 1]) {
            PyErr_Format(PyExc_ValueError, "[gtn._kernels.%s] bounds decrease at level %zd", fn, i - 1);
            return -1;
        }
    }
    return 0;
}

/* --- threads ------------------------------------------------------------------------------------ */
/* gtn_parallel(fn, ctx, parts) runs fn(ctx, 0..parts-1), one POSIX thread per part beyond the first
 * (the caller's thread runs part 0); sequentially where threads are unavailable. Called with the GIL
 * released; the parts must touch disjoint memory (the callers split batches at graph boundaries). */
typedef void (*gtn_task)(void *ctx, Py_ssize_t part);

#define GTN_MAX_THREADS 64

#ifndef _WIN32
#include <pthread.h>

typedef struct {
    gtn_task fn;
    void *ctx;
    Py_ssize_t part;
} GtnThreadArg;

static void *gtn_trampoline(void *arg) {
    GtnThreadArg *a = (GtnThreadArg *)arg;
    a->fn(a->ctx, a->part);
    return NULL;
}

static inline void gtn_parallel(gtn_task fn, void *ctx, Py_ssize_t parts) {
    pthread_t th[GTN_MAX_THREADS];
    GtnThreadArg args[GTN_MAX_THREADS];
    int started[GTN_MAX_THREADS] = {0};
    if (parts > GTN_MAX_THREADS) parts = GTN_MAX_THREADS;
    for (Py_ssize_t p = 1; p < parts; p++) {
        args[p].fn = fn, args[p].ctx = ctx, args[p].part = p;
        started[p] = pthread_create(&th[p], NULL, gtn_trampoline, &args[p]) == 0;
        if (!started[p]) fn(ctx, p); /* no thread to be had: run it here */
    }
    if (parts > 0) fn(ctx, 0);
    for (Py_ssize_t p = 1; p < parts; p++)
        if (started[p]) pthread_join(th[p], NULL);
}
#else
static inline void gtn_parallel(gtn_task fn, void *ctx, Py_ssize_t parts) {
    for (Py_ssize_t p = 0; p < parts; p++) fn(ctx, p);
}
#endif

/* Kernels defined in gtn/_compose.c (registered by the module table in gtn/_kernels.c). */
PyObject *gtn_sort_arcs(PyObject *self, PyObject *args);
PyObject *gtn_compose(PyObject *self, PyObject *args);
PyObject *gtn_plan(PyObject *self, PyObject *args);
PyObject *gtn_compose_frames(PyObject *self, PyObject *args);
int gtn_compose_register(PyObject *module);
extern const char gtn_sort_arcs_doc[], gtn_compose_doc[], gtn_plan_doc[], gtn_compose_frames_doc[];

#endif
