/* qcow2 images (QEMU docs/interop/qcow2.txt), versions 2 and 3: reading and
 * writing with cluster allocation through the L1/L2 tables, refcounts kept
 * consistent (a `qemu-img check` of an image vmon wrote is clean), backing
 * files (raw or qcow2, opened read-only, reads of unallocated clusters fall
 * through to them, partial writes copy the rest of the cluster from them),
 * zero clusters (v3) for discard and write-zeroes.
 *
 * Metadata is written through: every table change goes to the file before
 * the request completes, so a FLUSH (fdatasync) makes data and metadata
 * stable together. Ordering within a request is data, then the L2 entry
 * pointing at it, and refcounts before references, so an interrupted write
 * can leak a cluster but never leave a table pointing at garbage.
 *
 * Not supported (refused at open with a message): encryption, compressed
 * clusters, external data files, extended L2 entries, unknown incompatible
 * features, writing to images with internal snapshots. */
#include "backend/block.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define QCOW2_MAGIC    0x514649fbu
#define HDR_V2_LEN     72u
#define HDR_V3_LEN     104u
#define HDR_CREATE_LEN 112u

/* header field offsets */
enum {
    H_MAGIC = 0,
    H_VERSION = 4,
    H_BACKING_OFF = 8,
    H_BACKING_SIZE = 16,
    H_CLUSTER_BITS = 20,
    H_SIZE = 24,
    H_CRYPT = 32,
    H_L1_SIZE = 36,
    H_L1_OFF = 40,
    H_RT_OFF = 48,
    H_RT_CLUSTERS = 56,
    H_NB_SNAPSHOTS = 60,
    H_SNAPSHOTS_OFF = 64,
    H_INCOMPAT = 72,
    H_COMPAT = 80,
    H_AUTOCLEAR = 88,
    H_REFCOUNT_ORDER = 96,
    H_HEADER_LEN = 100,
    H_COMPRESSION = 104,
};

#define INCOMPAT_DIRTY       (1ull << 0)
#define INCOMPAT_CORRUPT     (1ull << 1)
#define INCOMPAT_DATA_FILE   (1ull << 2)
#define INCOMPAT_COMPRESSION (1ull << 3)
#define INCOMPAT_EXTL2       (1ull << 4)

#define EXT_END           0u
#define EXT_BACKING_FMT   0xe2792acau
#define EXT_FEATURE_NAMES 0x6803f857u
#define EXT_BITMAPS       0x23852875u
#define EXT_CRYPTO        0x0537be77u
#define EXT_DATA_FILE     0x44415441u

#define L1E_OFFSET_MASK  0x00fffffffffffe00ull
#define L1E_RESERVED     0x7f000000000001ffull
#define L2E_OFFSET_MASK  0x00fffffffffffe00ull
#define L2E_RESERVED     0x3f000000000001feull
#define RTE_OFFSET_MASK  0xfffffffffffffe00ull
#define RTE_RESERVED     0x1ffull
#define OFLAG_COPIED     (1ull << 63)
#define OFLAG_COMPRESSED (1ull << 62)
#define OFLAG_ZERO       1ull

#define MAX_L1_BYTES     (32ull << 20) /* as QEMU: larger tables are refused */
#define MAX_RT_BYTES     (8ull << 20)
#define MAX_HOST_OFFSET  (1ull << 56) /* what an L2 entry can address */
#define MAX_VIRTUAL_SIZE (1ull << 56)
#define MAX_BACKING_NAME 1023u
#define MAX_ALLOC_RUN    256u /* clusters allocated for one write at most */

struct qcache_ent {
    uint64_t off; /* host offset of the cached table cluster, 0 = empty */
    uint64_t used;
    uint8_t *data;
};

/* A few metadata clusters (L2 tables or refcount blocks), least recently
 * used replaced first. Contents mirror the file (write-through). */
struct qcache {
    unsigned n;
    uint64_t tick;
    struct qcache_ent *e;
};

enum { C_UNALLOC, C_ZERO, C_DATA, C_BAD };

struct qcow2 {
    struct blk blk;
    int fd;
    pthread_mutex_t lock;
    unsigned version, cluster_bits, l2_bits, refcount_order, rb_shift;
    uint64_t cs, l2_entries, rb_entries;
    uint64_t size;      /* virtual size in bytes */
    uint64_t file_size; /* host file size as far as we know */
    uint64_t l1_offset, l1_size;
    uint64_t *l1; /* host byte order */
    uint64_t rt_offset, rt_clusters, rt_size;
    uint64_t *rt; /* host byte order */
    uint64_t incompat, compat, autoclear;
    uint32_t nb_snapshots;
    struct qcache l2c, rbc;
    uint64_t free_hint; /* no free cluster below this index (a hint) */
    struct blk *backing;
    uint64_t backing_size;
    char backing_name[MAX_BACKING_NAME + 1];
    char *backing_path;
    char backing_fmt[32];
    uint8_t *cow;   /* two clusters of scratch space */
    uint8_t *zeros; /* one cluster of zeros */
    uint64_t *old;  /* MAX_ALLOC_RUN saved L2 entries */
    int corrupt_reported;
    struct iovec iov[BLK_MAX_IOV + 2], iov2[BLK_MAX_IOV + 2];
};

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}
static uint64_t div_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

/* A corrupt table entry found at run time: report once, fail the request. */
static int corrupt(struct qcow2 *q, const char *fmt, ...)
{
    if (!q->corrupt_reported) {
        q->corrupt_reported = 1;
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        fprintf(stderr, "vmon: qcow2 image %s is corrupt: %s (request failed)\n", q->blk.path, msg);
    }
    return -EIO;
}

static void note_write(struct qcow2 *q, uint64_t off, uint64_t len)
{
    if (off + len > q->file_size) q->file_size = off + len;
}

static int pwrite_meta(struct qcow2 *q, uint64_t off, const void *buf, size_t len)
{
    int e = blk_pwrite_full(q->fd, off, buf, len);
    if (e == 0) note_write(q, off, len);
    return e;
}

/* Does [off, off+len) touch the header, the L1 table or the refcount table? */
static int overlaps_meta(const struct qcow2 *q, uint64_t off, uint64_t len)
{
    if (off < q->cs) return 1;
    uint64_t l1_end = q->l1_offset + q->l1_size * 8;
    if (q->l1_size && off < l1_end && off + len > q->l1_offset) return 1;
    uint64_t rt_end = q->rt_offset + q->rt_clusters * q->cs;
    if (off < rt_end && off + len > q->rt_offset) return 1;
    return 0;
}

/* A table cluster (L2 table or refcount block) offset from the image. */
static int table_ok(const struct qcow2 *q, uint64_t off)
{
    return off && !(off & (q->cs - 1)) && off <= q->file_size && q->file_size - off >= q->cs &&
           !overlaps_meta(q, off, q->cs);
}

/* ---- metadata cache ---- */

static int cache_init(struct qcache *c, unsigned n, uint64_t cs)
{
    c->n = n;
    c->tick = 0;
    c->e = calloc(n, sizeof(*c->e));
    if (!c->e) return -1;
    for (unsigned i = 0; i < n; i++)
        if (!(c->e[i].data = malloc(cs))) return -1;
    return 0;
}

static void cache_free(struct qcache *c)
{
    if (!c->e) return;
    for (unsigned i = 0; i < c->n; i++)
        free(c->e[i].data);
    free(c->e);
    c->e = NULL;
}

/* The table cluster at host offset off. fresh: a newly allocated cluster,
 * zeroed instead of read. NULL with *err on a read error. */
static uint8_t *cache_get(struct qcow2 *q, struct qcache *c, uint64_t off, int fresh, int *err)
{
    struct qcache_ent *victim = &c->e[0];
    for (unsigned i = 0; i < c->n; i++) {
        struct qcache_ent *e = &c->e[i];
        if (e->off == off) {
            e->used = ++c->tick;
            if (fresh) memset(e->data, 0, q->cs);
            return e->data;
        }
        if (e->off == 0 || (victim->off != 0 && e->used < victim->used)) victim = e;
    }
    victim->off = 0;
    if (fresh) {
        memset(victim->data, 0, q->cs);
    } else {
        int e = blk_pread_full(q->fd, off, victim->data, q->cs);
        if (e < 0) {
            *err = e;
            return NULL;
        }
    }
    victim->off = off;
    victim->used = ++c->tick;
    return victim->data;
}

/* ---- refcounts ---- */

static uint64_t rb_get(const uint8_t *rb, uint64_t i, unsigned order)
{
    switch (order) {
    case 0:
    case 1:
    case 2: {
        unsigned w = 1u << order, per = 8u >> order;
        return (rb[i / per] >> ((i % per) * w)) & ((1u << w) - 1);
    }
    case 3: return rb[i];
    case 4: return blk_be16(rb + 2 * i);
    case 5: return blk_be32(rb + 4 * i);
    default: return blk_be64(rb + 8 * i);
    }
}

/* Store v and return the byte range of the block that changed. */
static void rb_put(uint8_t *rb, uint64_t i, unsigned order, uint64_t v, uint64_t *boff,
                   unsigned *blen)
{
    switch (order) {
    case 0:
    case 1:
    case 2: {
        unsigned w = 1u << order, per = 8u >> order, sh = (unsigned)(i % per) * w;
        uint8_t mask = (uint8_t)(((1u << w) - 1) << sh);
        rb[i / per] = (uint8_t)((rb[i / per] & ~mask) | ((v << sh) & mask));
        *boff = i / per;
        *blen = 1;
        return;
    }
    case 3:
        rb[i] = (uint8_t)v;
        *boff = i;
        *blen = 1;
        return;
    case 4:
        blk_put_be16(rb + 2 * i, (uint16_t)v);
        *boff = 2 * i;
        *blen = 2;
        return;
    case 5:
        blk_put_be32(rb + 4 * i, (uint32_t)v);
        *boff = 4 * i;
        *blen = 4;
        return;
    default:
        blk_put_be64(rb + 8 * i, v);
        *boff = 8 * i;
        *blen = 8;
    }
}

/* The refcount block for table index rti: NULL with *err = 0 if none. */
static uint8_t *rb_load(struct qcow2 *q, uint64_t rti, uint64_t *rb_off, int *err)
{
    *err = 0;
    if (rti >= q->rt_size) return NULL;
    uint64_t off = q->rt[rti] & RTE_OFFSET_MASK;
    if (!off) return NULL;
    if (!table_ok(q, off)) {
        *err = corrupt(q, "refcount block %llu at 0x%llx is outside the image",
                       (unsigned long long)rti, (unsigned long long)off);
        return NULL;
    }
    *rb_off = off;
    return cache_get(q, &q->rbc, off, 0, err);
}

static int rc_get(struct qcow2 *q, uint64_t ci, uint64_t *val)
{
    uint64_t rb_off;
    int e;
    uint8_t *rb = rb_load(q, ci >> q->rb_shift, &rb_off, &e);
    if (!rb) {
        *val = 0;
        return e;
    }
    *val = rb_get(rb, ci & (q->rb_entries - 1), q->refcount_order);
    return 0;
}

/* Set the refcount of clusters [ci, ci+n); their refcount blocks exist. */
static int rc_set_range(struct qcow2 *q, uint64_t ci, uint64_t n, uint64_t val)
{
    while (n) {
        uint64_t rti = ci >> q->rb_shift, idx = ci & (q->rb_entries - 1);
        uint64_t k = min64(n, q->rb_entries - idx);
        uint64_t rb_off;
        int e;
        uint8_t *rb = rb_load(q, rti, &rb_off, &e);
        if (!rb)
            return e ? e : corrupt(q, "no refcount block for cluster %llu", (unsigned long long)ci);
        uint64_t lo = UINT64_MAX, hi = 0;
        for (uint64_t j = 0; j < k; j++) {
            uint64_t bo;
            unsigned bl;
            rb_put(rb, idx + j, q->refcount_order, val, &bo, &bl);
            if (bo < lo) lo = bo;
            if (bo + bl > hi) hi = bo + bl;
        }
        e = pwrite_meta(q, rb_off + lo, rb + lo, hi - lo);
        if (e) return e;
        ci += k;
        n -= k;
    }
    return 0;
}

/* Drop one reference to the cluster at host offset off. */
static int cluster_unref(struct qcow2 *q, uint64_t off)
{
    uint64_t ci = off >> q->cluster_bits, v;
    int e = rc_get(q, ci, &v);
    if (e) return e;
    if (v == 0)
        return corrupt(q, "freeing cluster 0x%llx with refcount 0", (unsigned long long)off);
    e = rc_set_range(q, ci, 1, v - 1);
    if (e == 0 && v == 1 && ci < q->free_hint) q->free_hint = ci;
    return e;
}

/* A cluster we may never hand out even if its refcount says free. */
static int cluster_reserved(const struct qcow2 *q, uint64_t ci)
{
    return overlaps_meta(q, ci << q->cluster_bits, q->cs);
}

/* First run of n free clusters at or after the hint. */
static int find_free(struct qcow2 *q, uint64_t n, uint64_t *start)
{
    uint64_t ci = q->free_hint ? q->free_hint : 1, run = 0, run_start = ci;
    uint64_t covered = q->rt_size << q->rb_shift;
    for (;;) {
        if (ci >= covered) { /* beyond the refcount table: all free */
            *start = run ? run_start : ci;
            return 0;
        }
        uint64_t v = 1;
        if (!cluster_reserved(q, ci)) {
            int e = rc_get(q, ci, &v);
            if (e) return e;
        }
        if (v == 0) {
            if (!run) run_start = ci;
            if (++run == n) {
                *start = run_start;
                return 0;
            }
        } else {
            run = 0;
        }
        ci++;
    }
}

/* Create the refcount block for table index rti inside the range it covers
 * (all free, as it has no block), avoiding the run being allocated. */
static int new_refblock(struct qcow2 *q, uint64_t rti, uint64_t ex_start, uint64_t ex_n)
{
    uint64_t first = rti << q->rb_shift, b = first;
    while (b < first + q->rb_entries &&
           (cluster_reserved(q, b) || (b >= ex_start && b < ex_start + ex_n)))
        b++;
    if (b >= first + q->rb_entries) return -ENOSPC;
    uint64_t off = b << q->cluster_bits;
    int e = 0;
    uint8_t *rb = cache_get(q, &q->rbc, off, 1, &e);
    if (!rb) return e;
    uint64_t bo;
    unsigned bl;
    rb_put(rb, b - first, q->refcount_order, 1, &bo, &bl);
    e = pwrite_meta(q, off, rb, q->cs);
    if (e) return e;
    uint8_t ent[8];
    blk_put_be64(ent, off);
    e = pwrite_meta(q, q->rt_offset + 8 * rti, ent, 8);
    if (e) return e;
    q->rt[rti] = off;
    return 0;
}

/* Grow the refcount table so that it has an entry rti. The new table and
 * the refcount blocks describing it go after everything in use; then the
 * header switches to it and the old table's clusters are freed. */
static int grow_refcount_table(struct qcow2 *q, uint64_t need_rti)
{
    uint64_t cs = q->cs, per = cs / 8, cb = q->cluster_bits;
    uint64_t covered = q->rt_size << q->rb_shift;
    uint64_t fend = div_up(q->file_size, cs);
    uint64_t E = covered > fend ? covered : fend;
    uint64_t entries = need_rti + 1 > q->rt_size * 2 ? need_rti + 1 : q->rt_size * 2;
    uint64_t r0 = E >> q->rb_shift, T = 0, k = 0, it;
    for (it = 0; it < 64; it++) {
        T = div_up(entries, per);
        uint64_t r1 = (E + T + k - 1) >> q->rb_shift;
        if (r1 + 1 > entries) {
            entries = r1 + 1;
            continue;
        }
        if (r1 - r0 + 1 != k) {
            k = r1 - r0 + 1;
            continue;
        }
        break;
    }
    if (it == 64 || T * cs > MAX_RT_BYTES || ((E + T + k) << cb) > MAX_HOST_OFFSET) return -EFBIG;
    uint64_t nsize = T * per;
    uint64_t *nrt = calloc(nsize, sizeof(uint64_t));
    uint8_t *buf = malloc(T * cs > cs ? T * cs : cs);
    if (!nrt || !buf) {
        free(nrt);
        free(buf);
        return -ENOMEM;
    }
    memcpy(nrt, q->rt, q->rt_size * sizeof(uint64_t));
    int e = 0;
    for (uint64_t j = 0; j < k && !e; j++) {
        uint64_t rti = r0 + j, first = rti << q->rb_shift;
        memset(buf, 0, cs);
        for (uint64_t c = E; c < E + T + k; c++) {
            if ((c >> q->rb_shift) != rti) continue;
            uint64_t bo;
            unsigned bl;
            rb_put(buf, c - first, q->refcount_order, 1, &bo, &bl);
        }
        nrt[rti] = (E + T + j) << cb;
        e = pwrite_meta(q, (E + T + j) << cb, buf, cs);
    }
    if (!e) {
        for (uint64_t i = 0; i < nsize; i++)
            blk_put_be64(buf + 8 * i, nrt[i]);
        e = pwrite_meta(q, E << cb, buf, T * cs);
    }
    if (!e && fdatasync(q->fd) < 0) e = -errno;
    if (!e) {
        uint8_t h[12];
        blk_put_be64(h, E << cb);
        blk_put_be32(h + 8, (uint32_t)T);
        e = pwrite_meta(q, H_RT_OFF, h, 12);
    }
    free(buf);
    if (e) {
        free(nrt);
        return e;
    }
    uint64_t old_off = q->rt_offset, old_n = q->rt_clusters;
    free(q->rt);
    q->rt = nrt;
    q->rt_size = nsize;
    q->rt_offset = E << cb;
    q->rt_clusters = T;
    e = rc_set_range(q, old_off >> cb, old_n, 0);
    if (!e && (old_off >> cb) < q->free_hint) q->free_hint = old_off >> cb;
    return e;
}

/* Allocate n contiguous clusters (refcount 1); *off is the first one's. */
static int alloc_clusters(struct qcow2 *q, uint64_t n, uint64_t *off)
{
    for (int tries = 0; tries < 16; tries++) {
        uint64_t start;
        int e = find_free(q, n, &start);
        if (e) return e;
        uint64_t last = start + n - 1;
        if (((last + 1) << q->cluster_bits) > MAX_HOST_OFFSET || last + 1 < start) return -ENOSPC;
        if ((last >> q->rb_shift) >= q->rt_size) {
            e = grow_refcount_table(q, last >> q->rb_shift);
            if (e) return e;
            continue; /* the new table took space: look again */
        }
        for (uint64_t rti = start >> q->rb_shift; rti <= last >> q->rb_shift; rti++) {
            if (q->rt[rti] & RTE_OFFSET_MASK) continue;
            e = new_refblock(q, rti, start, n);
            if (e) return e;
        }
        e = rc_set_range(q, start, n, 1);
        if (e) return e;
        q->free_hint = start + n;
        *off = start << q->cluster_bits;
        return 0;
    }
    return -EIO;
}

/* ---- L1/L2 ---- */

static int classify(struct qcow2 *q, uint64_t ent, uint64_t *host)
{
    *host = 0;
    if (ent & OFLAG_COMPRESSED) return C_BAD;
    if (ent & L2E_RESERVED) return C_BAD;
    uint64_t off = ent & L2E_OFFSET_MASK;
    if (off & (q->cs - 1)) return C_BAD;
    if (ent & OFLAG_ZERO) {
        if (q->version < 3) return C_BAD;
        if (off && (off >= q->file_size || overlaps_meta(q, off, q->cs))) return C_BAD;
        *host = off; /* a preallocated zero cluster keeps its space */
        return C_ZERO;
    }
    if (!off) return C_UNALLOC;
    if (off >= q->file_size || overlaps_meta(q, off, q->cs)) return C_BAD;
    *host = off;
    return C_DATA;
}

static const char *bad_entry_why(struct qcow2 *q, uint64_t ent)
{
    if (ent & OFLAG_COMPRESSED) return "compressed cluster (not supported)";
    if (ent & L2E_RESERVED) return "reserved bits set in an L2 entry";
    if ((ent & OFLAG_ZERO) && q->version < 3) return "zero flag in a version 2 image";
    if ((ent & L2E_OFFSET_MASK) & (q->cs - 1)) return "unaligned cluster offset";
    return "cluster offset outside the image or on its metadata";
}

/* The L2 table for L1 index l1i: *tab = NULL if unallocated (and !alloc). */
static int l2_load(struct qcow2 *q, uint64_t l1i, int alloc, uint8_t **tab, uint64_t *tab_off)
{
    *tab = NULL;
    if (l1i >= q->l1_size) return corrupt(q, "L1 table too small");
    uint64_t ent = q->l1[l1i], off = ent & L1E_OFFSET_MASK;
    int e = 0;
    if (ent & L1E_RESERVED)
        return corrupt(q, "L1 entry %llu has reserved bits set", (unsigned long long)l1i);
    if (!off) {
        if (!alloc) return 0;
        e = alloc_clusters(q, 1, &off);
        if (e) return e;
        uint8_t *t = cache_get(q, &q->l2c, off, 1, &e);
        if (!t) return e;
        e = pwrite_meta(q, off, t, q->cs);
        uint8_t b[8];
        blk_put_be64(b, off | OFLAG_COPIED);
        if (!e) e = pwrite_meta(q, q->l1_offset + 8 * l1i, b, 8);
        if (e) return e;
        q->l1[l1i] = off | OFLAG_COPIED;
        *tab = t;
        *tab_off = off;
        return 0;
    }
    if (!table_ok(q, off))
        return corrupt(q, "L2 table at 0x%llx is outside the image", (unsigned long long)off);
    if (alloc && !(ent & OFLAG_COPIED)) {
        uint64_t rc;
        e = rc_get(q, off >> q->cluster_bits, &rc);
        if (e) return e;
        if (rc != 1)
            return corrupt(q, "L2 table at 0x%llx has refcount %llu (want 1)",
                           (unsigned long long)off, (unsigned long long)rc);
        uint8_t b[8];
        blk_put_be64(b, off | OFLAG_COPIED);
        e = pwrite_meta(q, q->l1_offset + 8 * l1i, b, 8);
        if (e) return e;
        q->l1[l1i] = off | OFLAG_COPIED;
    }
    uint8_t *t = cache_get(q, &q->l2c, off, 0, &e);
    if (!t) return e;
    *tab = t;
    *tab_off = off;
    return 0;
}

static uint64_t l2_ent(const uint8_t *tab, uint64_t i)
{
    return blk_be64(tab + 8 * i);
}

/* Read [v, v+len) of the backing file into iov: zeros past its end. */
static int read_backing(struct qcow2 *q, uint64_t v, const struct iovec *iov, int cnt, size_t len)
{
    if (!q->backing || v >= q->backing_size) {
        iov_memset(iov, cnt, 0, 0, len);
        return 0;
    }
    size_t in = (size_t)min64(len, q->backing_size - v);
    if (in < len) iov_memset(iov, cnt, in, 0, len - in);
    if (in == len) return blk_readv(q->backing, v, iov, cnt);
    int n = iov_slice(iov, cnt, 0, in, q->iov2, BLK_MAX_IOV + 2);
    if (n < 0) return -EINVAL;
    return blk_readv(q->backing, v, q->iov2, n);
}

/* What a cluster held before a write allocates it: bytes [in, in+len) of
 * virtual cluster vci whose L2 entry was ent (unallocated or zero). */
static int old_content(struct qcow2 *q, uint64_t ent, uint64_t vci, uint64_t in, uint8_t *buf,
                       size_t len)
{
    if (!len) return 0;
    uint64_t host;
    if (classify(q, ent, &host) == C_ZERO) {
        memset(buf, 0, len);
        return 0;
    }
    struct iovec v = {buf, len};
    return read_backing(q, (vci << q->cluster_bits) + in, &v, 1, len);
}

static int do_readv(struct qcow2 *q, uint64_t off, const struct iovec *iov, int cnt, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        uint64_t v = off + pos, vci = v >> q->cluster_bits, in = v & (q->cs - 1);
        uint64_t l1i = vci >> q->l2_bits, l2i = vci & (q->l2_entries - 1);
        uint8_t *tab;
        uint64_t toff, host = 0, n = 1;
        int e = l2_load(q, l1i, 0, &tab, &toff);
        if (e) return e;
        uint64_t want = len - pos;
        uint64_t maxn = min64(q->l2_entries - l2i, div_up(in + want, q->cs));
        int kind;
        if (!tab) {
            kind = C_UNALLOC;
            n = maxn;
        } else {
            uint64_t ent = l2_ent(tab, l2i);
            kind = classify(q, ent, &host);
            if (kind == C_BAD)
                return corrupt(q, "%s at virtual offset 0x%llx", bad_entry_why(q, ent),
                               (unsigned long long)(vci << q->cluster_bits));
            while (n < maxn) {
                uint64_t h2;
                int k2 = classify(q, l2_ent(tab, l2i + n), &h2);
                if (k2 != kind || (kind == C_DATA && h2 != host + n * q->cs)) break;
                n++;
            }
        }
        size_t bytes = (size_t)min64(n * q->cs - in, want);
        int sn = iov_slice(iov, cnt, pos, bytes, q->iov, BLK_MAX_IOV + 2);
        if (sn < 0) return -EINVAL;
        if (kind == C_ZERO)
            iov_memset(q->iov, sn, 0, 0, bytes);
        else if (kind == C_UNALLOC)
            e = read_backing(q, v, q->iov, sn, bytes);
        else
            e = blk_preadv_full(q->fd, host + in, q->iov, sn);
        if (e) return e;
        pos += bytes;
    }
    return 0;
}

/* Write data to a run of clusters that are already ours (in place). */
static int write_in_place(struct qcow2 *q, uint8_t *tab, uint64_t toff, uint64_t l2i, uint64_t maxn,
                          uint64_t in, const struct iovec *iov, int cnt, size_t pos, size_t want,
                          size_t *done)
{
    uint64_t ent = l2_ent(tab, l2i), host;
    classify(q, ent, &host);
    if (!(ent & OFLAG_COPIED)) {
        /* Without internal snapshots every cluster has refcount 1; fix the
         * flag if a writer forgot it, refuse to write a shared cluster. */
        uint64_t rc;
        int e = rc_get(q, host >> q->cluster_bits, &rc);
        if (e) return e;
        if (rc != 1)
            return corrupt(q, "data cluster 0x%llx has refcount %llu (want 1)",
                           (unsigned long long)host, (unsigned long long)rc);
        uint8_t b[8];
        blk_put_be64(b, ent | OFLAG_COPIED);
        e = pwrite_meta(q, toff + 8 * l2i, b, 8);
        if (e) return e;
        memcpy(tab + 8 * l2i, b, 8);
    }
    uint64_t n = 1;
    while (n < maxn) {
        uint64_t e2 = l2_ent(tab, l2i + n), h2;
        if (classify(q, e2, &h2) != C_DATA || h2 != host + n * q->cs || !(e2 & OFLAG_COPIED)) break;
        n++;
    }
    size_t bytes = (size_t)min64(n * q->cs - in, want);
    int sn = iov_slice(iov, cnt, pos, bytes, q->iov, BLK_MAX_IOV + 2);
    if (sn < 0) return -EINVAL;
    int e = blk_pwritev_full(q->fd, host + in, q->iov, sn);
    if (e) return e;
    note_write(q, host + in, bytes);
    *done = bytes;
    return 0;
}

/* Allocate a run of clusters for a write: copy what the write does not
 * cover from the old contents, write everything in one go, then point the
 * L2 entries at it and release preallocated zero clusters replaced. */
static int write_alloc(struct qcow2 *q, uint8_t *tab, uint64_t toff, uint64_t l2i, uint64_t vci,
                       uint64_t maxn, uint64_t in, const struct iovec *iov, int cnt, size_t pos,
                       size_t want, size_t *done)
{
    uint64_t n = 1, host;
    if (maxn > MAX_ALLOC_RUN) maxn = MAX_ALLOC_RUN;
    while (n < maxn) {
        int k = classify(q, l2_ent(tab, l2i + n), &host);
        if (k != C_UNALLOC && k != C_ZERO) break;
        n++;
    }
    size_t bytes = (size_t)min64(n * q->cs - in, want);
    size_t head = (size_t)in, tail = (size_t)(n * q->cs - in - bytes);
    uint64_t noff;
    int e = alloc_clusters(q, n, &noff);
    if (e) return e;
    int k = 0;
    if (head) {
        e = old_content(q, l2_ent(tab, l2i), vci, 0, q->cow, head);
        q->iov[k].iov_base = q->cow;
        q->iov[k].iov_len = head;
        k++;
    }
    int sn = e ? 0 : iov_slice(iov, cnt, pos, bytes, q->iov + k, BLK_MAX_IOV);
    if (sn < 0) e = -EINVAL;
    k += sn;
    if (tail && !e) {
        e = old_content(q, l2_ent(tab, l2i + n - 1), vci + n - 1, q->cs - tail, q->cow + q->cs,
                        tail);
        q->iov[k].iov_base = q->cow + q->cs;
        q->iov[k].iov_len = tail;
        k++;
    }
    if (!e) e = blk_pwritev_full(q->fd, noff, q->iov, k);
    if (e) {
        rc_set_range(q, noff >> q->cluster_bits, n, 0);
        if ((noff >> q->cluster_bits) < q->free_hint) q->free_hint = noff >> q->cluster_bits;
        return e;
    }
    note_write(q, noff, n * q->cs);
    for (uint64_t j = 0; j < n; j++) {
        q->old[j] = l2_ent(tab, l2i + j);
        blk_put_be64(tab + 8 * (l2i + j), (noff + j * q->cs) | OFLAG_COPIED);
    }
    e = pwrite_meta(q, toff + 8 * l2i, tab + 8 * l2i, 8 * n);
    if (e) return e;
    for (uint64_t j = 0; j < n && !e; j++) {
        uint64_t h;
        if (classify(q, q->old[j], &h) == C_ZERO && h) e = cluster_unref(q, h);
    }
    *done = bytes;
    return e;
}

static int do_writev(struct qcow2 *q, uint64_t off, const struct iovec *iov, int cnt, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        uint64_t v = off + pos, vci = v >> q->cluster_bits, in = v & (q->cs - 1);
        uint64_t l1i = vci >> q->l2_bits, l2i = vci & (q->l2_entries - 1);
        uint8_t *tab;
        uint64_t toff, host;
        int e = l2_load(q, l1i, 1, &tab, &toff);
        if (e) return e;
        size_t want = len - pos, done = 0;
        uint64_t maxn = min64(q->l2_entries - l2i, div_up(in + want, q->cs));
        uint64_t ent = l2_ent(tab, l2i);
        int kind = classify(q, ent, &host);
        if (kind == C_BAD)
            return corrupt(q, "%s at virtual offset 0x%llx", bad_entry_why(q, ent),
                           (unsigned long long)(vci << q->cluster_bits));
        if (kind == C_DATA)
            e = write_in_place(q, tab, toff, l2i, maxn, in, iov, cnt, pos, want, &done);
        else
            e = write_alloc(q, tab, toff, l2i, vci, maxn, in, iov, cnt, pos, want, &done);
        if (e) return e;
        pos += done;
    }
    return 0;
}

/* Write zero bytes through the normal write path (partial clusters, v2). */
static int write_zero_bytes(struct qcow2 *q, uint64_t off, uint64_t len)
{
    struct iovec z[64];
    while (len) {
        int k = 0;
        uint64_t chunk = 0;
        while (k < 64 && chunk < len) {
            z[k].iov_base = q->zeros;
            z[k].iov_len = (size_t)min64(q->cs, len - chunk);
            chunk += z[k].iov_len;
            k++;
        }
        int e = do_writev(q, off, z, k, (size_t)chunk);
        if (e) return e;
        off += chunk;
        len -= chunk;
    }
    return 0;
}

/* Change the L2 entries of whole clusters [fc, lc) for discard (zero = 0)
 * or write-zeroes (zero = 1): unallocated or zero entries, and the data
 * clusters behind them released (unless keep: write-zeroes without unmap
 * keeps the space as a preallocated zero cluster). */
static int zap_clusters(struct qcow2 *q, uint64_t fc, uint64_t lc, int zero, int keep)
{
    uint64_t vci = fc;
    while (vci < lc) {
        uint64_t l1i = vci >> q->l2_bits, l2i = vci & (q->l2_entries - 1);
        uint64_t n = min64(q->l2_entries - l2i, lc - vci);
        if (n > MAX_ALLOC_RUN) n = MAX_ALLOC_RUN;
        /* A zero flag is needed where the backing file would show through. */
        int want_zero = q->version >= 3 && q->backing;
        uint8_t *tab;
        uint64_t toff;
        int e = l2_load(q, l1i, zero && want_zero, &tab, &toff);
        if (e) return e;
        if (!tab) {
            vci += n;
            continue;
        }
        uint64_t lo = UINT64_MAX, hi = 0;
        for (uint64_t j = 0; j < n; j++) {
            uint64_t ent = l2_ent(tab, l2i + j), host;
            q->old[j] = 0;
            int kind = classify(q, ent, &host);
            if (kind == C_BAD)
                return corrupt(q, "%s at virtual offset 0x%llx", bad_entry_why(q, ent),
                               (unsigned long long)((vci + j) << q->cluster_bits));
            uint64_t nent;
            if (kind == C_ZERO && (keep || !host)) continue;
            if (kind == C_UNALLOC && !want_zero) continue;
            if (kind == C_DATA && keep && (ent & OFLAG_COPIED)) {
                nent = host | OFLAG_COPIED | OFLAG_ZERO;
            } else {
                nent = want_zero ? OFLAG_ZERO : 0;
                q->old[j] = host;
            }
            if (nent == ent) continue;
            blk_put_be64(tab + 8 * (l2i + j), nent);
            if (j < lo) lo = j;
            if (j + 1 > hi) hi = j + 1;
        }
        if (lo < hi) {
            e = pwrite_meta(q, toff + 8 * (l2i + lo), tab + 8 * (l2i + lo), 8 * (hi - lo));
            if (e) return e;
        }
        for (uint64_t j = 0; j < n; j++) {
            if (!q->old[j]) continue;
            e = cluster_unref(q, q->old[j]);
            if (e) return e;
        }
        vci += n;
    }
    return 0;
}

/* Whole clusters inside [off, off+len): [*fc, *lc); the last partial
 * cluster counts as whole when the range reaches the end of the disk. */
static void whole_clusters(struct qcow2 *q, uint64_t off, uint64_t len, uint64_t *fc, uint64_t *lc)
{
    uint64_t end = off + len;
    *fc = div_up(off, q->cs);
    *lc = end == q->size ? div_up(end, q->cs) : end / q->cs;
}

/* ---- blk ops ---- */

static int check_range(struct qcow2 *q, uint64_t off, uint64_t len)
{
    return off <= q->size && len <= q->size - off ? 0 : -EINVAL;
}

static int q_readv(struct blk *b, uint64_t off, const struct iovec *iov, int cnt)
{
    struct qcow2 *q = (struct qcow2 *)b;
    size_t len = iov_total(iov, cnt);
    if (check_range(q, off, len)) return -EINVAL;
    pthread_mutex_lock(&q->lock);
    int e = do_readv(q, off, iov, cnt, len);
    pthread_mutex_unlock(&q->lock);
    return e;
}

static int q_writev(struct blk *b, uint64_t off, const struct iovec *iov, int cnt)
{
    struct qcow2 *q = (struct qcow2 *)b;
    size_t len = iov_total(iov, cnt);
    if (check_range(q, off, len)) return -EINVAL;
    pthread_mutex_lock(&q->lock);
    int e = do_writev(q, off, iov, cnt, len);
    pthread_mutex_unlock(&q->lock);
    return e;
}

static int q_flush(struct blk *b)
{
    struct qcow2 *q = (struct qcow2 *)b;
    /* metadata is written through: one fdatasync covers data and tables */
    return fdatasync(q->fd) < 0 ? -errno : 0;
}

static int q_discard(struct blk *b, uint64_t off, uint64_t len)
{
    struct qcow2 *q = (struct qcow2 *)b;
    if (check_range(q, off, len)) return -EINVAL;
    uint64_t fc, lc;
    whole_clusters(q, off, len, &fc, &lc);
    if (fc >= lc) return 0; /* discard is a hint: partial clusters stay */
    pthread_mutex_lock(&q->lock);
    int e = zap_clusters(q, fc, lc, 0, 0);
    pthread_mutex_unlock(&q->lock);
    return e;
}

static int q_write_zeroes(struct blk *b, uint64_t off, uint64_t len, int may_unmap)
{
    struct qcow2 *q = (struct qcow2 *)b;
    if (check_range(q, off, len)) return -EINVAL;
    uint64_t end = off + len, fc, lc;
    whole_clusters(q, off, len, &fc, &lc);
    pthread_mutex_lock(&q->lock);
    int e;
    if (q->version < 3 || fc >= lc) {
        e = write_zero_bytes(q, off, len);
    } else {
        e = 0;
        if (off < (fc << q->cluster_bits))
            e = write_zero_bytes(q, off, (fc << q->cluster_bits) - off);
        if (!e) e = zap_clusters(q, fc, lc, 1, !may_unmap);
        uint64_t lend = lc << q->cluster_bits;
        if (!e && lend < end) e = write_zero_bytes(q, lend, end - lend);
    }
    pthread_mutex_unlock(&q->lock);
    return e;
}

static uint64_t q_size(struct blk *b)
{
    return ((struct qcow2 *)b)->size;
}

static void q_destroy(struct qcow2 *q)
{
    blk_close(q->backing);
    cache_free(&q->l2c);
    cache_free(&q->rbc);
    free(q->l1);
    free(q->rt);
    free(q->cow);
    free(q->zeros);
    free(q->old);
    free(q->backing_path);
    free(q->blk.path);
    if (q->fd >= 0) close(q->fd);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static void q_close(struct blk *b)
{
    q_destroy((struct qcow2 *)b);
}

/* Data clusters allocated in this image (not its backing). */
static uint64_t count_allocated(struct qcow2 *q)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < q->l1_size; i++) {
        uint8_t *tab;
        uint64_t toff;
        if (l2_load(q, i, 0, &tab, &toff) || !tab) continue;
        for (uint64_t j = 0; j < q->l2_entries; j++) {
            uint64_t h;
            if (classify(q, l2_ent(tab, j), &h) == C_DATA) n++;
        }
    }
    return n;
}

static void q_info(struct blk *b, struct blk_info *info)
{
    struct qcow2 *q = (struct qcow2 *)b;
    pthread_mutex_lock(&q->lock);
    struct stat st;
    if (fstat(q->fd, &st) == 0) info->disk_size = (uint64_t)st.st_blocks * 512;
    info->version = (int)q->version;
    info->cluster_size = (uint32_t)q->cs;
    info->allocated = count_allocated(q) * q->cs;
    snprintf(info->backing, sizeof(info->backing), "%s", q->backing_name);
    snprintf(info->backing_path, sizeof(info->backing_path), "%s",
             q->backing_path ? q->backing_path : "");
    snprintf(info->backing_fmt, sizeof(info->backing_fmt), "%s",
             q->backing          ? q->backing->ops->name
             : q->backing_fmt[0] ? q->backing_fmt
                                 : "probed");
    info->dirty = (q->incompat & INCOMPAT_DIRTY) != 0;
    info->corrupt = (q->incompat & INCOMPAT_CORRUPT) != 0;
    pthread_mutex_unlock(&q->lock);
}

static const struct blk_ops qcow2_ops = {
    .name = "qcow2",
    .readv = q_readv,
    .writev = q_writev,
    .flush = q_flush,
    .discard = q_discard,
    .write_zeroes = q_write_zeroes,
    .size = q_size,
    .close = q_close,
    .info = q_info,
};

/* ---- open ---- */

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        int n_ = snprintf(err, errlen, "%s: ", path);                                              \
        if (n_ >= 0 && (size_t)n_ < errlen) snprintf(err + n_, errlen - (size_t)n_, __VA_ARGS__);  \
        goto fail;                                                                                 \
    } while (0)

/* Read a table of n 64-bit big-endian entries at off into host order. */
static int read_table(struct qcow2 *q, uint64_t off, uint64_t n, uint64_t **out)
{
    uint64_t *t = calloc(n ? n : 1, sizeof(uint64_t));
    if (!t) return -ENOMEM;
    if (n) {
        int e = blk_pread_full(q->fd, off, t, n * 8);
        if (e) {
            free(t);
            return e;
        }
        for (uint64_t i = 0; i < n; i++)
            t[i] = blk_be64((const uint8_t *)&t[i]);
    }
    *out = t;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Walk every L2 table once: unsupported or corrupt entries are refused
 * before the guest ever sees the disk. Beyond each entry's own checks
 * (classify), no two tables (L2 tables, refcount blocks) share a cluster,
 * no data cluster lies on a table (a guest write there would rewrite the
 * image's metadata), and for writing every table has a nonzero refcount
 * (else the allocator could hand its cluster out as data). */
static int scan_l2(struct qcow2 *q, int ro, char *msg, size_t msglen)
{
    uint64_t nmeta = 0;
    for (uint64_t i = 0; i < q->l1_size; i++)
        if (q->l1[i] & L1E_OFFSET_MASK) nmeta++;
    for (uint64_t i = 0; i < q->rt_size; i++)
        if (q->rt[i] & RTE_OFFSET_MASK) nmeta++;
    uint64_t *meta = malloc((nmeta ? nmeta : 1) * sizeof(uint64_t));
    if (!meta) {
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    uint64_t k = 0;
    for (uint64_t i = 0; i < q->l1_size; i++)
        if (q->l1[i] & L1E_OFFSET_MASK) meta[k++] = q->l1[i] & L1E_OFFSET_MASK;
    for (uint64_t i = 0; i < q->rt_size; i++)
        if (q->rt[i] & RTE_OFFSET_MASK) meta[k++] = q->rt[i] & RTE_OFFSET_MASK;
    qsort(meta, nmeta, sizeof(uint64_t), cmp_u64);
    int ret = -1;
    for (uint64_t i = 1; i < nmeta; i++) {
        if (meta[i] == meta[i - 1]) {
            snprintf(msg, msglen, "two metadata tables share the cluster at 0x%llx",
                     (unsigned long long)meta[i]);
            goto out;
        }
    }
    for (uint64_t i = 0; i < q->l1_size; i++) {
        uint64_t ent = q->l1[i], off = ent & L1E_OFFSET_MASK;
        if (ent & L1E_RESERVED) {
            snprintf(msg, msglen, "corrupt L1 table entry %llu (reserved bits set)",
                     (unsigned long long)i);
            goto out;
        }
        if (!off) continue;
        if (!table_ok(q, off)) {
            snprintf(msg, msglen, "L1 entry %llu points outside the image (0x%llx)",
                     (unsigned long long)i, (unsigned long long)off);
            goto out;
        }
        int e = 0;
        uint8_t *tab = cache_get(q, &q->l2c, off, 0, &e);
        if (!tab) {
            snprintf(msg, msglen, "cannot read L2 table at 0x%llx: %s", (unsigned long long)off,
                     strerror(-e));
            goto out;
        }
        for (uint64_t j = 0; j < q->l2_entries; j++) {
            uint64_t le = l2_ent(tab, j), h;
            uint64_t voff = ((i << q->l2_bits) + j) << q->cluster_bits;
            int kind = classify(q, le, &h);
            if (kind != C_BAD) {
                if (h && bsearch(&h, meta, nmeta, sizeof(uint64_t), cmp_u64)) {
                    snprintf(msg, msglen,
                             "corrupt L2 entry for virtual offset 0x%llx: data cluster 0x%llx "
                             "is a metadata table",
                             (unsigned long long)voff, (unsigned long long)h);
                    goto out;
                }
                continue;
            }
            if (le & OFLAG_COMPRESSED)
                snprintf(msg, msglen,
                         "compressed clusters are not supported (virtual offset 0x%llx); "
                         "convert with 'qemu-img convert -O qcow2'",
                         (unsigned long long)voff);
            else
                snprintf(msg, msglen, "corrupt L2 entry for virtual offset 0x%llx: %s",
                         (unsigned long long)voff, bad_entry_why(q, le));
            goto out;
        }
    }
    for (uint64_t i = 0; i < nmeta && !ro; i++) {
        uint64_t rc;
        int e = rc_get(q, meta[i] >> q->cluster_bits, &rc);
        if (e || rc == 0) {
            snprintf(msg, msglen,
                     "metadata table at 0x%llx has %s; repair the image with "
                     "'qemu-img check -r all' or add ,ro",
                     (unsigned long long)meta[i], e ? "an unreadable refcount" : "refcount 0");
            goto out;
        }
    }
    ret = 0;
out:
    free(meta);
    return ret;
}

struct blk *qcow2_open_fd(int fd, const char *path, unsigned flags, struct blk_chain *chain,
                          char *err, size_t errlen)
{
    int ro = (flags & BLK_RDONLY) != 0;
    struct qcow2 *q = calloc(1, sizeof(*q));
    uint8_t *hdr = NULL;
    if (!q) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&q->lock, NULL);
    q->fd = fd;
    q->blk.ops = &qcow2_ops;
    q->blk.readonly = ro;
    if (!(q->blk.path = strdup(path))) FAIL("out of memory");
    struct stat st;
    if (fstat(fd, &st) < 0) FAIL("%s", strerror(errno));
    q->file_size = (uint64_t)st.st_size;
    if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &q->file_size) < 0)
        FAIL("cannot get the device size: %s", strerror(errno));
    uint8_t h[HDR_V3_LEN];
    memset(h, 0, sizeof(h));
    if (q->file_size < HDR_V2_LEN)
        FAIL("truncated qcow2 header (file is %llu bytes)", (unsigned long long)q->file_size);
    int e = blk_pread_full(fd, 0, h, sizeof(h));
    if (e) FAIL("cannot read the header: %s", strerror(-e));
    if (blk_be32(h + H_MAGIC) != QCOW2_MAGIC) FAIL("not a qcow2 image (bad magic)");
    q->version = blk_be32(h + H_VERSION);
    if (q->version != 2 && q->version != 3)
        FAIL("unsupported qcow2 version %u (want 2 or 3)", q->version);
    if (q->version == 3 && q->file_size < HDR_V3_LEN)
        FAIL("truncated qcow2 version 3 header (file is %llu bytes)",
             (unsigned long long)q->file_size);
    q->cluster_bits = blk_be32(h + H_CLUSTER_BITS);
    if (q->cluster_bits < 9 || q->cluster_bits > 21)
        FAIL("unsupported cluster size 2^%u (want 512 bytes to 2 MiB)", q->cluster_bits);
    q->cs = 1ull << q->cluster_bits;
    q->l2_bits = q->cluster_bits - 3;
    q->l2_entries = q->cs / 8;
    if (blk_be32(h + H_CRYPT) != 0) FAIL("encrypted qcow2 images are not supported");
    q->size = blk_be64(h + H_SIZE);
    uint32_t header_len = HDR_V2_LEN;
    q->refcount_order = 4;
    if (q->version == 3) {
        q->incompat = blk_be64(h + H_INCOMPAT);
        q->compat = blk_be64(h + H_COMPAT);
        q->autoclear = blk_be64(h + H_AUTOCLEAR);
        q->refcount_order = blk_be32(h + H_REFCOUNT_ORDER);
        header_len = blk_be32(h + H_HEADER_LEN);
        if (header_len < HDR_V3_LEN || header_len > q->cs) FAIL("bad header length %u", header_len);
    }
    if (q->refcount_order > 6) FAIL("bad refcount order %u (at most 6)", q->refcount_order);
    if (q->incompat & INCOMPAT_DATA_FILE) FAIL("external data files are not supported");
    if (q->incompat & INCOMPAT_EXTL2) FAIL("extended L2 entries (subclusters) are not supported");
    uint64_t unknown = q->incompat & ~(INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_COMPRESSION);
    if (unknown) FAIL("unsupported incompatible feature bits 0x%llx", (unsigned long long)unknown);
    if (!ro && (q->incompat & INCOMPAT_DIRTY))
        FAIL("image was not closed cleanly (dirty flag); repair it with 'qemu-img check -r all'");
    if (!ro && (q->incompat & INCOMPAT_CORRUPT))
        FAIL("image is marked corrupt; repair it with 'qemu-img check -r all' or add ,ro");
    q->rb_shift = q->cluster_bits + 3 - q->refcount_order;
    q->rb_entries = 1ull << q->rb_shift;

    if (q->size > MAX_VIRTUAL_SIZE)
        FAIL("virtual size %llu is too large", (unsigned long long)q->size);
    q->l1_size = blk_be32(h + H_L1_SIZE);
    q->l1_offset = blk_be64(h + H_L1_OFF);
    uint64_t l1_need = div_up(q->size, q->cs * q->l2_entries);
    if (q->l1_size < l1_need)
        FAIL("L1 table (%llu entries) too small for the virtual size (needs %llu)",
             (unsigned long long)q->l1_size, (unsigned long long)l1_need);
    if (q->l1_size * 8 > MAX_L1_BYTES)
        FAIL("L1 table too large (%llu entries)", (unsigned long long)q->l1_size);
    if (q->l1_size && ((q->l1_offset & (q->cs - 1)) || q->l1_offset == 0 ||
                       q->l1_offset > q->file_size || q->l1_size * 8 > q->file_size - q->l1_offset))
        FAIL("L1 table offset 0x%llx is outside the file or unaligned",
             (unsigned long long)q->l1_offset);
    q->rt_offset = blk_be64(h + H_RT_OFF);
    q->rt_clusters = blk_be32(h + H_RT_CLUSTERS);
    if (q->rt_clusters == 0 || q->rt_clusters * q->cs > MAX_RT_BYTES)
        FAIL("bad refcount table size (%llu clusters)", (unsigned long long)q->rt_clusters);
    if ((q->rt_offset & (q->cs - 1)) || q->rt_offset == 0 || q->rt_offset > q->file_size ||
        q->rt_clusters * q->cs > q->file_size - q->rt_offset)
        FAIL("refcount table offset 0x%llx is outside the file or unaligned",
             (unsigned long long)q->rt_offset);
    q->rt_size = q->rt_clusters * q->cs / 8;
    if (q->l1_size && q->l1_offset < q->rt_offset + q->rt_clusters * q->cs &&
        q->rt_offset < q->l1_offset + q->l1_size * 8)
        FAIL("the L1 table and the refcount table overlap");
    q->nb_snapshots = blk_be32(h + H_NB_SNAPSHOTS);
    if (!ro && q->nb_snapshots)
        FAIL("image has %u internal snapshots; vmon can only use it read-only (add ,ro)",
             q->nb_snapshots);

    /* The first cluster: header extensions and the backing file name. */
    size_t hlen = (size_t)min64(q->cs, q->file_size);
    hdr = calloc(1, q->cs);
    if (!hdr) FAIL("out of memory");
    e = blk_pread_full(fd, 0, hdr, hlen);
    if (e) FAIL("cannot read the header: %s", strerror(-e));
    uint64_t boff = blk_be64(hdr + H_BACKING_OFF);
    uint32_t bsize = blk_be32(hdr + H_BACKING_SIZE);
    uint64_t ext_end = boff ? boff : q->cs;
    if (ext_end > q->cs) ext_end = q->cs;
    for (uint64_t p = header_len; p + 8 <= ext_end;) {
        uint32_t type = blk_be32(hdr + p), len = blk_be32(hdr + p + 4);
        if (type == EXT_END) break;
        if (len > ext_end - p - 8) FAIL("corrupt header extension 0x%x (length %u)", type, len);
        const uint8_t *data = hdr + p + 8;
        switch (type) {
        case EXT_BACKING_FMT:
            if (len == 0 || len >= sizeof(q->backing_fmt)) FAIL("bad backing format extension");
            memcpy(q->backing_fmt, data, len);
            q->backing_fmt[len] = 0;
            break;
        case EXT_CRYPTO: FAIL("encrypted qcow2 images are not supported");
        case EXT_DATA_FILE: FAIL("external data files are not supported");
        default: break; /* feature names, bitmaps, unknown: ignored */
        }
        p += 8 + ((uint64_t)len + 7) / 8 * 8;
    }
    if (boff) {
        if (bsize == 0 || bsize > MAX_BACKING_NAME || boff >= q->cs || bsize > q->cs - boff)
            FAIL("bad backing file name (offset %llu, length %u)", (unsigned long long)boff, bsize);
        memcpy(q->backing_name, hdr + boff, bsize);
        q->backing_name[bsize] = 0;
        if (strlen(q->backing_name) != bsize) FAIL("backing file name contains a NUL byte");
    }

    e = read_table(q, q->l1_offset, q->l1_size, &q->l1);
    if (e) FAIL("cannot read the L1 table: %s", strerror(-e));
    e = read_table(q, q->rt_offset, q->rt_size, &q->rt);
    if (e) FAIL("cannot read the refcount table: %s", strerror(-e));
    for (uint64_t i = 0; i < q->rt_size; i++) {
        uint64_t off = q->rt[i] & RTE_OFFSET_MASK;
        if ((q->rt[i] & RTE_RESERVED) || (off && !table_ok(q, off)))
            FAIL("corrupt refcount table entry %llu (0x%llx)", (unsigned long long)i,
                 (unsigned long long)q->rt[i]);
    }
    unsigned ncache = (unsigned)min64(64, (8ull << 20) >> q->cluster_bits);
    if (ncache < 4) ncache = 4;
    unsigned nrb = (unsigned)min64(16, (2ull << 20) >> q->cluster_bits);
    if (nrb < 2) nrb = 2;
    q->cow = malloc(2 * q->cs);
    q->zeros = calloc(1, q->cs);
    q->old = calloc(MAX_ALLOC_RUN, sizeof(uint64_t));
    if (!q->cow || !q->zeros || !q->old || cache_init(&q->l2c, ncache, q->cs) < 0 ||
        cache_init(&q->rbc, nrb, q->cs) < 0)
        FAIL("out of memory");
    char msg[256];
    if (scan_l2(q, ro, msg, sizeof(msg)) < 0) FAIL("%s", msg);

    if ((flags & BLK_NOBACKING) && !ro) FAIL("BLK_NOBACKING needs BLK_RDONLY");
    if (q->backing_name[0]) {
        enum blk_format bf = BLK_FMT_PROBE;
        if (q->backing_fmt[0] && blk_parse_format(q->backing_fmt, &bf) < 0)
            FAIL("unsupported backing file format '%s'", q->backing_fmt);
        q->backing_path = blk_resolve_backing(path, q->backing_name);
        if (!q->backing_path) FAIL("out of memory");
    }
    if (q->backing_path && !(flags & BLK_NOBACKING)) {
        enum blk_format bf = BLK_FMT_PROBE;
        if (q->backing_fmt[0]) blk_parse_format(q->backing_fmt, &bf);
        char berr[512];
        q->backing = blk_open_chain(q->backing_path, bf, BLK_RDONLY | (flags & BLK_NOLOCK), chain,
                                    berr, sizeof(berr));
        if (!q->backing) {
            /* Deeper in a chain, pass the innermost reason up unchanged
             * (it names its file), so that the message stays readable. */
            if (chain->depth > 1) {
                snprintf(err, errlen, "%s", berr);
                goto fail;
            }
            FAIL("backing file: %s", berr);
        }
        q->backing_size = blk_size(q->backing);
    }
    if (!ro && q->autoclear) {
        /* We do not maintain what these describe (e.g. dirty bitmaps). */
        uint8_t z[8] = {0};
        e = pwrite_meta(q, H_AUTOCLEAR, z, 8);
        if (e) FAIL("cannot update the header: %s", strerror(-e));
        q->autoclear = 0;
    }
    q->free_hint = 1;
    q->blk.discard_align = (uint32_t)q->cs;
    free(hdr);
    return &q->blk;
fail:
    free(hdr);
    q_destroy(q);
    return NULL;
}

/* ---- create ---- */

int qcow2_create(const char *path, uint64_t size, unsigned cluster_bits, const char *backing,
                 const char *backing_fmt, char *err, size_t errlen)
{
    if (cluster_bits < 9 || cluster_bits > 21) {
        snprintf(err, errlen, "cluster size 2^%u unsupported (want 512 bytes to 2 MiB)",
                 cluster_bits);
        return -1;
    }
    uint64_t cs = 1ull << cluster_bits, l2e = cs / 8;
    if (size > MAX_VIRTUAL_SIZE) {
        snprintf(err, errlen, "size %llu too large", (unsigned long long)size);
        return -1;
    }
    uint64_t l1_size = div_up(size, cs * l2e);
    if (l1_size * 8 > MAX_L1_BYTES) {
        snprintf(err, errlen, "size too large for the cluster size");
        return -1;
    }
    uint64_t L = div_up(l1_size * 8, cs);
    if (L == 0) L = 1;
    uint64_t rb_entries = cs * 8 / 16; /* refcount_order 4 */
    uint64_t R = 1, B = 1;
    for (;;) {
        uint64_t total = 1 + R + B + L;
        uint64_t B2 = div_up(total, rb_entries), R2 = div_up(B2 * 8, cs);
        if (B2 == B && R2 == R) break;
        B = B2;
        R = R2;
    }
    uint64_t total = 1 + R + B + L;
    if (R * cs > MAX_RT_BYTES) {
        snprintf(err, errlen, "size too large for the cluster size");
        return -1;
    }
    uint8_t *buf = calloc(1, cs * (R > B ? R : B));
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* header */
    blk_put_be32(buf + H_MAGIC, QCOW2_MAGIC);
    blk_put_be32(buf + H_VERSION, 3);
    blk_put_be32(buf + H_CLUSTER_BITS, cluster_bits);
    blk_put_be64(buf + H_SIZE, size);
    blk_put_be32(buf + H_L1_SIZE, (uint32_t)l1_size);
    blk_put_be64(buf + H_L1_OFF, (1 + R + B) * cs);
    blk_put_be64(buf + H_RT_OFF, cs);
    blk_put_be32(buf + H_RT_CLUSTERS, (uint32_t)R);
    blk_put_be32(buf + H_REFCOUNT_ORDER, 4);
    blk_put_be32(buf + H_HEADER_LEN, HDR_CREATE_LEN);
    uint64_t p = HDR_CREATE_LEN;
    if (backing) {
        size_t flen = strlen(backing_fmt), blen = strlen(backing);
        uint64_t need = p + 8 + (flen + 7) / 8 * 8 + 8 + blen;
        if (blen == 0 || blen > MAX_BACKING_NAME || need > cs) {
            snprintf(err, errlen, "backing file name '%s' is too long", backing);
            free(buf);
            return -1;
        }
        blk_put_be32(buf + p, EXT_BACKING_FMT);
        blk_put_be32(buf + p + 4, (uint32_t)flen);
        memcpy(buf + p + 8, backing_fmt, flen);
        p += 8 + (flen + 7) / 8 * 8;
        p += 8; /* end of extensions (zeros) */
        memcpy(buf + p, backing, blen);
        blk_put_be64(buf + H_BACKING_OFF, p);
        blk_put_be32(buf + H_BACKING_SIZE, (uint32_t)blen);
    }
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(buf);
        return -1;
    }
    int e = blk_pwrite_full(fd, 0, buf, cs);
    /* refcount table: B refcount blocks right after it */
    memset(buf, 0, cs * R);
    for (uint64_t j = 0; j < B; j++)
        blk_put_be64(buf + 8 * j, (1 + R + j) * cs);
    if (!e) e = blk_pwrite_full(fd, cs, buf, cs * R);
    /* refcount blocks: every cluster of the new file has refcount 1 */
    memset(buf, 0, cs * B);
    for (uint64_t c = 0; c < total; c++)
        blk_put_be16(buf + 2 * c, 1);
    if (!e) e = blk_pwrite_full(fd, (1 + R) * cs, buf, cs * B);
    if (!e && ftruncate(fd, (off_t)(total * cs)) < 0) e = -errno;
    if (!e && fsync(fd) < 0) e = -errno;
    free(buf);
    close(fd);
    if (e) {
        snprintf(err, errlen, "%s: %s", path, strerror(-e));
        unlink(path);
        return -1;
    }
    return 0;
}

/* ---- vmon img check / resize ---- */

struct refs {
    uint32_t *n; /* expected references per host cluster */
    uint64_t clusters;
    uint64_t beyond; /* references past the end of the file */
};

static void ref_range(struct qcow2 *q, struct refs *r, uint64_t off, uint64_t len)
{
    if (!len) return;
    for (uint64_t ci = off >> q->cluster_bits; ci <= (off + len - 1) >> q->cluster_bits; ci++) {
        if (ci < r->clusters)
            r->n[ci]++;
        else
            r->beyond++;
    }
}

/* Count every reference the image's tables make, cluster by cluster. */
static int count_refs(struct qcow2 *q, struct refs *r)
{
    ref_range(q, r, 0, q->cs); /* header and its extensions */
    ref_range(q, r, q->l1_offset, q->l1_size * 8);
    ref_range(q, r, q->rt_offset, q->rt_clusters * q->cs);
    for (uint64_t i = 0; i < q->rt_size; i++)
        if (q->rt[i] & RTE_OFFSET_MASK) ref_range(q, r, q->rt[i] & RTE_OFFSET_MASK, q->cs);
    for (uint64_t i = 0; i < q->l1_size; i++) {
        uint64_t off = q->l1[i] & L1E_OFFSET_MASK;
        if (!off) continue;
        ref_range(q, r, off, q->cs);
        int e = 0;
        uint8_t *tab = cache_get(q, &q->l2c, off, 0, &e);
        if (!tab) return e ? e : -EIO;
        for (uint64_t j = 0; j < q->l2_entries; j++) {
            uint64_t h;
            int kind = classify(q, l2_ent(tab, j), &h);
            if (kind == C_BAD) return -EINVAL;
            if (h) ref_range(q, r, h, q->cs);
        }
    }
    return 0;
}

int qcow2_check(struct blk *b, int repair, FILE *out, struct blk_check *res)
{
    struct qcow2 *q = (struct qcow2 *)b;
    memset(res, 0, sizeof(*res));
    if (q->nb_snapshots) {
        fprintf(out, "images with internal snapshots are not checked by vmon "
                     "(use qemu-img check)\n");
        return -ENOTSUP;
    }
    struct stat st;
    if (fstat(q->fd, &st) < 0) return -errno;
    struct refs r = {.clusters = div_up((uint64_t)st.st_size, q->cs)};
    r.n = calloc(r.clusters ? r.clusters : 1, sizeof(uint32_t));
    if (!r.n) return -ENOMEM;
    pthread_mutex_lock(&q->lock);
    int e = count_refs(q, &r);
    if (e) {
        fprintf(out, "cannot walk the image's tables: %s\n", strerror(-e));
        res->errors++;
        goto out;
    }
    if (r.beyond) {
        fprintf(out, "ERROR %llu references point past the end of the file\n",
                (unsigned long long)r.beyond);
        res->errors += r.beyond;
    }
    /* Every cluster a refcount block covers: the file's, and any past it. */
    uint64_t covered = q->rt_size * q->rb_entries;
    for (uint64_t ci = 0; ci < covered || ci < r.clusters; ci++) {
        uint64_t want = ci < r.clusters ? r.n[ci] : 0, have = 0;
        if ((ci >> q->rb_shift) < q->rt_size && rc_get(q, ci, &have) < 0) have = 0;
        if (have == want) continue;
        if (have < want) {
            fprintf(out, "ERROR cluster %llu refcount=%llu reference=%llu\n",
                    (unsigned long long)ci, (unsigned long long)have, (unsigned long long)want);
            res->errors++;
            continue;
        }
        if (repair) {
            e = rc_set_range(q, ci, 1, want);
            if (e) {
                fprintf(out, "ERROR cannot repair cluster %llu: %s\n", (unsigned long long)ci,
                        strerror(-e));
                res->errors++;
                continue;
            }
            if (want == 0 && ci < q->free_hint) q->free_hint = ci;
            fprintf(out, "Repairing cluster %llu refcount=%llu reference=%llu\n",
                    (unsigned long long)ci, (unsigned long long)have, (unsigned long long)want);
            res->repaired++;
        } else {
            fprintf(out, "Leaked cluster %llu refcount=%llu reference=%llu\n",
                    (unsigned long long)ci, (unsigned long long)have, (unsigned long long)want);
            res->leaks++;
        }
    }
    if (repair && res->repaired && fdatasync(q->fd) < 0) e = -errno;
out:
    pthread_mutex_unlock(&q->lock);
    free(r.n);
    res->clusters = r.clusters;
    return e;
}

/* Grow the L1 table to need entries: in place when its clusters have room,
 * else into newly allocated clusters, header switched over, old ones freed. */
static int grow_l1(struct qcow2 *q, uint64_t need)
{
    uint64_t *l1 = realloc(q->l1, need * sizeof(uint64_t));
    if (!l1) return -ENOMEM;
    memset(l1 + q->l1_size, 0, (need - q->l1_size) * sizeof(uint64_t));
    q->l1 = l1;
    uint64_t old_cl = div_up(q->l1_size * 8, q->cs), new_cl = div_up(need * 8, q->cs);
    uint64_t off = q->l1_offset;
    if (new_cl > old_cl || !q->l1_size) {
        int e = alloc_clusters(q, new_cl, &off);
        if (e) return e;
    }
    uint8_t *buf = calloc(new_cl, q->cs);
    if (!buf) return -ENOMEM;
    for (uint64_t i = 0; i < need; i++)
        blk_put_be64(buf + 8 * i, l1[i]);
    int e = pwrite_meta(q, off, buf, new_cl * q->cs);
    free(buf);
    if (!e && fdatasync(q->fd) < 0) e = -errno;
    if (e) return e;
    uint8_t h[12];
    blk_put_be32(h, (uint32_t)need);
    blk_put_be64(h + 4, off);
    e = pwrite_meta(q, H_L1_SIZE, h, 12);
    if (e) return e;
    uint64_t old_off = q->l1_offset, old_size = q->l1_size;
    q->l1_offset = off;
    q->l1_size = need;
    if (off != old_off && old_size)
        for (uint64_t i = 0; i < old_cl && !e; i++)
            e = cluster_unref(q, old_off + i * q->cs);
    return e;
}

int qcow2_resize(struct blk *b, uint64_t size, char *err, size_t errlen)
{
    struct qcow2 *q = (struct qcow2 *)b;
    if (b->readonly) return snprintf(err, errlen, "image is read-only"), -EROFS;
    if (q->nb_snapshots)
        return snprintf(err, errlen, "images with internal snapshots cannot be resized"), -ENOTSUP;
    if (size < q->size)
        return snprintf(err, errlen, "qcow2 images can only grow (shrinking would lose data)"),
               -EINVAL;
    if (size > MAX_VIRTUAL_SIZE || (size & 511))
        return snprintf(err, errlen, "size must be a multiple of 512 and below 2^56"), -EINVAL;
    pthread_mutex_lock(&q->lock);
    uint64_t need = div_up(size, q->cs * q->l2_entries);
    int e = 0;
    if (need * 8 > MAX_L1_BYTES) e = -EFBIG;
    if (!e && need > q->l1_size) e = grow_l1(q, need);
    if (!e) {
        uint8_t h[8];
        blk_put_be64(h, size);
        e = pwrite_meta(q, H_SIZE, h, 8);
    }
    if (!e) q->size = size;
    if (!e && fdatasync(q->fd) < 0) e = -errno;
    pthread_mutex_unlock(&q->lock);
    if (e) snprintf(err, errlen, "%s", strerror(-e));
    return e;
}
