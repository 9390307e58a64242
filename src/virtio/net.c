/* virtio-net (virtio 1.2 section 5.1): one receive queue (0) and one
 * transmit queue (1), VIRTIO_NET_F_MAC and VIRTIO_NET_F_STATUS (link always
 * up), no offloads, so every buffer carries the 12-byte struct
 * virtio_net_hdr (num_buffers present with VERSION_1) and a complete
 * Ethernet frame. Without VIRTIO_NET_F_MRG_RXBUF each receive buffer must
 * hold a whole frame plus the header (Linux then posts 1.5 KiB "small"
 * buffers, enough for MTU 1500).
 *
 * All network I/O runs on a per-device I/O thread that polls the backend's
 * descriptors and an eventfd the vCPUs kick when the driver notifies either
 * queue. It sends transmitted frames to the backend, puts received frames
 * into receive buffers and interrupts the guest. When the guest has posted
 * no receive buffer the thread stops reading from the backend (until the
 * driver notifies the receive queue); the few frames a backend produces
 * anyway (slirp's ARP replies, ACKs and timers) wait in a short queue.
 *
 *   vmon run ... --net user,hostfwd=tcp::2222-:22[,mac=52:54:00:12:34:56]
 *   vmon run ... --net tap,ifname=tap0
 * VMON_NET_DEBUG=1 in the environment prints the packet counters at exit. */
#include "virtio/devices.h"
#include "virtio/virtio.h"
#include "backend/net.h"
#include "vmm/vm.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Feature bits (spec 5.1.3) */
#define VIRTIO_NET_F_MAC    (1ull << 5)
#define VIRTIO_NET_F_STATUS (1ull << 16)
/* Status field (spec 5.1.4) */
#define VIRTIO_NET_S_LINK_UP 1u
/* struct virtio_net_hdr (spec 5.1.6) */
#define NET_HDR_LEN             12u
#define NET_HDR_GSO_TYPE        1
#define NET_HDR_NUM_BUFFERS     10
#define VIRTIO_NET_HDR_GSO_NONE 0

#define NET_RXQ           0
#define NET_TXQ           1
#define NET_QUEUE_MAX     256
#define NET_CONFIG_SIZE   10 /* mac[6], status, max_virtqueue_pairs */
#define ETH_HLEN          14u
#define NET_TX_BUDGET     256 /* transmit requests per loop round */
#define NET_PENDING_MAX   256 /* frames held while the guest has no rx buffer */
#define NET_PENDING_BYTES (1u << 20)
#define NET_POLL_MAX_MS   1000 /* the I/O thread never sleeps longer */

struct net_frame {
    uint8_t *data;
    size_t len;
};

struct net {
    struct virtio_dev *vdev;
    struct net_backend *be;
    uint8_t config[NET_CONFIG_SIZE];
    uint8_t mac[6];           /* this device's own (--net ...,mac=) */
    int efd;                  /* vCPUs -> I/O thread kicks */
    _Atomic int kick_pending; /* an eventfd write is outstanding */
    _Atomic int stop;
    pthread_t thread;
    int thread_started;
    struct virtio_park park; /* snapshots hold the I/O thread here */

    /* Receive state, shared by the I/O thread and reset (vCPU thread).
     * Lock order: n->lock, then the transport's d->lock. */
    pthread_mutex_t lock;
    int rx_held;   /* rx_req is a popped receive buffer not yet used */
    int rx_pushed; /* buffers returned since the last interrupt check */
    struct net_frame pend[NET_PENDING_MAX];
    unsigned pend_head, pend_count;
    size_t pend_bytes;
    uint64_t rx_packets, rx_dropped, rx_bad_buffers;
    struct vq_req rx_req;

    /* I/O thread only */
    struct net_pollset ps;
    uint64_t tx_packets, tx_dropped;
    int tx_bad_reported, poll_error_reported;
    struct vq_req tx_req;
    uint8_t txbuf[NET_HDR_LEN + NET_FRAME_MAX];
};

/* ---- receive path (I/O thread; n->lock held) ---- */

/* Make sure a receive buffer is at hand; 0 if the guest has none. */
static int rx_take_buffer(struct net *n)
{
    while (!n->rx_held) {
        if (vq_pop(n->vdev, NET_RXQ, &n->rx_req) != 1) return 0;
        if (n->rx_req.in_len >= NET_HDR_LEN + ETH_HLEN) {
            n->rx_held = 1;
            break;
        }
        /* Cannot hold any frame (or not device-writable): hand it back
         * empty rather than keep it forever. */
        n->rx_bad_buffers++;
        vq_push(n->vdev, NET_RXQ, &n->rx_req, 0);
        n->rx_pushed = 1;
    }
    return 1;
}

/* Put one frame into the held buffer. Returns 1 when the frame is
 * consumed (delivered, or dropped because it does not fit: the buffer is
 * kept for the next one), 0 when there is no buffer. */
static int rx_deliver(struct net *n, const uint8_t *frame, size_t len)
{
    if (!rx_take_buffer(n)) return 0;
    if (len + NET_HDR_LEN > n->rx_req.in_len) {
        n->rx_dropped++;
        return 1;
    }
    uint8_t hdr[NET_HDR_LEN] = {0};
    hdr[NET_HDR_NUM_BUFFERS] = 1; /* le16 1: one buffer without MRG_RXBUF */
    vq_req_write(&n->rx_req, 0, hdr, NET_HDR_LEN);
    vq_req_write(&n->rx_req, NET_HDR_LEN, frame, len);
    vq_push(n->vdev, NET_RXQ, &n->rx_req, (uint32_t)(NET_HDR_LEN + len));
    n->rx_held = 0;
    n->rx_pushed = 1;
    n->rx_packets++;
    atomic_fetch_add_explicit(&n->vdev->vm->io.net_rx, len, memory_order_relaxed);
    return 1;
}

static void pend_drop_all(struct net *n)
{
    while (n->pend_count) {
        struct net_frame *f = &n->pend[n->pend_head];
        free(f->data);
        f->data = NULL;
        n->pend_head = (n->pend_head + 1) % NET_PENDING_MAX;
        n->pend_count--;
        n->rx_dropped++;
    }
    n->pend_bytes = 0;
}

/* Deliver held frames, oldest first, while there are buffers. */
static void pend_flush(struct net *n)
{
    if (!n->pend_count) return;
    if (!vq_live(n->vdev, NET_RXQ)) {
        pend_drop_all(n);
        return;
    }
    while (n->pend_count) {
        struct net_frame *f = &n->pend[n->pend_head];
        if (!rx_deliver(n, f->data, f->len)) break;
        n->pend_bytes -= f->len;
        free(f->data);
        f->data = NULL;
        n->pend_head = (n->pend_head + 1) % NET_PENDING_MAX;
        n->pend_count--;
    }
}

static void pend_add(struct net *n, const uint8_t *frame, size_t len)
{
    if (n->pend_count >= NET_PENDING_MAX || n->pend_bytes + len > NET_PENDING_BYTES) {
        n->rx_dropped++;
        return;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        n->rx_dropped++;
        return;
    }
    memcpy(copy, frame, len);
    struct net_frame *f = &n->pend[(n->pend_head + n->pend_count) % NET_PENDING_MAX];
    f->data = copy;
    f->len = len;
    n->pend_count++;
    n->pend_bytes += len;
}

/* net_client callbacks */
static void net_rx_frame(void *opaque, const uint8_t *frame, size_t len)
{
    struct net *n = opaque;
    pthread_mutex_lock(&n->lock);
    if (len > NET_FRAME_MAX || !vq_live(n->vdev, NET_RXQ)) {
        n->rx_dropped++; /* too big, or no driver to take it */
    } else {
        pend_flush(n);
        if (n->pend_count || !rx_deliver(n, frame, len)) pend_add(n, frame, len);
    }
    pthread_mutex_unlock(&n->lock);
}

static int net_rx_ready(void *opaque)
{
    struct net *n = opaque;
    pthread_mutex_lock(&n->lock);
    pend_flush(n);
    int ok = n->pend_count == 0 && rx_take_buffer(n);
    pthread_mutex_unlock(&n->lock);
    return ok;
}

/* Interrupt the driver if buffers were returned (event index rules apply). */
static void rx_signal(struct net *n)
{
    pthread_mutex_lock(&n->lock);
    int pushed = n->rx_pushed;
    n->rx_pushed = 0;
    pthread_mutex_unlock(&n->lock);
    if (pushed) vq_notify(n->vdev, NET_RXQ);
}

/* ---- transmit path (I/O thread) ---- */

static void tx_bad(struct net *n, const char *why, uint64_t len)
{
    n->tx_dropped++;
    if (!n->tx_bad_reported) {
        n->tx_bad_reported = 1;
        virtio_log(n->vdev, VM_LOG_WARN, "dropping transmit buffer of %llu bytes: %s",
                   (unsigned long long)len, why);
    }
}

/* Send what the driver queued, at most a budget's worth; returns 1 if the
 * budget ran out (more may be waiting). */
static int net_tx(struct net *n)
{
    struct virtio_dev *d = n->vdev;
    unsigned done = 0;
    while (done < NET_TX_BUDGET) {
        struct vq_req *req = &n->tx_req;
        if (vq_pop(d, NET_TXQ, req) != 1) break;
        done++;
        uint64_t total = req->out_len;
        if (total < NET_HDR_LEN + ETH_HLEN) {
            tx_bad(n, "shorter than the header and an Ethernet header", total);
            vq_push(d, NET_TXQ, req, 0);
            continue;
        }
        if (total > NET_HDR_LEN + NET_FRAME_MAX) {
            tx_bad(n, "frame larger than 65535 bytes", total);
            vq_push(d, NET_TXQ, req, 0);
            continue;
        }
        size_t got = vq_req_read(req, 0, n->txbuf, (size_t)total);
        vq_push(d, NET_TXQ, req, 0);
        if (got != total) { /* cannot happen: out_len is the segments' sum */
            tx_bad(n, "short read", total);
            continue;
        }
        if (n->txbuf[NET_HDR_GSO_TYPE] != VIRTIO_NET_HDR_GSO_NONE) {
            tx_bad(n, "segmentation offload requested but not negotiated", total);
            continue;
        }
        n->be->ops->send(n->be, n->txbuf + NET_HDR_LEN, (size_t)total - NET_HDR_LEN);
        n->tx_packets++;
        atomic_fetch_add_explicit(&d->vm->io.net_tx, total - NET_HDR_LEN, memory_order_relaxed);
    }
    if (done) vq_notify(d, NET_TXQ);
    return done == NET_TX_BUDGET;
}

/* ---- I/O thread ---- */

static void net_kick(struct net *n)
{
    if (!atomic_exchange(&n->kick_pending, 1)) {
        uint64_t one = 1;
        ssize_t r;
        do {
            r = write(n->efd, &one, sizeof(one));
        } while (r < 0 && errno == EINTR);
    }
}

static void *net_io_main(void *arg)
{
    struct net *n = arg;
    struct net_backend *be = n->be;
    while (!atomic_load(&n->stop)) {
        virtio_park_point(&n->park);
        int busy = net_tx(n);
        pthread_mutex_lock(&n->lock);
        pend_flush(n);
        int rx_ok = n->pend_count == 0 && rx_take_buffer(n);
        pthread_mutex_unlock(&n->lock);
        rx_signal(n);

        n->ps.n = 0;
        int timeout = busy ? 0 : NET_POLL_MAX_MS;
        int fill = net_pollset_add(&n->ps, n->efd, POLLIN) < 0 ? -1 : 0;
        if (fill == 0) fill = be->ops->poll_fill(be, &n->ps, rx_ok, &timeout);
        if (fill < 0 && !n->poll_error_reported) {
            n->poll_error_reported = 1;
            virtio_log(n->vdev, VM_LOG_ERROR, "out of memory for the poll set");
        }
        if (timeout < 0 || timeout > NET_POLL_MAX_MS) timeout = NET_POLL_MAX_MS;
        int r = n->ps.n ? poll(n->ps.fds, n->ps.n, timeout) : -1;
        int failed = 0;
        if (r < 0) {
            for (unsigned i = 0; i < n->ps.n; i++)
                n->ps.fds[i].revents = 0;
            if (!n->ps.n || errno != EINTR) {
                failed = 1;
                if (!n->poll_error_reported) {
                    n->poll_error_reported = 1;
                    virtio_log(n->vdev, VM_LOG_ERROR, "poll: %s", strerror(errno));
                }
                usleep(10000); /* do not spin on a persistent failure */
            }
        }
        if (n->ps.n && (n->ps.fds[0].revents & POLLIN)) {
            atomic_store(&n->kick_pending, 0);
            uint64_t v;
            if (read(n->efd, &v, sizeof(v)) < 0) { /* EAGAIN: nothing to clear */
            }
        }
        be->ops->poll_done(be, &n->ps, failed);
        rx_signal(n);
    }
    return NULL;
}

/* ---- virtio_dev_ops ---- */

static void net_notify(struct virtio_dev *d, unsigned q)
{
    net_kick(d->priv); /* tx frames queued or rx buffers posted */
}

static void net_start(struct virtio_dev *d)
{
    net_kick(d->priv);
}

static void net_kick_arg(void *n)
{
    net_kick(n);
}

static void net_hold(struct virtio_dev *d, int on)
{
    struct net *n = d->priv;
    if (!n->thread_started) return;
    if (on)
        virtio_park_hold(&n->park, net_kick_arg, n);
    else
        virtio_park_release(&n->park);
}

/* The receive buffer waiting for a frame goes back to the ring in a
 * snapshot (the I/O thread is held). Frames waiting for buffers are lost,
 * as on a real link. */
static unsigned net_held(struct virtio_dev *d, unsigned q)
{
    struct net *n = d->priv;
    return q == NET_RXQ && n->rx_held;
}

/* A restored device keeps the MAC it was given (a clone's own), not the
 * snapshot's: a driver that reads the config again (after a reboot, or a
 * rebind) uses it. */
static int net_load(struct virtio_dev *d, struct snap_r *r)
{
    struct net *n = d->priv;
    pthread_mutex_lock(&d->lock);
    memcpy(n->config, n->mac, sizeof(n->mac));
    pthread_mutex_unlock(&d->lock);
    return 0;
}

static void net_reset(struct virtio_dev *d)
{
    struct net *n = d->priv;
    pthread_mutex_lock(&n->lock);
    n->rx_held = 0; /* the buffer belonged to the old driver */
    n->rx_pushed = 0;
    pend_drop_all(n);
    pthread_mutex_unlock(&n->lock);
}

static void net_free(struct net *n)
{
    if (n->thread_started) {
        atomic_store(&n->stop, 1);
        uint64_t one = 1;
        if (write(n->efd, &one, sizeof(one)) < 0) { /* the thread wakes within a second anyway */
        }
        pthread_join(n->thread, NULL);
    }
    if (n->vdev)
        virtio_log(n->vdev, VM_LOG_DEBUG, "rx %llu dropped %llu bad %llu tx %llu dropped %llu",
                   (unsigned long long)n->rx_packets, (unsigned long long)n->rx_dropped,
                   (unsigned long long)n->rx_bad_buffers, (unsigned long long)n->tx_packets,
                   (unsigned long long)n->tx_dropped);
    if (n->be) n->be->ops->destroy(n->be);
    pend_drop_all(n);
    if (n->efd >= 0) close(n->efd);
    free(n->ps.fds);
    pthread_mutex_destroy(&n->lock);
    virtio_park_destroy(&n->park);
    free(n);
}

static void net_destroy(struct virtio_dev *d)
{
    net_free(d->priv);
}

static const struct virtio_dev_ops net_ops = {
    .name = "virtio-net",
    .notify = net_notify,
    .start = net_start,
    .reset = net_reset,
    .destroy = net_destroy,
    .hold = net_hold,
    .held = net_held,
    .load = net_load,
};

/* ---- construction ---- */

int virtio_net_create(struct vm *vm, const struct virtio_slot *slot, const uint8_t mac[6],
                      struct net_backend *be, char *err, size_t errlen)
{
    struct net *n = calloc(1, sizeof(*n));
    if (!n) {
        be->ops->destroy(be);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    n->efd = -1;
    pthread_mutex_init(&n->lock, NULL);
    virtio_park_init(&n->park);
    n->be = be;
    n->be->client = (struct net_client){net_rx_frame, net_rx_ready, n};
    memcpy(n->config, mac, 6);
    memcpy(n->mac, mac, 6);
    n->config[6] = VIRTIO_NET_S_LINK_UP; /* status, le16 */
    n->config[8] = 1;                    /* max_virtqueue_pairs, le16 */

    n->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (n->efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }
    n->vdev = virtio_mmio_create(vm, slot->base, slot->irq, VIRTIO_ID_NET, &net_ops, n,
                                 VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_F_INDIRECT_DESC |
                                     VIRTIO_F_EVENT_IDX,
                                 2, NET_QUEUE_MAX, n->config, NET_CONFIG_SIZE);
    if (!n->vdev) {
        snprintf(err, errlen, "cannot create virtio-net");
        goto fail;
    }
    /* From here the transport owns n (net_destroy frees it). */
    int e = pthread_create(&n->thread, NULL, net_io_main, n);
    if (e) {
        snprintf(err, errlen, "cannot start the network I/O thread: %s", strerror(e));
        return -1;
    }
    n->thread_started = 1;
    pthread_setname_np(n->thread, "vmon-net");
    return 0;
fail:
    net_free(n);
    return -1;
}
