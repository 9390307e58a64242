/* virtio 1.2 core: the virtio-mmio transport (version 2, "modern") and the
 * split virtqueue, shared by every virtio device.
 *
 * Layers: a device (blk, net, rng, ...) supplies a struct virtio_dev_ops and
 * a config space; the core owns the MMIO registers (spec 4.2.2), feature
 * negotiation, device status and reset, queue setup, and turns guest rings
 * into validated requests (struct vq_req) whose segments are host pointers
 * into guest RAM. Everything the guest hands over is untrusted: descriptor
 * addresses and lengths must lie in guest RAM, chains must end within the
 * queue size, indirect tables must be well formed, device-writable buffers
 * must follow device-readable ones. A violation marks the device
 * DEVICE_NEEDS_RESET (spec 2.1.2) and it stops processing until the driver
 * resets it; vmon and the other devices carry on. */
#ifndef VMON_VIRTIO_H
#define VMON_VIRTIO_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "vmm/log.h"
#include <sys/uio.h>
#include "irq/irq.h"

struct vm;
struct snap_w;
struct snap_r;

/* Device IDs (spec 5) */
enum {
    VIRTIO_ID_NET = 1,
    VIRTIO_ID_BLOCK = 2,
    VIRTIO_ID_CONSOLE = 3,
    VIRTIO_ID_RNG = 4,
    VIRTIO_ID_BALLOON = 5,
    VIRTIO_ID_9P = 9,
    VIRTIO_ID_INPUT = 18,
    VIRTIO_ID_FS = 26,
};

/* Reserved feature bits (spec 6) */
#define VIRTIO_F_INDIRECT_DESC (1ull << 28)
#define VIRTIO_F_EVENT_IDX     (1ull << 29)
#define VIRTIO_F_VERSION_1     (1ull << 32)

/* Device status bits (spec 2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER      2u
#define VIRTIO_STATUS_DRIVER_OK   4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED      128u

#define VIRTIO_MAX_QUEUES 8
#define VIRTIO_MMIO_SIZE  0x1000
/* Segments a single request may have (direct chain or indirect table). */
#define VQ_MAX_SEGS 1024

struct virtio_dev;

struct virtio_dev_ops {
    const char *name;
    /* The driver notified queue q (called on a vCPU thread, no lock held).
     * Cheap devices serve the queue here; others wake their worker. */
    void (*notify)(struct virtio_dev *d, unsigned q);
    /* Config space access; off and size are validated against config_size.
     * Defaults: read from/write to d->config bytes (writes ignored). */
    void (*config_write)(struct virtio_dev *d, unsigned off, unsigned size, uint64_t val);
    /* Refresh d->config before a driver read (optional). */
    void (*config_refresh)(struct virtio_dev *d);
    /* Accept the driver's features (FEATURES_OK); return 0 or -1 to refuse. */
    int (*features_ok)(struct virtio_dev *d, uint64_t features);
    /* DRIVER_OK was set: queues are live (optional). */
    void (*start)(struct virtio_dev *d);
    /* The driver reset the device (status 0) or the VM reset; device state
     * other than the transport's must return to its initial values. Called
     * with no lock held and no request in flight from the core's view. */
    void (*reset)(struct virtio_dev *d);
    /* Release device resources (threads, backends, priv). */
    void (*destroy)(struct virtio_dev *d);
    /* Optional: serve the queues on a worker thread of the device's own
     * (the usual way to keep file I/O off the vCPUs). The core starts it
     * with the device, runs work(d) after every notification, waits for it
     * to be idle before reset() and stops it before destroy(). */
    void (*work)(struct virtio_dev *d);
    /* Snapshots (optional): the device's own state, saved after the
     * transport's with the VM paused and the worker idle, and loaded into a
     * device built from the same options (0, or -1 with r->err set). held
     * says how many requests the device keeps popped from queue q and not
     * yet returned, the latest it popped: the snapshot gives them back to
     * the ring, and the restored device pops them again. */
    void (*save)(struct virtio_dev *d, struct snap_w *w);
    int (*load)(struct virtio_dev *d, struct snap_r *r);
    unsigned (*held)(struct virtio_dev *d, unsigned q);
    /* A device with an I/O thread of its own (not the core's worker)
     * stops it touching guest memory and its rings (on = 1) until let go
     * (on = 0): a snapshot holds it while it writes the VM out. */
    void (*hold)(struct virtio_dev *d, int on);
};

/* Holding a device's own I/O thread still (virtio_dev_ops.hold). The
 * thread calls virtio_park_point at the top of its loop; a holder asks,
 * wakes the thread, and waits until it is parked there. */
struct virtio_park {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    _Atomic int want;
    int parked;
};
void virtio_park_init(struct virtio_park *p);
void virtio_park_destroy(struct virtio_park *p);
void virtio_park_point(struct virtio_park *p);
/* kick(arg) wakes the thread from its poll. */
void virtio_park_hold(struct virtio_park *p, void (*kick)(void *arg), void *arg);
void virtio_park_release(struct virtio_park *p);

struct virtq {
    uint32_t num;               /* queue size set by the driver */
    uint32_t num_max;           /* our maximum */
    uint64_t desc, avail, used; /* guest physical addresses */
    int ready;
    uint16_t last_avail;     /* next avail ring entry to consume */
    uint16_t used_idx;       /* next used ring entry to fill */
    uint16_t signalled_used; /* used_idx at the last interrupt */
    int signalled_valid;
    /* host pointers, valid while ready */
    uint8_t *desc_p, *avail_p, *used_p;
};

/* One segment of a request: a host pointer into guest RAM. */
struct vq_seg {
    uint8_t *ptr; /* pinned (mem/guest.h) from vq_pop to vq_push */
    uint32_t len;
    uint64_t gpa;
};

/* A validated descriptor chain: n_out device-readable segments first, then
 * n_in device-writable ones. */
struct vq_req {
    uint16_t head;
    uint32_t gen; /* device reset generation the request belongs to */
    unsigned n_out, n_in;
    uint64_t out_len, in_len;
    struct vq_seg seg[VQ_MAX_SEGS];
};

/* The worker thread of a device with a work() op (see virtio_dev_ops). */
struct virtio_worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int kicked, stop, started, running;
};

struct virtio_dev {
    struct vm *vm;
    const struct virtio_dev_ops *ops;
    void *priv; /* the device's own state */
    uint32_t device_id;
    uint64_t host_features;
    uint64_t guest_features;
    uint32_t status;
    uint32_t dev_feat_sel, drv_feat_sel, queue_sel;
    _Atomic uint32_t isr;
    uint32_t config_generation;
    uint32_t gen; /* bumped on every reset */
    unsigned nqueues;
    struct virtq vq[VIRTIO_MAX_QUEUES];
    uint8_t *config;
    unsigned config_size;
    struct irq_line irq;
    pthread_mutex_t lock; /* transport registers and ring state */
    uint64_t base;
    struct virtio_worker worker; /* when ops->work is set */
    int broken_reported;
    char broken_msg[128];
};

/* Create a virtio-mmio device at base with one interrupt line. config is
 * the device's config space (owned by the device, config_size bytes). */
/* vm_log with the device's name ("virtio-blk@0x10001000"). */
void virtio_log(const struct virtio_dev *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct virtio_dev *virtio_mmio_create(struct vm *vm, uint64_t base, struct irq_line irq,
                                      uint32_t device_id, const struct virtio_dev_ops *ops,
                                      void *priv, uint64_t features, unsigned nqueues,
                                      unsigned queue_max, uint8_t *config, unsigned config_size);

/* Take the next available request from queue q.
 * Returns 1 with *req filled, 0 when the queue is empty (or not live), and
 * -1 when the ring is malformed (the device is then marked broken). */
int vq_pop(struct virtio_dev *d, unsigned q, struct vq_req *req);
/* Return a request to the driver with `written` bytes written into its
 * device-writable part. Requests from before a reset are dropped. */
void vq_push(struct virtio_dev *d, unsigned q, const struct vq_req *req, uint32_t written);
/* Interrupt the driver for queue q if it wants one (event index rules). */
void vq_notify(struct virtio_dev *d, unsigned q);
/* Is queue q live (DRIVER_OK, ready, not broken)? */
int vq_live(struct virtio_dev *d, unsigned q);
/* Wait until the device's worker (if it has one) is idle: with the vCPUs
 * paused, nothing else touches the device until they run again. */
void virtio_quiesce(struct virtio_dev *d);
/* Tell the driver the config space changed. */
void virtio_config_changed(struct virtio_dev *d);
/* Mark the device broken (DEVICE_NEEDS_RESET) with a reason logged once. */
void virtio_set_broken(struct virtio_dev *d, const char *why);
int virtio_has_feature(const struct virtio_dev *d, uint64_t f);

/* Request payload helpers: copy between a request's readable/writable part
 * (starting at byte offset off) and a host buffer. Return bytes copied. */
size_t vq_req_read(const struct vq_req *req, size_t off, void *buf, size_t len);
size_t vq_req_write(const struct vq_req *req, size_t off, const void *buf, size_t len);
/* Fill iov (at most max entries) with the writable (in) or readable (out)
 * part from byte offset off, at most len bytes; returns entries used. */
unsigned vq_req_iov(const struct vq_req *req, int in, size_t off, size_t len, struct iovec *iov,
                    unsigned max);

/* Host pointer to [gpa, gpa+len) of guest RAM, or NULL if any byte of it is
 * outside RAM (so a guest cannot point a device elsewhere). */
uint8_t *virtio_gpa(struct virtio_dev *d, uint64_t gpa, uint64_t len);

#endif
