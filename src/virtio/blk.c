/* virtio-blk (virtio 1.2 section 5.2): one request queue served by a worker
 * thread (the notifying vCPU only kicks it), a block backend (raw or qcow2)
 * behind it. Requests: IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES; every
 * field the driver supplies is checked (header size, data length a
 * multiple of 512, sector range within the capacity, status byte present)
 * and a bad request completes with VIRTIO_BLK_S_IOERR or _UNSUPP.
 *
 *   --disk FILE[,ro][,format=raw|qcow2][,serial=STR]
 *
 * (a comma in FILE is written as ",,"). */
#include "virtio/devices.h"
#include "vmm/devcfg.h"
#include "mem/bytes.h"
#include "virtio/virtio.h"
#include "backend/block.h"
#include <errno.h>
#include <pthread.h>
#include "vmm/vm.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

/* Feature bits (5.2.3) */
#define VIRTIO_BLK_F_SIZE_MAX     (1ull << 1)
#define VIRTIO_BLK_F_SEG_MAX      (1ull << 2)
#define VIRTIO_BLK_F_RO           (1ull << 5)
#define VIRTIO_BLK_F_BLK_SIZE     (1ull << 6)
#define VIRTIO_BLK_F_FLUSH        (1ull << 9)
#define VIRTIO_BLK_F_DISCARD      (1ull << 13)
#define VIRTIO_BLK_F_WRITE_ZEROES (1ull << 14)

/* Request types and status (5.2.6) */
#define VIRTIO_BLK_T_IN           0u
#define VIRTIO_BLK_T_OUT          1u
#define VIRTIO_BLK_T_FLUSH        4u
#define VIRTIO_BLK_T_GET_ID       8u
#define VIRTIO_BLK_T_DISCARD      11u
#define VIRTIO_BLK_T_WRITE_ZEROES 13u
#define VIRTIO_BLK_S_OK           0u
#define VIRTIO_BLK_S_IOERR        1u
#define VIRTIO_BLK_S_UNSUPP       2u
#define VIRTIO_BLK_WZ_FLAG_UNMAP  1u

#define VIRTIO_BLK_ID_BYTES 20
#define SECTOR              512u
_Static_assert(VIRTIO_BLK_ID_BYTES == DISK_SERIAL_MAX, "--disk serial= fits the device ID");
#define HDR_SIZE     16u
#define DWZ_SEG_SIZE 16u

/* Config space layout (5.2.4) */
enum {
    CFG_CAPACITY = 0,
    CFG_SIZE_MAX = 8,
    CFG_SEG_MAX = 12,
    CFG_GEOMETRY = 16,
    CFG_BLK_SIZE = 20,
    CFG_TOPOLOGY = 24,
    CFG_WRITEBACK = 32,
    CFG_NUM_QUEUES = 34,
    CFG_MAX_DISCARD_SECTORS = 36,
    CFG_MAX_DISCARD_SEG = 40,
    CFG_DISCARD_ALIGN = 44,
    CFG_MAX_WZ_SECTORS = 48,
    CFG_MAX_WZ_SEG = 52,
    CFG_WZ_MAY_UNMAP = 56,
    CFG_SIZE = 72,
};

#define BLK_QUEUE_SIZE      256
#define BLK_SEG_MAX         254        /* data segments per request (queue size - 2) */
#define BLK_MAX_DWZ_SECTORS (1u << 22) /* 2 GiB per discard/write-zeroes range */
#define BLK_MAX_DWZ_SEG     32
#define BLK_NOTIFY_BATCH    16

struct blk_dev {
    struct virtio_dev *dev;
    struct blk *be;
    int readonly;
    uint64_t capacity; /* 512-byte sectors */
    char serial[VIRTIO_BLK_ID_BYTES];
    uint8_t config[CFG_SIZE];
    int error_reported;
    struct vq_req req;
    struct iovec iov[VQ_MAX_SEGS];
    /* The backend is used by the worker and, during a migration that
     * copies the disk, by the migration; io_lock makes them take turns. */
    pthread_mutex_t io_lock;
    uint64_t *dirty; /* a migration copies the disk: chunks written since */
    /* The image a snapshot with overlays left frozen under the overlay it
     * made (until the snapshot is known good), and its format. */
    char *under;
    enum blk_format under_fmt;
};

/* Chunks (BLK_CHUNK bytes) of [off, off + len) were written (io_lock). */
static void mark_written(struct blk_dev *b, uint64_t off, uint64_t len)
{
    if (!b->dirty || !len) return;
    for (uint64_t c = off / BLK_CHUNK; c <= (off + len - 1) / BLK_CHUNK; c++)
        b->dirty[c / 64] |= 1ull << (c % 64);
}

/* Is [sector, sector + nsec) inside the disk? (no overflow) */
static int range_ok(const struct blk_dev *b, uint64_t sector, uint64_t nsec)
{
    return sector <= b->capacity && nsec <= b->capacity - sector;
}

static void report_error(struct blk_dev *b, const char *what, int e)
{
    if (b->error_reported) return;
    b->error_reported = 1;
    virtio_log(b->dev, VM_LOG_WARN, "%s: %s failed: %s (reported to the guest as I/O error)",
               b->be->path, what, strerror(-e));
}

/* The writable part before the status byte is zeroed when a request fails,
 * so that every byte the used length covers was written. */
static void zero_in_data(const struct vq_req *req, struct blk_dev *b)
{
    if (req->in_len <= 1) return;
    unsigned n = vq_req_iov(req, 1, 0, req->in_len - 1, b->iov, VQ_MAX_SEGS);
    for (unsigned i = 0; i < n; i++)
        memset(b->iov[i].iov_base, 0, b->iov[i].iov_len);
}

static uint8_t do_rw(struct blk_dev *b, const struct vq_req *req, uint32_t type, uint64_t sector)
{
    int in = type == VIRTIO_BLK_T_IN;
    uint64_t len;
    if (in) {
        if (req->out_len != HDR_SIZE) return VIRTIO_BLK_S_IOERR;
        len = req->in_len - 1;
    } else {
        if (b->readonly) return VIRTIO_BLK_S_IOERR; /* 5.2.6.2: writes to RO fail */
        len = req->out_len - HDR_SIZE;
    }
    if (len % SECTOR || !range_ok(b, sector, len / SECTOR)) return VIRTIO_BLK_S_IOERR;
    if (len == 0) return VIRTIO_BLK_S_OK;
    unsigned n = vq_req_iov(req, in, in ? 0 : HDR_SIZE, len, b->iov, VQ_MAX_SEGS);
    int e = in ? blk_readv(b->be, sector * SECTOR, b->iov, (int)n)
               : blk_writev(b->be, sector * SECTOR, b->iov, (int)n);
    if (!in) mark_written(b, sector * SECTOR, len);
    if (e) {
        report_error(b, in ? "read" : "write", e);
        return VIRTIO_BLK_S_IOERR;
    }
    atomic_fetch_add_explicit(in ? &b->dev->vm->io.disk_read : &b->dev->vm->io.disk_written, len,
                              memory_order_relaxed);
    return VIRTIO_BLK_S_OK;
}

static uint8_t do_get_id(struct blk_dev *b, const struct vq_req *req)
{
    if (req->out_len != HDR_SIZE || req->in_len - 1 < VIRTIO_BLK_ID_BYTES)
        return VIRTIO_BLK_S_IOERR;
    zero_in_data(req, b);
    vq_req_write(req, 0, b->serial, VIRTIO_BLK_ID_BYTES); /* NUL-padded, not terminated at 20 */
    return VIRTIO_BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES: a list of 16-byte ranges after the header;
 * all are checked before any is carried out. */
static uint8_t do_dwz(struct blk_dev *b, const struct vq_req *req, uint32_t type)
{
    int wz = type == VIRTIO_BLK_T_WRITE_ZEROES;
    uint64_t feat = wz ? VIRTIO_BLK_F_WRITE_ZEROES : VIRTIO_BLK_F_DISCARD;
    if (!virtio_has_feature(b->dev, feat)) return VIRTIO_BLK_S_UNSUPP;
    if (b->readonly) return VIRTIO_BLK_S_IOERR;
    uint64_t len = req->out_len - HDR_SIZE;
    if (len == 0 || len % DWZ_SEG_SIZE || len / DWZ_SEG_SIZE > BLK_MAX_DWZ_SEG)
        return VIRTIO_BLK_S_IOERR;
    unsigned nseg = (unsigned)(len / DWZ_SEG_SIZE);
    uint8_t seg[BLK_MAX_DWZ_SEG][DWZ_SEG_SIZE];
    if (vq_req_read(req, HDR_SIZE, seg, len) != len) return VIRTIO_BLK_S_IOERR;
    for (unsigned i = 0; i < nseg; i++) {
        uint64_t sector = get_le64(seg[i]);
        uint32_t nsec = get_le32(seg[i] + 8), flags = get_le32(seg[i] + 12);
        if (flags & ~VIRTIO_BLK_WZ_FLAG_UNMAP) return VIRTIO_BLK_S_UNSUPP;
        if (!wz && (flags & VIRTIO_BLK_WZ_FLAG_UNMAP)) return VIRTIO_BLK_S_UNSUPP;
        if (nsec > BLK_MAX_DWZ_SECTORS || !range_ok(b, sector, nsec)) return VIRTIO_BLK_S_IOERR;
    }
    for (unsigned i = 0; i < nseg; i++) {
        uint64_t off = get_le64(seg[i]) * SECTOR, n = (uint64_t)get_le32(seg[i] + 8) * SECTOR;
        int unmap = (get_le32(seg[i] + 12) & VIRTIO_BLK_WZ_FLAG_UNMAP) != 0;
        int e = wz ? blk_write_zeroes(b->be, off, n, unmap) : blk_discard(b->be, off, n);
        mark_written(b, off, n);
        if (e) {
            report_error(b, wz ? "write-zeroes" : "discard", e);
            return VIRTIO_BLK_S_IOERR;
        }
    }
    return VIRTIO_BLK_S_OK;
}

/* Serve one request; *filled says the data part of the writable buffer
 * was written in full (reads, GET_ID). */
static uint8_t blk_handle(struct blk_dev *b, const struct vq_req *req, int *filled)
{
    uint8_t hdr[HDR_SIZE];
    if (req->out_len < HDR_SIZE) return VIRTIO_BLK_S_IOERR;
    vq_req_read(req, 0, hdr, HDR_SIZE);
    uint32_t type = get_le32(hdr);
    uint64_t sector = get_le64(hdr + 8);
    switch (type) {
    case VIRTIO_BLK_T_IN: *filled = 1; return do_rw(b, req, type, sector);
    case VIRTIO_BLK_T_OUT: return do_rw(b, req, type, sector);
    case VIRTIO_BLK_T_FLUSH: {
        int e = blk_flush(b->be);
        if (e) {
            report_error(b, "flush", e);
            return VIRTIO_BLK_S_IOERR;
        }
        return VIRTIO_BLK_S_OK;
    }
    case VIRTIO_BLK_T_GET_ID: *filled = 1; return do_get_id(b, req);
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES: return do_dwz(b, req, type);
    default: return VIRTIO_BLK_S_UNSUPP;
    }
}

/* Worker thread: drain the queue. */
static void blk_work(struct virtio_dev *d)
{
    struct blk_dev *b = d->priv;
    unsigned since_notify = 0;
    for (;;) {
        struct vq_req *req = &b->req;
        int got = vq_pop(d, 0, req);
        if (got <= 0) break;
        if (req->in_len == 0) {
            /* Nowhere to put the status byte: the driver is broken. */
            virtio_set_broken(d, "request without a device-writable status byte");
            break;
        }
        int filled = 0;
        pthread_mutex_lock(&b->io_lock);
        uint8_t status = blk_handle(b, req, &filled);
        pthread_mutex_unlock(&b->io_lock);
        /* The used length covers the whole writable part: whatever the
         * request did not fill (a failed read, a status-only request with
         * a larger buffer) is zeroed rather than left stale. */
        if (status != VIRTIO_BLK_S_OK || !filled) zero_in_data(req, b);
        vq_req_write(req, req->in_len - 1, &status, 1);
        vq_push(d, 0, req, (uint32_t)(req->in_len > UINT32_MAX ? UINT32_MAX : req->in_len));
        if (++since_notify >= BLK_NOTIFY_BATCH) {
            vq_notify(d, 0);
            since_notify = 0;
        }
    }
    vq_notify(d, 0);
}

static void blk_reset(struct virtio_dev *d)
{
    /* The transport bumped the generation (no request from before the
     * reset completes) and waited for the worker to go idle. */
    struct blk_dev *b = d->priv;
    b->error_reported = 0;
}

static void blk_destroy(struct virtio_dev *d)
{
    struct blk_dev *b = d->priv; /* the core has stopped the worker */
    if (b->be) blk_flush(b->be);
    blk_close(b->be);
    pthread_mutex_destroy(&b->io_lock);
    free(b->dirty);
    free(b->under);
    free(b);
}

/* A snapshot's disk state is what the guest wrote before it: on the disk. */
static void blk_save(struct virtio_dev *d, struct snap_w *w)
{
    struct blk_dev *b = d->priv;
    int e = b->be ? blk_flush(b->be) : 0;
    if (e < 0)
        virtio_log(d, VM_LOG_WARN, "%s: flush for a snapshot: %s", b->be->path, strerror(-e));
}

static const struct virtio_dev_ops blk_ops = {
    .name = "virtio-blk",
    .reset = blk_reset,
    .destroy = blk_destroy,
    .work = blk_work,
    .save = blk_save,
};

int virtio_blk_create(struct vm *vm, const struct virtio_slot *slot, const struct disk_cfg *cfg,
                      struct blk *be, char *err, size_t errlen)
{
    uint64_t size = blk_size(be);
    if (size < SECTOR) {
        snprintf(err, errlen, "%s: disk is smaller than one 512-byte sector", cfg->file);
        blk_close(be);
        return -1;
    }
    struct blk_dev *b = calloc(1, sizeof(*b));
    if (!b) {
        blk_close(be);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    b->be = be;
    pthread_mutex_init(&b->io_lock, NULL);
    b->readonly = cfg->ro;
    b->capacity = size / SECTOR;
    memcpy(b->serial, cfg->serial, VIRTIO_BLK_ID_BYTES);

    uint64_t features = VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX | VIRTIO_BLK_F_SEG_MAX |
                        VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH;
    if (cfg->ro)
        features |= VIRTIO_BLK_F_RO;
    else
        features |= VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES;
    uint8_t *c = b->config;
    put_le64(c + CFG_CAPACITY, b->capacity);
    put_le32(c + CFG_SEG_MAX, BLK_SEG_MAX);
    put_le32(c + CFG_BLK_SIZE, SECTOR);
    c[CFG_WRITEBACK] = 1;
    put_le16(c + CFG_NUM_QUEUES, 1);
    uint32_t align = be->discard_align / SECTOR;
    put_le32(c + CFG_MAX_DISCARD_SECTORS, BLK_MAX_DWZ_SECTORS);
    put_le32(c + CFG_MAX_DISCARD_SEG, BLK_MAX_DWZ_SEG);
    put_le32(c + CFG_DISCARD_ALIGN, align ? align : 1);
    put_le32(c + CFG_MAX_WZ_SECTORS, BLK_MAX_DWZ_SECTORS);
    put_le32(c + CFG_MAX_WZ_SEG, BLK_MAX_DWZ_SEG);
    c[CFG_WZ_MAY_UNMAP] = 1;

    b->dev = virtio_mmio_create(vm, slot->base, slot->irq, VIRTIO_ID_BLOCK, &blk_ops, b, features,
                                1, BLK_QUEUE_SIZE, b->config, CFG_SIZE);
    if (!b->dev) {
        blk_close(be);
        pthread_mutex_destroy(&b->io_lock);
        free(b);
        snprintf(err, errlen, "cannot create the virtio-blk device");
        return -1;
    }
    if (vm->ndisks < VM_MAX_DISKS) vm->disks[vm->ndisks++] = b->dev;
    return 0;
}

/* Grow disk `index` (in --disk order) to size bytes while the guest runs:
 * the vCPUs pause and the device's worker goes idle, the image grows (raw:
 * the file, qcow2: its virtual size), the capacity in the config space
 * follows and the driver gets a config-change interrupt (virtio 1.2
 * 5.2.4: Linux re-reads the capacity). Shrinking a disk in use would take
 * data from under the guest: refused, as are read-only disks. */
int virtio_blk_handoff(struct vm *vm, int away, char *err, size_t errlen)
{
    int r = 0;
    for (unsigned i = 0; i < vm->ndisks; i++) {
        struct blk_dev *b = vm->disks[i]->priv;
        if (b->be && blk_set_locked(b->be, !away, err, errlen) < 0) r = -1;
    }
    return r;
}

int virtio_blk_resize(struct vm *vm, unsigned index, uint64_t size, char *err, size_t errlen)
{
    if (index >= vm->ndisks) {
        snprintf(err, errlen, "no disk %u (the VM has %u)", index, vm->ndisks);
        return -1;
    }
    struct virtio_dev *d = vm->disks[index];
    struct blk_dev *b = d->priv;
    if (b->readonly) {
        snprintf(err, errlen, "disk %u is read-only", index);
        return -1;
    }
    if (size == 0 || (size & (SECTOR - 1)) || size / SECTOR < b->capacity) {
        snprintf(err, errlen, "new size must be a multiple of 512 and at least the current %llu",
                 (unsigned long long)(b->capacity * SECTOR));
        return -1;
    }
    int was_paused = vm_paused(vm);
    if (!was_paused && vm_pause(vm) < 0) {
        snprintf(err, errlen, "the VM is stopping");
        return -1;
    }
    virtio_quiesce(d);
    char why[256];
    int r = blk_resize(b->be, size, why, sizeof(why));
    if (r == 0) {
        b->capacity = size / SECTOR;
        put_le64(b->config + CFG_CAPACITY, b->capacity);
    }
    if (!was_paused) vm_resume(vm);
    if (r < 0) {
        snprintf(err, errlen, "disk %u: %s", index, why);
        return -1;
    }
    virtio_config_changed(d);
    return 0;
}

/* ---- disk copy for live migration ---- */

static struct blk_dev *disk(struct vm *vm, unsigned i)
{
    return i < vm->ndisks ? vm->disks[i]->priv : NULL;
}

uint64_t virtio_blk_size(struct vm *vm, unsigned i)
{
    struct blk_dev *b = disk(vm, i);
    return b ? b->capacity * SECTOR : 0;
}

int virtio_blk_track(struct vm *vm, int on)
{
    int r = 0;
    for (unsigned i = 0; i < vm->ndisks; i++) {
        struct blk_dev *b = disk(vm, i);
        uint64_t *bits = on ? calloc((b->capacity * SECTOR / BLK_CHUNK + 64) / 64, 8) : NULL;
        if (on && !bits) r = -1;
        pthread_mutex_lock(&b->io_lock);
        free(b->dirty);
        b->dirty = bits;
        pthread_mutex_unlock(&b->io_lock);
    }
    if (r < 0) virtio_blk_track(vm, 0);
    return r;
}

uint64_t virtio_blk_take_dirty(struct vm *vm, unsigned i, uint64_t *bits, size_t nwords)
{
    struct blk_dev *b = disk(vm, i);
    uint64_t n = 0;
    size_t have = b ? (size_t)((b->capacity * SECTOR / BLK_CHUNK + 64) / 64) : 0;
    memset(bits, 0, nwords * 8);
    if (!b) return 0;
    pthread_mutex_lock(&b->io_lock);
    for (size_t w = 0; b->dirty && w < have && w < nwords; w++) {
        bits[w] = b->dirty[w];
        b->dirty[w] = 0;
        n += (uint64_t)__builtin_popcountll(bits[w]);
    }
    pthread_mutex_unlock(&b->io_lock);
    return n;
}

int virtio_blk_read_at(struct vm *vm, unsigned i, uint64_t off, void *buf, size_t len)
{
    struct blk_dev *b = disk(vm, i);
    if (!b || !b->be || off > b->capacity * SECTOR || len > b->capacity * SECTOR - off)
        return -EINVAL;
    pthread_mutex_lock(&b->io_lock);
    int e = blk_read(b->be, off, buf, len);
    pthread_mutex_unlock(&b->io_lock);
    return e;
}

void virtio_blk_quiesce_all(struct vm *vm)
{
    for (unsigned i = 0; i < vm->ndisks; i++)
        virtio_quiesce(vm->disks[i]);
}

/* ---- a snapshot's disks: the VM goes on in overlays ---- */

/* "FILE,format=qcow2[,serial=S]" for a --disk option (",," for a comma). */
static void overlay_spec(const struct blk_dev *b, const char *file, char *spec, size_t len)
{
    size_t n = 0;
    for (const char *c = file; *c && n + 2 < len; c++) {
        if (*c == ',') spec[n++] = ',';
        spec[n++] = *c;
    }
    spec[n] = 0;
    char serial[VIRTIO_BLK_ID_BYTES + 1] = {0};
    memcpy(serial, b->serial, VIRTIO_BLK_ID_BYTES);
    int keep = serial[0] && !strchr(serial, ',');
    snprintf(spec + n, len - n, ",format=qcow2%s%s", keep ? ",serial=" : "", keep ? serial : "");
}

int virtio_blk_to_overlay(struct vm *vm, unsigned i, const char *overlay, char *spec, size_t len,
                          char *err, size_t errlen)
{
    struct blk_dev *b = disk(vm, i);
    if (!b || b->readonly) return 1;
    virtio_quiesce(vm->disks[i]);
    pthread_mutex_lock(&b->io_lock);
    char *under = realpath(b->be->path, NULL);
    enum blk_format fmt = !strcmp(b->be->ops->name, "qcow2") ? BLK_FMT_QCOW2 : BLK_FMT_RAW;
    int e = blk_flush(b->be);
    int r = -1;
    if (!under || e < 0) {
        snprintf(err, errlen, "disk %u: %s", i, under ? strerror(-e) : strerror(errno));
    } else if (blk_create(overlay, BLK_FMT_QCOW2, b->capacity * SECTOR, under, fmt, 0, err,
                          errlen) == 0) {
        blk_close(b->be); /* its exclusive lock goes; the overlay reads it shared */
        struct blk *top = blk_open(overlay, BLK_FMT_QCOW2, 0, err, errlen);
        b->be = top ? top : blk_open(under, fmt, 0, err, errlen);
        if (!top) unlink(overlay);
        if (top) {
            free(b->under);
            b->under = under;
            b->under_fmt = fmt;
            under = NULL;
            overlay_spec(b, overlay, spec, len);
            r = 0;
        }
    }
    if (!b->be) virtio_set_broken(vm->disks[i], "its image could not be opened again");
    pthread_mutex_unlock(&b->io_lock);
    free(under);
    return r;
}

int virtio_blk_undo_overlay(struct vm *vm, unsigned i, char *err, size_t errlen)
{
    struct blk_dev *b = disk(vm, i);
    if (!b || !b->under) return 0;
    pthread_mutex_lock(&b->io_lock);
    char *top = strdup(b->be->path);
    blk_close(b->be);
    b->be = blk_open(b->under, b->under_fmt, 0, err, errlen);
    if (b->be && top) unlink(top);
    if (!b->be) virtio_set_broken(vm->disks[i], "its image could not be opened again");
    free(b->under);
    b->under = NULL;
    pthread_mutex_unlock(&b->io_lock);
    free(top);
    return b->be ? 0 : -1;
}
