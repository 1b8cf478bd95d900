/* gtn._kernels: compiled inner loops of the scoring dynamic programmes (gtn/scoring.py) and of the
 * longest-path layering that builds a scoring plan (gtn/_arrays.py).
 *
 * Every function works on the arcs of a scoring plan (gtn.scoring._Plan) in its `perm` order: arcs
 * sorted by the level of their destination node, then by arc id. `reads[k]` / `writes[k]` are the
 * source / destination node of the k-th arc, `p[k]` its float64 penalty, `bounds` the (K + 1,) arc
 * offsets of the K levels. Because the plan is a valid layering, every arc of a level reads only nodes
 * of earlier levels, so one sweep in plan order (or its reverse) sees final values. The caller
 * allocates and initialises the output arrays (numpy) and passes them as writable buffers; the
 * functions only loop, with the GIL released. The arithmetic mirrors the numpy level steps of
 * gtn/scoring.py operation for operation (same operands, same summation order), so both paths agree
 * to the last bit except where numpy's and libm's exp/log differ by an ulp.
 *
 * Only Python.h and the buffer protocol are used (no numpy headers at build time).
 */
#include "_kernels.h"

/* --- forward log-sum-exp ------------------------------------------------------------------------ */

static const char lse_doc[] =
    "lse_forward(reads, writes, p, bounds, score)\n\n"
    "Forward log-scores in place: for each level, score[d] = m + log(sum exp(score[src] - p - m)) over\n"
    "the arcs into d, m their max. `score` (N,) float64 comes initialised (sentinel, 0 at the starts).";

static PyObject *lse_forward(PyObject *self, PyObject *args) {
    static const char *const names[] = {"reads", "writes", "p", "bounds", "score", NULL};
    Buf b[5];
    if (parse_bufs(args, "lse_forward", "qqdqD", names, b)) return NULL;
    Py_ssize_t n = b[4].len, a = b[0].len;
    if (check_arcs(&b[0], &b[1], &b[2], n, "lse_forward") || check_bounds(&b[3], a, "lse_forward")) goto fail;
    double *sum = (double *)calloc(n ? (size_t)n : 1, sizeof(double));
    if (!sum) {
        PyErr_NoMemory();
        goto fail;
    }
    {
        const int64_t *r = I(b[0]), *w = I(b[1]), *bd = I(b[3]);
        const double *p = D(b[2]);
        double *score = D(b[4]);
        Py_ssize_t levels = b[3].len - 1;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t k = 0; k < a; k++) score[w[k]] = -INFINITY; /* written nodes: max starts at -inf */
        for (Py_ssize_t li = 0; li < levels; li++) {
            Py_ssize_t lo = bd[li], hi = bd[li + 1];
            for (Py_ssize_t k = lo; k < hi; k++) { /* segmented max (np.maximum.at semantics: NaN sticks) */
                double v = score[r[k]] - p[k];
                double m = score[w[k]];
                if (v > m || v != v) score[w[k]] = v;
            }
            for (Py_ssize_t k = lo; k < hi; k++) /* segmented sum, in arc order (np.bincount) */
                sum[w[k]] += exp(score[r[k]] - p[k] - score[w[k]]);
            for (Py_ssize_t k = lo; k < hi; k++) { /* finish each node once; sum >= 1 marks "pending" */
                double s = sum[w[k]];
                if (s != 0.0) {
                    score[w[k]] = score[w[k]] + log(s);
                    sum[w[k]] = 0.0;
                }
            }
        }
        Py_END_ALLOW_THREADS
    }
    free(sum);
    return finish(b, 5, 1);
fail:
    return finish(b, 5, 0);
}

/* --- tropical forward with back-pointers --------------------------------------------------------- */

static const char max_doc[] =
    "max_forward(reads, writes, p, perm, score, bp)\n\n"
    "Viterbi scores in place: score[d] = max over arcs into d of score[src] - p, and bp[d] = perm[k] of\n"
    "the first (lowest plan position, i.e. lowest arc id) arc reaching the max (perm empty: k itself,\n"
    "for arcs in their own order). `score` (N,) comes\n"
    "initialised (sentinel, 0 at the starts), `bp` (N,) int64 filled with -1.";

static PyObject *max_forward(PyObject *self, PyObject *args) {
    static const char *const names[] = {"reads", "writes", "p", "perm", "score", "bp", NULL};
    Buf b[6];
    if (parse_bufs(args, "max_forward", "qqdqDQ", names, b)) return NULL;
    Py_ssize_t n = b[4].len, a = b[0].len;
    if (check_arcs(&b[0], &b[1], &b[2], n, "max_forward")) goto fail;
    if ((b[3].len != a && b[3].len != 0) || b[5].len != n) {
        PyErr_Format(PyExc_ValueError, "[gtn._kernels.max_forward] perm has %zd entries for %zd arcs, bp %zd for %zd nodes",
                     b[3].len, a, b[5].len, n);
        goto fail;
    }
    {
        const int64_t *r = I(b[0]), *w = I(b[1]), *perm = I(b[3]);
        int identity = b[3].len == 0; /* arcs in their own order: the arc id is the position */
        const double *p = D(b[2]);
        double *score = D(b[4]);
        int64_t *bp = I(b[5]);
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t k = 0; k < a; k++) score[w[k]] = -INFINITY;
        /* arcs into one node are contiguous-by-level and in arc-id order: a strict '>' keeps the first
           arc attaining the max, the numpy rule "lowest arc id among the tight arcs" */
        for (Py_ssize_t k = 0; k < a; k++) {
            double v = score[r[k]] - p[k];
            if (v > score[w[k]] || (v != v && score[w[k]] == score[w[k]])) {
                score[w[k]] = v;
                bp[w[k]] = (v == v) ? (identity ? k : perm[k]) : -1;
            }
        }
        Py_END_ALLOW_THREADS
    }
    return finish(b, 6, 1);
fail:
    return finish(b, 6, 0);
}

/* --- tropical backward (best score from each node to its final) ---------------------------------- */

static const char maxb_doc[] =
    "max_backward(reads, writes, p, score)\n\n"
    "score[src] = max(score[src], score[dst] - p) over the arcs in reverse plan order, in place;\n"
    "`score` (N,) comes initialised (sentinel, 0 at the finals).";

static PyObject *max_backward(PyObject *self, PyObject *args) {
    static const char *const names[] = {"reads", "writes", "p", "score", NULL};
    Buf b[4];
    if (parse_bufs(args, "max_backward", "qqdD", names, b)) return NULL;
    Py_ssize_t n = b[3].len, a = b[0].len;
    if (check_arcs(&b[0], &b[1], &b[2], n, "max_backward")) goto fail;
    {
        const int64_t *r = I(b[0]), *w = I(b[1]);
        const double *p = D(b[2]);
        double *score = D(b[3]);
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t k = a - 1; k >= 0; k--) {
            double v = score[w[k]] - p[k];
            if (v > score[r[k]] || v != v) score[r[k]] = v;
        }
        Py_END_ALLOW_THREADS
    }
    return finish(b, 4, 1);
fail:
    return finish(b, 4, 0);
}

/* --- arc posteriors ------------------------------------------------------------------------------ */

static const char post_doc[] =
    "posteriors(reads, writes, p, alpha, bounds, gamma, post)\n\n"
    "Arc posteriors: levels in reverse, arcs of a level in order, post[k] = gamma[dst] *\n"
    "exp(alpha[src] - p - alpha[dst]) and gamma[src] += post[k]. `gamma` (N,) comes initialised\n"
    "(0, the final nodes' weights at the finals); `post` (A,) float64 is written.";

static PyObject *posteriors(PyObject *self, PyObject *args) {
    static const char *const names[] = {"reads", "writes", "p", "alpha", "bounds", "gamma", "post", NULL};
    Buf b[7];
    if (parse_bufs(args, "posteriors", "qqddqDD", names, b)) return NULL;
    Py_ssize_t n = b[5].len, a = b[0].len;
    if (check_arcs(&b[0], &b[1], &b[2], n, "posteriors") || check_bounds(&b[4], a, "posteriors")) goto fail;
    if (b[3].len != n || b[6].len != a) {
        PyErr_Format(PyExc_ValueError, "[gtn._kernels.posteriors] alpha has %zd entries for %zd nodes, post %zd for %zd arcs",
                     b[3].len, n, b[6].len, a);
        goto fail;
    }
    {
        const int64_t *r = I(b[0]), *w = I(b[1]), *bd = I(b[4]);
        const double *p = D(b[2]), *alpha = D(b[3]);
        double *gamma = D(b[5]), *post = D(b[6]);
        Py_ssize_t levels = b[4].len - 1;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t li = levels - 1; li >= 0; li--) {
            for (Py_ssize_t k = bd[li]; k < bd[li + 1]; k++) {
                double x = gamma[w[k]] * exp(alpha[r[k]] - p[k] - alpha[w[k]]);
                post[k] = x;
                gamma[r[k]] += x;
            }
        }
        Py_END_ALLOW_THREADS
    }
    return finish(b, 7, 1);
fail:
    return finish(b, 7, 0);
}

/* --- back-tracking ------------------------------------------------------------------------------- */

static const char back_doc[] =
    "backtrack(bp, src, starts, finals, ok, out, lens)\n\n"
    "Follow back-pointers bp (N,) (global arc ids) through src (A,) from finals[b] to starts[b] for the\n"
    "graphs with ok[b] != 0 (int64). Writes each path's arcs in path order into out (N,), one after the\n"
    "other, and its length into lens (B,); graphs without ok get length 0.";

static PyObject *backtrack(PyObject *self, PyObject *args) {
    static const char *const names[] = {"bp", "src", "starts", "finals", "ok", "out", "lens", NULL};
    Buf b[7];
    if (parse_bufs(args, "backtrack", "qqqqqQQ", names, b)) return NULL;
    Py_ssize_t n = b[0].len, a = b[1].len, nb = b[2].len;
    if (b[3].len != nb || b[4].len != nb || b[6].len != nb || b[5].len < n) {
        PyErr_SetString(PyExc_ValueError, "[gtn._kernels.backtrack] starts, finals, ok, lens must have one entry per graph, out N");
        goto fail;
    }
    {
        const int64_t *bp = I(b[0]), *src = I(b[1]), *starts = I(b[2]), *finals = I(b[3]), *ok = I(b[4]);
        int64_t *out = I(b[5]), *lens = I(b[6]);
        Py_ssize_t pos = 0;
        int bad = 0;
        Py_ssize_t bad_graph = 0;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t g = 0; g < nb && !bad; g++) {
            Py_ssize_t begin = pos;
            int64_t node = finals[g];
            if (ok[g]) {
                while (node != starts[g]) {
                    if ((uint64_t)node >= (uint64_t)n || pos >= n) { bad = 1; break; }
                    int64_t arc = bp[node];
                    if ((uint64_t)arc >= (uint64_t)a) { bad = 1; break; }
                    out[pos++] = arc;
                    node = src[arc];
                }
            }
            if (bad) { bad_graph = g; break; }
            for (Py_ssize_t i = begin, j = pos - 1; i < j; i++, j--) { /* reverse into path order */
                int64_t t = out[i];
                out[i] = out[j];
                out[j] = t;
            }
            lens[g] = pos - begin;
        }
        Py_END_ALLOW_THREADS
        if (bad) {
            PyErr_Format(PyExc_ValueError, "[gtn._kernels.backtrack] graph %zd: the back-pointers do not lead to its start",
                         bad_graph);
            goto fail;
        }
    }
    return finish(b, 7, 1);
fail:
    return finish(b, 7, 0);
}

/* --- longest-path layering (Kahn) ------------------------------------------------------------- */

static const char lp_doc[] =
    "longest_path(src, dst, level)\n\n"
    "Longest-path depth of every node from the nodes without incoming arcs (Kahn's algorithm), into\n"
    "level (N,) int64: 0 for sources, 1 + max over predecessors, -1 on or after a cycle.";

static PyObject *longest_path(PyObject *self, PyObject *args) {
    static const char *const names[] = {"src", "dst", "level", NULL};
    Buf b[3];
    if (parse_bufs(args, "longest_path", "qqQ", names, b)) return NULL;
    Py_ssize_t n = b[2].len, a = b[0].len;
    if (b[1].len != a) {
        PyErr_Format(PyExc_ValueError, "[gtn._kernels.longest_path] src has %zd entries, dst %zd", a, b[1].len);
        goto fail;
    }
    const int64_t *src = I(b[0]), *dst = I(b[1]);
    for (Py_ssize_t k = 0; k < a; k++) {
        if ((uint64_t)src[k] >= (uint64_t)n || (uint64_t)dst[k] >= (uint64_t)n) {
            PyErr_Format(PyExc_ValueError, "[gtn._kernels.longest_path] arc %zd (%lld -> %lld) has a node outside [0, %zd)",
                         k, (long long)src[k], (long long)dst[k], n);
            goto fail;
        }
    }
    /* one block: out-arc offsets (n + 1), out-arc targets (a), in-degrees (n), queue (n), tentative (n) */
    int64_t *mem = (int64_t *)calloc((size_t)(4 * n + a + 1), sizeof(int64_t));
    if (!mem) {
        PyErr_NoMemory();
        goto fail;
    }
    {
        int64_t *ptr = mem, *adj = mem + n + 1, *indeg = adj + a, *queue = indeg + n, *tent = queue + n;
        int64_t *level = I(b[2]);
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t k = 0; k < a; k++) {
            ptr[src[k] + 1]++;
            indeg[dst[k]]++;
        }
        for (Py_ssize_t i = 0; i < n; i++) ptr[i + 1] += ptr[i];
        for (Py_ssize_t k = 0; k < a; k++) adj[tent[src[k]]++ + ptr[src[k]]] = dst[k]; /* tent: fill counter */
        Py_ssize_t head = 0, tail = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            tent[i] = 0;
            level[i] = -1;
            if (indeg[i] == 0) {
                level[i] = 0;
                queue[tail++] = i;
            }
        }
        while (head < tail) {
            int64_t u = queue[head++], next = level[u] + 1;
            for (int64_t e = ptr[u]; e < ptr[u + 1]; e++) {
                int64_t d = adj[e];
                if (next > tent[d]) tent[d] = next;
                if (--indeg[d] == 0) {
                    level[d] = tent[d];
                    queue[tail++] = d;
                }
            }
        }
        Py_END_ALLOW_THREADS
    }
    free(mem);
    return finish(b, 3, 1);
fail:
    return finish(b, 3, 0);
}

/* --- graphs whose arcs are sorted by destination ------------------------------------------------ */
/* A graph whose arcs are sorted by dst, with src < dst, no arc into a start and none out of a final,
 * needs no plan: one sweep over the arcs in their own order (runs of equal dst) is topological. */

static const char sorted_doc[] =
    "arcs_sorted(src, dst, starts, finals) -> bool\n\n"
    "True when dst is non-decreasing, src < dst for every arc, no arc enters a start node and none\n"
    "leaves a final node: the arcs are then their own scoring plan (see lse_sorted, posteriors_sorted).";

static PyObject *arcs_sorted(PyObject *self, PyObject *args) {
    static const char *const names[] = {"src", "dst", "starts", "finals", NULL};
    Buf b[4];
    if (parse_bufs(args, "arcs_sorted", "qqqq", names, b)) return NULL;
    Py_ssize_t a = b[0].len, nb = b[2].len;
    if (b[1].len != a || b[3].len != nb) {
        PyErr_SetString(PyExc_ValueError, "[gtn._kernels.arcs_sorted] src/dst and starts/finals lengths differ");
        return finish(b, 4, 0);
    }
    const int64_t *src = I(b[0]), *dst = I(b[1]), *starts = I(b[2]), *finals = I(b[3]);
    int64_t n = 0;
    for (Py_ssize_t k = 0; k < a; k++)
        if (dst[k] + 1 > n) n = dst[k] + 1;
    for (Py_ssize_t g = 0; g < nb; g++) {
        if (starts[g] + 1 > n) n = starts[g] + 1;
        if (finals[g] + 1 > n) n = finals[g] + 1;
    }
    int ok = 1;
    for (Py_ssize_t k = 0; k < a && ok; k++)
        ok = src[k] >= 0 && src[k] < dst[k] && (k == 0 || dst[k - 1] <= dst[k]);
    char *flag = ok ? (char *)calloc((size_t)n + 1, 1) : NULL;
    if (ok && !flag) {
        release(b, 4);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t g = 0; ok && g < nb; g++) {
        if (starts[g] < 0 || finals[g] < 0) ok = 0;
        else flag[starts[g]] |= 1, flag[finals[g]] |= 2;
    }
    for (Py_ssize_t k = 0; k < a && ok; k++) ok = !(flag[dst[k]] & 1) && !(flag[src[k]] & 2);
    free(flag);
    release(b, 4);
    return PyBool_FromLong(ok);
}

/* The arc range of one part: cuts (P + 1,) arc offsets (at graph boundaries), or all arcs. */
typedef struct {
    const int64_t *r, *w, *cuts;
    const double *p, *alpha;
    double *score, *gamma, *post;
    int64_t *bp;
    Py_ssize_t a;
} Sweep;

static void part_range(const Sweep *s, Py_ssize_t part, Py_ssize_t *lo, Py_ssize_t *hi) {
    *lo = s->cuts ? s->cuts[part] : 0;
    *hi = s->cuts ? s->cuts[part + 1] : s->a;
}

static int check_cuts(const Buf *cuts, Py_ssize_t a, const char *fn) {
    if (cuts->len == 0) return 0;
    const int64_t *c = I(*cuts);
    if (cuts->len < 2 || c[0] != 0 || c[cuts->len - 1] != a) {
        PyErr_Format(PyExc_ValueError, "[gtn._kernels.%s] cuts must run from 0 to the number of arcs %zd", fn, a);
        return -1;
    }
    for (Py_ssize_t i = 1; i < cuts->len; i++)
        if (c[i] < c[i - 1]) {
            PyErr_Format(PyExc_ValueError, "[gtn._kernels.%s] cuts decrease at %zd", fn, i);
            return -1;
        }
    return 0;
}

static void lse_part(void *ctx, Py_ssize_t part) {
    const Sweep *s = (const Sweep *)ctx;
    Py_ssize_t lo, hi;
    part_range(s, part, &lo, &hi);
    for (Py_ssize_t k = lo, j; k < hi; k = j) {
        int64_t d = s->w[k];
        double m = -INFINITY;
        for (j = k; j < hi && s->w[j] == d; j++) {
            double v = s->score[s->r[j]] - s->p[j];
            if (v > m || v != v) m = v;
        }
        double sum = 0.0;
        for (Py_ssize_t i = k; i < j; i++) sum += exp(s->score[s->r[i]] - s->p[i] - m);
        s->score[d] = m + log(sum);
    }
}

static void post_part(void *ctx, Py_ssize_t part) {
    const Sweep *s = (const Sweep *)ctx;
    Py_ssize_t lo, hi;
    part_range(s, part, &lo, &hi);
    for (Py_ssize_t k = hi - 1; k >= lo; k--) {
        double x = s->gamma[s->w[k]] * exp(s->alpha[s->r[k]] - s->p[k] - s->alpha[s->w[k]]);
        s->post[k] = x;
        s->gamma[s->r[k]] += x;
    }
}

static void max_part(void *ctx, Py_ssize_t part) {
    const Sweep *s = (const Sweep *)ctx;
    Py_ssize_t lo, hi;
    part_range(s, part, &lo, &hi);
    for (Py_ssize_t k = lo; k < hi; k++) s->score[s->w[k]] = -INFINITY;
    for (Py_ssize_t k = lo; k < hi; k++) { /* same rule as max_forward */
        double v = s->score[s->r[k]] - s->p[k];
        if (v > s->score[s->w[k]] || (v != v && s->score[s->w[k]] == s->score[s->w[k]])) {
            s->score[s->w[k]] = v;
            s->bp[s->w[k]] = (v == v) ? k : -1;
        }
    }
}

static const char lse_sorted_doc[] =
    "lse_sorted(src, dst, p, score, cuts)\n\n"
    "lse_forward for arcs sorted by dst (arcs_sorted): each run of arcs into one node gives\n"
    "score[d] = m + log(sum exp(score[src] - p - m)), with the same arithmetic as the level sweep.\n"
    "cuts (P + 1,) splits the arcs at graph boundaries into P parts swept by P threads (empty: one).";

static PyObject *lse_sorted(PyObject *self, PyObject *args) {
    static const char *const names[] = {"src", "dst", "p", "score", "cuts", NULL};
    Buf b[5];
    if (parse_bufs(args, "lse_sorted", "qqdDq", names, b)) return NULL;
    Py_ssize_t n = b[3].len, a = b[0].len;
    if (check_arcs(&b[0], &b[1], &b[2], n, "lse_sorted") || check_cuts(&b[4], a, "lse_sorted")) return finish(b, 5, 0);
    Sweep s = {I(b[0]), I(b[1]), b[4].len ? I(b[4]) : NULL, D(b[2]), NULL, D(b[3]), NULL, NULL, NULL, a};
    Py_ssize_t parts = b[4].len ? b[4].len - 1 : 1;
    Py_BEGIN_ALLOW_THREADS
    gtn_parallel(lse_part, &s, parts);
    Py_END_ALLOW_THREADS
    return finish(b, 5, 1);
}

static const char post_sorted_doc[] =
    "posteriors_sorted(src, dst, p, alpha, gamma, post, cuts)\n\n"
    "posteriors for arcs sorted by dst: arcs in reverse order, post[k] = gamma[dst] *\n"
    "exp(alpha[src] - p - alpha[dst]) and gamma[src] += post[k]; cuts as in lse_sorted.";

static PyObject *posteriors_sorted(PyObject *self, PyObject *args) {
    static const char *const names[] = {"src", "dst", "p", "alpha", "gamma", "post", "cuts", NULL};
    Buf b[7];
    if (parse_bufs(args, "posteriors_sorted", "qqddDDq", names, b)) return NULL;
    Py_ssize_t n = b[4].len, a = b[0].len;
    if (check_arcs(&b[0], &b[1], &b[2], n, "posteriors_sorted") || check_cuts(&b[6], a, "posteriors_sorted"))
        return finish(b, 7, 0);
    if (b[3].len != n || b[5].len != a) {
        PyErr_SetString(PyExc_ValueError, "[gtn._kernels.posteriors_sorted] alpha needs N entries, post A");
        return finish(b, 7, 0);
    }
    Sweep s = {I(b[0]), I(b[1]), b[6].len ? I(b[6]) : NULL, D(b[2]), D(b[3]), NULL, D(b[4]), D(b[5]), NULL, a};
    Py_ssize_t parts = b[6].len ? b[6].len - 1 : 1;
    Py_BEGIN_ALLOW_THREADS
    gtn_parallel(post_part, &s, parts);
    Py_END_ALLOW_THREADS
    return finish(b, 7, 1);
}

static const char max_sorted_doc[] =
    "max_sorted(src, dst, p, score, bp, cuts)\n\n"
    "max_forward for arcs sorted by dst, back-pointers are arc ids; cuts as in lse_sorted.";

static PyObject *max_sorted(PyObject *self, PyObject *args) {
    static const char *const names[] = {"src", "dst", "p", "score", "bp", "cuts", NULL};
    Buf b[6];
    if (parse_bufs(args, "max_sorted", "qqdDQq", names, b)) return NULL;
    Py_ssize_t n = b[3].len, a = b[0].len;
    if (check_arcs(&b[0], &b[1], &b[2], n, "max_sorted") || check_cuts(&b[5], a, "max_sorted")) return finish(b, 6, 0);
    if (b[4].len != n) {
        PyErr_SetString(PyExc_ValueError, "[gtn._kernels.max_sorted] bp needs N entries");
        return finish(b, 6, 0);
    }
    Sweep s = {I(b[0]), I(b[1]), b[5].len ? I(b[5]) : NULL, D(b[2]), NULL, D(b[3]), NULL, NULL, I(b[4]), a};
    Py_ssize_t parts = b[5].len ? b[5].len - 1 : 1;
    Py_BEGIN_ALLOW_THREADS
    gtn_parallel(max_part, &s, parts);
    Py_END_ALLOW_THREADS
    return finish(b, 6, 1);
}

/* --- module -------------------------------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"lse_forward", lse_forward, METH_VARARGS, lse_doc},
    {"max_forward", max_forward, METH_VARARGS, max_doc},
    {"max_backward", max_backward, METH_VARARGS, maxb_doc},
    {"posteriors", posteriors, METH_VARARGS, post_doc},
    {"backtrack", backtrack, METH_VARARGS, back_doc},
    {"longest_path", longest_path, METH_VARARGS, lp_doc},
    {"sort_arcs", gtn_sort_arcs, METH_VARARGS, gtn_sort_arcs_doc},
    {"compose", gtn_compose, METH_VARARGS, gtn_compose_doc},
    {"plan", gtn_plan, METH_VARARGS, gtn_plan_doc},
    {"compose_frames", gtn_compose_frames, METH_VARARGS, gtn_compose_frames_doc},
    {"arcs_sorted", arcs_sorted, METH_VARARGS, sorted_doc},
    {"lse_sorted", lse_sorted, METH_VARARGS, lse_sorted_doc},
    {"posteriors_sorted", posteriors_sorted, METH_VARARGS, post_sorted_doc},
    {"max_sorted", max_sorted, METH_VARARGS, max_sorted_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "gtn._kernels",
    "Compiled loops of gtn: scoring (forward, Viterbi, posteriors; gtn/scoring.py) and composition (gtn/compose.py).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__kernels(void) {
    PyObject *m = PyModule_Create(&module);
    if (m && gtn_compose_register(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
