/* Host network backends behind a tiny vtable: user networking (libslirp)
 * and tap. A backend is driven entirely by its device's I/O thread: each
 * loop iteration the thread collects the backend's file descriptors
 * (poll_fill), sleeps in poll(), and lets the backend handle what became
 * ready (poll_done). Frames from the network reach the device through the
 * client callbacks; frames from the guest leave through send. Nothing here
 * runs on a vCPU thread, and backend calls are never made concurrently. */
#ifndef VMON_BACKEND_NET_H
#define VMON_BACKEND_NET_H
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Largest Ethernet frame (without virtio header) a backend exchanges. */
#define NET_FRAME_MAX 65535u

/* A growable pollfd array, rebuilt every I/O loop iteration. */
struct net_pollset {
    struct pollfd *fds;
    unsigned n, cap;
};

/* Append fd; returns its index, or -1 when out of memory. */
static inline int net_pollset_add(struct net_pollset *ps, int fd, short events)
{
    if (ps->n == ps->cap) {
        unsigned cap = ps->cap ? 2 * ps->cap : 16;
        struct pollfd *f = realloc(ps->fds, cap * sizeof(*f));
        if (!f) return -1;
        ps->fds = f;
        ps->cap = cap;
    }
    ps->fds[ps->n] = (struct pollfd){.fd = fd, .events = events};
    return (int)ps->n++;
}

/* The device side, called by the backend on the I/O thread. */
struct net_client {
    /* A frame from the network for the guest: delivered, queued briefly
     * or dropped by the device. */
    void (*rx_frame)(void *opaque, const uint8_t *frame, size_t len);
    /* Can the guest take a frame right now? Backends that can hold frames
     * back (tap) ask before reading each one. */
    int (*rx_ready)(void *opaque);
    void *opaque;
};

struct net_backend;

struct net_backend_ops {
    const char *name;
    /* Add the descriptors to wait on. rx_ok == 0: the guest has no receive
     * buffers, so do not ask for input that would produce frames. May
     * lower *timeout_ms (timers). Returns 0, or -1 when out of memory. */
    int (*poll_fill)(struct net_backend *b, struct net_pollset *ps, int rx_ok, int *timeout_ms);
    /* poll() returned (poll_failed: it failed); handle ready descriptors
     * and expired timers. */
    void (*poll_done)(struct net_backend *b, const struct net_pollset *ps, int poll_failed);
    /* Send one Ethernet frame from the guest to the network (may drop it). */
    void (*send)(struct net_backend *b, const uint8_t *frame, size_t len);
    void (*destroy)(struct net_backend *b);
};

/* Every backend's state begins with this. */
struct net_backend {
    const struct net_backend_ops *ops;
    struct net_client client; /* set by the device before the I/O thread starts */
};

/* A port forwarded from the host into the guest (user networking). */
#define NET_HOSTFWD_MAX 32
struct net_hostfwd {
    int udp;
    struct in_addr haddr, gaddr;
    uint16_t hport, gport;
    char hstr[32]; /* the host address as given ("" = 127.0.0.1), for messages */
};

/* Open a backend from its typed settings (vmm/devcfg.h parses them):
 * user networking with nfwd forwarded ports; the tap interface ifname
 * ("" makes a new one). NULL with a message in err. */
struct net_backend *net_slirp_open(const struct net_hostfwd *fwd, unsigned nfwd, char *err,
                                   size_t errlen);
struct net_backend *net_tap_open(const char *ifname, char *err, size_t errlen);
#endif
