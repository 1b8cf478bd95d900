/* gtn._kernels, part 2: composition, sorted arc lists and scoring plans (see gtn/compose.py and
 * gtn/scoring.py, whose numpy code is the reference these loops are tested against).
 *
 * compose() runs the same breadth-first expansion of state triples (qa, qb, filter) as the numpy
 * path, frontier by frontier and in the same move order (matching moves of the whole frontier, then
 * a-epsilon moves, then b-epsilon moves), so states and arcs come out with the same numbers. Label
 * matching is a merge of two label-sorted out-arc lists (sort_arcs), the state lookup a dense table
 * or an open-addressing hash table. When the result can be layered from its operands (a acyclic, no
 * reachable b-epsilon cycle) the trimming, topological numbering and final merge are done here too;
 * otherwise the raw expansion goes back to the numpy finisher.
 *
 * Arrays come in and go out as 1-d int64 buffers; outputs are returned as bytearrays (the caller wraps
 * them with numpy.frombuffer). The GIL is released while looping.
 */
#include "_kernels.h"

#define EPS (-1)

/* --- growable int64 vectors ------------------------------------------------------------------------ */

typedef struct {
    int64_t *v;
    Py_ssize_t n, cap;
} Vec;

static int vec_push(Vec *x, int64_t val) {
    if (x->n == x->cap) {
        Py_ssize_t cap = x->cap ? 2 * x->cap : 1024;
        int64_t *v = (int64_t *)realloc(x->v, (size_t)cap * sizeof(int64_t));
        if (!v) return -1;
        x->v = v;
        x->cap = cap;
    }
    x->v[x->n++] = val;
    return 0;
}

static void vec_free(Vec *x) {
    free(x->v);
    x->v = NULL;
    x->n = x->cap = 0;
}

/* A bytearray holding a copy of n int64 values (NULL with an exception set on failure). */
static PyObject *as_bytes(const int64_t *v, Py_ssize_t n) {
    PyObject *out = PyByteArray_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    if (out && n) memcpy(PyByteArray_AS_STRING(out), v, (size_t)n * sizeof(int64_t));
    return out;
}

/* --- state table: key -> state id ----------------------------------------------------------------- */

typedef struct {
    int64_t *dense; /* key-indexed ids (-1: absent), when the key space is small */
    int64_t *keys, *vals;
    size_t mask, used;
} Map;

static inline uint64_t hash64(int64_t k) {
    uint64_t x = (uint64_t)k * 0x9E3779B97F4A7C15ULL;
    return x ^ (x >> 31);
}

static int map_alloc_hash(Map *m, size_t cap) {
    int64_t *keys = (int64_t *)malloc(cap * sizeof(int64_t)), *vals = (int64_t *)malloc(cap * sizeof(int64_t));
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    memset(keys, 0xff, cap * sizeof(int64_t));
    int64_t *ok = m->keys, *ov = m->vals;
    size_t ocap = m->keys ? m->mask + 1 : 0;
    m->keys = keys;
    m->vals = vals;
    m->mask = cap - 1;
    for (size_t i = 0; i < ocap; i++) {
        if (ok[i] < 0) continue;
        size_t j = hash64(ok[i]) & m->mask;
        while (keys[j] >= 0) j = (j + 1) & m->mask;
        keys[j] = ok[i];
        vals[j] = ov[i];
    }
    free(ok);
    free(ov);
    return 0;
}

static int map_init(Map *m, int64_t keyspace, int64_t dense_limit) {
    memset(m, 0, sizeof *m);
    if (keyspace <= dense_limit) {
        m->dense = (int64_t *)malloc((size_t)(keyspace ? keyspace : 1) * sizeof(int64_t));
        if (!m->dense) return -1;
        memset(m->dense, 0xff, (size_t)keyspace * sizeof(int64_t));
        return 0;
    }
    return map_alloc_hash(m, 1 << 12);
}

static inline int64_t map_get(const Map *m, int64_t key) {
    if (m->dense) return m->dense[key];
    size_t i = hash64(key) & m->mask;
    while (m->keys[i] >= 0) {
        if (m->keys[i] == key) return m->vals[i];
        i = (i + 1) & m->mask;
    }
    return -1;
}

static inline int map_put(Map *m, int64_t key, int64_t val) {
    if (m->dense) {
        m->dense[key] = val;
        return 0;
    }
    if (2 * (m->used + 1) > m->mask + 1 && map_alloc_hash(m, 2 * (m->mask + 1))) return -1;
    size_t i = hash64(key) & m->mask;
    while (m->keys[i] >= 0) i = (i + 1) & m->mask;
    m->keys[i] = key;
    m->vals[i] = val;
    m->used++;
    return 0;
}

static void map_free(Map *m) {
    free(m->dense);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* --- sorting helpers ------------------------------------------------------------------------------- */

typedef struct {
    int64_t key, id;
} Pair;

static int pair_cmp(const void *x, const void *y) {
    const Pair *a = (const Pair *)x, *b = (const Pair *)y;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return a->id < b->id ? -1 : (a->id > b->id);
}

/* Sort ids[0..n) by (key[ids[i]], ids[i]) in place: insertion sort for short runs, qsort otherwise. */
static int sort_run(int64_t *ids, Py_ssize_t n, const int64_t *key) {
    if (n <= 32) {
        for (Py_ssize_t i = 1; i < n; i++) {
            int64_t x = ids[i], kx = key[x];
            Py_ssize_t j = i - 1;
            while (j >= 0 && (key[ids[j]] > kx || (key[ids[j]] == kx && ids[j] > x))) {
                ids[j + 1] = ids[j];
                j--;
            }
            ids[j + 1] = x;
        }
        return 0;
    }
    Pair *p = (Pair *)malloc((size_t)n * sizeof(Pair));
    if (!p) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        p[i].key = key[ids[i]];
        p[i].id = ids[i];
    }
    qsort(p, (size_t)n, sizeof(Pair), pair_cmp);
    for (Py_ssize_t i = 0; i < n; i++) ids[i] = p[i].id;
    free(p);
    return 0;
}

/* Stable counting sort of ids 0..n) by key in [0, range): order (n,) and ptr (range + 1,). */
static void counting_sort(const int64_t *key, Py_ssize_t n, int64_t range, int64_t *order, int64_t *ptr) {
    memset(ptr, 0, (size_t)(range + 1) * sizeof(int64_t));
    for (Py_ssize_t i = 0; i < n; i++) ptr[key[i] + 1]++;
    for (int64_t k = 0; k < range; k++) ptr[k + 1] += ptr[k];
    for (Py_ssize_t i = 0; i < n; i++) order[ptr[key[i]]++] = i;
    for (int64_t k = range; k > 0; k--) ptr[k] = ptr[k - 1]; /* restore the starts */
    ptr[0] = 0;
}

/* --- sort_arcs ---------------------------------------------------------------------------------- */

const char gtn_sort_arcs_doc[] =
    "sort_arcs(src, label, ptr, order)\n\n"
    "Out-arc lists sorted by label: order (A,) holds the arc ids sorted by (src, label, arc id) and\n"
    "ptr (N + 1,) the offsets of each node's run (epsilon, -1, sorts first).";

PyObject *gtn_sort_arcs(PyObject *self, PyObject *args) {
    static const char *const names[] = {"src", "label", "ptr", "order", NULL};
    Buf b[4];
    if (parse_bufs(args, "sort_arcs", "qqQQ", names, b)) return NULL;
    Py_ssize_t a = b[0].len, n = b[2].len - 1;
    const int64_t *src = I(b[0]), *lab = I(b[1]);
    if (b[1].len != a || b[3].len != a || n < 0) {
        PyErr_SetString(PyExc_ValueError, "[gtn._kernels.sort_arcs] src, label, order need one entry per arc, ptr N + 1");
        return finish(b, 4, 0);
    }
    for (Py_ssize_t k = 0; k < a; k++) {
        if ((uint64_t)src[k] >= (uint64_t)n) {
            PyErr_Format(PyExc_ValueError, "[gtn._kernels.sort_arcs] arc %zd starts at node %lld outside [0, %zd)",
                         k, (long long)src[k], n);
            return finish(b, 4, 0);
        }
    }
    int64_t *ptr = I(b[2]), *order = I(b[3]);
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    counting_sort(src, a, n, order, ptr);
    for (Py_ssize_t v = 0; v < n && !bad; v++) bad = sort_run(order + ptr[v], ptr[v + 1] - ptr[v], lab);
    Py_END_ALLOW_THREADS
    if (bad) PyErr_NoMemory();
    return finish(b, 4, !bad);
}

/* --- compose ------------------------------------------------------------------------------------ */

typedef struct {
    const int64_t *a_ptr, *a_ord, *a_dst, *a_lab, *a_graph, *a_final;
    const int64_t *b_ptr, *b_ord, *b_dst, *b_lab, *b_off, *b_final;
    int64_t *a_ls, *b_ls; /* labels in sorted order: a_ls[i] = a_lab[a_ord[i]] */
    int64_t nbl;
    int paired;
    Vec qa, qb, fs, fin;    /* states */
    Vec src, dst, am, bm;   /* arcs */
    Map map;
} Comp;

/* The id of state (qa, qb, fs), created (at the end of the queue) if new; -1 when out of memory. */
static int64_t comp_state(Comp *c, int64_t qa, int64_t qb, int64_t fs) {
    int64_t g = c->a_graph[qa], gb = c->paired ? g : 0;
    int64_t key = (qa * c->nbl + (qb - c->b_off[gb])) * 2 + fs;
    int64_t id = map_get(&c->map, key);
    if (id >= 0) return id;
    id = c->qa.n;
    if (vec_push(&c->qa, qa) || vec_push(&c->qb, qb) || vec_push(&c->fs, fs) ||
        vec_push(&c->fin, qa == c->a_final[g] && qb == c->b_final[gb]) || map_put(&c->map, key, id))
        return -1;
    return id;
}

static int comp_arc(Comp *c, int64_t s, int64_t d, int64_t am, int64_t bm) {
    if (d < 0) return -1;
    return (vec_push(&c->src, s) || vec_push(&c->dst, d) || vec_push(&c->am, am) || vec_push(&c->bm, bm)) ? -1 : 0;
}

/* The first position in sorted ls[lo..hi) holding a label >= lab: a direct guess first (frame graphs
 * hold the labels 0..C-1 once each), then binary search. */
static inline int64_t find_label(const int64_t *ls, int64_t lo, int64_t hi, int64_t lab) {
    int64_t g = lo + (lab - ls[lo]);
    if (g >= lo && g < hi && ls[g] == lab && (g == lo || ls[g - 1] < lab)) return g;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (ls[mid] < lab) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The breadth-first expansion; 0 on success, -1 when out of memory. */
static int comp_expand(Comp *c, const int64_t *start_a, const int64_t *start_b, Py_ssize_t nb,
                       int has_a_eps, int has_b_eps) {
    for (Py_ssize_t g = 0; g < nb; g++)
        if (comp_state(c, start_a[g], start_b[g], 0) < 0) return -1;
    Py_ssize_t lo = 0, hi = c->qa.n;
    while (lo < hi) {
        for (Py_ssize_t s = lo; s < hi; s++) { /* 1. matching moves: runs of equal labels on both sides */
            int64_t qa = c->qa.v[s], qb = c->qb.v[s];
            int64_t i = c->a_ptr[qa], ie = c->a_ptr[qa + 1], j = c->b_ptr[qb], je = c->b_ptr[qb + 1];
            while (i < ie && c->a_ls[i] == EPS) i++;
            while (j < je && c->b_ls[j] == EPS) j++;
            int b_side = je - j <= ie - i; /* walk the shorter list, look labels up in the longer one */
            while (i < ie && j < je) {
                int64_t lab = b_side ? c->b_ls[j] : c->a_ls[i];
                int64_t i0 = b_side ? find_label(c->a_ls, i, ie, lab) : i;
                int64_t j0 = b_side ? j : find_label(c->b_ls, j, je, lab);
                int64_t i1 = i0, j1 = j0;
                while (i1 < ie && c->a_ls[i1] == lab) i1++;
                while (j1 < je && c->b_ls[j1] == lab) j1++;
                for (int64_t x = i0; x < i1; x++) { /* numpy order: a's arcs, then b's, by arc id */
                    int64_t ea = c->a_ord[x], da = c->a_dst[ea];
                    for (int64_t y = j0; y < j1; y++) {
                        int64_t eb = c->b_ord[y];
                        if (comp_arc(c, s, comp_state(c, da, c->b_dst[eb], 0), ea, eb)) return -1;
                    }
                }
                if (b_side) {
                    j = j1;
                    i = i0;
                } else {
                    i = i1;
                    j = j0;
                }
            }
        }
        if (has_a_eps) { /* 2. a-epsilon moves, filter state 0 only; b stays */
            for (Py_ssize_t s = lo; s < hi; s++) {
                if (c->fs.v[s] != 0) continue;
                int64_t qa = c->qa.v[s], qb = c->qb.v[s];
                for (int64_t i = c->a_ptr[qa]; i < c->a_ptr[qa + 1] && c->a_lab[c->a_ord[i]] == EPS; i++) {
                    int64_t ea = c->a_ord[i];
                    if (comp_arc(c, s, comp_state(c, c->a_dst[ea], qb, 0), ea, -1)) return -1;
                }
            }
        }
        if (has_b_eps) { /* 3. b-epsilon moves, any filter state -> 1 (0 when a has no epsilon); a stays */
            int64_t to = has_a_eps ? 1 : 0;
            for (Py_ssize_t s = lo; s < hi; s++) {
                int64_t qa = c->qa.v[s], qb = c->qb.v[s];
                for (int64_t j = c->b_ptr[qb]; j < c->b_ptr[qb + 1] && c->b_lab[c->b_ord[j]] == EPS; j++) {
                    int64_t eb = c->b_ord[j];
                    if (comp_arc(c, s, comp_state(c, qa, c->b_dst[eb], to), -1, eb)) return -1;
                }
            }
        }
        lo = hi;
        hi = c->qa.n;
    }
    return 0;
}

/* Co-accessible states (reverse reachability from the final states) into keep (n,). */
static int comp_trim(const Comp *c, char *keep) {
    Py_ssize_t n = c->qa.n, m = c->src.n;
    int64_t *mem = (int64_t *)malloc((size_t)(2 * n + m + 1) * sizeof(int64_t));
    if (!mem) return -1;
    int64_t *ptr = mem, *rev = mem + n + 1, *queue = rev + m;
    memset(ptr, 0, (size_t)(n + 1) * sizeof(int64_t));
    for (Py_ssize_t k = 0; k < m; k++) ptr[c->dst.v[k] + 1]++;
    for (Py_ssize_t v = 0; v < n; v++) ptr[v + 1] += ptr[v];
    for (Py_ssize_t k = 0; k < m; k++) rev[ptr[c->dst.v[k]]++] = c->src.v[k];
    for (Py_ssize_t v = n; v > 0; v--) ptr[v] = ptr[v - 1];
    ptr[0] = 0;
    Py_ssize_t head = 0, tail = 0;
    for (Py_ssize_t s = 0; s < n; s++) keep[s] = 0;
    for (Py_ssize_t s = 0; s < n; s++)
        if (c->fin.v[s]) {
            keep[s] = 1;
            queue[tail++] = s;
        }
    while (head < tail) {
        int64_t v = queue[head++];
        for (int64_t e = ptr[v]; e < ptr[v + 1]; e++)
            if (!keep[rev[e]]) {
                keep[rev[e]] = 1;
                queue[tail++] = rev[e];
            }
    }
    free(mem);
    return 0;
}

/* Layered finish: number the kept states topologically by (qa, epsilon level of qb, qb, filter state),
 * the final states last in their graph (a slot past its nodes) and merged into one node; then write
 * the kept arcs sorted by (new destination, new source, expansion order: matching moves, a-epsilon,
 * b-epsilon), so that the result is its own scoring plan (arcs_sorted). Fills out[0..8] (see gtn_compose_doc); -1 when out of memory. */
static int comp_layered(const Comp *c, const char *keep, Py_ssize_t nb, const int64_t *a_noff, Py_ssize_t na,
                        const int64_t *a_level, const int64_t *b_lvl, Py_ssize_t nbn, Vec *out) {
    Py_ssize_t n = c->qa.n, m = c->src.n;
    int64_t nl = 0;
    for (Py_ssize_t v = 0; v < nbn; v++)
        if (b_lvl[v] + 1 > nl) nl = b_lvl[v] + 1;
    if (nl < 1) nl = 1;
    size_t sz = (size_t)(n ? n : 1) * sizeof(int64_t);
    int64_t *qkey = (int64_t *)malloc(sz), *sec = (int64_t *)malloc(sz), *order = (int64_t *)malloc(sz);
    int64_t *node_new = (int64_t *)malloc(sz), *ptr = NULL, *aptr = NULL, *bysrc = NULL;
    int64_t *gcount = (int64_t *)calloc((size_t)nb + 1, sizeof(int64_t));
    char *has_final = (char *)calloc((size_t)nb + 1, 1);
    int rc = -1;
    if (!qkey || !sec || !order || !node_new || !gcount || !has_final) goto done;
    /* primary key (slot of qa, epsilon level of qb), counting-sorted; states that are not kept get the
       largest key and trail; then each run of equal keys by (qb inside its graph, filter state) */
    int64_t range = 2 * na * nl + 1;
    for (Py_ssize_t s = 0; s < n; s++) {
        int64_t qa = c->qa.v[s], g = c->a_graph[qa], qb = c->qb.v[s];
        int64_t slot = c->fin.v[s] ? 2 * a_noff[g + 1] - 1 : 2 * qa;
        qkey[s] = keep[s] ? slot * nl + b_lvl[qb] : range - 1;
        sec[s] = (qb - c->b_off[c->paired ? g : 0]) * 2 + c->fs.v[s];
    }
    if (range <= 4 * (int64_t)(n + na) + 4096) {
        ptr = (int64_t *)malloc((size_t)(range + 1) * sizeof(int64_t));
        if (!ptr) goto done;
        counting_sort(qkey, n, range, order, ptr);
    } else {
        for (Py_ssize_t s = 0; s < n; s++) order[s] = s;
        if (sort_run(order, n, qkey)) goto done;
    }
    Py_ssize_t kept = 0;
    while (kept < n && qkey[order[kept]] < range - 1) kept++;
    for (Py_ssize_t i = 0, j; i < kept; i = j) {
        for (j = i + 1; j < kept && qkey[order[j]] == qkey[order[i]];) j++;
        if (j - i > 1 && sort_run(order + i, j - i, sec)) goto done;
    }
    /* per graph: nodes (merged finals count once), whether a final exists */
    for (Py_ssize_t i = 0; i < kept; i++) {
        int64_t s = order[i], g = c->a_graph[c->qa.v[s]];
        int same = i > 0 && c->fin.v[s] && c->fin.v[order[i - 1]] && c->a_graph[c->qa.v[order[i - 1]]] == g;
        if (!same) gcount[g]++;
        if (c->fin.v[s]) has_final[g] = 1;
    }
    Vec *offs = &out[4];
    if (vec_push(offs, 0)) goto done;
    for (Py_ssize_t g = 0; g < nb; g++)
        if (vec_push(offs, offs->v[g] + gcount[g] + !has_final[g])) goto done;
    Py_ssize_t total = (Py_ssize_t)offs->v[nb];
    Vec *hint = &out[8];
    hint->v = (int64_t *)calloc((size_t)(total ? total : 1), sizeof(int64_t));
    if (!hint->v) goto done;
    hint->n = hint->cap = total;
    int64_t prev_g = -1, local = -1;
    for (Py_ssize_t i = 0; i < n; i++) node_new[i] = -1;
    for (Py_ssize_t i = 0; i < kept; i++) {
        int64_t s = order[i], g = c->a_graph[c->qa.v[s]];
        int same = i > 0 && c->fin.v[s] && c->fin.v[order[i - 1]] && prev_g == g;
        if (g != prev_g) local = -1;
        prev_g = g;
        if (!same) local++;
        node_new[s] = offs->v[g] + local;
        hint->v[node_new[s]] = a_level[c->qa.v[s]] * nl + b_lvl[c->qb.v[s]];
    }
    for (Py_ssize_t g = 0; g < nb; g++)
        if (vec_push(&out[6], node_new[g]) || vec_push(&out[7], offs->v[g + 1] - 1)) goto done;
    /* arcs between kept states by (new destination, new source, expansion order): a stable
       counting sort by source, then one by destination */
    aptr = (int64_t *)calloc((size_t)total + 2, sizeof(int64_t));
    bysrc = (int64_t *)malloc((size_t)(m ? m : 1) * sizeof(int64_t));
    if (!aptr || !bysrc) goto done;
    for (Py_ssize_t k = 0; k < m; k++)
        if (keep[c->src.v[k]] && keep[c->dst.v[k]]) aptr[node_new[c->src.v[k]] + 1]++;
    for (Py_ssize_t v = 0; v < total; v++) aptr[v + 1] += aptr[v];
    Py_ssize_t mk = (Py_ssize_t)aptr[total];
    for (Py_ssize_t k = 0; k < m; k++)
        if (keep[c->src.v[k]] && keep[c->dst.v[k]]) bysrc[aptr[node_new[c->src.v[k]]]++] = k;
    memset(aptr, 0, (size_t)(total + 2) * sizeof(int64_t));
    for (Py_ssize_t i = 0; i < mk; i++) aptr[node_new[c->dst.v[bysrc[i]]] + 1]++;
    for (Py_ssize_t v = 0; v < total; v++) aptr[v + 1] += aptr[v];
    for (int f = 0; f < 4; f++) {
        Vec *x = &out[f];
        x->v = (int64_t *)malloc((size_t)(mk ? mk : 1) * sizeof(int64_t));
        if (!x->v) goto done;
        x->n = x->cap = mk;
    }
    if (vec_push(&out[5], 0)) goto done;
    for (Py_ssize_t g = 0; g < nb; g++)
        if (vec_push(&out[5], aptr[offs->v[g + 1]])) goto done;
    for (Py_ssize_t i = 0; i < mk; i++) {
        int64_t k = bysrc[i], s = c->src.v[k], d = c->dst.v[k];
        int64_t pos = aptr[node_new[d]]++;
        out[0].v[pos] = node_new[s];
        out[1].v[pos] = node_new[d];
        out[2].v[pos] = c->am.v[k];
        out[3].v[pos] = c->bm.v[k];
    }
    rc = 0;
done:
    free(qkey);
    free(sec);
    free(order);
    free(ptr);
    free(aptr);
    free(bysrc);
    free(node_new);
    free(gcount);
    free(has_final);
    return rc;
}

const char gtn_compose_doc[] =
    "compose(a_ptr, a_ord, a_dst, a_lab, a_graph, a_final, a_noff, a_level,\n"
    "        b_ptr, b_ord, b_dst, b_lab, b_off, b_final, b_lvl, start_a, start_b, params)\n\n"
    "Composition of a (olabel a_lab) with b (ilabel b_lab). *_ptr/*_ord: label-sorted out-arc lists\n"
    "(sort_arcs); a_graph (Na,) graph of each a node; a_noff (B + 1,) a's node offsets; a_level (Na,)\n"
    "a layering of a (empty when a is cyclic); b_off (Bb + 1,) b's node offsets; b_lvl (Nb,) longest-path\n"
    "level of each b node over b's epsilon-input arcs (-1 on or after a cycle); params = (nbl, paired,\n"
    "has_a_eps, has_b_eps, dense_limit). Returns ('layered', src, dst, amap, bmap, node_offsets,\n"
    "arc_offsets, starts, finals, node_levels) or, when the result cannot be layered from the operands,\n"
    "('raw', qa, qb, fs, src, dst, amap, bmap, final_states): bytearrays of int64.";

PyObject *gtn_compose(PyObject *self, PyObject *args) {
    static const char *const names[] = {"a_ptr", "a_ord", "a_dst", "a_lab", "a_graph", "a_final", "a_noff", "a_level",
                                        "b_ptr", "b_ord", "b_dst", "b_lab", "b_off", "b_final", "b_lvl",
                                        "start_a", "start_b", "params", NULL};
    Buf b[18];
    if (parse_bufs(args, "compose", "qqqqqqqqqqqqqqqqqq", names, b)) return NULL;
    Py_ssize_t na = b[4].len, nbn = b[14].len, nb = b[15].len, bb = b[12].len - 1;
    const int64_t *prm = I(b[17]);
    if (b[0].len != na + 1 || b[8].len != nbn + 1 || b[6].len != nb + 1 || b[5].len != nb || b[16].len != nb ||
        b[17].len != 5 || bb < 1 || (bb != 1 && bb != nb) || b[13].len != bb || (b[7].len != 0 && b[7].len != na)) {
        PyErr_SetString(PyExc_ValueError, "[gtn._kernels.compose] inconsistent array lengths");
        return finish(b, 18, 0);
    }
    Comp c;
    memset(&c, 0, sizeof c);
    c.a_ptr = I(b[0]), c.a_ord = I(b[1]), c.a_dst = I(b[2]), c.a_lab = I(b[3]), c.a_graph = I(b[4]);
    c.a_final = I(b[5]), c.b_ptr = I(b[8]), c.b_ord = I(b[9]), c.b_dst = I(b[10]), c.b_lab = I(b[11]);
    c.b_off = I(b[12]), c.b_final = I(b[13]);
    c.nbl = prm[0];
    c.paired = bb == nb && prm[1];
    int has_a_eps = (int)prm[2], has_b_eps = (int)prm[3];
    const int64_t *a_level = b[7].len ? I(b[7]) : NULL, *b_lvl = I(b[14]);
    int layered = 0, fail = 0;
    char *keep = NULL;
    Vec out[9];
    memset(out, 0, sizeof out);
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t n_a_arcs = b[1].len, n_b_arcs = b[9].len;
    c.a_ls = (int64_t *)malloc((size_t)(n_a_arcs + 1) * sizeof(int64_t));
    c.b_ls = (int64_t *)malloc((size_t)(n_b_arcs + 1) * sizeof(int64_t));
    fail = !c.a_ls || !c.b_ls;
    for (Py_ssize_t k = 0; !fail && k < n_a_arcs; k++) c.a_ls[k] = c.a_lab[c.a_ord[k]];
    for (Py_ssize_t k = 0; !fail && k < n_b_arcs; k++) c.b_ls[k] = c.b_lab[c.b_ord[k]];
    fail = fail || map_init(&c.map, (int64_t)na * c.nbl * 2, prm[4]) ||
           comp_expand(&c, I(b[15]), I(b[16]), nb, has_a_eps, has_b_eps);
    if (!fail && a_level) {
        keep = (char *)malloc((size_t)(c.qa.n ? c.qa.n : 1));
        fail = !keep || comp_trim(&c, keep);
        for (Py_ssize_t g = 0; !fail && g < nb; g++) keep[g] = 1; /* start states stay even without a path */
        layered = !fail;
        for (Py_ssize_t s = 0; layered && s < c.qa.n; s++)
            if (keep[s] && b_lvl[c.qb.v[s]] < 0) layered = 0;
        if (layered) fail = comp_layered(&c, keep, nb, I(b[6]), na, a_level, b_lvl, nbn, out);
    }
    Py_END_ALLOW_THREADS
    PyObject *res = NULL;
    if (fail) {
        PyErr_NoMemory();
    } else if (layered) {
        res = PyTuple_New(10);
        if (res) {
            PyTuple_SET_ITEM(res, 0, PyUnicode_FromString("layered"));
            for (int f = 0; f < 9; f++) PyTuple_SET_ITEM(res, f + 1, as_bytes(out[f].v, out[f].n));
        }
    } else {
        Vec fin_states;
        memset(&fin_states, 0, sizeof fin_states);
        for (Py_ssize_t s = 0; s < c.qa.n; s++)
            if (c.fin.v[s] && vec_push(&fin_states, s)) fail = 1;
        res = fail ? PyErr_NoMemory() : PyTuple_New(9);
        if (res) {
            Vec *raw[8] = {&c.qa, &c.qb, &c.fs, &c.src, &c.dst, &c.am, &c.bm, &fin_states};
            PyTuple_SET_ITEM(res, 0, PyUnicode_FromString("raw"));
            for (int f = 0; f < 8; f++) PyTuple_SET_ITEM(res, f + 1, as_bytes(raw[f]->v, raw[f]->n));
        }
        vec_free(&fin_states);
    }
    if (res) { /* any failed item allocation above left a NULL in the tuple */
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(res); i++)
            if (!PyTuple_GET_ITEM(res, i)) {
                Py_DECREF(res);
                res = NULL;
                break;
            }
    }
    free(keep);
    for (int f = 0; f < 9; f++) vec_free(&out[f]);
    Vec *all[8] = {&c.qa, &c.qb, &c.fs, &c.fin, &c.src, &c.dst, &c.am, &c.bm};
    for (int f = 0; f < 8; f++) vec_free(all[f]);
    map_free(&c.map);
    free(c.a_ls);
    free(c.b_ls);
    release(b, 18);
    return res;
}

/* --- scoring plan ------------------------------------------------------------------------------- */

const char gtn_plan_doc[] =
    "plan(src, dst, level, starts, finals, perm, reads, writes, bounds, node_level, info)\n\n"
    "A scoring plan from a layering: drops arcs into a start or out of a final, renumbers the levels\n"
    "in use 0..K (nodes without a kept incoming arc get 0), and writes the kept arcs sorted by (level\n"
    "of dst, arc id) into perm / reads / writes (A,), the level offsets into bounds[0..K], each node's\n"
    "level into node_level (N,), and (kept arcs, K) into info (2,); bounds[l] is the end of level l\n"
    "(the kernels read level l in bounds[l - 1]..bounds[l]). info[0] = -1 when `level` is not a\n"
    "valid layering of the kept arcs (level[src] >= level[dst] somewhere, or levels below 0).";

PyObject *gtn_plan(PyObject *self, PyObject *args) {
    static const char *const names[] = {"src", "dst", "level", "starts", "finals", "perm", "reads", "writes",
                                        "bounds", "node_level", "info", NULL};
    Buf b[11];
    if (parse_bufs(args, "plan", "qqqqqQQQQQQ", names, b)) return NULL;
    Py_ssize_t a = b[0].len, n = b[2].len;
    if (b[1].len != a || b[5].len != a || b[6].len != a || b[7].len != a || b[8].len < a + 1 || b[9].len != n ||
        b[10].len != 2 || b[3].len != b[4].len) {
        PyErr_SetString(PyExc_ValueError, "[gtn._kernels.plan] inconsistent array lengths");
        return finish(b, 11, 0);
    }
    const int64_t *src = I(b[0]), *dst = I(b[1]), *level = I(b[2]), *starts = I(b[3]), *finals = I(b[4]);
    for (Py_ssize_t k = 0; k < a; k++)
        if ((uint64_t)src[k] >= (uint64_t)n || (uint64_t)dst[k] >= (uint64_t)n) {
            PyErr_Format(PyExc_ValueError, "[gtn._kernels.plan] arc %zd has a node outside [0, %zd)", k, n);
            return finish(b, 11, 0);
        }
    for (Py_ssize_t g = 0; g < b[3].len; g++)
        if ((uint64_t)starts[g] >= (uint64_t)n || (uint64_t)finals[g] >= (uint64_t)n) {
            PyErr_Format(PyExc_ValueError, "[gtn._kernels.plan] graph %zd has a start or final outside [0, %zd)", g, n);
            return finish(b, 11, 0);
        }
    int64_t *perm = I(b[5]), *reads = I(b[6]), *writes = I(b[7]), *bounds = I(b[8]), *lv = I(b[9]), *info = I(b[10]);
    char *flag = (char *)calloc((size_t)n + 1, 1);
    if (!flag) {
        PyErr_NoMemory();
        return finish(b, 11, 0);
    }
    int bad = 0, oom = 0;
    Py_BEGIN_ALLOW_THREADS
    /* flag bits: 1 start, 2 final, 4 has a kept incoming arc */
    for (Py_ssize_t g = 0; g < b[3].len; g++) {
        flag[starts[g]] |= 1;
        flag[finals[g]] |= 2;
    }
    int64_t maxlv = 0;
    Py_ssize_t kept = 0;
    for (Py_ssize_t k = 0; k < a; k++) {
        if ((flag[dst[k]] & 1) || (flag[src[k]] & 2)) continue;
        if (level[src[k]] >= level[dst[k]] || level[src[k]] < 0) bad = 1;
        flag[dst[k]] |= 4;
        kept++;
    }
    for (Py_ssize_t v = 0; v < n && !bad; v++) {
        lv[v] = (flag[v] & 4) ? level[v] : 0;
        if (lv[v] > maxlv) maxlv = lv[v];
    }
    if (!bad && maxlv > 64 * (int64_t)(n + a + 1)) bad = 1; /* a layering this sparse: let the caller recompute */
    int64_t *rank = bad ? NULL : (int64_t *)calloc((size_t)maxlv + 2, sizeof(int64_t));
    if (!bad && !rank) oom = 1;
    if (rank) {
        for (Py_ssize_t v = 0; v < n; v++) rank[lv[v]] = 1;
        int64_t r = -1;
        for (int64_t l = 0; l <= maxlv; l++) {
            r += rank[l];
            rank[l] = r;
        }
        int64_t K = 0;
        for (Py_ssize_t v = 0; v < n; v++) {
            lv[v] = rank[lv[v]];
            if ((flag[v] & 4) && lv[v] > K) K = lv[v];
        }
        /* counting sort of the kept arcs by the level of dst (stable: arc id order inside a level) */
        memset(bounds, 0, (size_t)(K + 2) * sizeof(int64_t));
        for (Py_ssize_t k = 0; k < a; k++)
            if (!((flag[dst[k]] & 1) || (flag[src[k]] & 2))) bounds[lv[dst[k]] + 1]++;
        for (int64_t l = 0; l <= K; l++) bounds[l + 1] += bounds[l];
        for (Py_ssize_t k = 0; k < a; k++) { /* bounds[l] moves from the start to the end of level l */
            if ((flag[dst[k]] & 1) || (flag[src[k]] & 2)) continue;
            int64_t pos = bounds[lv[dst[k]]]++;
            perm[pos] = k;
            reads[pos] = src[k];
            writes[pos] = dst[k];
        }
        info[0] = kept;
        info[1] = K;
        free(rank);
    }
    Py_END_ALLOW_THREADS
    free(flag);
    if (oom) {
        PyErr_NoMemory();
        return finish(b, 11, 0);
    }
    if (bad) info[0] = -1;
    return finish(b, 11, 1);
}

/* --- compose_frames: the fast path for frame graphs ------------------------------------------------ */

/* An owned int64 array exposed through the buffer protocol (numpy.frombuffer wraps it, no copy). */
typedef struct {
    PyObject_HEAD
    int64_t *data;
    Py_ssize_t n;
    Py_ssize_t shape[1];
} OwnedArray;

static void owned_dealloc(OwnedArray *self) {
    free(self->data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int owned_getbuffer(OwnedArray *self, Py_buffer *view, int flags) {
    self->shape[0] = self->n;
    view->obj = (PyObject *)self;
    Py_INCREF(self);
    view->buf = self->data;
    view->len = self->n * (Py_ssize_t)sizeof(int64_t);
    view->readonly = 0;
    view->itemsize = sizeof(int64_t);
    view->format = (flags & PyBUF_FORMAT) ? "q" : NULL;
    view->ndim = 1;
    view->shape = (flags & PyBUF_ND) ? self->shape : NULL;
    view->strides = NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    return 0;
}

static PyBufferProcs owned_as_buffer = {(getbufferproc)owned_getbuffer, NULL};

static PyTypeObject OwnedArrayType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gtn._kernels.OwnedArray",
    .tp_basicsize = sizeof(OwnedArray),
    .tp_dealloc = (destructor)owned_dealloc,
    .tp_as_buffer = &owned_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An int64 array allocated by a gtn kernel (read it with numpy.frombuffer).",
};

int gtn_compose_register(PyObject *module) {
    if (PyType_Ready(&OwnedArrayType) < 0) return -1;
    Py_INCREF(&OwnedArrayType);
    if (PyModule_AddObject(module, "OwnedArray", (PyObject *)&OwnedArrayType) < 0) {
        Py_DECREF(&OwnedArrayType);
        return -1;
    }
    return 0;
}

/* Wrap malloc'ed memory (ownership moves to the object; freed on failure). */
static PyObject *owned(int64_t *data, Py_ssize_t n) {
    OwnedArray *o = PyObject_New(OwnedArray, &OwnedArrayType);
    if (!o) {
        free(data);
        return NULL;
    }
    o->data = data;
    o->n = n;
    return (PyObject *)o;
}

typedef struct {
    /* frames */
    const int64_t *lens, *a_noff, *a_aoff;
    int64_t C;
    /* b */
    const int64_t *b_ptr, *b_ord, *b_dst, *b_lab, *b_off, *b_start, *b_final, *b_lvl;
    int paired;
    int64_t nl;
    Py_ssize_t nparts; /* thread parts over the graphs */
    const int64_t *b_src, *b_olab;
    int64_t *topo;     /* b's nodes by (epsilon level, id) inside each b graph */
    int64_t *rank;     /* position of each b node in topo */
    int64_t *rev, *rev_ptr; /* b's arcs into each node: matching arcs by (rank of source, label, id),
                               then epsilon arcs by (rank of source, id) */
    char *live;        /* per graph: (T + 1) x (nodes of its b) states, 1 = accessible and co-accessible */
    int64_t *live_off; /* (B + 1,) offsets into live */
} Frames;

/* Mark the accessible, then the co-accessible states (t, q) of graph g into f->live[...] (bit 1
 * accessible, bit 2 co-accessible); returns 0. */
static void frames_mark(const Frames *f, Py_ssize_t g) {
    int64_t T = f->lens[g], gb = f->paired ? g : 0, bo = f->b_off[gb], nq = f->b_off[gb + 1] - bo;
    char *st = f->live + f->live_off[g];
    const int64_t *topo = f->topo + bo;
    memset(st, 0, (size_t)((T + 1) * nq));
    st[f->b_start[g] - bo] = 1;
    for (int64_t t = 0; t <= T; t++) {
        char *cur = st + t * nq, *nxt = cur + nq;
        for (int64_t i = 0; i < nq; i++) { /* epsilon closure in epsilon-level order */
            int64_t q = topo[i];
            if (!(cur[q - bo] & 1)) continue;
            for (int64_t j = f->b_ptr[q]; j < f->b_ptr[q + 1] && f->b_lab[f->b_ord[j]] == EPS; j++)
                cur[f->b_dst[f->b_ord[j]] - bo] |= 1;
        }
        if (t == T) break;
        for (int64_t q = bo; q < bo + nq; q++) {
            if (!(cur[q - bo] & 1)) continue;
            for (int64_t j = f->b_ptr[q]; j < f->b_ptr[q + 1]; j++) {
                int64_t e = f->b_ord[j], l = f->b_lab[e];
                if (l >= 0 && l < f->C) nxt[f->b_dst[e] - bo] |= 1;
            }
        }
    }
    st[T * nq + f->b_final[gb] - bo] |= 2;
    for (int64_t t = T; t >= 0; t--) {
        char *cur = st + t * nq, *nxt = cur + nq;
        if (t < T) {
            for (int64_t q = bo; q < bo + nq; q++) {
                for (int64_t j = f->b_ptr[q]; j < f->b_ptr[q + 1] && !(cur[q - bo] & 2); j++) {
                    int64_t e = f->b_ord[j], l = f->b_lab[e];
                    if (l >= 0 && l < f->C && (nxt[f->b_dst[e] - bo] & 2)) cur[q - bo] |= 2;
                }
            }
        }
        for (int64_t i = nq - 1; i >= 0; i--) { /* backward epsilon closure */
            int64_t q = topo[i];
            for (int64_t j = f->b_ptr[q]; j < f->b_ptr[q + 1] && f->b_lab[f->b_ord[j]] == EPS; j++)
                if (cur[f->b_dst[f->b_ord[j]] - bo] & 2) cur[q - bo] |= 2;
        }
    }
}

typedef struct {
    int64_t dst, eps, rank, lab, id;
} RevKey;

static int rev_cmp(const void *x, const void *y) {
    const RevKey *a = (const RevKey *)x, *b = (const RevKey *)y;
    if (a->dst != b->dst) return a->dst < b->dst ? -1 : 1;
    if (a->eps != b->eps) return a->eps < b->eps ? -1 : 1;
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    if (a->lab != b->lab) return a->lab < b->lab ? -1 : 1;
    return a->id < b->id ? -1 : (a->id > b->id);
}

/* f->rank, and b's arcs into each node (f->rev, f->rev_ptr) in the order the composition lists the
 * arcs into one of its states: matching arcs first (their sources are one frame earlier), by the
 * source's position, then label, then arc id; then epsilon arcs by the source's position. 1 when out
 * of memory. */
static int frames_reverse(Frames *f, Py_ssize_t nbn, Py_ssize_t nba) {
    f->rank = (int64_t *)malloc((size_t)(nbn + 1) * sizeof(int64_t));
    f->rev = (int64_t *)malloc((size_t)(nba + 1) * sizeof(int64_t));
    f->rev_ptr = (int64_t *)calloc((size_t)nbn + 2, sizeof(int64_t));
    RevKey *keys = (RevKey *)malloc((size_t)(nba + 1) * sizeof(RevKey));
    if (!f->rank || !f->rev || !f->rev_ptr || !keys) {
        free(keys);
        return 1;
    }
    for (Py_ssize_t i = 0; i < nbn; i++) f->rank[f->topo[i]] = i;
    for (Py_ssize_t e = 0; e < nba; e++) {
        RevKey k = {f->b_dst[e], f->b_lab[e] == EPS, f->rank[f->b_src[e]], f->b_lab[e], e};
        keys[e] = k;
        f->rev_ptr[f->b_dst[e] + 1]++;
    }
    qsort(keys, (size_t)nba, sizeof(RevKey), rev_cmp);
    for (Py_ssize_t e = 0; e < nba; e++) f->rev[e] = keys[e].id;
    for (Py_ssize_t v = 0; v < nbn; v++) f->rev_ptr[v + 1] += f->rev_ptr[v];
    free(keys);
    return 0;
}

typedef struct {
    const Frames *f;
    int64_t *nodes, *arcs;  /* (B,) per graph, from pass 1 */
    int64_t **out;          /* the 11 output arrays */
    const int64_t *n_start, *a_start; /* (B + 1,) offsets of each graph's nodes and arcs */
    int64_t maxst;          /* largest (T + 1) x (nodes of b) of a graph */
    Py_ssize_t nb;
    int ok;                 /* cleared when a part runs out of memory */
} FramesJob;

/* Graphs of one part: a contiguous range with about the same number of states in each part. */
static void frames_part_range(const FramesJob *j, Py_ssize_t part, Py_ssize_t parts_total, Py_ssize_t *g0, Py_ssize_t *g1) {
    const int64_t *off = j->f->live_off;
    int64_t total = off[j->nb];
    Py_ssize_t lo = 0, hi = 0;
    while (lo < j->nb && off[lo] * parts_total < total * part) lo++;
    hi = lo;
    while (hi < j->nb && off[hi] * parts_total < total * (part + 1)) hi++;
    *g0 = lo;
    *g1 = part == parts_total - 1 ? j->nb : hi;
}

/* Pass 1 for graph g: mark its states, count its nodes and arcs. */
static void frames_count(const FramesJob *j, Py_ssize_t g) {
    const Frames *fp = j->f;
    frames_mark(fp, g);
    int64_t T = fp->lens[g], gb = fp->paired ? g : 0, bo = fp->b_off[gb], nq = fp->b_off[gb + 1] - bo;
    const char *st = fp->live + fp->live_off[g];
    int64_t nn = 0, na_ = 0;
    for (int64_t t = 0; t <= T; t++)
        for (int64_t q = bo; q < bo + nq; q++) {
            if (st[t * nq + q - bo] != 3) continue;
            nn++;
            for (int64_t k = fp->b_ptr[q]; k < fp->b_ptr[q + 1]; k++) {
                int64_t e = fp->b_ord[k], l = fp->b_lab[e];
                if (l == EPS ? st[t * nq + fp->b_dst[e] - bo] == 3
                             : (l < fp->C && t < T && st[(t + 1) * nq + fp->b_dst[e] - bo] == 3))
                    na_++;
            }
        }
    int has_final = st[T * nq + fp->b_final[gb] - bo] == 3;
    int start_live = st[fp->b_start[g] - bo] == 3;
    j->nodes[g] = nn + !start_live + !has_final; /* the start stays; a graph without a path gets a lone final */
    j->arcs[g] = na_;
}

/* Pass 2 for graph g: number its states and write its arcs (ids: scratch of maxst entries). */
static void frames_emit(const FramesJob *j, Py_ssize_t g, int64_t *ids) {
    const Frames *fp = j->f;
    int64_t **out = j->out;
    int64_t T = fp->lens[g], gb = fp->paired ? g : 0, bo = fp->b_off[gb], nq = fp->b_off[gb + 1] - bo;
    const char *st = fp->live + fp->live_off[g];
    const int64_t *topo = fp->topo + bo;
    int64_t n_at = j->n_start[g], a_at = j->a_start[g];
    out[4][g] = n_at;
    out[5][g] = a_at;
    int64_t s0 = fp->b_start[g] - bo, fq = fp->b_final[gb] - bo;
    int start_live = st[s0] == 3, has_final = st[T * nq + fq] == 3;
    for (int64_t i = 0; i < (T + 1) * nq; i++) ids[i] = -1;
    int64_t next = n_at;
    if (!start_live) { /* no path: the start alone, then a lone final */
        out[8][next] = 0;
        out[6][g] = next++;
    }
    for (int64_t t = 0; t <= T; t++)
        for (int64_t i = 0; i < nq; i++) {
            int64_t q = topo[i] - bo;
            if (st[t * nq + q] != 3) continue;
            ids[t * nq + q] = next;
            out[8][next] = t * fp->nl + fp->b_lvl[q + bo];
            next++;
        }
    if (start_live) out[6][g] = ids[s0];
    if (!has_final) out[8][next++] = 0;
    out[7][g] = next - 1;
    for (int64_t t = 0; t <= T; t++) /* arcs by destination, then source (see frames_reverse) */
        for (int64_t i = 0; i < nq; i++) {
            int64_t q = topo[i];
            int64_t d = ids[t * nq + q - bo];
            if (d < 0) continue;
            for (int64_t k = fp->rev_ptr[q]; k < fp->rev_ptr[q + 1]; k++) {
                int64_t e = fp->rev[k], l = fp->b_lab[e], s;
                if (l == EPS) {
                    s = ids[t * nq + fp->b_src[e] - bo];
                } else {
                    if (t == 0 || l >= fp->C) continue;
                    s = ids[(t - 1) * nq + fp->b_src[e] - bo];
                }
                if (s < 0) continue;
                out[0][a_at] = s, out[1][a_at] = d, out[2][a_at] = l == EPS ? -1 : fp->a_aoff[g] + (t - 1) * fp->C + l;
                out[3][a_at] = e, out[9][a_at] = l, out[10][a_at] = fp->b_olab[e];
                a_at++;
            }
        }
}

static void frames_count_part(void *ctx, Py_ssize_t part) {
    FramesJob *j = (FramesJob *)ctx;
    Py_ssize_t g0, g1;
    frames_part_range(j, part, j->f->nparts, &g0, &g1);
    for (Py_ssize_t g = g0; g < g1; g++) frames_count(j, g);
}

static void frames_emit_part(void *ctx, Py_ssize_t part) {
    FramesJob *j = (FramesJob *)ctx;
    Py_ssize_t g0, g1;
    frames_part_range(j, part, j->f->nparts, &g0, &g1);
    int64_t *ids = (int64_t *)malloc((size_t)(j->maxst + 1) * sizeof(int64_t));
    if (!ids) {
        j->ok = 0; /* a plain store: every part that fails writes the same value */
        return;
    }
    for (Py_ssize_t g = g0; g < g1; g++) frames_emit(j, g, ids);
    free(ids);
}

const char gtn_compose_frames_doc[] =
    "compose_frames(lens, a_noff, a_aoff, b_ptr, b_ord, b_dst, b_lab, b_off, b_start, b_final, b_lvl, params,\n"
    "               b_src, b_olab)\n\n"
    "compose(frame graphs, b) without the general expansion: graph g of a is a chain of lens[g] frames\n"
    "whose node t holds the arcs a_aoff[g] + t*C + l labelled l = 0..C-1; b (one graph, or one per frame\n"
    "graph when params[1]) has label-sorted out-arc lists (sort_arcs) and no epsilon-input cycle (b_lvl\n"
    "its epsilon levels, all >= 0). params = (C, paired, threads). Returns the same graph as compose(), as\n"
    "(src, dst, amap, bmap, node_offsets, arc_offsets, starts, finals, node_levels, ilabel, olabel),\n"
    "OwnedArrays (ilabel: the frame label, or -1 on an epsilon move of b; olabel: b's output label).";

PyObject *gtn_compose_frames(PyObject *self, PyObject *args) {
    static const char *const names[] = {"lens", "a_noff", "a_aoff", "b_ptr", "b_ord", "b_dst", "b_lab", "b_off",
                                        "b_start", "b_final", "b_lvl", "params", "b_src", "b_olab", NULL};
    Buf b[14];
    if (parse_bufs(args, "compose_frames", "qqqqqqqqqqqqqq", names, b)) return NULL;
    Py_ssize_t nb = b[0].len, nbn = b[10].len, bb = b[7].len - 1;
    const int64_t *prm = I(b[11]);
    if (b[1].len != nb + 1 || b[2].len != nb + 1 || b[3].len != nbn + 1 || b[8].len != nb || b[11].len != 3 ||
        bb < 1 || b[9].len != bb || (bb != 1 && bb != nb) || (prm[1] && bb != nb) || b[4].len != b[5].len ||
        b[6].len != b[5].len || b[12].len != b[5].len || b[13].len != b[5].len || prm[0] < 1) {
        PyErr_SetString(PyExc_ValueError, "[gtn._kernels.compose_frames] inconsistent array lengths");
        return finish(b, 14, 0);
    }
    Frames f;
    memset(&f, 0, sizeof f);
    f.lens = I(b[0]), f.a_noff = I(b[1]), f.a_aoff = I(b[2]), f.C = prm[0];
    f.b_ptr = I(b[3]), f.b_ord = I(b[4]), f.b_dst = I(b[5]), f.b_lab = I(b[6]), f.b_off = I(b[7]);
    f.b_start = I(b[8]), f.b_final = I(b[9]), f.b_lvl = I(b[10]), f.paired = bb == nb && prm[1] != 0;
    f.b_src = I(b[12]);
    f.b_olab = I(b[13]);
    Py_ssize_t nba = b[5].len;
    for (Py_ssize_t v = 0; v < nbn; v++)
        if (f.b_lvl[v] + 1 > f.nl) f.nl = f.b_lvl[v] + 1;
    if (f.nl < 1) f.nl = 1;
    int64_t *out[11] = {NULL};
    Py_ssize_t sizes[11] = {0};
    int64_t *nodes = NULL, *arcs = NULL, *ptr = NULL;
    Py_ssize_t nthreads = (Py_ssize_t)prm[2];
    int oom = 0;
    Py_BEGIN_ALLOW_THREADS
    f.topo = (int64_t *)malloc((size_t)(nbn + 1) * sizeof(int64_t));
    f.live_off = (int64_t *)malloc((size_t)(nb + 1) * sizeof(int64_t));
    nodes = (int64_t *)calloc((size_t)nb + 1, sizeof(int64_t));
    arcs = (int64_t *)calloc((size_t)nb + 1, sizeof(int64_t));
    int64_t maxst = 0;
    if (!f.topo || !f.live_off || !nodes || !arcs) oom = 1;
    if (!oom) { /* b's nodes by epsilon level inside each graph: counting sort by (graph, level) */
        ptr = (int64_t *)calloc((size_t)(bb * f.nl + 1), sizeof(int64_t));
        int64_t *key = (int64_t *)malloc((size_t)(nbn + 1) * sizeof(int64_t));
        if (!ptr || !key) oom = 1;
        for (Py_ssize_t g = 0; !oom && g < bb; g++)
            for (int64_t v = f.b_off[g]; v < f.b_off[g + 1]; v++) key[v] = g * f.nl + f.b_lvl[v];
        if (!oom) counting_sort(key, nbn, bb * f.nl, f.topo, ptr);
        free(key);
        free(ptr);
        ptr = NULL;
        if (!oom) oom = frames_reverse(&f, nbn, nba);
        f.live_off[0] = 0;
        for (Py_ssize_t g = 0; g < nb; g++) {
            int64_t gb = f.paired ? g : 0, nq = f.b_off[gb + 1] - f.b_off[gb];
            f.live_off[g + 1] = f.live_off[g] + (f.lens[g] + 1) * nq;
            if ((f.lens[g] + 1) * nq > maxst) maxst = (f.lens[g] + 1) * nq;
        }
    }
    if (!oom) {
        f.live = (char *)malloc((size_t)f.live_off[nb] + 1);
        oom = !f.live;
    }
    /* pass 1 (threads over graphs): mark states, count nodes and arcs per graph */
    FramesJob job = {&f, nodes, arcs, out, NULL, NULL, maxst, nb, 1};
    Py_ssize_t parts = nthreads < 1 ? 1 : (nthreads > nb ? (nb ? nb : 1) : nthreads);
    f.nparts = parts;
    if (!oom) gtn_parallel(frames_count_part, &job, parts);
    Py_ssize_t total_n = 0, total_a = 0;
    for (Py_ssize_t g = 0; g < nb; g++) total_n += nodes[g], total_a += arcs[g];
    sizes[0] = sizes[1] = sizes[2] = sizes[3] = total_a;
    sizes[4] = sizes[5] = nb + 1;
    sizes[6] = sizes[7] = nb;
    sizes[8] = total_n;
    sizes[9] = sizes[10] = total_a;
    for (int k = 0; !oom && k < 11; k++) {
        out[k] = (int64_t *)malloc((size_t)(sizes[k] ? sizes[k] : 1) * sizeof(int64_t));
        if (!out[k]) oom = 1;
    }
    /* pass 2 (threads over graphs): number the states by (t, epsilon level, q), write the arcs by
       (destination, source, expansion order), as the general expansion orders them */
    int64_t *n_start = (int64_t *)malloc((size_t)(nb + 1) * sizeof(int64_t));
    int64_t *a_start = (int64_t *)malloc((size_t)(nb + 1) * sizeof(int64_t));
    if (!n_start || !a_start) oom = 1;
    if (!oom) {
        n_start[0] = a_start[0] = 0;
        for (Py_ssize_t g = 0; g < nb; g++) n_start[g + 1] = n_start[g] + nodes[g], a_start[g + 1] = a_start[g] + arcs[g];
        job.n_start = n_start, job.a_start = a_start;
        gtn_parallel(frames_emit_part, &job, parts);
        out[4][nb] = n_start[nb];
        out[5][nb] = a_start[nb];
        oom = job.ok == 0;
    }
    free(n_start);
    free(a_start);
    free(f.topo);
    free(f.rank);
    free(f.rev);
    free(f.rev_ptr);
    free(f.live_off);
    free(f.live);
    free(nodes);
    free(arcs);
    Py_END_ALLOW_THREADS
    release(b, 14);
    if (oom) {
        for (int k = 0; k < 11; k++) free(out[k]);
        return PyErr_NoMemory();
    }
    PyObject *res = PyTuple_New(11);
    if (!res) {
        for (int k = 0; k < 11; k++) free(out[k]);
        return NULL;
    }
    for (int k = 0; k < 11; k++) {
        PyObject *o = owned(out[k], sizes[k]);
        if (!o) {
            for (int j = k + 1; j < 11; j++) free(out[j]);
            Py_DECREF(res);
            return NULL;
        }
        PyTuple_SET_ITEM(res, k, o);
    }
    return res;
}
