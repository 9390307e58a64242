/* qcow2 (and raw) block backends: random reads, writes, write-zeroes and
 * discards at odd byte offsets crossing clusters, checked against an
 * in-memory model; backing chains (raw and qcow2, shorter than the
 * overlay); persistence across reopen; refcount table growth; images made
 * by qemu-img (refcount widths, version 2); corrupt metadata refused at
 * open or failing the request at run time. Where qemu-img is installed,
 * every image vmon wrote must pass `qemu-img check` and `qemu-img compare`
 * against the model. */
#include "check.h"
#include "backend/block.h"
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct check_ctx c;
static char dir[] = "/tmp/vmon-qcow2-XXXXXX";
static int have_qemu_img;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const char *path_of(const char *name)
{
    static char buf[8][512];
    static unsigned k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int r = system(cmd);
    return r == -1 ? -1 : WEXITSTATUS(r);
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || blk_pwrite_full(fd, 0, data, len) < 0) {
        perror(path);
        exit(1);
    }
    close(fd);
}

static int read_file(const char *path, void *data, size_t len, off_t off)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int e = blk_pread_full(fd, (uint64_t)off, data, len);
    close(fd);
    return e;
}

/* ---- the model: expected bytes, and bytes a discard left unspecified
 * (they must read as the old value or as zero) ---- */
struct model {
    uint64_t size;
    uint8_t *data, *loose;
};

static void model_init(struct model *m, uint64_t size, const uint8_t *init, uint64_t init_len)
{
    m->size = size;
    m->data = calloc(1, size);
    m->loose = calloc(1, size);
    if (init) memcpy(m->data, init, init_len < size ? init_len : size);
}

static void model_free(struct model *m)
{
    free(m->data);
    free(m->loose);
}

/* Read the whole disk through an iovec of odd pieces and compare. */
static int verify(struct blk *b, struct model *m, const char *what)
{
    uint8_t *got = malloc(m->size);
    struct iovec iov[7];
    uint64_t pos = 0;
    int bad = 0;
    while (pos < m->size && !bad) {
        uint64_t left = m->size - pos;
        int n = 0;
        uint64_t chunk = 0;
        while (n < 7 && chunk < left) {
            uint64_t l = 1 + rnd() % 100000;
            if (l > left - chunk) l = left - chunk;
            iov[n].iov_base = got + pos + chunk;
            iov[n].iov_len = l;
            chunk += l;
            n++;
        }
        int e = blk_readv(b, pos, iov, n);
        if (e) {
            CHECK(&c, 0, "%s: read at %llu failed: %s", what, (unsigned long long)pos,
                  strerror(-e));
            bad = 1;
        }
        pos += chunk;
    }
    for (uint64_t i = 0; i < m->size && !bad; i++) {
        if (got[i] == m->data[i]) continue;
        if (m->loose[i] && got[i] == 0) continue;
        CHECK(&c, 0, "%s: byte %llu is 0x%02x, want 0x%02x", what, (unsigned long long)i, got[i],
              m->data[i]);
        bad = 1;
    }
    if (!bad) {
        /* settle the unspecified bytes to what the image holds */
        memcpy(m->data, got, m->size);
        memset(m->loose, 0, m->size);
        c.passed++;
    }
    free(got);
    return !bad;
}

/* Random operations at byte offsets, crossing clusters. */
static void random_ops(struct blk *b, struct model *m, unsigned nops, uint64_t maxlen,
                       const char *what)
{
    uint8_t *buf = malloc(maxlen);
    int failed = 0;
    for (unsigned op = 0; op < nops && !failed; op++) {
        uint64_t off = rnd() % m->size;
        uint64_t len = 1 + rnd() % maxlen;
        if (rnd() % 4 == 0) off &= ~511ull; /* sometimes sector aligned */
        if (len > m->size - off) len = m->size - off;
        unsigned kind = (unsigned)(rnd() % 10);
        int e = 0;
        if (kind < 5) {
            for (uint64_t i = 0; i < len; i++)
                buf[i] = (uint8_t)rnd();
            /* split the buffer into up to three pieces */
            struct iovec iov[3];
            uint64_t a = len > 2 ? rnd() % len : 0, bb = a + (len - a > 1 ? rnd() % (len - a) : 0);
            int n = 0;
            if (a) iov[n++] = (struct iovec){buf, a};
            if (bb > a) iov[n++] = (struct iovec){buf + a, bb - a};
            iov[n++] = (struct iovec){buf + bb, len - bb};
            e = blk_writev(b, off, iov, n);
            if (!e) {
                memcpy(m->data + off, buf, len);
                memset(m->loose + off, 0, len);
            }
        } else if (kind < 7) {
            e = blk_read(b, off, buf, len);
            if (!e)
                for (uint64_t i = 0; i < len; i++)
                    if (buf[i] != m->data[off + i] && !(m->loose[off + i] && buf[i] == 0)) {
                        CHECK(&c, 0, "%s: op %u read at %llu+%llu differs", what, op,
                              (unsigned long long)off, (unsigned long long)i);
                        failed = 1;
                        break;
                    }
        } else if (kind < 9) {
            e = blk_write_zeroes(b, off, len, (int)(rnd() & 1));
            if (!e) {
                memset(m->data + off, 0, len);
                memset(m->loose + off, 0, len);
            }
        } else {
            e = blk_discard(b, off, len);
            if (!e) memset(m->loose + off, 1, len);
        }
        if (e) {
            CHECK(&c, 0, "%s: op %u (kind %u) at %llu len %llu failed: %s", what, op, kind,
                  (unsigned long long)off, (unsigned long long)len, strerror(-e));
            failed = 1;
        }
    }
    if (!failed) c.passed++;
    free(buf);
}

static struct blk *open_img(const char *path, unsigned flags)
{
    char err[512];
    struct blk *b = blk_open(path, BLK_FMT_PROBE, flags, err, sizeof(err));
    CHECK(&c, b != NULL, "open %s: %s", path, err);
    return b;
}

/* qemu-img check and compare against the model. */
static void qemu_cross_check(const char *img, struct model *m, const char *what)
{
    if (!have_qemu_img) return;
    CHECK_EQ(&c, sh("qemu-img check -q '%s'", img), 0);
    const char *raw = path_of("model.raw");
    write_file(raw, m->data, m->size);
    int r = sh("qemu-img compare -q -f qcow2 -F raw '%s' '%s'", img, raw);
    CHECK(&c, r == 0, "%s: qemu-img compare says %d", what, r);
    unlink(raw);
}

static void test_plain(unsigned cluster_bits, uint64_t size, unsigned nops)
{
    char what[64], err[512];
    snprintf(what, sizeof(what), "plain cb=%u", cluster_bits);
    const char *p = path_of("plain.qcow2");
    unlink(p);
    CHECK(&c,
          blk_create(p, BLK_FMT_QCOW2, size, NULL, BLK_FMT_PROBE, cluster_bits, err, sizeof(err)) ==
              0,
          "create: %s", err);
    struct blk *b = open_img(p, 0);
    if (!b) return;
    CHECK_EQ(&c, blk_size(b), size);
    struct model m;
    model_init(&m, size, NULL, 0);
    verify(b, &m, what);
    uint64_t cs = 1ull << cluster_bits;
    random_ops(b, &m, nops, 3 * cs + 777, what);
    verify(b, &m, what);
    /* out of range and read-only */
    uint8_t x[600] = {0};
    CHECK_EQ(&c, blk_write(b, size - 100, x, 200), -EINVAL);
    CHECK_EQ(&c, blk_read(b, size + 1, x, 1), -EINVAL);
    CHECK_EQ(&c, blk_read(b, UINT64_MAX - 10, x, 100), -EINVAL);
    CHECK_EQ(&c, blk_flush(b), 0);
    blk_close(b);
    /* persistence */
    b = open_img(p, BLK_RDONLY);
    if (b) {
        verify(b, &m, what);
        CHECK_EQ(&c, blk_write(b, 0, x, 512), -EROFS);
        CHECK_EQ(&c, blk_discard(b, 0, cs), -EROFS);
        struct blk_info info;
        blk_info(b, &info);
        CHECK(&c, !strcmp(info.format, "qcow2") && info.version == 3 && info.cluster_size == cs,
              "info %s v%d cs %u", info.format, info.version, info.cluster_size);
        blk_close(b);
    }
    qemu_cross_check(p, &m, what);
    model_free(&m);
}

/* raw <- mid.qcow2 <- top.qcow2, the backing files shorter than the top. */
static void test_backing(void)
{
    char err[512];
    const char *raw = path_of("base.raw"), *mid = path_of("mid.qcow2"), *top = path_of("top.qcow2");
    unlink(mid);
    unlink(top);
    uint64_t bsize = (2u << 20) + 777, msize = (3u << 20) + 1024, tsize = (4u << 20) + 512;
    uint8_t *bdata = malloc(bsize);
    for (uint64_t i = 0; i < bsize; i++)
        bdata[i] = (uint8_t)rnd();
    write_file(raw, bdata, bsize);
    /* mid: relative backing name, probed format recorded */
    CHECK(&c,
          blk_create(mid, BLK_FMT_QCOW2, msize, "base.raw", BLK_FMT_PROBE, 16, err, sizeof(err)) ==
              0,
          "create mid: %s", err);
    struct model m;
    model_init(&m, msize, bdata, bsize);
    struct blk *b = open_img(mid, 0);
    if (!b) return;
    struct blk_info info;
    blk_info(b, &info);
    CHECK(&c,
          !strcmp(info.backing, "base.raw") && !strcmp(info.backing_fmt, "raw") &&
              !strcmp(info.backing_path, raw),
          "backing info '%s' '%s' '%s'", info.backing, info.backing_fmt, info.backing_path);
    CHECK_EQ(&c, info.allocated, 0);
    verify(b, &m, "mid fresh");
    random_ops(b, &m, 150, 200000, "mid");
    verify(b, &m, "mid");
    blk_close(b);
    /* the base is untouched */
    uint8_t *now = malloc(bsize);
    CHECK(&c, read_file(raw, now, bsize, 0) == 0 && !memcmp(now, bdata, bsize),
          "backing file changed");
    qemu_cross_check(mid, &m, "mid");

    CHECK(&c,
          blk_create(top, BLK_FMT_QCOW2, tsize, "mid.qcow2", BLK_FMT_QCOW2, 12, err, sizeof(err)) ==
              0,
          "create top: %s", err);
    struct model t;
    model_init(&t, tsize, m.data, msize);
    b = open_img(top, 0);
    if (b) {
        verify(b, &t, "top fresh");
        random_ops(b, &t, 300, 20000, "top");
        verify(b, &t, "top");
        blk_close(b);
        b = open_img(top, BLK_RDONLY);
        if (b) {
            verify(b, &t, "top reopened");
            blk_close(b);
        }
        /* the mid image still reads as before */
        b = open_img(mid, BLK_RDONLY);
        if (b) {
            verify(b, &m, "mid after top");
            blk_close(b);
        }
        qemu_cross_check(top, &t, "top");
    }
    /* A mid image opened read-write while top uses it: the lock refuses. */
    struct blk *tb = open_img(top, 0), *mb = NULL;
    if (tb) {
        mb = blk_open(mid, BLK_FMT_PROBE, 0, err, sizeof(err));
        CHECK(&c, mb == NULL && strstr(err, "in use"), "backing opened rw while in use: %s", err);
        blk_close(mb);
        blk_close(tb);
    }
    free(now);
    free(bdata);
    model_free(&m);
    model_free(&t);
}

/* Small clusters: the refcount table must grow (several times). */
static void test_refcount_growth(void)
{
    char err[512];
    const char *p = path_of("grow.qcow2");
    unlink(p);
    uint64_t size = 48u << 20;
    CHECK(&c, blk_create(p, BLK_FMT_QCOW2, size, NULL, BLK_FMT_PROBE, 9, err, sizeof(err)) == 0,
          "create: %s", err);
    struct blk *b = open_img(p, 0);
    if (!b) return;
    struct model m;
    model_init(&m, size, NULL, 0);
    uint8_t *buf = malloc(1 << 20);
    int ok = 1;
    for (uint64_t off = 0; off < (40u << 20) && ok; off += 1 << 20) {
        for (unsigned i = 0; i < (1u << 20); i++)
            buf[i] = (uint8_t)rnd();
        /* a few holes so that allocation is not purely sequential */
        uint64_t len = (1 << 20) - (rnd() % 3) * 4096;
        int e = blk_write(b, off + 1000, buf, len);
        if (e) {
            CHECK(&c, 0, "write at %llu: %s", (unsigned long long)off, strerror(-e));
            ok = 0;
        }
        memcpy(m.data + off + 1000, buf, len);
    }
    if (ok) c.passed++;
    /* free some in the middle, then fill again: reuses freed clusters */
    CHECK_EQ(&c, blk_discard(b, 5u << 20, 8u << 20), 0);
    memset(m.loose + (5u << 20), 1, 8u << 20);
    random_ops(b, &m, 100, 300000, "grow");
    verify(b, &m, "grow");
    blk_close(b);
    struct stat st;
    stat(p, &st);
    CHECK(&c, st.st_size < (64ll << 20), "file is %lld bytes", (long long)st.st_size);
    qemu_cross_check(p, &m, "grow");
    free(buf);
    model_free(&m);
}

/* Images made by qemu-img with other refcount widths, and version 2. */
static void test_qemu_made(void)
{
    if (!have_qemu_img) {
        printf("SKIP qemu-made images: no qemu-img\n");
        return;
    }
    static const char *const opts[] = {"refcount_bits=1", "refcount_bits=8", "refcount_bits=64",
                                       "compat=0.10", "cluster_size=4096,refcount_bits=2"};
    for (unsigned i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        const char *p = path_of("qemu.qcow2");
        unlink(p);
        if (sh("qemu-img create -q -f qcow2 -o %s '%s' 5M", opts[i], p) != 0) {
            CHECK(&c, 0, "qemu-img create -o %s failed", opts[i]);
            continue;
        }
        struct blk *b = open_img(p, 0);
        if (!b) continue;
        struct model m;
        model_init(&m, 5u << 20, NULL, 0);
        random_ops(b, &m, 200, 150000, opts[i]);
        verify(b, &m, opts[i]);
        blk_close(b);
        qemu_cross_check(p, &m, opts[i]);
        model_free(&m);
    }
    /* data written by qemu reads back in vmon */
    const char *p = path_of("qemu-data.qcow2"), *raw = path_of("qemu-data.raw");
    unlink(p);
    uint64_t size = 3u << 20;
    uint8_t *data = malloc(size);
    for (uint64_t i = 0; i < size; i++)
        data[i] = (i / 65536) % 3 ? (uint8_t)rnd() : 0;
    write_file(raw, data, size);
    if (sh("qemu-img convert -f raw -O qcow2 '%s' '%s'", raw, p) == 0) {
        struct blk *b = open_img(p, BLK_RDONLY);
        struct model m;
        model_init(&m, size, data, size);
        if (b) {
            verify(b, &m, "qemu-made data");
            blk_close(b);
        }
        model_free(&m);
    }
    free(data);
}

/* ---- corrupt images ---- */

static uint64_t be64_at(const char *path, off_t off)
{
    uint8_t b[8] = {0};
    read_file(path, b, 8, off);
    return blk_be64(b);
}

static void poke64(const char *path, off_t off, uint64_t v)
{
    uint8_t b[8];
    blk_put_be64(b, v);
    int fd = open(path, O_WRONLY);
    if (fd >= 0) {
        blk_pwrite_full(fd, (uint64_t)off, b, 8);
        close(fd);
    }
}

static void poke32(const char *path, off_t off, uint32_t v)
{
    uint8_t b[4];
    blk_put_be32(b, v);
    int fd = open(path, O_WRONLY);
    if (fd >= 0) {
        blk_pwrite_full(fd, (uint64_t)off, b, 4);
        close(fd);
    }
}

/* Build the reference image: 1 GiB (two L1 entries), 64K clusters, two
 * clusters written. */
static const char *make_ref(void)
{
    char err[512];
    const char *p = path_of("ref.qcow2");
    unlink(p);
    if (blk_create(p, BLK_FMT_QCOW2, 1ull << 30, NULL, BLK_FMT_PROBE, 16, err, sizeof(err)) < 0)
        return NULL;
    struct blk *b = blk_open(p, BLK_FMT_PROBE, 0, err, sizeof(err));
    if (!b) return NULL;
    uint8_t x[4096];
    memset(x, 0xab, sizeof(x));
    blk_write(b, 0, x, sizeof(x));
    blk_write(b, 3u << 20, x, sizeof(x));
    blk_close(b);
    return p;
}

/* Apply a corruption to a copy of the reference image; opening it must
 * fail with a message containing want, and leave the file as it was. */
static void expect_refused(const char *name, const char *want, unsigned flags,
                           void (*corrupt_fn)(const char *path, const char *ref))
{
    const char *ref = make_ref();
    CHECK(&c, ref != NULL, "cannot make the reference image");
    if (!ref) return;
    const char *p = path_of("bad.qcow2");
    unlink(p);
    sh("cp '%s' '%s'", ref, p);
    corrupt_fn(p, ref);
    struct stat st;
    stat(p, &st);
    uint8_t *before = malloc((size_t)st.st_size), *after = malloc((size_t)st.st_size);
    read_file(p, before, (size_t)st.st_size, 0);
    char err[512] = "";
    struct blk *b = blk_open(p, BLK_FMT_PROBE, flags, err, sizeof(err));
    CHECK(&c, b == NULL, "%s: corrupt image accepted", name);
    CHECK(&c, strstr(err, want) != NULL, "%s: message '%s' lacks '%s'", name, err, want);
    blk_close(b);
    read_file(p, after, (size_t)st.st_size, 0);
    CHECK(&c, !memcmp(before, after, (size_t)st.st_size), "%s: refused image modified", name);
    free(before);
    free(after);
}

#define CS 65536u
static uint64_t l1_off(const char *p)
{
    return be64_at(p, 40);
}
static uint64_t rt_off(const char *p)
{
    return be64_at(p, 48);
}
static uint64_t l2_off(const char *p)
{
    return be64_at(p, (off_t)l1_off(p)) & 0x00fffffffffffe00ull;
}

static void c_l1_eof(const char *p, const char *r)
{
    poke64(p, (off_t)l1_off(p), (1ull << 63) | (1ull << 40));
}
static void c_l1_unaligned(const char *p, const char *r)
{
    poke64(p, (off_t)l1_off(p), (1ull << 63) | (l2_off(p) + 512));
}
static void c_l1_meta(const char *p, const char *r)
{
    poke64(p, (off_t)l1_off(p), (1ull << 63) | rt_off(p));
}
static void c_l2_eof(const char *p, const char *r)
{
    poke64(p, (off_t)l2_off(p), (1ull << 63) | (1ull << 40));
}
static void c_l2_unaligned(const char *p, const char *r)
{
    uint64_t e = be64_at(p, (off_t)l2_off(p));
    poke64(p, (off_t)l2_off(p), e + 512);
}
static void c_l2_on_header(const char *p, const char *r)
{
    poke64(p, (off_t)l2_off(p), (1ull << 63) | l1_off(p));
}
static void c_l2_compressed(const char *p, const char *r)
{
    poke64(p, (off_t)l2_off(p), (1ull << 62) | (l2_off(p) + CS));
}
static void c_l2_reserved(const char *p, const char *r)
{
    uint64_t e = be64_at(p, (off_t)l2_off(p));
    poke64(p, (off_t)l2_off(p), e | (1ull << 60));
}
static void c_rt_eof(const char *p, const char *r)
{
    poke64(p, (off_t)rt_off(p), 1ull << 40);
}
static void c_rt_unaligned(const char *p, const char *r)
{
    poke64(p, (off_t)rt_off(p), be64_at(p, (off_t)rt_off(p)) + 4096);
}
static void c_dirty(const char *p, const char *r)
{
    poke64(p, 72, 1);
}
static void c_hdr_len(const char *p, const char *r)
{
    poke32(p, 100, 1u << 20);
}
static void c_rc_order(const char *p, const char *r)
{
    poke32(p, 96, 7);
}
static void c_crypt(const char *p, const char *r)
{
    poke32(p, 32, 1);
}
static void c_backing_name(const char *p, const char *r)
{
    poke64(p, 8, CS - 4);
    poke32(p, 16, 100);
}
static void c_rt_clusters(const char *p, const char *r)
{
    poke32(p, 56, 0);
}
static void c_l1_small(const char *p, const char *r)
{
    poke32(p, 36, 0);
}
static void c_incompat(const char *p, const char *r)
{
    poke64(p, 72, 1ull << 40);
}
static void c_l1_on_rt(const char *p, const char *r)
{
    poke64(p, 40, rt_off(p));
}
static uint64_t rb_off(const char *p)
{
    return be64_at(p, (off_t)rt_off(p));
}
static void c_l2_self(const char *p, const char *r)
{
    poke64(p, (off_t)l2_off(p), (1ull << 63) | l2_off(p));
}
static void c_l2_on_refblock(const char *p, const char *r)
{
    poke64(p, (off_t)l2_off(p) + 8, (1ull << 63) | rb_off(p));
}
static void c_l1_on_refblock(const char *p, const char *r)
{
    poke64(p, (off_t)l1_off(p) + 8, (1ull << 63) | rb_off(p));
}
static void c_l1_twice(const char *p, const char *r)
{
    poke64(p, (off_t)l1_off(p) + 8, be64_at(p, (off_t)l1_off(p)));
}
static void c_l2_refcount0(const char *p, const char *r)
{
    uint8_t z[2] = {0, 0};
    int fd = open(p, O_WRONLY);
    if (fd >= 0) {
        blk_pwrite_full(fd, rb_off(p) + 2 * (l2_off(p) / CS), z, 2);
        close(fd);
    }
}

static void test_corrupt(void)
{
    expect_refused("L1 entry past EOF", "L1 entry 0 points outside the image", 0, c_l1_eof);
    expect_refused("L1 entry unaligned", "L1 entry 0 points outside the image", 0, c_l1_unaligned);
    expect_refused("L1 entry on the refcount table", "points outside the image", 0, c_l1_meta);
    expect_refused("L2 entry past EOF", "corrupt L2 entry for virtual offset 0x0", 0, c_l2_eof);
    expect_refused("L2 entry unaligned", "unaligned cluster offset", 0, c_l2_unaligned);
    expect_refused("L2 entry on the L1 table", "on its metadata", 0, c_l2_on_header);
    expect_refused("compressed cluster", "compressed clusters are not supported", BLK_RDONLY,
                   c_l2_compressed);
    expect_refused("L2 reserved bits", "reserved bits", 0, c_l2_reserved);
    expect_refused("refcount block past EOF", "corrupt refcount table entry 0", 0, c_rt_eof);
    expect_refused("refcount block unaligned", "corrupt refcount table entry 0", 0, c_rt_unaligned);
    expect_refused("dirty, read-write", "not closed cleanly", 0, c_dirty);
    expect_refused("header length", "bad header length", 0, c_hdr_len);
    expect_refused("refcount order", "bad refcount order 7", 0, c_rc_order);
    expect_refused("encryption", "encrypted", 0, c_crypt);
    expect_refused("backing name outside the cluster", "bad backing file name", 0, c_backing_name);
    expect_refused("no refcount table", "bad refcount table size", 0, c_rt_clusters);
    expect_refused("L1 too small", "too small for the virtual size", 0, c_l1_small);
    expect_refused("unknown incompatible feature", "unsupported incompatible feature", 0,
                   c_incompat);
    expect_refused("L1 table on the refcount table", "overlap", 0, c_l1_on_rt);
    expect_refused("data cluster on its own L2 table", "is a metadata table", 0, c_l2_self);
    expect_refused("data cluster on a refcount block", "is a metadata table", BLK_RDONLY,
                   c_l2_on_refblock);
    expect_refused("L2 table on a refcount block", "two metadata tables share", 0,
                   c_l1_on_refblock);
    expect_refused("one L2 table twice", "two metadata tables share", 0, c_l1_twice);
    expect_refused("L2 table with refcount 0", "has refcount 0", 0, c_l2_refcount0);
    /* ... which is fine for reading */
    const char *ref0 = make_ref();
    if (ref0) {
        c_l2_refcount0(ref0, NULL);
        struct blk *b = open_img(ref0, BLK_RDONLY);
        blk_close(b);
    }
    /* A dirty image opens read-only. */
    const char *ref = make_ref();
    if (ref) {
        c_dirty(ref, NULL);
        struct blk *b = open_img(ref, BLK_RDONLY);
        blk_close(b);
    }
}

/* An L2 table corrupted on disk while the image is open (after it left the
 * cache) fails the request with EIO; nothing crashes. */
static void test_runtime_corrupt(void)
{
    char err[512];
    const char *p = path_of("rt.qcow2");
    unlink(p);
    /* 512-byte clusters: an L2 table maps 32 KiB; 100 tables > the cache */
    CHECK_EQ(&c, blk_create(p, BLK_FMT_QCOW2, 4u << 20, NULL, BLK_FMT_PROBE, 9, err, sizeof(err)),
             0);
    struct blk *b = open_img(p, 0);
    if (!b) return;
    uint8_t x[512];
    memset(x, 0x5a, sizeof(x));
    for (unsigned i = 0; i < 100; i++)
        blk_write(b, (uint64_t)i * 32768, x, sizeof(x));
    uint64_t l2 = be64_at(p, (off_t)l1_off(p)) & 0x00fffffffffffe00ull;
    poke64(p, (off_t)l2, (1ull << 63) | (1ull << 40)); /* entry 0 of table 0 */
    uint8_t y[512];
    CHECK_EQ(&c, blk_read(b, 0, y, sizeof(y)), -EIO);
    CHECK_EQ(&c, blk_write(b, 0, x, sizeof(x)), -EIO);
    CHECK_EQ(&c, blk_read(b, 32768, y, sizeof(y)), 0);
    CHECK_EQ(&c, y[0], 0x5a);
    poke64(p, (off_t)l2, (1ull << 63) | 513); /* unaligned */
    for (unsigned i = 1; i < 100; i++)
        blk_read(b, (uint64_t)i * 32768, y, 1); /* evict */
    CHECK_EQ(&c, blk_read(b, 0, y, sizeof(y)), -EIO);
    blk_close(b);
}

/* Backing chains: too deep, and a loop through a symlink. */
static void test_chains(void)
{
    char err[512], name[64], prev[64];
    snprintf(prev, sizeof(prev), "c0.raw");
    CHECK_EQ(
        &c,
        blk_create(path_of(prev), BLK_FMT_RAW, 1u << 20, NULL, BLK_FMT_PROBE, 0, err, sizeof(err)),
        0);
    for (unsigned i = 1; i <= BLK_MAX_CHAIN; i++) {
        snprintf(name, sizeof(name), "c%u.qcow2", i);
        if (blk_create(path_of(name), BLK_FMT_QCOW2, 1u << 20, prev, BLK_FMT_PROBE, 16, err,
                       sizeof(err)) < 0)
            break; /* creation opens the chain below: stops once too deep */
        memcpy(prev, name, sizeof(prev));
    }
    /* c(BLK_MAX_CHAIN-1) has a chain of exactly BLK_MAX_CHAIN images */
    snprintf(name, sizeof(name), "c%u.qcow2", BLK_MAX_CHAIN - 1);
    struct blk *b = open_img(path_of(name), BLK_RDONLY);
    blk_close(b);
    snprintf(name, sizeof(name), "c%u.qcow2", BLK_MAX_CHAIN);
    sh("qemu-img create -q -f qcow2 -u -b c%u.qcow2 -F qcow2 '%s' 1M 2>/dev/null || "
       "cp '%s' '%s'",
       BLK_MAX_CHAIN - 1, path_of(name), path_of("c1.qcow2"), path_of(name));
    b = blk_open(path_of(name), BLK_FMT_PROBE, BLK_RDONLY, err, sizeof(err));
    if (have_qemu_img) {
        CHECK(&c, b == NULL && strstr(err, "deeper than"), "too deep a chain: %s", err);
    }
    blk_close(b);
    /* BLK_NOBACKING: read-only only; unallocated clusters read as zeros */
    b = blk_open(path_of("c1.qcow2"), BLK_FMT_PROBE, BLK_NOBACKING, err, sizeof(err));
    CHECK(&c, b == NULL, "BLK_NOBACKING accepted for writing");
    blk_close(b);
    b = blk_open(path_of("c1.qcow2"), BLK_FMT_PROBE, BLK_RDONLY | BLK_NOBACKING, err, sizeof(err));
    CHECK(&c, b != NULL, "BLK_NOBACKING: %s", err);
    if (b) {
        struct blk_info info;
        blk_info(b, &info);
        CHECK(&c, !strcmp(info.backing, "c0.raw") && !strcmp(info.backing_fmt, "raw"),
              "info without the backing open: '%s' '%s'", info.backing, info.backing_fmt);
        blk_close(b);
    }
    /* x -> y -> link-to-x */
    const char *x = path_of("x.qcow2"), *y = path_of("y.qcow2");
    unlink(x);
    unlink(y);
    CHECK_EQ(&c, blk_create(x, BLK_FMT_QCOW2, 1u << 20, NULL, BLK_FMT_PROBE, 16, err, sizeof(err)),
             0);
    CHECK_EQ(&c,
             blk_create(y, BLK_FMT_QCOW2, 1u << 20, "x.qcow2", BLK_FMT_QCOW2, 16, err, sizeof(err)),
             0);
    if (symlink("x.qcow2", path_of("xlink.qcow2")) == 0 && have_qemu_img) {
        sh("qemu-img rebase -q -u -f qcow2 -b y.qcow2 -F qcow2 '%s'", path_of("xlink.qcow2"));
        b = blk_open(y, BLK_FMT_PROBE, 0, err, sizeof(err));
        CHECK(&c, b == NULL && strstr(err, "backing file loop"), "loop: %s", err);
        blk_close(b);
    }
}

/* The raw backend: byte ranges, write-zeroes, discard, probe guard. */
static void test_raw(void)
{
    char err[512];
    const char *p = path_of("plain.raw");
    unlink(p);
    CHECK_EQ(&c, blk_create(p, BLK_FMT_RAW, 3u << 20, NULL, BLK_FMT_PROBE, 0, err, sizeof(err)), 0);
    struct blk *b = blk_open(p, BLK_FMT_RAW, 0, err, sizeof(err));
    CHECK(&c, b != NULL, "open raw: %s", err);
    if (!b) return;
    struct model m;
    model_init(&m, 3u << 20, NULL, 0);
    random_ops(b, &m, 200, 100000, "raw");
    verify(b, &m, "raw");
    blk_close(b);
    /* probed as raw: the guest may not write a qcow2 magic */
    b = open_img(p, 0);
    if (b) {
        CHECK_EQ(&c, blk_write(b, 0, "QFI\xfb", 4), -EPERM);
        CHECK_EQ(&c, blk_write(b, 2, "\xfb", 1), 0); /* other bytes are fine */
        blk_close(b);
    }
    model_free(&m);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    const char *seed = getenv("TEST_QCOW2_SEED"); /* to explore other sequences */
    if (seed && strtoull(seed, NULL, 0)) rng_state = strtoull(seed, NULL, 0);
    have_qemu_img = sh("qemu-img --version >/dev/null 2>&1") == 0;
    if (!have_qemu_img) printf("SKIP qemu-img cross-checks: qemu-img not found\n");
    test_plain(16, (5u << 20) + 1536, 300);
    test_plain(9, (1u << 20) + 512, 300);
    test_plain(21, 9u << 20, 60);
    test_backing();
    test_refcount_growth();
    test_qemu_made();
    test_corrupt();
    test_runtime_corrupt();
    test_chains();
    test_raw();
    sh("rm -rf '%s'", dir);
    return check_report(&c, "test_qcow2");
}
