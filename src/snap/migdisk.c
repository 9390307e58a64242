/* Disks copied by a live migration (migdisk.h). */
#include "snap/migdisk.h"
#include "backend/block.h"
#include "snap/migrate.h"
#include "snap/stream.h"
#include "virtio/devices.h"
#include "vmm/devcfg.h"
#include "vmm/vm.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FEW_CHUNKS 16u /* dirty chunks left for the paused copy (1 MiB) */

struct migdisk_src {
    struct vm *vm;
    int fd;
    struct migrate_stats *st;
    unsigned n;
    uint64_t *bits;
    size_t nwords;
    uint8_t *msg; /* one 'B' message */
};

static int chunk_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i]) return 0;
    return 1;
}

/* 'B' u32 disk u64 offset u32 length u8 zero, then the bytes unless zero. */
static int send_chunk(struct migdisk_src *s, unsigned d, uint64_t c)
{
    uint64_t size = virtio_blk_size(s->vm, d), off = c * BLK_CHUNK;
    if (off >= size) return 0;
    uint32_t len = (uint32_t)(size - off < BLK_CHUNK ? size - off : BLK_CHUNK);
    uint8_t *h = s->msg, *data = s->msg + 18;
    if (virtio_blk_read_at(s->vm, d, off, data, len) < 0) {
        errno = EIO;
        return -1;
    }
    int zero = chunk_zero(data, len);
    h[0] = 'B';
    put_le(h + 1, d, 4);
    put_le(h + 5, off, 8);
    put_le(h + 13, len, 4);
    h[17] = (uint8_t)zero;
    size_t n = 18 + (zero ? 0 : len);
    s->st->bytes += n;
    return send_all(s->fd, s->msg, n);
}

struct migdisk_src *migdisk_src_start(struct vm *vm, int fd, struct migrate_stats *st, char *err,
                                      size_t errlen)
{
    struct migdisk_src *s = calloc(1, sizeof(*s));
    uint64_t most = 0;
    for (unsigned d = 0; d < vm->ndisks; d++)
        if (virtio_blk_size(vm, d) > most) most = virtio_blk_size(vm, d);
    if (s) {
        *s = (struct migdisk_src){.vm = vm, .fd = fd, .st = st, .n = vm->ndisks};
        s->nwords = (size_t)((most / BLK_CHUNK + 64) / 64);
        s->bits = calloc(s->nwords, 8);
        s->msg = malloc(18 + BLK_CHUNK);
    }
    if (!s || !s->bits || !s->msg || virtio_blk_track(vm, 1) < 0) {
        snprintf(err, errlen, "out of memory for the disk copy");
        migdisk_src_end(s);
        return NULL;
    }
    uint8_t h[5 + 8 * VM_MAX_DISKS];
    h[0] = 'D';
    put_le(h + 1, s->n, 4);
    for (unsigned d = 0; d < s->n; d++)
        put_le(h + 5 + 8 * d, virtio_blk_size(vm, d), 8);
    if (send_all(fd, h, 5 + 8 * s->n) < 0) {
        snprintf(err, errlen, "sending the disks: %s", strerror(errno));
        migdisk_src_end(s);
        return NULL;
    }
    return s;
}

int migdisk_bulk(struct migdisk_src *s)
{
    for (unsigned d = 0; d < s->n; d++)
        for (uint64_t c = 0; c * BLK_CHUNK < virtio_blk_size(s->vm, d); c++)
            if (send_chunk(s, d, c) < 0) return -1;
    return 0;
}

int migdisk_dirty(struct migdisk_src *s, uint64_t *left)
{
    uint64_t total = 0;
    for (unsigned d = 0; d < s->n; d++) {
        total += virtio_blk_take_dirty(s->vm, d, s->bits, s->nwords);
        for (size_t w = 0; w < s->nwords; w++)
            for (uint64_t m = s->bits[w]; m; m &= m - 1)
                if (send_chunk(s, d, w * 64 + (unsigned)__builtin_ctzll(m)) < 0) return -1;
    }
    if (left) *left = total;
    return 0;
}

int migdisk_converged(uint64_t chunks)
{
    return chunks <= FEW_CHUNKS;
}

void migdisk_src_end(struct migdisk_src *s)
{
    if (!s) return;
    virtio_blk_track(s->vm, 0);
    free(s->bits);
    free(s->msg);
    free(s);
}

/* ---- target ---- */

void migdisk_dst_set(struct migdisk_dst *t, char *const *specs, unsigned n)
{
    memset(t, 0, sizeof(*t));
    t->specs = specs;
    t->nspecs = n;
}

/* Open the disk a --disk spec names for writing a copy of size bytes: a
 * smaller image grows to it, a larger one is refused. NULL with err. */
static struct blk *open_copy(const char *spec, uint64_t size, char *err, size_t errlen)
{
    struct disk_cfg *o = malloc(sizeof(*o));
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct blk *be = NULL;
    if (devcfg_parse_disk(spec, o, err, errlen) < 0) goto out;
    if (o->ro) {
        snprintf(err, errlen, "%s: a read-only disk cannot take a copy", o->file);
        goto out;
    }
    if (!(be = blk_open(o->file, o->fmt, 0, err, errlen))) goto out;
    char why[256] = "";
    int r = 0;
    if (blk_size(be) > size) {
        snprintf(why, sizeof(why), "it is larger (%llu bytes) than the source's disk (%llu)",
                 (unsigned long long)blk_size(be), (unsigned long long)size);
        r = -1;
    } else if (blk_size(be) < size) {
        r = blk_resize(be, size, why, sizeof(why));
    }
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", o->file, why);
        blk_close(be);
        be = NULL;
    }
out:
    free(o);
    return be;
}

int migdisk_recv_hello(struct migdisk_dst *t, int fd, char *err, size_t errlen)
{
    uint64_t n;
    if (t->n) {
        snprintf(err, errlen, "migration stream: the disks announced twice");
        return -1;
    }
    if (recv_le(fd, &n, 4) < 0 || n == 0 || n > VM_MAX_DISKS) {
        snprintf(err, errlen, "migration stream: a copy of %llu disks", (unsigned long long)n);
        return -1;
    }
    if (n != t->nspecs) {
        snprintf(err, errlen, "the source copies %llu disks; this VM has %u (--disk)",
                 (unsigned long long)n, t->nspecs);
        return -1;
    }
    for (unsigned d = 0; d < n; d++) {
        if (recv_le(fd, &t->size[d], 8) < 0 || t->size[d] == 0 || t->size[d] % 512) {
            snprintf(err, errlen, "migration stream: disk %u of %llu bytes", d,
                     (unsigned long long)t->size[d]);
            return -1;
        }
    }
    for (unsigned d = 0; d < n; d++) {
        char why[DEVCFG_PATH_MAX + 512]; /* a file name and the reason */
        t->be[d] = open_copy(t->specs[d], t->size[d], why, sizeof(why));
        t->n = d + 1;
        if (!t->be[d]) {
            snprintf(err, errlen, "disk %u: %s", d, why);
            return -1;
        }
    }
    if (!(t->buf = malloc(BLK_CHUNK))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int migdisk_recv_chunk(struct migdisk_dst *t, int fd, char *err, size_t errlen)
{
    uint8_t h[17];
    if (recv_all(fd, h, sizeof(h)) < 0) {
        snprintf(err, errlen, "migration stream ends in a disk chunk");
        return -1;
    }
    uint64_t d = get_le(h, 4), off = get_le(h + 4, 8), len = get_le(h + 12, 4);
    if (d >= t->n || !t->be[d] || len == 0 || len > BLK_CHUNK || off % 512 || len % 512 ||
        off > t->size[d] || len > t->size[d] - off || h[16] > 1) {
        snprintf(err, errlen,
                 "migration stream: a disk chunk (disk %llu, %llu bytes at %llu) "
                 "outside the disks announced",
                 (unsigned long long)d, (unsigned long long)len, (unsigned long long)off);
        return -1;
    }
    int e = h[16] ? blk_write_zeroes(t->be[d], off, len, 1) : 0;
    if (!h[16]) {
        if (recv_all(fd, t->buf, len) < 0) {
            snprintf(err, errlen, "migration stream ends in a disk chunk");
            return -1;
        }
        e = blk_write(t->be[d], off, t->buf, len);
    }
    if (e < 0) {
        snprintf(err, errlen, "writing disk %llu: %s", (unsigned long long)d, strerror(-e));
        return -1;
    }
    return 0;
}

int migdisk_dst_close(struct migdisk_dst *t, char *err, size_t errlen)
{
    int r = 0;
    for (unsigned d = 0; d < t->n; d++) {
        if (!t->be[d]) continue;
        int e = blk_flush(t->be[d]);
        if (e < 0 && err && !r) {
            snprintf(err, errlen, "disk %u: flush: %s", d, strerror(-e));
            r = -1;
        }
        blk_close(t->be[d]);
        t->be[d] = NULL;
    }
    free(t->buf);
    t->buf = NULL;
    return r;
}
