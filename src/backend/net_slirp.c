/* User networking through libslirp (4.7 API, SlirpConfig version 4): a
 * private NAT'ed network 10.0.2.0/24 with the host at 10.0.2.2 (reaching
 * the host's loopback), DNS at 10.0.2.3 and DHCP handing out 10.0.2.15
 * onwards, plus IPv6 fec0::/64; host ports forwarded into the guest as the
 * hostfwd= rules of --net user say (vmm/devcfg.c parses them). libslirp is not thread-safe: after
 * setup every call into it comes from the device's I/O thread, which also runs the timers slirp
 * creates through our callbacks. */
#include "backend/net.h"
#include <errno.h>
#include <limits.h>
#include <slirp/libslirp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLIRP_MAX_GUEST_ERRORS 10 /* messages printed per backend */
#define SLIRP_MAX_TIMER_FIRES  64 /* per poll round, against re-arming in the past */

struct slirp_timer {
    struct slirp_timer *next;
    SlirpTimerCb cb;
    void *cb_opaque;
    int64_t expire_ms; /* -1: not armed */
};

struct net_slirp {
    struct net_backend be;
    Slirp *slirp;
    struct slirp_timer *timers;
    struct net_pollset *ps; /* the set being filled / examined */
    int rx_ok;
    int oom;
    unsigned guest_errors;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- callbacks from libslirp ---- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
    struct net_slirp *s = opaque;
    if (len > NET_FRAME_MAX) return (ssize_t)len; /* cannot happen with slirp's MTU: drop */
    s->be.client.rx_frame(s->be.client.opaque, buf, len);
    return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
    struct net_slirp *s = opaque;
    if (s->guest_errors++ < SLIRP_MAX_GUEST_ERRORS)
        fprintf(stderr, "vmon: net user: guest error: %s\n", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
    return now_ns();
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    struct net_slirp *s = opaque;
    struct slirp_timer *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->cb = cb;
    t->cb_opaque = cb_opaque;
    t->expire_ms = -1;
    t->next = s->timers;
    s->timers = t;
    return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
    struct net_slirp *s = opaque;
    for (struct slirp_timer **p = &s->timers; *p; p = &(*p)->next) {
        if (*p == timer) {
            *p = (*p)->next;
            free(timer);
            return;
        }
    }
}

/* expire_time: milliseconds on the clock_get_ns clock. */
static void cb_timer_mod(void *timer, int64_t expire_time, void *opaque)
{
    struct slirp_timer *t = timer;
    if (t) t->expire_ms = expire_time < 0 ? 0 : expire_time;
}

/* The poll set is rebuilt every round from slirp_pollfds_fill, so there is
 * nothing to register or to wake. */
static void cb_register_poll_fd(int fd, void *opaque) {}
static void cb_unregister_poll_fd(int fd, void *opaque) {}
static void cb_notify(void *opaque) {}

static const SlirpCb slirp_cbs = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_new = cb_timer_new,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
};

static int cb_add_poll(int fd, int events, void *opaque)
{
    struct net_slirp *s = opaque;
    short ev = 0;
    /* Without guest receive buffers, leave incoming data in the host
     * sockets: TCP flow control then holds the peer back. */
    if ((events & SLIRP_POLL_IN) && s->rx_ok) ev |= POLLIN;
    if ((events & SLIRP_POLL_PRI) && s->rx_ok) ev |= POLLPRI;
    if (events & SLIRP_POLL_OUT) ev |= POLLOUT;
    int idx = net_pollset_add(s->ps, fd, ev);
    if (idx < 0) s->oom = 1;
    return idx;
}

static int cb_get_revents(int idx, void *opaque)
{
    struct net_slirp *s = opaque;
    if (idx < 0 || (unsigned)idx >= s->ps->n) return 0;
    short r = s->ps->fds[idx].revents;
    int ev = 0;
    if (r & POLLIN) ev |= SLIRP_POLL_IN;
    if (r & POLLOUT) ev |= SLIRP_POLL_OUT;
    if (r & POLLPRI) ev |= SLIRP_POLL_PRI;
    if (r & POLLERR) ev |= SLIRP_POLL_ERR;
    if (r & POLLHUP) ev |= SLIRP_POLL_HUP;
    return ev;
}

/* ---- backend ops ---- */

static int slirp_poll_fill(struct net_backend *b, struct net_pollset *ps, int rx_ok,
                           int *timeout_ms)
{
    struct net_slirp *s = (struct net_slirp *)b;
    s->ps = ps;
    s->rx_ok = rx_ok;
    s->oom = 0;
    uint32_t t = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;
    slirp_pollfds_fill(s->slirp, &t, cb_add_poll, s);
    int64_t now_ms = now_ns() / 1000000;
    for (struct slirp_timer *tm = s->timers; tm; tm = tm->next) {
        if (tm->expire_ms < 0) continue;
        int64_t left = tm->expire_ms - now_ms;
        if (left < 0) left = 0;
        if ((uint64_t)left < t) t = (uint32_t)left;
    }
    *timeout_ms = t > INT_MAX ? INT_MAX : (int)t;
    return s->oom ? -1 : 0;
}

static void run_timers(struct net_slirp *s)
{
    for (unsigned fires = 0; fires < SLIRP_MAX_TIMER_FIRES; fires++) {
        int64_t now_ms = now_ns() / 1000000;
        struct slirp_timer *due = NULL;
        for (struct slirp_timer *t = s->timers; t; t = t->next)
            if (t->expire_ms >= 0 && t->expire_ms <= now_ms) {
                due = t;
                break;
            }
        if (!due) return;
        due->expire_ms = -1;
        due->cb(due->cb_opaque); /* may re-arm or free timers: rescan */
    }
}

static void slirp_poll_done(struct net_backend *b, const struct net_pollset *ps, int poll_failed)
{
    struct net_slirp *s = (struct net_slirp *)b;
    s->ps = (struct net_pollset *)ps;
    slirp_pollfds_poll(s->slirp, poll_failed, cb_get_revents, s);
    run_timers(s);
}

static void slirp_send(struct net_backend *b, const uint8_t *frame, size_t len)
{
    struct net_slirp *s = (struct net_slirp *)b;
    if (len > NET_FRAME_MAX) return;
    slirp_input(s->slirp, frame, (int)len);
}

static void slirp_destroy(struct net_backend *b)
{
    struct net_slirp *s = (struct net_slirp *)b;
    if (s->slirp) slirp_cleanup(s->slirp);
    while (s->timers) {
        struct slirp_timer *t = s->timers;
        s->timers = t->next;
        free(t);
    }
    free(s);
}

static const struct net_backend_ops slirp_ops = {
    .name = "user",
    .poll_fill = slirp_poll_fill,
    .poll_done = slirp_poll_done,
    .send = slirp_send,
    .destroy = slirp_destroy,
};

/* ---- option parsing ---- */

struct net_backend *net_slirp_open(const struct net_hostfwd *fwd, unsigned nfwd, char *err,
                                   size_t errlen)
{
    struct net_slirp *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->be.ops = &slirp_ops;
    SlirpConfig cfg = {
        .version = 4,
        .restricted = 0,
        .in_enabled = true,
        .in6_enabled = true,
        .vprefix_len = 64,
        .disable_host_loopback = false,
        .enable_emu = false,
    };
    inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
    inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
    inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
    inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
    inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
    inet_pton(AF_INET6, "fec0::", &cfg.vprefix_addr6);
    inet_pton(AF_INET6, "fec0::2", &cfg.vhost6);
    inet_pton(AF_INET6, "fec0::3", &cfg.vnameserver6);
    s->slirp = slirp_new(&cfg, &slirp_cbs, s);
    if (!s->slirp) {
        snprintf(err, errlen, "cannot create the user network (libslirp %s)",
                 slirp_version_string());
        slirp_destroy(&s->be);
        return NULL;
    }
    for (unsigned i = 0; i < nfwd; i++) {
        const struct net_hostfwd *h = &fwd[i];
        errno = 0;
        if (slirp_add_hostfwd(s->slirp, h->udp, h->haddr, h->hport, h->gaddr, h->gport) < 0) {
            int e = errno;
            snprintf(err, errlen, "hostfwd %s:%s:%d: %s", h->udp ? "udp" : "tcp", h->hstr, h->hport,
                     e == EADDRINUSE ? "address in use"
                     : e             ? strerror(e)
                                     : "cannot listen on the host port (in use?)");
            slirp_destroy(&s->be);
            return NULL;
        }
    }
    return &s->be;
}
