/* tap backend: frames go to and come from a Linux tap interface
 * (Documentation/networking/tuntap.rst): /dev/net/tun, TUNSETIFF with
 * IFF_TAP | IFF_NO_PI, one Ethernet frame per read()/write(). The fd is
 * non-blocking; when the guest has no receive buffers the fd is simply not
 * polled for input, so frames wait in the kernel's queue. */
#include "backend/net.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TAP_RX_BURST 64 /* frames read per poll round at most */

struct net_tap {
    struct net_backend be;
    int fd;
    int idx; /* index in the current poll set, -1 if not polled */
    char ifname[IFNAMSIZ];
    int read_error_reported, write_error_reported;
    unsigned long tx_dropped;
    uint8_t buf[NET_FRAME_MAX];
};

static int tap_poll_fill(struct net_backend *b, struct net_pollset *ps, int rx_ok, int *timeout_ms)
{
    struct net_tap *t = (struct net_tap *)b;
    t->idx = -1;
    if (!rx_ok) return 0;
    t->idx = net_pollset_add(ps, t->fd, POLLIN);
    return t->idx < 0 ? -1 : 0;
}

static void tap_poll_done(struct net_backend *b, const struct net_pollset *ps, int poll_failed)
{
    struct net_tap *t = (struct net_tap *)b;
    if (poll_failed || t->idx < 0 || (unsigned)t->idx >= ps->n) return;
    if (!(ps->fds[t->idx].revents & (POLLIN | POLLERR | POLLHUP))) return;
    for (unsigned i = 0; i < TAP_RX_BURST; i++) {
        if (!t->be.client.rx_ready(t->be.client.opaque)) break;
        ssize_t n = read(t->fd, t->buf, sizeof(t->buf));
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR && !t->read_error_reported) {
                t->read_error_reported = 1;
                fprintf(stderr, "vmon: tap %s: read: %s\n", t->ifname, strerror(errno));
            }
            break;
        }
        if (n == 0) break;
        t->be.client.rx_frame(t->be.client.opaque, t->buf, (size_t)n);
    }
}

static void tap_send(struct net_backend *b, const uint8_t *frame, size_t len)
{
    struct net_tap *t = (struct net_tap *)b;
    ssize_t n;
    do {
        n = write(t->fd, frame, len);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)len) return;
    t->tx_dropped++;
    /* EAGAIN: the interface queue is full; EIO: the interface is down. */
    if (n < 0 && errno != EAGAIN && errno != EIO && !t->write_error_reported) {
        t->write_error_reported = 1;
        fprintf(stderr, "vmon: tap %s: write: %s\n", t->ifname, strerror(errno));
    }
}

static void tap_destroy(struct net_backend *b)
{
    struct net_tap *t = (struct net_tap *)b;
    if (t->fd >= 0) close(t->fd);
    free(t);
}

static const struct net_backend_ops tap_ops = {
    .name = "tap",
    .poll_fill = tap_poll_fill,
    .poll_done = tap_poll_done,
    .send = tap_send,
    .destroy = tap_destroy,
};

struct net_backend *net_tap_open(const char *ifname, char *err, size_t errlen)
{
    if (strlen(ifname) >= IFNAMSIZ) {
        snprintf(err, errlen, "tap ifname '%s' is too long", ifname);
        return NULL;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "tap: cannot open /dev/net/tun: %s%s", strerror(e),
                 e == ENOENT || e == ENODEV  ? " (no tun/tap support on this host)"
                 : e == EACCES || e == EPERM ? " (no permission)"
                                             : "");
        return NULL;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        const char *hint = "";
        if (e == EPERM || e == EACCES)
            hint = " (needs CAP_NET_ADMIN, or a tap device created for this user with "
                   "'ip tuntap add NAME mode tap user USER')";
        else if (e == EBUSY)
            hint = " (already attached to another process)";
        else if (e == EINVAL)
            hint = " (exists but is not a tap device?)";
        snprintf(err, errlen, "tap %s: cannot attach: %s%s", ifname[0] ? ifname : "(new)",
                 strerror(e), hint);
        close(fd);
        return NULL;
    }
    struct net_tap *t = calloc(1, sizeof(*t));
    if (!t) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->be.ops = &tap_ops;
    t->fd = fd;
    t->idx = -1;
    memcpy(t->ifname, ifr.ifr_name, IFNAMSIZ);
    t->ifname[IFNAMSIZ - 1] = 0;
    return &t->be;
}
