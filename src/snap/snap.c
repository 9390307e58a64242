/* Snapshot file format: record buffers, the file's header and checks, and
 * the RAM image (see snap.h). */
#include "snap/snap.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define PAGE        4096u
#define STATE_MAX   (64u << 20) /* far more than any machine's state */
#define REC_HDR     16u
#define HDR_CRC_OFF 72u

/* ---- writing records ---- */

void snap_w_init(struct snap_w *w)
{
    memset(w, 0, sizeof(*w));
    w->rec = SIZE_MAX;
}

void snap_w_free(struct snap_w *w)
{
    free(w->buf);
    snap_w_init(w);
}

void snap_put(struct snap_w *w, const void *p, size_t n)
{
    if (w->oom || !n) return; /* p may be NULL then (an empty config space) */
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *b = realloc(w->buf, cap);
        if (!b) {
            w->oom = 1;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void le_put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le_get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void snap_u8(struct snap_w *w, uint8_t v)
{
    snap_put(w, &v, 1);
}

void snap_u32(struct snap_w *w, uint32_t v)
{
    uint8_t b[4];
    le_put(b, v, 4);
    snap_put(w, b, 4);
}

void snap_u64(struct snap_w *w, uint64_t v)
{
    uint8_t b[8];
    le_put(b, v, 8);
    snap_put(w, b, 8);
}

void snap_str(struct snap_w *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    snap_u32(w, (uint32_t)n);
    snap_put(w, s, n);
}

void snap_begin(struct snap_w *w, uint32_t tag, uint32_t instance)
{
    w->rec = w->len;
    snap_u32(w, tag);
    snap_u32(w, instance);
    snap_u64(w, 0); /* length, set by snap_end */
}

void snap_end(struct snap_w *w)
{
    if (w->rec == SIZE_MAX || w->oom) return;
    le_put(w->buf + w->rec + 8, w->len - w->rec - REC_HDR, 8);
    w->rec = SIZE_MAX;
}

/* ---- reading records ---- */

int snap_fail(struct snap_r *r, const char *fmt, ...)
{
    if (!r->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, sizeof(r->err), fmt, ap);
        va_end(ap);
    }
    return -1;
}

int snap_get(struct snap_r *r, void *p, size_t n)
{
    if (!n) return 1;
    if (r->err[0] || n > r->len - r->pos) {
        snap_fail(r, "record ends early");
        memset(p, 0, n);
        return 0;
    }
    memcpy(p, r->p + r->pos, n);
    r->pos += n;
    return 1;
}

uint8_t snap_get_u8(struct snap_r *r)
{
    uint8_t v;
    snap_get(r, &v, 1);
    return v;
}

uint32_t snap_get_u32(struct snap_r *r)
{
    uint8_t b[4];
    snap_get(r, b, 4);
    return (uint32_t)le_get(b, 4);
}

uint64_t snap_get_u64(struct snap_r *r)
{
    uint8_t b[8];
    snap_get(r, b, 8);
    return le_get(b, 8);
}

int snap_get_str(struct snap_r *r, char *out, size_t max)
{
    uint32_t n = snap_get_u32(r);
    out[0] = 0;
    if (r->err[0]) return -1;
    if (n >= max || n > r->len - r->pos) return snap_fail(r, "string of %u bytes too long", n);
    snap_get(r, out, n);
    out[n] = 0;
    if (memchr(out, 0, n)) return snap_fail(r, "string with a NUL byte");
    return 0;
}

int snap_done(struct snap_r *r)
{
    if (!r->err[0] && r->pos != r->len)
        snap_fail(r, "%zu unexpected bytes at the end of the record", r->len - r->pos);
    return r->err[0] ? -1 : 0;
}

/* ---- the file ---- */

static int write_all(int fd, const void *p, size_t n, uint64_t off)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t k = pwrite(fd, b, n > (1u << 30) ? (1u << 30) : n, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        b += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

static int page_is_zero(const uint8_t *p)
{
    const uint64_t *q = (const uint64_t *)(const void *)p;
    for (unsigned i = 0; i < PAGE / 8; i += 4)
        if (q[i] | q[i + 1] | q[i + 2] | q[i + 3]) return 0;
    return 1;
}

/* RAM at off: runs of non-zero pages written, zero pages left as holes. */
static int write_ram(int fd, const uint8_t *ram, const uint8_t *touched, uint64_t size,
                     uint64_t off, uint64_t *pages)
{
    uint64_t run = 0, n = 0;
    for (uint64_t p = 0; p <= size; p += PAGE) {
        int data = p < size && (!touched || touched[p / PAGE]) && !page_is_zero(ram + p);
        if (data) {
            n++;
            continue;
        }
        if (p > run && write_all(fd, ram + run, (size_t)(p - run), off + run) < 0) return -1;
        run = p + PAGE;
    }
    *pages = n;
    return ftruncate(fd, (off_t)(off + size));
}

static uint64_t align_page(uint64_t v)
{
    return (v + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

int snap_write_fd(int fd, const char *name, const struct snap_w *state, const uint8_t *ram,
                  const uint8_t *touched, uint64_t ram_base, uint64_t ram_size, char *err,
                  size_t errlen)
{
    if (state->oom) {
        snprintf(err, errlen, "out of memory building the snapshot");
        return -1;
    }
    uint8_t hdr[SNAP_HDR_SIZE] = {0};
    uint64_t ram_off = align_page(SNAP_HDR_SIZE + state->len), pages = 0;
    memcpy(hdr, SNAP_MAGIC, 8);
    le_put(hdr + 8, SNAP_VERSION, 4);
    le_put(hdr + 12, SNAP_HDR_SIZE, 4);
    le_put(hdr + 16, SNAP_HDR_SIZE, 8);
    le_put(hdr + 24, state->len, 8);
    le_put(hdr + 32, crc32(0, state->buf, (uInt)state->len), 4);
    le_put(hdr + 36, PAGE, 4);
    le_put(hdr + 40, ram_base, 8);
    le_put(hdr + 48, ram_size, 8);
    le_put(hdr + 56, ram_off, 8);
    /* Empty first: the pages not written are holes that read as zeros. */
    errno = 0;
    int bad = ftruncate(fd, 0) < 0 || write_all(fd, state->buf, state->len, SNAP_HDR_SIZE) < 0 ||
              write_ram(fd, ram, touched, ram_size, ram_off, &pages) < 0;
    le_put(hdr + 64, pages, 8);
    le_put(hdr + HDR_CRC_OFF, crc32(0, hdr, HDR_CRC_OFF), 4);
    /* The header last, after the data is on disk: a torn write leaves a
     * file that fails its checks rather than a wrong one. */
    bad = bad || fdatasync(fd) < 0 || write_all(fd, hdr, sizeof(hdr), 0) < 0 || fdatasync(fd) < 0;
    if (bad) snprintf(err, errlen, "writing %s: %s", name, strerror(errno ? errno : EIO));
    return bad ? -1 : 0;
}

int snap_write_file(const char *path, const struct snap_w *state, const uint8_t *ram,
                    const uint8_t *touched, uint64_t ram_base, uint64_t ram_size, char *err,
                    size_t errlen)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        snprintf(err, errlen, "snapshot path too long");
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", tmp, strerror(e));
        errno = e; /* the caller may explain a refusal */
        return -1;
    }
    int bad = snap_write_fd(fd, tmp, state, ram, touched, ram_base, ram_size, err, errlen) < 0;
    if (close(fd) < 0 && !bad) {
        snprintf(err, errlen, "writing %s: %s", tmp, strerror(errno));
        bad = 1;
    }
    if (!bad && rename(tmp, path) < 0) {
        snprintf(err, errlen, "renaming %s to %s: %s", tmp, path, strerror(errno));
        bad = 1;
    }
    if (bad) unlink(tmp);
    return bad ? -1 : 0;
}

static int check_records(const uint8_t *p, size_t len, char *err, size_t errlen)
{
    size_t pos = 0;
    while (pos < len) {
        if (len - pos < REC_HDR || le_get(p + pos + 8, 8) > len - pos - REC_HDR) {
            snprintf(err, errlen, "corrupt snapshot: a state record at byte %zu overruns the state",
                     pos);
            return -1;
        }
        pos += REC_HDR + (size_t)le_get(p + pos + 8, 8);
    }
    return 0;
}

static int check_header(struct snap_file *f, const uint8_t *h, const char *path, char *err,
                        size_t errlen)
{
    if (memcmp(h, SNAP_MAGIC, 8)) {
        snprintf(err, errlen, "%s is not a vmon snapshot (bad magic)", path);
        return -1;
    }
    uint32_t ver = (uint32_t)le_get(h + 8, 4);
    if (ver != SNAP_VERSION) {
        snprintf(err, errlen, "%s: snapshot format version %u, this vmon reads version %u", path,
                 ver, SNAP_VERSION);
        return -1;
    }
    if (le_get(h + HDR_CRC_OFF, 4) != crc32(0, h, HDR_CRC_OFF)) {
        snprintf(err, errlen, "%s: corrupt snapshot header (checksum mismatch)", path);
        return -1;
    }
    uint64_t soff = le_get(h + 16, 8), slen = le_get(h + 24, 8);
    f->ram_base = le_get(h + 40, 8);
    f->ram_size = le_get(h + 48, 8);
    f->ram_off = le_get(h + 56, 8);
    if (le_get(h + 12, 4) != SNAP_HDR_SIZE || soff != SNAP_HDR_SIZE || slen > STATE_MAX ||
        le_get(h + 36, 4) != PAGE || f->ram_off != align_page(soff + slen) ||
        (f->ram_size & (PAGE - 1)) || f->ram_size == 0 || f->ram_size > (1ull << 40)) {
        snprintf(err, errlen, "%s: corrupt snapshot header (impossible layout)", path);
        return -1;
    }
    if (f->size != f->ram_off + f->ram_size) {
        snprintf(err, errlen,
                 "%s: snapshot is %llu bytes, its header says %llu (truncated or "
                 "overwritten)",
                 path, (unsigned long long)f->size, (unsigned long long)(f->ram_off + f->ram_size));
        return -1;
    }
    f->state_len = (size_t)slen;
    return 0;
}

int snap_open(struct snap_file *f, const char *path, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (f->fd < 0 || fstat(f->fd, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        snap_close(f);
        return -1;
    }
    f->size = (uint64_t)st.st_size;
    uint8_t hdr[SNAP_HDR_SIZE];
    if (!S_ISREG(st.st_mode) || f->size < SNAP_HDR_SIZE ||
        pread(f->fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
        snprintf(err, errlen, "%s is not a vmon snapshot (%s)", path,
                 S_ISREG(st.st_mode) ? "too short for a header" : "not a regular file");
        snap_close(f);
        return -1;
    }
    if (check_header(f, hdr, path, err, errlen) < 0) {
        snap_close(f);
        return -1;
    }
    uint32_t crc = (uint32_t)le_get(hdr + 32, 4);
    f->state = malloc(f->state_len ? f->state_len : 1);
    if (!f->state || pread(f->fd, f->state, f->state_len, SNAP_HDR_SIZE) != (ssize_t)f->state_len) {
        snprintf(err, errlen, "%s: cannot read the snapshot's state", path);
        snap_close(f);
        return -1;
    }
    if (crc32(0, f->state, (uInt)f->state_len) != crc) {
        snprintf(err, errlen, "%s: corrupt snapshot (state checksum mismatch)", path);
        snap_close(f);
        return -1;
    }
    if (check_records(f->state, f->state_len, err, errlen) < 0) {
        snap_close(f);
        return -1;
    }
    return 0;
}

int snap_from_state(struct snap_file *f, uint8_t *state, size_t len, uint64_t ram_base,
                    uint64_t ram_size, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    if (check_records(state, len, err, errlen) < 0) {
        free(state);
        return -1;
    }
    f->state = state;
    f->state_len = len;
    f->ram_base = ram_base;
    f->ram_size = ram_size;
    return 0;
}

void snap_close(struct snap_file *f)
{
    if (f->fd >= 0) close(f->fd);
    free(f->state);
    f->fd = -1;
    f->state = NULL;
}

int snap_find(const struct snap_file *f, uint32_t tag, uint32_t instance, struct snap_r *r)
{
    size_t pos = 0;
    while (pos + REC_HDR <= f->state_len) {
        const uint8_t *h = f->state + pos;
        size_t len = (size_t)le_get(h + 8, 8);
        if (le_get(h, 4) == tag && le_get(h + 4, 4) == instance) {
            memset(r, 0, sizeof(*r));
            r->p = h + REC_HDR;
            r->len = len;
            return 0;
        }
        pos += REC_HDR + len;
    }
    return -1;
}

int snap_map_ram(const struct snap_file *f, uint8_t *ram, char *err, size_t errlen)
{
    void *m = mmap(ram, f->ram_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, f->fd, (off_t)f->ram_off);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "mapping the snapshot's RAM: %s", strerror(errno));
        return -1;
    }
    return 0;
}
