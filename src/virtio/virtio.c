/* virtio-mmio transport and split virtqueues (virtio 1.2 sections 2.7 and
 * 4.2). See virtio.h for the validation rules. */
#include "virtio/virtio.h"
#include "snap/snap.h"
#include "board/fdt.h"
#include "mem/bus.h"
#include "mem/dirty.h"
#include "mem/guest.h"
#include "vmm/vm.h"
#include <libfdt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MMIO register offsets (spec 4.2.2) */
enum {
    MMIO_MAGIC = 0x000,
    MMIO_VERSION = 0x004,
    MMIO_DEVICE_ID = 0x008,
    MMIO_VENDOR_ID = 0x00c,
    MMIO_DEVICE_FEATURES = 0x010,
    MMIO_DEVICE_FEATURES_SEL = 0x014,
    MMIO_DRIVER_FEATURES = 0x020,
    MMIO_DRIVER_FEATURES_SEL = 0x024,
    MMIO_QUEUE_SEL = 0x030,
    MMIO_QUEUE_NUM_MAX = 0x034,
    MMIO_QUEUE_NUM = 0x038,
    MMIO_QUEUE_READY = 0x044,
    MMIO_QUEUE_NOTIFY = 0x050,
    MMIO_INTERRUPT_STATUS = 0x060,
    MMIO_INTERRUPT_ACK = 0x064,
    MMIO_STATUS = 0x070,
    MMIO_QUEUE_DESC_LOW = 0x080,
    MMIO_QUEUE_DESC_HIGH = 0x084,
    MMIO_QUEUE_DRIVER_LOW = 0x090,
    MMIO_QUEUE_DRIVER_HIGH = 0x094,
    MMIO_QUEUE_DEVICE_LOW = 0x0a0,
    MMIO_QUEUE_DEVICE_HIGH = 0x0a4,
    MMIO_SHM_SEL = 0x0ac,
    MMIO_SHM_LEN_LOW = 0x0b0,
    MMIO_SHM_LEN_HIGH = 0x0b4,
    MMIO_SHM_BASE_LOW = 0x0b8,
    MMIO_SHM_BASE_HIGH = 0x0bc,
    MMIO_CONFIG_GENERATION = 0x0fc,
    MMIO_CONFIG = 0x100,
};

#define VIRTIO_MMIO_MAGIC  0x74726976u /* "virt" */
#define VIRTIO_VENDOR_VMON 0x4e4f4d56u /* "VMON" */

/* Descriptor flags (spec 2.7.5) */
#define VRING_DESC_F_NEXT          1u
#define VRING_DESC_F_WRITE         2u
#define VRING_DESC_F_INDIRECT      4u
#define VRING_AVAIL_F_NO_INTERRUPT 1u

#define ISR_USED   1u
#define ISR_CONFIG 2u

/* Rings and descriptors live in guest RAM, which vCPU threads may write at
 * any moment (a hostile guest does so on purpose): relaxed atomic loads. */
static inline uint16_t ld16(const uint8_t *p)
{
    return (uint16_t)ram_load(p, 2);
}
static inline uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)ram_load(p, 4);
}
static inline uint64_t ld64(const uint8_t *p)
{
    return ram_load(p, 8);
}
/* Ring indices are shared with vCPU threads: aligned atomic accesses. */
static inline uint16_t ring_idx_load(const uint8_t *p)
{
    return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_ACQUIRE);
}
static inline void ring_idx_store(uint8_t *p, uint16_t v)
{
    __atomic_store_n((uint16_t *)(void *)p, v, __ATOMIC_RELEASE);
}

uint8_t *virtio_gpa(struct virtio_dev *d, uint64_t gpa, uint64_t len)
{
    /* A translation, not a pin: rings and tables are read at once, and the
     * used ring's writes are noted at each push. */
    uint8_t *p = mem_pin(d->vm, gpa, len, MEM_READ);
    if (p) mem_unpin(d->vm, gpa, len, MEM_READ);
    return p;
}

/* The request's buffers are the guest's again: what the device wrote drops
 * translated code and is dirty (mem_unpin). */
static void req_unpin(struct virtio_dev *d, const struct vq_req *req)
{
    for (unsigned i = 0; i < req->n_out + req->n_in && i < VQ_MAX_SEGS; i++)
        mem_unpin(d->vm, req->seg[i].gpa, req->seg[i].len, i < req->n_out ? MEM_READ : MEM_WRITE);
}

int virtio_has_feature(const struct virtio_dev *d, uint64_t f)
{
    return (d->guest_features & f) == f;
}

static void update_irq(struct virtio_dev *d)
{
    irq_set(&d->irq, atomic_load(&d->isr) != 0);
}

void virtio_log(const struct virtio_dev *d, int level, const char *fmt, ...)
{
    if (level > d->vm->log_level) return;
    char dev[64], msg[512];
    snprintf(dev, sizeof(dev), "%s@%#llx", d->ops->name, (unsigned long long)d->base);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vm_log(d->vm, level, dev, "%s", msg);
}

/* Called with d->lock held. */
static void set_broken_locked(struct virtio_dev *d, const char *why)
{
    if (!(d->status & VIRTIO_STATUS_NEEDS_RESET)) {
        d->status |= VIRTIO_STATUS_NEEDS_RESET;
        snprintf(d->broken_msg, sizeof(d->broken_msg), "%s", why);
        if (!d->broken_reported) {
            d->broken_reported = 1;
            virtio_log(d, VM_LOG_WARN, "%s; device needs reset", why);
        }
        d->config_generation++;
        atomic_fetch_or(&d->isr, ISR_CONFIG);
        update_irq(d);
    }
}

void virtio_set_broken(struct virtio_dev *d, const char *why)
{
    pthread_mutex_lock(&d->lock);
    set_broken_locked(d, why);
    pthread_mutex_unlock(&d->lock);
}

static int live_locked(const struct virtio_dev *d, unsigned q)
{
    return q < d->nqueues && d->vq[q].ready && (d->status & VIRTIO_STATUS_DRIVER_OK) &&
           !(d->status & VIRTIO_STATUS_NEEDS_RESET);
}

int vq_live(struct virtio_dev *d, unsigned q)
{
    pthread_mutex_lock(&d->lock);
    int r = live_locked(d, q);
    pthread_mutex_unlock(&d->lock);
    return r;
}

/* Walk the chain starting at head into req; 0 or -1 (reason in *why). */
static int walk_chain(struct virtio_dev *d, struct virtq *vq, uint16_t head, struct vq_req *req,
                      const char **why)
{
    const uint8_t *table = vq->desc_p;
    uint32_t count = vq->num, idx = head, seen = 0;
    int indirect = 0;
    req->n_out = req->n_in = 0;
    req->out_len = req->in_len = 0;
    unsigned n = 0;
    for (;;) {
        if (idx >= count) {
            *why = "descriptor index out of range";
            return -1;
        }
        if (++seen > count) {
            *why = "descriptor chain loops or is longer than its table";
            return -1;
        }
        const uint8_t *desc = table + 16u * idx;
        uint64_t addr = ld64(desc);
        uint32_t len = ld32(desc + 8);
        uint16_t flags = ld16(desc + 12), next = ld16(desc + 14);
        if (flags & VRING_DESC_F_INDIRECT) {
            if (!virtio_has_feature(d, VIRTIO_F_INDIRECT_DESC)) {
                *why = "indirect descriptor without VIRTIO_F_INDIRECT_DESC";
                return -1;
            }
            if (indirect) {
                *why = "nested indirect descriptor table";
                return -1;
            }
            if (flags & VRING_DESC_F_NEXT) {
                *why = "indirect descriptor with NEXT set";
                return -1;
            }
            if (len == 0 || len % 16 || len / 16 > VQ_MAX_SEGS) {
                *why = "bad indirect table length";
                return -1;
            }
            table = virtio_gpa(d, addr, len);
            if (!table) {
                *why = "indirect table outside guest RAM";
                return -1;
            }
            count = len / 16;
            idx = 0;
            seen = 0;
            indirect = 1;
            continue;
        }
        int writable = (flags & VRING_DESC_F_WRITE) != 0;
        if (!writable && req->n_in) {
            *why = "device-readable buffer after a device-writable one";
            return -1;
        }
        if (n >= VQ_MAX_SEGS) {
            *why = "too many buffers in one request";
            return -1;
        }
        /* Pinned until the request is pushed (a write: its pages leave
         * sharing now, before the device writes them). */
        uint8_t *p = mem_pin(d->vm, addr, len, writable ? MEM_WRITE : MEM_READ);
        if (!p) {
            *why = writable ? "writable buffer outside guest RAM" : "buffer outside guest RAM";
            return -1;
        }
        if (writable) {
            req->n_in++;
            req->in_len += len;
        } else {
            req->n_out++;
            req->out_len += len;
        }
        req->seg[n] = (struct vq_seg){.ptr = p, .len = len, .gpa = addr};
        n++;
        if (!(flags & VRING_DESC_F_NEXT)) return 0;
        idx = next;
    }
}

int vq_pop(struct virtio_dev *d, unsigned q, struct vq_req *req)
{
    pthread_mutex_lock(&d->lock);
    if (!live_locked(d, q)) {
        pthread_mutex_unlock(&d->lock);
        return 0;
    }
    struct virtq *vq = &d->vq[q];
    int event_idx = virtio_has_feature(d, VIRTIO_F_EVENT_IDX);
    uint16_t avail_idx = ring_idx_load(vq->avail_p + 2);
    if (avail_idx == vq->last_avail) {
        if (!event_idx) {
            pthread_mutex_unlock(&d->lock);
            return 0;
        }
        /* Ask for a notification at the next buffer, then look again so a
         * buffer added meanwhile is not missed (spec 2.7.10). */
        ring_idx_store(vq->used_p + 4 + 8u * vq->num, vq->last_avail);
        atomic_thread_fence(memory_order_seq_cst);
        avail_idx = ring_idx_load(vq->avail_p + 2);
        if (avail_idx == vq->last_avail) {
            pthread_mutex_unlock(&d->lock);
            return 0;
        }
    }
    const char *why = NULL;
    if ((uint16_t)(avail_idx - vq->last_avail) > vq->num) {
        why = "available index moved by more than the queue size";
    } else {
        uint16_t head = ld16(vq->avail_p + 4 + 2u * (vq->last_avail % vq->num));
        req->head = head;
        req->gen = d->gen;
        if (walk_chain(d, vq, head, req, &why) == 0) {
            vq->last_avail++;
            if (event_idx) ring_idx_store(vq->used_p + 4 + 8u * vq->num, vq->last_avail);
            pthread_mutex_unlock(&d->lock);
            return 1;
        }
    }
    req_unpin(d, req); /* what the walk pinned before it failed */
    req->n_out = req->n_in = 0;
    char msg[128];
    snprintf(msg, sizeof(msg), "queue %u: %s", q, why);
    set_broken_locked(d, msg);
    pthread_mutex_unlock(&d->lock);
    return -1;
}

void vq_push(struct virtio_dev *d, unsigned q, const struct vq_req *req, uint32_t written)
{
    pthread_mutex_lock(&d->lock);
    /* What the device wrote (code dropped, pages dirty) before the guest
     * sees it; unpinned even when the request no longer counts (a reset). */
    req_unpin(d, req);
    if (req->gen == d->gen && q < d->nqueues && d->vq[q].ready) {
        struct virtq *vq = &d->vq[q];
        uint8_t *e = vq->used_p + 4 + 8u * (vq->used_idx % vq->num);
        uint32_t id = req->head;
        if ((uint64_t)written > req->in_len) written = (uint32_t)req->in_len;
        mem_written(d->vm, vq->used, 6 + 8ull * vq->num + 2);
        ram_store(e, 4, id);
        ram_store(e + 4, 4, written);
        vq->used_idx++;
        ring_idx_store(vq->used_p + 2, vq->used_idx);
    }
    pthread_mutex_unlock(&d->lock);
}

void vq_notify(struct virtio_dev *d, unsigned q)
{
    pthread_mutex_lock(&d->lock);
    if (q < d->nqueues && d->vq[q].ready) {
        struct virtq *vq = &d->vq[q];
        atomic_thread_fence(memory_order_seq_cst);
        int need;
        if (virtio_has_feature(d, VIRTIO_F_EVENT_IDX)) {
            uint16_t event = ring_idx_load(vq->avail_p + 4 + 2u * vq->num);
            uint16_t now = vq->used_idx, old = vq->signalled_used;
            need = !vq->signalled_valid || (uint16_t)(now - event - 1) < (uint16_t)(now - old);
        } else {
            need = !(ring_idx_load(vq->avail_p) & VRING_AVAIL_F_NO_INTERRUPT);
        }
        if (vq->used_idx == vq->signalled_used && vq->signalled_valid) need = 0;
        if (need) {
            vq->signalled_used = vq->used_idx;
            vq->signalled_valid = 1;
            atomic_fetch_or(&d->isr, ISR_USED);
            update_irq(d);
        }
    }
    pthread_mutex_unlock(&d->lock);
}

void virtio_config_changed(struct virtio_dev *d)
{
    pthread_mutex_lock(&d->lock);
    d->config_generation++;
    if (d->status & VIRTIO_STATUS_DRIVER_OK) {
        atomic_fetch_or(&d->isr, ISR_CONFIG);
        update_irq(d);
    }
    pthread_mutex_unlock(&d->lock);
}

size_t vq_req_read(const struct vq_req *req, size_t off, void *buf, size_t len)
{
    size_t done = 0;
    for (unsigned i = 0; i < req->n_out && done < len; i++) {
        const struct vq_seg *s = &req->seg[i];
        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        size_t n = s->len - off;
        if (n > len - done) n = len - done;
        ram_copy_from((uint8_t *)buf + done, s->ptr + off, n);
        done += n;
        off = 0;
    }
    return done;
}

size_t vq_req_write(const struct vq_req *req, size_t off, const void *buf, size_t len)
{
    size_t done = 0;
    for (unsigned i = req->n_out; i < req->n_out + req->n_in && done < len; i++) {
        const struct vq_seg *s = &req->seg[i];
        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        size_t n = s->len - off;
        if (n > len - done) n = len - done;
        ram_copy_to(s->ptr + off, (const uint8_t *)buf + done, n);
        done += n;
        off = 0;
    }
    return done;
}

unsigned vq_req_iov(const struct vq_req *req, int in, size_t off, size_t len, struct iovec *iov,
                    unsigned max)
{
    unsigned first = in ? req->n_out : 0, end = in ? req->n_out + req->n_in : req->n_out;
    unsigned k = 0;
    for (unsigned i = first; i < end && len && k < max; i++) {
        const struct vq_seg *s = &req->seg[i];
        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        size_t n = s->len - off;
        if (n > len) n = len;
        if (n) {
            iov[k].iov_base = s->ptr + off;
            iov[k].iov_len = n;
            k++;
        }
        len -= n;
        off = 0;
    }
    return k;
}

/* ---- transport ---- */

/* Reset transport state; the device's own reset runs after, unlocked. */
static void transport_reset_locked(struct virtio_dev *d)
{
    d->gen++;
    d->status = 0;
    d->guest_features = 0;
    d->dev_feat_sel = d->drv_feat_sel = d->queue_sel = 0;
    atomic_store(&d->isr, 0);
    d->broken_reported = 0;
    for (unsigned i = 0; i < d->nqueues; i++) {
        struct virtq *vq = &d->vq[i];
        uint32_t max = vq->num_max;
        memset(vq, 0, sizeof(*vq));
        vq->num_max = max;
        vq->num = max;
    }
    update_irq(d);
}

/* ---- worker threads ---- */

static void *worker_main(void *arg)
{
    struct virtio_dev *d = arg;
    struct virtio_worker *w = &d->worker;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->kicked && !w->stop)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->stop) break;
        w->kicked = 0;
        w->running = 1;
        pthread_mutex_unlock(&w->lock);
        d->ops->work(d);
        pthread_mutex_lock(&w->lock);
        w->running = 0;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static int worker_start(struct virtio_dev *d)
{
    struct virtio_worker *w = &d->worker;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, d) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        return -1;
    }
    w->started = 1;
    return 0;
}

static void worker_kick(struct virtio_worker *w)
{
    if (!w->started) return;
    pthread_mutex_lock(&w->lock);
    w->kicked = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Wait until the worker is idle (not running work() and not kicked). */
static void worker_quiesce(struct virtio_worker *w)
{
    if (!w->started) return;
    pthread_mutex_lock(&w->lock);
    while (w->running || w->kicked)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

void virtio_quiesce(struct virtio_dev *d)
{
    if (d->ops->work) worker_quiesce(&d->worker);
}

static void worker_stop(struct virtio_worker *w)
{
    if (!w->started) return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    w->started = 0;
}

static void device_reset(struct virtio_dev *d)
{
    pthread_mutex_lock(&d->lock);
    transport_reset_locked(d);
    pthread_mutex_unlock(&d->lock);
    worker_quiesce(&d->worker); /* out of guest memory before the device resets */
    if (d->ops->reset) d->ops->reset(d);
}

/* The driver (or a restore) says queue q has new buffers. */
static void queue_notify(struct virtio_dev *d, unsigned q)
{
    if (d->ops->notify) d->ops->notify(d, q);
    worker_kick(&d->worker);
}

static int queue_enable_locked(struct virtio_dev *d, struct virtq *vq)
{
    uint32_t n = vq->num;
    if (n == 0 || n > vq->num_max || (n & (n - 1))) return -1;
    if ((vq->desc & 15) || (vq->avail & 1) || (vq->used & 3)) return -1;
    vq->desc_p = virtio_gpa(d, vq->desc, 16ull * n);
    vq->avail_p = virtio_gpa(d, vq->avail, 6ull + 2ull * n);
    vq->used_p = virtio_gpa(d, vq->used, 6ull + 8ull * n);
    if (!vq->desc_p || !vq->avail_p || !vq->used_p) return -1;
    vq->last_avail = 0; /* a freshly enabled queue starts at index 0 (2.7.6, 2.7.8) */
    vq->used_idx = 0;
    vq->signalled_valid = 0;
    vq->ready = 1;
    return 0;
}

static int mmio_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
    struct virtio_dev *d = dev;
    if (off >= MMIO_CONFIG) {
        uint64_t co = off - MMIO_CONFIG;
        if (co + size > d->config_size) {
            *val = 0;
            return 0;
        }
        if (d->ops->config_refresh) d->ops->config_refresh(d);
        pthread_mutex_lock(&d->lock);
        uint64_t v = 0;
        memcpy(&v, d->config + co, size);
        pthread_mutex_unlock(&d->lock);
        *val = v;
        return 0;
    }
    if (size != 4 || (off & 3)) return -1;
    pthread_mutex_lock(&d->lock);
    struct virtq *vq = d->queue_sel < d->nqueues ? &d->vq[d->queue_sel] : NULL;
    uint32_t v = 0;
    switch (off) {
    case MMIO_MAGIC: v = VIRTIO_MMIO_MAGIC; break;
    case MMIO_VERSION: v = 2; break;
    case MMIO_DEVICE_ID: v = d->device_id; break;
    case MMIO_VENDOR_ID: v = VIRTIO_VENDOR_VMON; break;
    case MMIO_DEVICE_FEATURES:
        v = d->dev_feat_sel < 2 ? (uint32_t)(d->host_features >> (32 * d->dev_feat_sel)) : 0;
        break;
    case MMIO_QUEUE_NUM_MAX: v = vq ? vq->num_max : 0; break;
    case MMIO_QUEUE_READY: v = vq ? (uint32_t)vq->ready : 0; break;
    case MMIO_INTERRUPT_STATUS: v = atomic_load(&d->isr); break;
    case MMIO_STATUS: v = d->status; break;
    case MMIO_QUEUE_DESC_LOW: v = vq ? (uint32_t)vq->desc : 0; break;
    case MMIO_QUEUE_DESC_HIGH: v = vq ? (uint32_t)(vq->desc >> 32) : 0; break;
    case MMIO_QUEUE_DRIVER_LOW: v = vq ? (uint32_t)vq->avail : 0; break;
    case MMIO_QUEUE_DRIVER_HIGH: v = vq ? (uint32_t)(vq->avail >> 32) : 0; break;
    case MMIO_QUEUE_DEVICE_LOW: v = vq ? (uint32_t)vq->used : 0; break;
    case MMIO_QUEUE_DEVICE_HIGH: v = vq ? (uint32_t)(vq->used >> 32) : 0; break;
    case MMIO_SHM_LEN_LOW:
    case MMIO_SHM_LEN_HIGH:
    case MMIO_SHM_BASE_LOW:
    case MMIO_SHM_BASE_HIGH: v = 0xffffffffu; break; /* no shared memory regions */
    case MMIO_CONFIG_GENERATION: v = d->config_generation; break;
    default: v = 0;
    }
    pthread_mutex_unlock(&d->lock);
    *val = v;
    return 0;
}

static void set_addr(uint64_t *a, int high, uint32_t v)
{
    *a = high ? (*a & 0xffffffffull) | ((uint64_t)v << 32) : (*a & ~0xffffffffull) | v;
}

static void status_write(struct virtio_dev *d, uint32_t v)
{
    if (v == 0) {
        device_reset(d);
        return;
    }
    pthread_mutex_lock(&d->lock);
    uint32_t old = d->status;
    uint32_t nw = (v & ~VIRTIO_STATUS_NEEDS_RESET) | (old & VIRTIO_STATUS_NEEDS_RESET);
    if ((nw & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
        /* Feature negotiation ends here (spec 3.1.1 step 5). Modern only. */
        int ok = (d->guest_features & ~d->host_features) == 0 &&
                 (d->guest_features & VIRTIO_F_VERSION_1);
        uint64_t f = d->guest_features;
        pthread_mutex_unlock(&d->lock);
        if (ok && d->ops->features_ok) ok = d->ops->features_ok(d, f) == 0;
        pthread_mutex_lock(&d->lock);
        if (!ok) nw &= ~VIRTIO_STATUS_FEATURES_OK;
    }
    if ((nw & VIRTIO_STATUS_DRIVER_OK) && !(nw & VIRTIO_STATUS_FEATURES_OK)) {
        /* DRIVER_OK without accepted features: refuse to go live. */
        nw &= ~VIRTIO_STATUS_DRIVER_OK;
    }
    int start = (nw & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK);
    d->status = nw;
    pthread_mutex_unlock(&d->lock);
    if (start && d->ops->start) d->ops->start(d);
}

static int mmio_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
    struct virtio_dev *d = dev;
    if (off >= MMIO_CONFIG) {
        uint64_t co = off - MMIO_CONFIG;
        if (co + size <= d->config_size && d->ops->config_write)
            d->ops->config_write(d, (unsigned)co, size, val);
        return 0;
    }
    if (size != 4 || (off & 3)) return -1;
    uint32_t v = (uint32_t)val;
    if (off == MMIO_STATUS) {
        status_write(d, v);
        return 0;
    }
    if (off == MMIO_QUEUE_NOTIFY) {
        if (v < d->nqueues) queue_notify(d, v);
        return 0;
    }
    pthread_mutex_lock(&d->lock);
    struct virtq *vq = d->queue_sel < d->nqueues ? &d->vq[d->queue_sel] : NULL;
    int features_open = !(d->status & VIRTIO_STATUS_FEATURES_OK);
    switch (off) {
    case MMIO_DEVICE_FEATURES_SEL: d->dev_feat_sel = v; break;
    case MMIO_DRIVER_FEATURES_SEL: d->drv_feat_sel = v; break;
    case MMIO_DRIVER_FEATURES:
        if (features_open && d->drv_feat_sel < 2) {
            unsigned sh = 32 * d->drv_feat_sel;
            d->guest_features = (d->guest_features & ~(0xffffffffull << sh)) | ((uint64_t)v << sh);
        }
        break;
    case MMIO_QUEUE_SEL: d->queue_sel = v; break;
    case MMIO_QUEUE_NUM:
        if (vq && !vq->ready) vq->num = v;
        break;
    case MMIO_QUEUE_READY:
        if (!vq) break;
        if (v & 1) {
            if (!vq->ready && queue_enable_locked(d, vq) < 0) {
                char m[96];
                snprintf(m, sizeof(m), "queue %u: bad size or ring address", d->queue_sel);
                set_broken_locked(d, m);
            }
        } else {
            vq->ready = 0;
        }
        break;
    case MMIO_QUEUE_DESC_LOW:
    case MMIO_QUEUE_DESC_HIGH:
        if (vq && !vq->ready) set_addr(&vq->desc, off == MMIO_QUEUE_DESC_HIGH, v);
        break;
    case MMIO_QUEUE_DRIVER_LOW:
    case MMIO_QUEUE_DRIVER_HIGH:
        if (vq && !vq->ready) set_addr(&vq->avail, off == MMIO_QUEUE_DRIVER_HIGH, v);
        break;
    case MMIO_QUEUE_DEVICE_LOW:
    case MMIO_QUEUE_DEVICE_HIGH:
        if (vq && !vq->ready) set_addr(&vq->used, off == MMIO_QUEUE_DEVICE_HIGH, v);
        break;
    case MMIO_INTERRUPT_ACK:
        atomic_fetch_and(&d->isr, ~v);
        update_irq(d);
        break;
    default: break; /* read-only or unknown: ignored */
    }
    pthread_mutex_unlock(&d->lock);
    return 0;
}

static void mmio_reset(void *dev)
{
    device_reset(dev);
}

static int mmio_fdt(void *dev, struct fdt_ctx *c, uint64_t base, uint64_t size)
{
    struct virtio_dev *d = dev;
    if (fdt_begin_dev(c, "virtio_mmio", base, size) < 0 ||
        fdt_property_string(c->fdt, "compatible", "virtio,mmio") < 0 || fdt_irq(c, d->irq.num) < 0)
        return -1;
    return fdt_end_node(c->fdt);
}

static void mmio_destroy(void *dev)
{
    struct virtio_dev *d = dev;
    worker_stop(&d->worker);
    if (d->ops->destroy) d->ops->destroy(d);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

/* ---- snapshots ---- */

void virtio_park_init(struct virtio_park *p)
{
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    atomic_store(&p->want, 0);
    p->parked = 0;
}

void virtio_park_destroy(struct virtio_park *p)
{
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
}

void virtio_park_point(struct virtio_park *p)
{
    if (!atomic_load(&p->want)) return;
    pthread_mutex_lock(&p->lock);
    p->parked = 1;
    pthread_cond_broadcast(&p->cond);
    while (atomic_load(&p->want))
        pthread_cond_wait(&p->cond, &p->lock);
    p->parked = 0;
    pthread_mutex_unlock(&p->lock);
}

void virtio_park_hold(struct virtio_park *p, void (*kick)(void *arg), void *arg)
{
    atomic_store(&p->want, 1);
    kick(arg);
    pthread_mutex_lock(&p->lock);
    while (!p->parked)
        pthread_cond_wait(&p->cond, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void virtio_park_release(struct virtio_park *p)
{
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->want, 0);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void mmio_hold(void *dev, int on)
{
    struct virtio_dev *d = dev;
    if (on) worker_quiesce(&d->worker);
    if (d->ops->hold) d->ops->hold(d, on);
}

static void mmio_save(void *dev, struct snap_w *w)
{
    struct virtio_dev *d = dev;
    worker_quiesce(&d->worker);
    pthread_mutex_lock(&d->lock);
    snap_u32(w, d->device_id);
    snap_u64(w, d->guest_features);
    snap_u32(w, d->status);
    snap_u32(w, d->dev_feat_sel);
    snap_u32(w, d->drv_feat_sel);
    snap_u32(w, d->queue_sel);
    snap_u32(w, atomic_load(&d->isr));
    snap_u32(w, d->config_generation);
    snap_u32(w, d->nqueues);
    for (unsigned i = 0; i < d->nqueues; i++) {
        const struct virtq *vq = &d->vq[i];
        unsigned held = d->ops->held ? d->ops->held(d, i) : 0;
        snap_u32(w, vq->num);
        snap_u64(w, vq->desc);
        snap_u64(w, vq->avail);
        snap_u64(w, vq->used);
        snap_u32(w, (uint32_t)vq->ready);
        snap_u32(w, (uint16_t)(vq->last_avail - held));
        snap_u32(w, vq->used_idx);
        snap_u32(w, vq->signalled_used);
        snap_u32(w, (uint32_t)vq->signalled_valid);
    }
    snap_u32(w, d->config_size);
    snap_put(w, d->config, d->config_size);
    pthread_mutex_unlock(&d->lock);
    if (d->ops->save) d->ops->save(d, w);
}

static int load_queue_locked(struct virtio_dev *d, struct virtq *vq, struct snap_r *r)
{
    vq->num = snap_get_u32(r);
    vq->desc = snap_get_u64(r);
    vq->avail = snap_get_u64(r);
    vq->used = snap_get_u64(r);
    int ready = snap_get_u32(r) != 0;
    uint16_t last_avail = (uint16_t)snap_get_u32(r), used_idx = (uint16_t)snap_get_u32(r);
    uint16_t signalled = (uint16_t)snap_get_u32(r);
    int sig_valid = snap_get_u32(r) != 0;
    if (r->err[0]) return -1;
    if (vq->num == 0 || vq->num > vq->num_max || (vq->num & (vq->num - 1)))
        return snap_fail(r, "queue size %u (at most %u, a power of 2)", vq->num, vq->num_max);
    vq->ready = 0;
    if (ready && queue_enable_locked(d, vq) < 0)
        return snap_fail(r, "a queue's rings lie outside guest RAM or are misaligned");
    vq->last_avail = last_avail;
    vq->used_idx = used_idx;
    vq->signalled_used = signalled;
    vq->signalled_valid = sig_valid;
    return 0;
}

static int load_transport_locked(struct virtio_dev *d, struct snap_r *r)
{
    uint32_t id = snap_get_u32(r);
    if (!r->err[0] && id != d->device_id)
        return snap_fail(r, "device type %u where this machine has type %u", id, d->device_id);
    d->guest_features = snap_get_u64(r);
    if (d->guest_features & ~d->host_features)
        return snap_fail(r, "features 0x%llx the device does not offer",
                         (unsigned long long)(d->guest_features & ~d->host_features));
    d->status = snap_get_u32(r) & 0xff;
    d->dev_feat_sel = snap_get_u32(r);
    d->drv_feat_sel = snap_get_u32(r);
    d->queue_sel = snap_get_u32(r);
    atomic_store(&d->isr, snap_get_u32(r) & 3);
    d->config_generation = snap_get_u32(r);
    if (snap_get_u32(r) != d->nqueues) return snap_fail(r, "wrong number of queues");
    for (unsigned i = 0; i < d->nqueues; i++)
        if (load_queue_locked(d, &d->vq[i], r) < 0) return -1;
    if (snap_get_u32(r) != d->config_size) return snap_fail(r, "config space of another size");
    snap_get(r, d->config, d->config_size);
    return r->err[0] ? -1 : 0;
}

static int mmio_load(void *dev, struct snap_r *r)
{
    struct virtio_dev *d = dev;
    pthread_mutex_lock(&d->lock);
    int bad = load_transport_locked(d, r);
    uint32_t status = d->status;
    uint64_t features = d->guest_features;
    if (bad) transport_reset_locked(d);
    update_irq(d);
    pthread_mutex_unlock(&d->lock);
    if (bad) return -1;
    if ((status & VIRTIO_STATUS_FEATURES_OK) && d->ops->features_ok &&
        d->ops->features_ok(d, features) < 0)
        return snap_fail(r, "the device refuses the saved features");
    if (d->ops->load && d->ops->load(d, r) < 0) return -1;
    if (!(status & VIRTIO_STATUS_DRIVER_OK) || (status & VIRTIO_STATUS_NEEDS_RESET)) return 0;
    if (d->ops->start) d->ops->start(d);
    /* Serve what the driver queued before the snapshot (and the requests
     * the device held, handed back to the rings). */
    for (unsigned q = 0; q < d->nqueues; q++)
        if (d->vq[q].ready) queue_notify(d, q);
    return 0;
}

static const struct dev_ops virtio_mmio_ops = {
    .name = "virtio-mmio",
    .save = mmio_save,
    .load = mmio_load,
    .hold = mmio_hold,
    .read = mmio_read,
    .write = mmio_write,
    .reset = mmio_reset,
    .fdt = mmio_fdt,
    .destroy = mmio_destroy,
};

struct virtio_dev *virtio_mmio_create(struct vm *vm, uint64_t base, struct irq_line irq,
                                      uint32_t device_id, const struct virtio_dev_ops *ops,
                                      void *priv, uint64_t features, unsigned nqueues,
                                      unsigned queue_max, uint8_t *config, unsigned config_size)
{
    if (nqueues > VIRTIO_MAX_QUEUES || queue_max == 0 || (queue_max & (queue_max - 1)) ||
        queue_max > 32768)
        return NULL;
    struct virtio_dev *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->vm = vm;
    d->ops = ops;
    d->priv = priv;
    d->device_id = device_id;
    d->host_features = features | VIRTIO_F_VERSION_1;
    d->nqueues = nqueues;
    d->config = config;
    d->config_size = config_size;
    d->irq = irq;
    d->base = base;
    pthread_mutex_init(&d->lock, NULL);
    for (unsigned i = 0; i < nqueues; i++)
        d->vq[i].num_max = d->vq[i].num = queue_max;
    if (ops->work && worker_start(d) < 0) {
        pthread_mutex_destroy(&d->lock);
        free(d);
        return NULL;
    }
    if (bus_add_mmio(&vm->bus, base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, d) < 0) {
        worker_stop(&d->worker);
        pthread_mutex_destroy(&d->lock);
        free(d);
        return NULL;
    }
    return d;
}
