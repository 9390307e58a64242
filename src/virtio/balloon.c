/* virtio-balloon (virtio 1.2 section 5.5): memory the guest gives back.
 * The host sets a target (num_pages, 4 KiB pages the guest should hand
 * over); the driver inflates by sending page frame numbers on the inflate
 * queue and deflates on the deflate queue. Inflated pages and the free
 * ranges the driver reports (free page reporting) are dropped from the host
 * (MADV_DONTNEED: the worker's RSS falls; a later guest access finds zeros).
 * Guest memory statistics arrive on the stats queue. Every PFN and range is
 * checked against guest RAM. */
#include "virtio/devices.h"
#include "virtio/virtio.h"
#include "mem/bytes.h"
#include "mem/dirty.h"
#include "mem/share.h"
#include "vmm/vm.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define VIRTIO_ID_BALLOON   5
#define BALLOON_F_STATS_VQ  (1ull << 1)
#define BALLOON_F_DEFLATE   (1ull << 2) /* DEFLATE_ON_OOM */
#define BALLOON_F_REPORTING (1ull << 5)
#define BALLOON_QUEUE_MAX   128
#define BALLOON_NQUEUES     4 /* inflate, deflate, stats, reporting */

enum { Q_INFLATE, Q_DEFLATE, Q_STATS, Q_REPORTING, Q_NONE };

struct balloon {
    pthread_mutex_t lock;
    uint8_t config[16]; /* num_pages, actual, free_page_hint_cmd_id, poison_val */
    struct vq_req req;
    struct vq_req stats_req; /* held until the host asks for fresh statistics */
    int have_stats_req;
    struct balloon_info info;
};

/* The role of queue q: the stats queue exists only with STATS_VQ, and the
 * reporting queue comes next after the queues that exist (5.5.2). */
static int queue_role(struct virtio_dev *d, unsigned q)
{
    if (q < 2) return (int)q;
    int stats = virtio_has_feature(d, BALLOON_F_STATS_VQ);
    if (stats && q == 2) return Q_STATS;
    if (virtio_has_feature(d, BALLOON_F_REPORTING) && q == (stats ? 3u : 2u)) return Q_REPORTING;
    return Q_NONE;
}

/* Give the guest-physical range back to the host. */
static void drop_range(struct virtio_dev *d, uint64_t gpa, uint64_t len)
{
    uint8_t *p = virtio_gpa(d, gpa, len);
    if (!p || (gpa & 0xfff) || (len & 0xfff)) return; /* only whole pages of RAM */
    mem_discard(d->vm, p, gpa, len); /* now zeros: translations of it go, it is dirty */
}

static void serve_pfns(struct virtio_dev *d, struct balloon *b, const struct vq_req *req,
                       int inflate)
{
    uint32_t pfn;
    for (size_t off = 0; vq_req_read(req, off, &pfn, 4) == 4; off += 4) {
        if (inflate) {
            drop_range(d, (uint64_t)pfn << 12, 4096);
            b->info.inflated++;
        } else {
            b->info.deflated++;
        }
    }
}

static void serve_stats(struct balloon *b, const struct vq_req *req)
{
    uint8_t rec[10]; /* le16 tag, le64 value */
    for (size_t off = 0; vq_req_read(req, off, rec, 10) == 10; off += 10) {
        unsigned tag = get_le16(rec);
        if (tag < BALLOON_STATS_MAX) {
            b->info.stat[tag] = get_le64(rec + 2);
            b->info.stat_valid |= 1u << tag;
        }
    }
    b->info.stats_updates++;
}

static void balloon_notify(struct virtio_dev *d, unsigned q)
{
    struct balloon *b = d->priv;
    int role = queue_role(d, q);
    pthread_mutex_lock(&b->lock);
    for (;;) {
        struct vq_req *req = role == Q_STATS ? &b->stats_req : &b->req;
        if (role == Q_STATS && b->have_stats_req) break; /* one at a time */
        int got = vq_pop(d, q, req);
        if (got <= 0) break;
        if (role == Q_INFLATE || role == Q_DEFLATE) {
            serve_pfns(d, b, req, role == Q_INFLATE);
        } else if (role == Q_STATS) {
            serve_stats(b, req);
            b->have_stats_req = 1; /* returned when the host wants new figures */
            continue;
        } else if (role == Q_REPORTING) {
            for (unsigned i = 0; i < req->n_out + req->n_in; i++) {
                uint64_t gpa = req->seg[i].gpa;
                drop_range(d, gpa, req->seg[i].len);
                b->info.reported += req->seg[i].len >> 12;
            }
        }
        vq_push(d, q, req, 0);
    }
    pthread_mutex_unlock(&b->lock);
    vq_notify(d, q);
}

/* DRIVER_OK: Linux queues its first statistics before it, without a
 * notification to follow: take whatever is waiting. */
static void balloon_start(struct virtio_dev *d)
{
    for (unsigned q = 0; q < BALLOON_NQUEUES; q++)
        if (queue_role(d, q) != Q_NONE && vq_live(d, q)) balloon_notify(d, q);
}

static void balloon_config_write(struct virtio_dev *d, unsigned off, unsigned size, uint64_t val)
{
    struct balloon *b = d->priv;
    if (off == 4 && size == 4) { /* actual: what the driver has given */
        pthread_mutex_lock(&b->lock);
        put_le32(b->config + 4, (uint32_t)val);
        pthread_mutex_unlock(&b->lock);
    }
}

static void balloon_reset(struct virtio_dev *d)
{
    struct balloon *b = d->priv;
    pthread_mutex_lock(&b->lock);
    put_le32(b->config + 4, 0);
    b->have_stats_req = 0;
    pthread_mutex_unlock(&b->lock);
}

static void balloon_destroy(struct virtio_dev *d)
{
    struct balloon *b = d->priv;
    pthread_mutex_destroy(&b->lock);
    free(b);
}

/* The statistics buffer the device keeps goes back to the ring in a
 * snapshot: the restored driver's next figures refill it. */
static unsigned balloon_held(struct virtio_dev *d, unsigned q)
{
    struct balloon *b = d->priv;
    return queue_role(d, q) == Q_STATS && b->have_stats_req; /* the worker is idle */
}

static const struct virtio_dev_ops balloon_ops = {
    .name = "virtio-balloon",
    .notify = balloon_notify,
    .config_write = balloon_config_write,
    .start = balloon_start,
    .reset = balloon_reset,
    .destroy = balloon_destroy,
    .held = balloon_held,
};

int virtio_balloon_create(struct vm *vm, const struct virtio_slot *slot, char *err, size_t errlen)
{
    if (vm->balloon) {
        snprintf(err, errlen, "only one --balloon");
        return -1;
    }
    struct balloon *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&b->lock, NULL);
    struct virtio_dev *d = virtio_mmio_create(
        vm, slot->base, slot->irq, VIRTIO_ID_BALLOON, &balloon_ops, b,
        VIRTIO_F_EVENT_IDX | BALLOON_F_STATS_VQ | BALLOON_F_DEFLATE | BALLOON_F_REPORTING,
        BALLOON_NQUEUES, BALLOON_QUEUE_MAX, b->config, sizeof(b->config));
    if (!d) {
        pthread_mutex_destroy(&b->lock);
        free(b);
        snprintf(err, errlen, "cannot create virtio-balloon");
        return -1;
    }
    vm->balloon = d;
    return 0;
}

int virtio_balloon_set(struct vm *vm, uint64_t guest_bytes, char *err, size_t errlen)
{
    struct virtio_dev *d = vm->balloon;
    if (!d) {
        snprintf(err, errlen, "the VM has no balloon device (--balloon)");
        return -1;
    }
    if (guest_bytes > vm->ram_size) guest_bytes = vm->ram_size;
    struct balloon *b = d->priv;
    pthread_mutex_lock(&b->lock);
    put_le32(b->config, (uint32_t)((vm->ram_size - guest_bytes) >> 12));
    pthread_mutex_unlock(&b->lock);
    virtio_config_changed(d);
    return 0;
}

int virtio_balloon_info(struct vm *vm, struct balloon_info *out)
{
    struct virtio_dev *d = vm->balloon;
    if (!d) return -1;
    struct balloon *b = d->priv;
    pthread_mutex_lock(&b->lock);
    *out = b->info;
    out->target_pages = get_le32(b->config);
    out->actual_pages = get_le32(b->config + 4);
    if (b->have_stats_req) { /* hand the buffer back: the driver sends new figures */
        vq_push(d, Q_STATS, &b->stats_req, 0);
        b->have_stats_req = 0;
    }
    pthread_mutex_unlock(&b->lock);
    vq_notify(d, Q_STATS);
    return 0;
}
