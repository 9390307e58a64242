/* Live migration over a stream (migrate.h). */
#include "snap/migrate.h"
#include "snap/stream.h"
#include "snap/migdisk.h"
#include "mem/bus.h"
#include "mem/dirty.h"
#include "mem/racy.h"
#include "snap/snap.h"
#include "snap/vmsnap.h"
#include "virtio/devices.h"
#include "vmm/vm.h"
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <zlib.h>

#define MIG_MAGIC    "VMONMIGR"
#define MIG_VERSION  1u
#define PAGE         4096u
#define BATCH        256u /* pages per 'P' message */
#define ZERO_PAGE    (1ull << 63)
#define MAX_ROUNDS   30
#define FEW_PAGES    256u /* dirty pages left for the paused copy (1 MiB) */
#define STATE_MAX    (64u << 20)
#define MACH_MAX     (1u << 20)
#define IO_TIMEOUT_S 60

struct migrate_in {
    int fd;
    uint64_t ram_size;
    uint32_t ncpus;
    struct migdisk_dst disks; /* what a copy of the source's disks goes to */
};

/* ---- stream I/O (send_all... in snap/stream.h) ---- */

static void set_timeouts(int fd)
{
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* ---- addresses ---- */

static int unix_addr(const char *path, struct sockaddr_un *sa, char *err, size_t errlen)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (!*path || strlen(path) >= sizeof(sa->sun_path)) {
        snprintf(err, errlen, "unix socket path '%s' empty or too long", path);
        return -1;
    }
    memcpy(sa->sun_path, path, strlen(path));
    return 0;
}

/* "tcp:HOST:PORT" (HOST may be empty to listen on every address). */
static struct addrinfo *tcp_addr(const char *spec, int passive, char *err, size_t errlen)
{
    const char *colon = strrchr(spec, ':');
    char host[256];
    if (!colon || (size_t)(colon - spec) >= sizeof(host) || !colon[1]) {
        snprintf(err, errlen, "want tcp:HOST:PORT, not 'tcp:%s'", spec);
        return NULL;
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = passive ? AI_PASSIVE : 0};
    struct addrinfo *ai = NULL;
    int e = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
    if (e) {
        snprintf(err, errlen, "tcp:%s: %s", spec, gai_strerror(e));
        return NULL;
    }
    return ai;
}

static int connect_to(const char *addr, char *err, size_t errlen)
{
    int fd = -1;
    if (!strncmp(addr, "unix:", 5)) {
        struct sockaddr_un sa;
        if (unix_addr(addr + 5, &sa, err, errlen) < 0) return -1;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) return fd;
    } else if (!strncmp(addr, "tcp:", 4)) {
        struct addrinfo *ai = tcp_addr(addr + 4, 0, err, errlen);
        if (!ai) return -1;
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
            fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
            if (fd >= 0) close(fd);
            fd = -1;
        }
        freeaddrinfo(ai);
        if (fd >= 0) return fd;
    } else {
        snprintf(err, errlen, "migration address '%s': want unix:PATH or tcp:HOST:PORT", addr);
        return -1;
    }
    snprintf(err, errlen, "cannot connect to %s: %s", addr, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
}

static int listen_on(const char *addr, char *err, size_t errlen)
{
    int fd = -1, one = 1;
    if (!strncmp(addr, "unix:", 5)) {
        struct sockaddr_un sa;
        if (unix_addr(addr + 5, &sa, err, errlen) < 0) return -1;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 1) == 0)
            return fd;
    } else if (!strncmp(addr, "tcp:", 4)) {
        struct addrinfo *ai = tcp_addr(addr + 4, 1, err, errlen);
        if (!ai) return -1;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        int okay = fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1) == 0;
        freeaddrinfo(ai);
        if (okay) return fd;
    } else {
        snprintf(err, errlen, "migration address '%s': want unix:PATH or tcp:[HOST]:PORT", addr);
        return -1;
    }
    snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
}

/* ---- source ---- */

static int send_hello(int fd, struct vm *vm)
{
    struct snap_w w;
    snap_w_init(&w);
    vmsnap_machine(vm, &w);
    uint8_t h[8 + 4 + 8 + 4 + 8];
    memcpy(h, MIG_MAGIC, 8);
    put_le(h + 8, MIG_VERSION, 4);
    put_le(h + 12, vm->ram_size, 8);
    put_le(h + 20, vm->ncpus, 4);
    put_le(h + 24, w.len, 8);
    int r = w.oom || send_all(fd, h, sizeof(h)) < 0 || send_all(fd, w.buf, w.len) < 0 ? -1 : 0;
    snap_w_free(&w);
    return r;
}

struct sender {
    int fd;
    struct vm *vm;
    struct migdisk_src *disks; /* copy-disks, or NULL */
    uint8_t *buf;              /* one 'P' message */
    size_t len;
    unsigned n;
    struct migrate_stats *st;
};

static int flush_pages(struct sender *s)
{
    if (!s->n) return 0;
    s->buf[0] = 'P';
    put_le(s->buf + 1, s->n, 4);
    int r = send_all(s->fd, s->buf, s->len);
    s->st->bytes += s->len;
    s->n = 0;
    s->len = 5;
    return r;
}

static int page_is_zero(const uint8_t *p)
{
    uint64_t acc = 0;
    for (unsigned i = 0; i < PAGE; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    return acc == 0;
}

/* Queue page pfn (read while the guest may write it: the dirty log will
 * have it again if so). skip_zero: an all-zero page need not go. */
static int send_page(struct sender *s, uint64_t pfn, int skip_zero)
{
    uint8_t *slot = s->buf + s->len + 8;
    RACY_READS_BEGIN();
    ram_copy_from(slot, s->vm->ram + pfn * PAGE, PAGE);
    RACY_READS_END();
    int zero = page_is_zero(slot);
    if (zero && skip_zero) return 0;
    put_le(s->buf + s->len, pfn | (zero ? ZERO_PAGE : 0), 8);
    s->len += 8 + (zero ? 0 : PAGE);
    s->st->pages++;
    return ++s->n == BATCH ? flush_pages(s) : 0;
}

static int send_dirty(struct sender *s, const uint64_t *bits, size_t nwords)
{
    for (size_t w = 0; w < nwords; w++)
        for (uint64_t m = bits[w]; m; m &= m - 1)
            if (send_page(s, w * 64 + (unsigned)__builtin_ctzll(m), 0) < 0) return -1;
    return flush_pages(s);
}

/* Pre-copy: everything, then what was written meanwhile, until little is
 * left or it stops shrinking. */
static int precopy(struct sender *s, uint64_t *bits, size_t nwords)
{
    uint64_t npages = s->vm->ram_size / PAGE;
    uint8_t *touched = vmsnap_touched(s->vm); /* untouched pages are zero there too */
    for (uint64_t p = 0; p < npages; p++)
        if ((!touched || touched[p]) && send_page(s, p, 1) < 0) {
            free(touched);
            return -1;
        }
    free(touched);
    if (flush_pages(s) < 0) return -1;
    s->st->rounds = 1;
    while (s->st->rounds < MAX_ROUNDS) {
        uint64_t dirty = mem_dirty_read_clear(s->vm, bits, nwords), chunks = 0;
        s->st->rounds++;
        if (send_dirty(s, bits, nwords) < 0) return -1;
        if (s->disks && migdisk_dirty(s->disks, &chunks) < 0) return -1;
        if (dirty <= FEW_PAGES && migdisk_converged(chunks)) break;
    }
    return 0;
}

static int send_state(struct sender *s)
{
    struct snap_w w;
    snap_w_init(&w);
    vmsnap_state(s->vm, &w);
    uint8_t h[9], t[4];
    h[0] = 'S';
    put_le(h + 1, w.len, 8);
    put_le(t, crc32(0, w.buf, (uInt)w.len), 4);
    int r = w.oom || send_all(s->fd, h, 9) < 0 || send_all(s->fd, w.buf, w.len) < 0 ||
                    send_all(s->fd, t, 4) < 0
                ? -1
                : 0;
    s->st->bytes += w.len + 13;
    snap_w_free(&w);
    return r;
}

/* The target's answer: 0 when it runs. */
static int target_reply(int fd, char *err, size_t errlen)
{
    uint8_t c;
    uint64_t n;
    char msg[256];
    if (recv_all(fd, &c, 1) < 0) {
        snprintf(err, errlen, "the target went away: %s", strerror(errno));
        return -1;
    }
    if (c == 'K') return 0;
    if (c != 'E' || recv_le(fd, &n, 2) < 0 || n >= sizeof(msg) || recv_all(fd, msg, n) < 0) {
        snprintf(err, errlen, "the target answered nonsense");
        return -1;
    }
    msg[n] = 0;
    snprintf(err, errlen, "the target refused the VM: %s", msg);
    return -1;
}

/* Paused and held: the last pages, the disks handed over, the state
 * (disks flushed), the target's answer (the disks taken back if it
 * failed). The target opens the disks once it has the state, so they are
 * let go before it is sent: a target that was quicker than this thread
 * found them still locked. */
static int switch_over(struct sender *s, uint64_t *bits, size_t nwords, char *err, size_t errlen)
{
    if (s->disks) virtio_blk_quiesce_all(s->vm); /* every write is in the log */
    mem_dirty_read_clear(s->vm, bits, nwords);
    if (send_dirty(s, bits, nwords) < 0 || (s->disks && migdisk_dirty(s->disks, NULL) < 0)) {
        snprintf(err, errlen, "sending to the target: %s", strerror(errno));
        return -1;
    }
    /* Shared storage: the target takes the disks over (copies are its own). */
    if (!s->disks) virtio_blk_handoff(s->vm, 1, err, errlen);
    if (send_state(s) < 0)
        snprintf(err, errlen, "sending to the target: %s", strerror(errno));
    else if (target_reply(s->fd, err, errlen) == 0)
        return 0;
    char lerr[256];
    if (!s->disks && virtio_blk_handoff(s->vm, 0, lerr, sizeof(lerr)) < 0)
        vm_log(s->vm, VM_LOG_ERROR, NULL, "after a failed migration: %s", lerr);
    return -1;
}

/* Sending failed: if the target said why before it hung up, err says so. */
static void target_refusal(int fd, char *err, size_t errlen)
{
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char why[320];
    if (target_reply(fd, why, sizeof(why)) < 0 && strstr(why, "refused"))
        snprintf(err, errlen, "%s", why);
}

/* The start: the hello, and with copy_disks every disk. */
static int send_start(struct sender *s, int copy_disks, char *err, size_t errlen)
{
    if (send_hello(s->fd, s->vm) < 0) {
        snprintf(err, errlen, "sending to the target: %s", strerror(errno));
        return -1;
    }
    if (!copy_disks || !s->vm->ndisks) return 0;
    if (!(s->disks = migdisk_src_start(s->vm, s->fd, s->st, err, errlen))) return -1;
    if (migdisk_bulk(s->disks) < 0) {
        snprintf(err, errlen, "copying the disks: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int migrate_send(struct vm *vm, const char *addr, int copy_disks, struct migrate_stats *st,
                 char *err, size_t errlen)
{
    memset(st, 0, sizeof(*st));
    uint64_t t0 = host_time_ns();
    int fd = connect_to(addr, err, errlen);
    if (fd < 0) return -1;
    set_timeouts(fd);
    size_t nwords = (size_t)(mem_dirty_pages(vm) + 63) / 64;
    struct sender s = {.fd = fd, .vm = vm, .len = 5, .st = st};
    uint64_t *bits = calloc(nwords ? nwords : 1, sizeof(*bits));
    s.buf = malloc(5 + BATCH * (8 + PAGE));
    int r = -1, was_paused = vm_paused(vm);
    if (!bits || !s.buf) {
        snprintf(err, errlen, "out of memory");
    } else if (mem_dirty_start(vm, err, errlen) == 0) {
        if (send_start(&s, copy_disks, err, errlen) < 0) {
            target_refusal(fd, err, errlen);
        } else if (precopy(&s, bits, nwords) < 0) {
            snprintf(err, errlen, "sending to %s: %s", addr, strerror(errno));
            target_refusal(fd, err, errlen);
        } else if (vm_pause(vm) < 0) {
            snprintf(err, errlen, "the VM is stopping");
        } else {
            uint64_t t_pause = host_time_ns();
            vmsnap_hold(vm, 1);
            r = switch_over(&s, bits, nwords, err, errlen);
            st->downtime_ms = (double)(host_time_ns() - t_pause) / 1e6;
            /* Let go either way: a VM that ends joins its devices' threads. */
            vmsnap_hold(vm, 0);
            if (r < 0 && !was_paused) vm_resume(vm);
        }
        mem_dirty_stop(vm);
    }
    migdisk_src_end(s.disks);
    st->total_ms = (double)(host_time_ns() - t0) / 1e6;
    free(bits);
    free(s.buf);
    close(fd);
    return r;
}

/* ---- target ---- */

static int read_hello(struct migrate_in *mi, char ***args, unsigned *nargs, char *err,
                      size_t errlen)
{
    uint8_t h[32];
    if (recv_all(mi->fd, h, sizeof(h)) < 0 || memcmp(h, MIG_MAGIC, 8)) {
        snprintf(err, errlen, "not a vmon migration stream");
        return -1;
    }
    uint64_t ver = get_le(h + 8, 4), n = get_le(h + 24, 8);
    mi->ram_size = get_le(h + 12, 8);
    mi->ncpus = (uint32_t)get_le(h + 20, 4);
    if (ver != MIG_VERSION) {
        snprintf(err, errlen, "migration stream version %llu, this vmon reads %u",
                 (unsigned long long)ver, MIG_VERSION);
        return -1;
    }
    if (n == 0 || n > MACH_MAX) {
        snprintf(err, errlen, "migration stream: machine record of %llu bytes",
                 (unsigned long long)n);
        return -1;
    }
    uint8_t *rec = malloc(n);
    struct snap_file f;
    if (!rec || recv_all(mi->fd, rec, n) < 0) {
        free(rec);
        snprintf(err, errlen, "migration stream ends in the machine record");
        return -1;
    }
    if (snap_from_state(&f, rec, n, VM_RAM_BASE, mi->ram_size, err, errlen) < 0) return -1;
    int r = vmsnap_args(&f, args, nargs, err, errlen);
    snap_close(&f);
    return r;
}

int migrate_listen(const char *addr, char *err, size_t errlen)
{
    return listen_on(addr, err, errlen);
}

/* Wait for a connection on lfd; 1 when watch_fd (>= 0) was closed first. */
static int wait_source(int lfd, int watch_fd)
{
    for (;;) {
        struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = watch_fd, .events = POLLIN}};
        int r = poll(p, watch_fd >= 0 ? 2 : 1, -1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (watch_fd >= 0 && p[1].revents) return 1;
        if (p[0].revents) return 0;
    }
}

struct migrate_in *migrate_accept(int lfd, const char *addr, int watch_fd, char ***args,
                                  unsigned *nargs, char *err, size_t errlen)
{
    int w = wait_source(lfd, watch_fd);
    int fd = w == 0 ? accept4(lfd, NULL, NULL, SOCK_CLOEXEC) : -1;
    int e = errno;
    close(lfd);
    if (!strncmp(addr, "unix:", 5)) unlink(addr + 5);
    if (w == 1) {
        snprintf(err, errlen, "no migration came to %s before the supervisor went away", addr);
        return NULL;
    }
    if (fd < 0) {
        snprintf(err, errlen, "accepting on %s: %s", addr, strerror(e));
        return NULL;
    }
    set_timeouts(fd);
    struct migrate_in *mi = calloc(1, sizeof(*mi));
    if (!mi) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    mi->fd = fd;
    if (read_hello(mi, args, nargs, err, errlen) < 0) {
        migrate_reply(mi, err);
        migrate_close(mi);
        return NULL;
    }
    return mi;
}

static int recv_pages(struct migrate_in *mi, struct vm *vm, char *err, size_t errlen)
{
    uint64_t n = 0, npages = vm->ram_size / PAGE;
    if (recv_le(mi->fd, &n, 4) < 0 || n == 0 || n > BATCH) {
        snprintf(err, errlen, "migration stream: a page batch of %llu", (unsigned long long)n);
        return -1;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e;
        if (recv_le(mi->fd, &e, 8) < 0) break;
        uint64_t pfn = e & ~ZERO_PAGE;
        if (pfn >= npages) {
            snprintf(err, errlen, "migration stream: page %llu beyond RAM (%llu pages)",
                     (unsigned long long)pfn, (unsigned long long)npages);
            return -1;
        }
        uint8_t *p = vm->ram + pfn * PAGE;
        if (e & ZERO_PAGE)
            memset(p, 0, PAGE);
        else if (recv_all(mi->fd, p, PAGE) < 0)
            break;
        if (i + 1 == n) return 0;
    }
    snprintf(err, errlen, "migration stream ends in a page batch: %s", strerror(errno));
    return -1;
}

static int recv_state(struct migrate_in *mi, struct vm *vm, struct snap_file *f, char *err,
                      size_t errlen)
{
    uint64_t n = 0, crc = 0;
    if (recv_le(mi->fd, &n, 8) < 0 || n == 0 || n > STATE_MAX) {
        snprintf(err, errlen, "migration stream: a state of %llu bytes", (unsigned long long)n);
        return -1;
    }
    uint8_t *state = malloc(n);
    if (!state || recv_all(mi->fd, state, n) < 0 || recv_le(mi->fd, &crc, 4) < 0) {
        free(state);
        snprintf(err, errlen, "migration stream ends in the state");
        return -1;
    }
    if (crc32(0, state, (uInt)n) != crc) {
        free(state);
        snprintf(err, errlen, "migration stream: state checksum mismatch");
        return -1;
    }
    return snap_from_state(f, state, n, vm->ram_base, vm->ram_size, err, errlen);
}

int migrate_receive(struct migrate_in *mi, struct vm *vm, struct snap_file *f, char *err,
                    size_t errlen)
{
    if (vm->ram_size != mi->ram_size || vm->ncpus != mi->ncpus) {
        snprintf(err, errlen, "the incoming VM has %u vCPUs and %llu MiB; this one %u and %llu",
                 mi->ncpus, (unsigned long long)(mi->ram_size >> 20), vm->ncpus,
                 (unsigned long long)(vm->ram_size >> 20));
        return -1;
    }
    for (;;) {
        uint8_t c;
        if (recv_all(mi->fd, &c, 1) < 0) {
            snprintf(err, errlen, "the source went away: %s", strerror(errno));
            return -1;
        }
        int r;
        if (c == 'S') {
            r = recv_state(mi, vm, f, err, errlen);
            /* The devices open the copied disks next. */
            if (migdisk_dst_close(&mi->disks, err, errlen) < 0) r = -1;
            return r;
        }
        if (c == 'P')
            r = recv_pages(mi, vm, err, errlen);
        else if (c == 'D')
            r = migdisk_recv_hello(&mi->disks, mi->fd, err, errlen);
        else if (c == 'B' && mi->disks.n)
            r = migdisk_recv_chunk(&mi->disks, mi->fd, err, errlen);
        else {
            snprintf(err, errlen, "migration stream: unknown message 0x%02x", c);
            r = -1;
        }
        if (r < 0) return -1;
    }
}

void migrate_reply(struct migrate_in *mi, const char *err)
{
    if (!err) {
        send_all(mi->fd, "K", 1);
        return;
    }
    uint8_t h[3] = {'E'};
    size_t n = strlen(err) > 255 ? 255 : strlen(err);
    put_le(h + 1, n, 2);
    if (send_all(mi->fd, h, 3) == 0) send_all(mi->fd, err, n);
}

void migrate_set_disks(struct migrate_in *mi, char *const *specs, unsigned n)
{
    migdisk_dst_set(&mi->disks, specs, n);
}

void migrate_close(struct migrate_in *mi)
{
    if (!mi) return;
    migdisk_dst_close(&mi->disks, NULL, 0);
    close(mi->fd);
    free(mi);
}
