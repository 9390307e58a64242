/* virtio-console (virtio 1.2 section 5.3): a single port, no feature bits
 * (no MULTIPORT, SIZE or EMERG_WRITE), so the device has exactly two
 * queues: receiveq 0 (host -> guest) and transmitq 1 (guest -> host). Linux
 * shows the port as a hvc terminal (and uses it as a console with
 * console=hvcN).
 *
 *   --vconsole FILE          guest output goes to FILE (created or truncated
 *                            when vmon starts); the guest gets no input.
 *                            file=FILE says the same for any file name.
 *   --vconsole socket=PATH   vmon listens on a unix stream socket at PATH;
 *                            one client at a time receives the guest's
 *                            output and its input goes to the guest. Output
 *                            produced while no client is connected is kept
 *                            (the latest VCON_OBUF bytes) and sent to the
 *                            next client.
 *
 * All host I/O runs on a per-device I/O thread that polls an eventfd (the
 * vCPUs kick it when the driver notifies a queue), the listening socket and
 * the client. Flow control both ways: input is read from the client only
 * while there is room to hold it and is handed to the guest as it posts
 * receive buffers (the rest waits, in our buffer and then in the socket);
 * output to a connected client that reads slowly holds the guest's
 * transmit buffers until the client catches up. Everything the guest
 * posts is untrusted: buffers come through the virtqueue core, which
 * validates them, and a transmit buffer with nothing readable, or a
 * receive buffer with nothing writable, is returned empty. */
#include "virtio/devices.h"
#include "virtio/virtio.h"
#include "backend/chardev.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define VCON_RXQ         0
#define VCON_TXQ         1
#define VCON_QUEUE_MAX   128
#define VCON_CONFIG_SIZE 12          /* cols, rows (le16), max_nr_ports, emerg_wr (le32) */
#define VCON_OBUF        (64u << 10) /* output held for a client */
#define VCON_IBUF        (4u << 10)  /* input read from the client, not yet delivered */
#define VCON_TX_BUDGET   256         /* transmit requests per loop round */

enum vcon_mode { VCON_FILE, VCON_SOCKET };

struct vcon {
    struct virtio_dev *vdev;
    enum vcon_mode mode;
    uint8_t config[VCON_CONFIG_SIZE];
    struct chardev be;        /* the output file, or the listening socket */
    int client_fd;            /* VCON_SOCKET: the connected client */
    int client_eof;           /* the client shut its sending side */
    int efd;                  /* vCPUs -> I/O thread kicks */
    _Atomic int kick_pending; /* an eventfd write is outstanding */
    _Atomic int stop;
    _Atomic int reset_seen; /* the driver reset the device */
    pthread_t thread;
    int thread_started;
    struct virtio_park park; /* snapshots hold the I/O thread here */

    /* I/O thread only from here on. */
    int tx_held;   /* tx_req popped, partly copied to obuf */
    size_t tx_off; /* bytes of tx_req already taken */
    struct vq_req tx_req;
    struct vq_req rx_req;
    uint8_t obuf[VCON_OBUF]; /* ring: olen bytes from ohead */
    size_t ohead, olen;
    uint8_t ibuf[VCON_IBUF]; /* ilen bytes from ioff */
    size_t ioff, ilen;
    uint64_t out_dropped;
    int write_error_reported;
};

/* ---- output (guest -> host) ---- */

/* Write a whole transmit request to the output file. The payload is
 * copied out of guest RAM first (vq_req_read), never handed to the kernel
 * in place, since the guest may be touching it. */
static void file_write_req(struct vcon *c, const struct vq_req *req)
{
    uint8_t chunk[4096];
    size_t off = 0, total = (size_t)req->out_len;
    while (off < total && !atomic_load(&c->stop)) {
        size_t n =
            vq_req_read(req, off, chunk, total - off < sizeof(chunk) ? total - off : sizeof(chunk));
        if (!n) break;
        size_t done = 0;
        while (done < n) {
            ssize_t w = write(c->be.out_fd, chunk + done, n - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                if (!c->write_error_reported) {
                    c->write_error_reported = 1;
                    virtio_log(c->vdev, VM_LOG_ERROR, "writing the output file: %s",
                               w < 0 ? strerror(errno) : "no progress");
                }
                return;
            }
            done += (size_t)w;
        }
        off += n;
    }
}

/* Append len bytes to the output ring; when it is full the oldest bytes
 * make room (only while no client is there to apply back-pressure). */
static void obuf_put(struct vcon *c, const uint8_t *p, size_t len)
{
    if (len > VCON_OBUF) {
        c->out_dropped += len - VCON_OBUF;
        p += len - VCON_OBUF;
        len = VCON_OBUF;
    }
    if (c->olen + len > VCON_OBUF) {
        size_t drop = c->olen + len - VCON_OBUF;
        c->ohead = (c->ohead + drop) % VCON_OBUF;
        c->olen -= drop;
        c->out_dropped += drop;
    }
    size_t tail = (c->ohead + c->olen) % VCON_OBUF;
    size_t first = VCON_OBUF - tail < len ? VCON_OBUF - tail : len;
    memcpy(c->obuf + tail, p, first);
    memcpy(c->obuf, p + first, len - first);
    c->olen += len;
}

/* Take bytes of the held transmit request into the ring. With a client
 * connected, only what fits (the rest waits); without one, everything.
 * Returns 1 when the request is consumed. */
static int tx_take(struct vcon *c)
{
    struct vq_req *req = &c->tx_req;
    size_t total = (size_t)req->out_len;
    uint8_t chunk[1024];
    if (c->client_fd < 0 && total - c->tx_off > VCON_OBUF) {
        /* Only the last VCON_OBUF bytes could be kept: skip the rest of a
         * huge buffer rather than copy it all through the ring. */
        c->out_dropped += total - c->tx_off - VCON_OBUF;
        c->tx_off = total - VCON_OBUF;
    }
    while (c->tx_off < total) {
        size_t want = total - c->tx_off;
        if (want > sizeof(chunk)) want = sizeof(chunk);
        if (c->client_fd >= 0) {
            size_t room = VCON_OBUF - c->olen;
            if (room == 0) return 0;
            if (want > room) want = room;
        }
        size_t got = vq_req_read(req, c->tx_off, chunk, want);
        if (got == 0) break;
        obuf_put(c, chunk, got);
        c->tx_off += got;
    }
    return 1;
}

/* Serve the transmit queue; returns 1 if buffers went back to the driver. */
static int tx_run(struct vcon *c)
{
    struct virtio_dev *d = c->vdev;
    int pushed = 0;
    for (unsigned done = 0; done < VCON_TX_BUDGET; done++) {
        if (!c->tx_held) {
            if (vq_pop(d, VCON_TXQ, &c->tx_req) != 1) break;
            c->tx_held = 1;
            c->tx_off = 0;
        }
        if (c->mode == VCON_FILE)
            file_write_req(c, &c->tx_req);
        else if (!tx_take(c))
            break; /* the client must drain the ring first */
        vq_push(d, VCON_TXQ, &c->tx_req, 0);
        c->tx_held = 0;
        pushed = 1;
    }
    return pushed;
}

/* ---- input (host -> guest) ---- */

/* Hand held input to the guest's receive buffers; returns 1 if any went
 * back to the driver. */
static int rx_run(struct vcon *c)
{
    struct virtio_dev *d = c->vdev;
    int pushed = 0;
    while (c->ilen) {
        if (vq_pop(d, VCON_RXQ, &c->rx_req) != 1) break;
        size_t n = vq_req_write(&c->rx_req, 0, c->ibuf + c->ioff, c->ilen);
        vq_push(d, VCON_RXQ, &c->rx_req, (uint32_t)n);
        pushed = 1;
        c->ioff += n;
        c->ilen -= n;
    }
    if (!c->ilen) c->ioff = 0;
    return pushed;
}

/* ---- socket client ---- */

static void client_close(struct vcon *c)
{
    if (c->client_fd >= 0) close(c->client_fd);
    c->client_fd = -1;
    c->client_eof = 0;
}

static void client_read(struct vcon *c)
{
    if (c->ilen && c->ioff) { /* compact */
        memmove(c->ibuf, c->ibuf + c->ioff, c->ilen);
        c->ioff = 0;
    }
    size_t room = VCON_IBUF - c->ioff - c->ilen;
    if (!room) return;
    ssize_t n = recv(c->client_fd, c->ibuf + c->ioff + c->ilen, room, MSG_DONTWAIT);
    if (n > 0) {
        c->ilen += (size_t)n;
    } else if (n == 0) {
        c->client_eof = 1; /* keeps receiving output until it closes */
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        client_close(c);
    }
}

static void client_write(struct vcon *c)
{
    while (c->olen && c->client_fd >= 0) {
        size_t first = VCON_OBUF - c->ohead < c->olen ? VCON_OBUF - c->ohead : c->olen;
        ssize_t n = send(c->client_fd, c->obuf + c->ohead, first, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            c->ohead = (c->ohead + (size_t)n) % VCON_OBUF;
            c->olen -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
        client_close(c); /* gone: EPIPE, ECONNRESET, ... */
    }
    if (!c->olen) c->ohead = 0;
}

static void client_accept(struct vcon *c)
{
    int fd = accept4(c->be.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return; /* EAGAIN, or the client went away already */
    c->client_fd = fd;
    c->client_eof = 0;
}

/* ---- I/O thread ---- */

static void vcon_kick(struct vcon *c)
{
    if (!atomic_exchange(&c->kick_pending, 1)) {
        uint64_t one = 1;
        ssize_t r;
        do {
            r = write(c->efd, &one, sizeof(one));
        } while (r < 0 && errno == EINTR);
    }
}

static void *vcon_io_main(void *arg)
{
    struct vcon *c = arg;
    struct virtio_dev *d = c->vdev;
    while (!atomic_load(&c->stop)) {
        virtio_park_point(&c->park);
        if (atomic_exchange(&c->reset_seen, 0)) c->tx_held = 0; /* the old driver's buffer */
        /* Guest side first: new output, delivery of held input. */
        int tx_pushed = tx_run(c);
        int busy = c->tx_held == 0 && tx_pushed; /* budget may have run out */
        if (tx_pushed) vq_notify(d, VCON_TXQ);
        if (rx_run(c)) vq_notify(d, VCON_RXQ);
        if (c->client_fd >= 0 && c->olen) client_write(c);
        if (c->client_fd >= 0 && c->olen == 0 && c->tx_held) continue; /* room again */

        struct pollfd pf[2];
        int n = 0, ci = -1, li = -1;
        pf[n++] = (struct pollfd){.fd = c->efd, .events = POLLIN};
        if (c->mode == VCON_SOCKET) {
            if (c->client_fd >= 0) {
                short ev = 0;
                if (!c->client_eof && c->ilen < VCON_IBUF) ev |= POLLIN;
                if (c->olen) ev |= POLLOUT;
                ci = n;
                pf[n++] = (struct pollfd){.fd = c->client_fd, .events = ev};
            } else {
                li = n;
                pf[n++] = (struct pollfd){.fd = c->be.listen_fd, .events = POLLIN};
            }
        }
        int r = poll(pf, (nfds_t)n, busy ? 0 : 1000);
        if (r < 0) {
            if (errno != EINTR) usleep(10000); /* do not spin on a persistent failure */
            continue;
        }
        if (pf[0].revents & POLLIN) {
            atomic_store(&c->kick_pending, 0);
            uint64_t v;
            if (read(c->efd, &v, sizeof(v)) < 0) { /* EAGAIN: nothing to clear */
            }
        }
        if (li >= 0 && (pf[li].revents & POLLIN)) client_accept(c);
        if (ci >= 0) {
            short re = pf[ci].revents;
            if (re & POLLIN) client_read(c);
            if (c->client_fd >= 0 && (re & POLLOUT)) client_write(c);
            if (c->client_fd >= 0 && (re & (POLLHUP | POLLERR | POLLNVAL)) && !(re & POLLIN))
                client_close(c);
        }
    }
    /* Stopping: output already taken from the guest still goes to the
     * client, for a second at most. */
    for (int i = 0; i < 100 && c->client_fd >= 0 && c->olen; i++) {
        struct pollfd p = {.fd = c->client_fd, .events = POLLOUT};
        if (poll(&p, 1, 10) > 0) client_write(c);
    }
    return NULL;
}

/* ---- virtio_dev_ops ---- */

static void vcon_notify(struct virtio_dev *d, unsigned q)
{
    vcon_kick(d->priv); /* output queued or receive buffers posted */
}

static void vcon_start(struct virtio_dev *d)
{
    vcon_kick(d->priv);
}

static void vcon_kick_arg(void *c)
{
    vcon_kick(c);
}

static void vcon_hold(struct virtio_dev *d, int on)
{
    struct vcon *c = d->priv;
    if (!c->thread_started) return;
    if (on)
        virtio_park_hold(&c->park, vcon_kick_arg, c);
    else
        virtio_park_release(&c->park);
}

/* Output the device took part of goes back to the ring in a snapshot; the
 * restored device sends it again from its start. */
static unsigned vcon_held(struct virtio_dev *d, unsigned q)
{
    struct vcon *c = d->priv;
    return q == VCON_TXQ && c->tx_held;
}

static void vcon_reset(struct virtio_dev *d)
{
    struct vcon *c = d->priv;
    atomic_store(&c->reset_seen, 1);
    vcon_kick(c);
}

static void vcon_free(struct vcon *c)
{
    if (c->thread_started) {
        atomic_store(&c->stop, 1);
        uint64_t one = 1;
        if (write(c->efd, &one, sizeof(one)) < 0) { /* the thread wakes within a second anyway */
        }
        pthread_join(c->thread, NULL);
    }
    if (c->client_fd >= 0) close(c->client_fd);
    chardev_close(&c->be);
    if (c->efd >= 0) close(c->efd);
    virtio_park_destroy(&c->park);
    free(c);
}

static void vcon_destroy(struct virtio_dev *d)
{
    vcon_free(d->priv);
}

static const struct virtio_dev_ops vcon_ops = {
    .name = "virtio-console",
    .notify = vcon_notify,
    .start = vcon_start,
    .reset = vcon_reset,
    .destroy = vcon_destroy,
    .hold = vcon_hold,
    .held = vcon_held,
};

/* ---- construction ---- */

int virtio_console_create(struct vm *vm, const struct virtio_slot *slot, struct chardev *be,
                          char *err, size_t errlen)
{
    struct vcon *c = calloc(1, sizeof(*c));
    if (!c) {
        chardev_close(be);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->be = *be; /* ours now */
    c->client_fd = c->efd = -1;
    c->mode = c->be.listen_fd >= 0 ? VCON_SOCKET : VCON_FILE;
    virtio_park_init(&c->park);
    c->config[4] = 1; /* max_nr_ports (only read with MULTIPORT) */
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }
    c->vdev = virtio_mmio_create(vm, slot->base, slot->irq, VIRTIO_ID_CONSOLE, &vcon_ops, c,
                                 VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX, 2, VCON_QUEUE_MAX,
                                 c->config, VCON_CONFIG_SIZE);
    if (!c->vdev) {
        snprintf(err, errlen, "cannot create virtio-console");
        goto fail;
    }
    /* From here the transport owns c (vcon_destroy frees it). */
    int e = pthread_create(&c->thread, NULL, vcon_io_main, c);
    if (e) {
        snprintf(err, errlen, "cannot start the console I/O thread: %s", strerror(e));
        return -1;
    }
    c->thread_started = 1;
    pthread_setname_np(c->thread, "vmon-vcon");
    return 0;
fail:
    vcon_free(c);
    return -1;
}
