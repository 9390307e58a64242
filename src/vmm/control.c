/* The control channel: see control.h. One thread serves one connection at
 * a time: the inherited socket, or the clients of a listening socket in
 * turn. */
#include "vmm/control.h"
#include "vmm/vm.h"
#include "vmm/sbi.h"
#include "cpu/hart.h"
#include "vmm/cli.h"
#include "vmm/vmdef.h"
#include "virtio/devices.h"
#include "snap/vmsnap.h"
#include "snap/migrate.h"
#include "mem/swap.h"
#include "mem/share.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CONTROL_LINE_MAX  256
#define CONTROL_REPLY_MAX 8192 /* "vcpus" of 64 vCPUs */

struct vm_control {
    struct vm *vm;
    pthread_t thread;
    int listen_fd;         /* -1 for an inherited connection */
    _Atomic int client_fd; /* the connection being served, or -1 */
    _Atomic int closing;
    int passed_fd; /* a descriptor that came with the command being read, or -1 */
    char path[108];
};

static void reply(int fd, const char *line)
{
    char buf[CONTROL_REPLY_MAX + 2];
    int n = snprintf(buf, sizeof(buf), "%s\n", line);
    if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) < 0) {
        /* the peer left; the read loop sees it */
    }
}

static const char *run_state(struct vm *vm)
{
    if (atomic_load(&vm->exit_reason)) return "ok stopping";
    return vm_paused(vm) ? "ok paused" : "ok running";
}

/* balloon [SIZE]: ask the guest to keep SIZE of its RAM (as QEMU's
 * balloon command), or report the balloon; the reply goes to buf. */
static const char *balloon_command(struct vm *vm, const char *arg, char *buf, size_t len)
{
    char err[128];
    if (*arg) {
        unsigned long long bytes;
        if (cli_parse_size(arg, 20, &bytes) < 0) return "error balloon: invalid size";
        if (virtio_balloon_set(vm, bytes, err, sizeof(err)) < 0) {
            snprintf(buf, len, "error %s", err);
            return buf;
        }
    }
    struct balloon_info bi;
    if (virtio_balloon_info(vm, &bi) < 0) return "error the VM has no balloon device (--balloon)";
    snprintf(
        buf, len,
        "ok balloon target %llu MiB, given %llu MiB, inflated %llu deflated %llu reported %llu "
        "pages, guest free %llu MiB (statistics %llu)",
        (unsigned long long)bi.target_pages >> 8, (unsigned long long)bi.actual_pages >> 8,
        (unsigned long long)bi.inflated, (unsigned long long)bi.deflated,
        (unsigned long long)bi.reported,
        (unsigned long long)((bi.stat_valid & (1u << 4)) ? bi.stat[4] >> 20 : 0),
        (unsigned long long)bi.stats_updates);
    return buf;
}

/* disk-resize N SIZE: grow disk N (from 0, --disk order) to SIZE. */
static const char *disk_command(struct vm *vm, const char *arg, char *buf, size_t len)
{
    char *end;
    unsigned long idx = strtoul(arg, &end, 10);
    unsigned long long bytes;
    if (end == arg || *end != ' ' || cli_parse_size(end + 1, 20, &bytes) < 0)
        return "error usage: disk-resize N SIZE";
    char err[160];
    if (virtio_blk_resize(vm, (unsigned)idx, bytes, err, sizeof(err)) < 0) {
        snprintf(buf, len, "error %s", err);
        return buf;
    }
    snprintf(buf, len, "ok disk %lu is %llu bytes", idx, bytes);
    return buf;
}

/* snapshot PATH: the whole VM to a file; it runs on (or stays paused).
 * Into fd if the command came with one (a file the sender opened for it
 * and puts in place at PATH: a sandboxed VM cannot open PATH itself). */
static const char *snapshot_command(struct vm *vm, const char *path, int fd, char *buf, size_t len)
{
    if (!*path) return "error usage: snapshot PATH";
    char err[512];
    uint64_t t0 = host_time_ns();
    int overlays = !strncmp(path, "--overlay ", 10);
    if (overlays) path += 10;
    if (!*path) return "error usage: snapshot [--overlay] PATH";
    if (vmsnap_save_live(vm, path, fd, overlays, err, sizeof(err)) < 0) {
        snprintf(buf, len, "error %.*s", (int)(len > 8 ? len - 8 : 0), err);
        return buf;
    }
    int room = (int)(len > 40 ? len - 40 : 0);
    snprintf(buf, len, "ok saved %.*s in %.1f ms", room, path, (double)(host_time_ns() - t0) / 1e6);
    return buf;
}

/* migrate ADDR [copy-disks]: live migration (copy-disks: its disks too);
 * on success this VM ends ("migrated"), once the reply is out
 * (control_serve). */
static const char *migrate_command(struct vm *vm, const char *addr, char *buf, size_t len)
{
    char err[512], to[CONTROL_LINE_MAX];
    struct migrate_stats st;
    snprintf(to, sizeof(to), "%s", addr);
    char *opt = strchr(to, ' ');
    int copy = opt && !strcmp(opt + 1, "copy-disks");
    if (opt) *opt = 0;
    if (!*to || (opt && !copy)) return "error usage: migrate unix:PATH|tcp:HOST:PORT [copy-disks]";
    addr = to;
    if (migrate_send(vm, addr, copy, &st, err, sizeof(err)) < 0) {
        snprintf(buf, len, "error %.*s", (int)(len > 8 ? len - 8 : 0), err);
        return buf;
    }
    snprintf(buf, len,
             "ok migrated to %.150s: %u rounds, %llu pages, %.1f MiB, total %.1f ms, downtime "
             "%.1f ms",
             addr, st.rounds, (unsigned long long)st.pages, (double)st.bytes / (1 << 20),
             st.total_ms, st.downtime_ms);
    return buf;
}

/* jit-flush: every vCPU drops its translated code at its next instruction
 * boundary (its code cache's memory goes back to the host); what runs
 * again is translated again. */
static const char *jit_flush_command(struct vm *vm, char *buf, size_t len)
{
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (vm->harts[i]) vm_remote_fence(NULL, vm->harts[i], HART_EV_FENCEI);
    snprintf(buf, len, "ok jit-flush: %u vCPUs drop their translated code", vm->ncpus);
    return buf;
}

/* cpus-online [N]: how many vCPUs may run (SBI HSM), or set it. */
static const char *cpus_command(struct vm *vm, const char *arg, char *buf, size_t len)
{
    if (*arg) {
        char *end;
        unsigned long n = strtoul(arg, &end, 10);
        if (*end || n == 0 || n > vm->ncpus) {
            snprintf(buf, len, "error cpus-online: want 1..%u", vm->ncpus);
            return buf;
        }
        vm_set_cpus_online(vm, (unsigned)n);
    }
    unsigned online = atomic_load(&vm->cpus_online);
    snprintf(buf, len, "ok cpus-online %u of %u, running %u", online ? online : vm->ncpus,
             vm->ncpus, vm_harts_running(vm));
    return buf;
}

/* mem-limit [SIZE]: the memory limit now (--mem-limit), or set it. */
static const char *limit_command(struct vm *vm, const char *arg, char *buf, size_t len)
{
    char err[160];
    unsigned long long bytes;
    if (*arg && cli_parse_size(arg, 20, &bytes) < 0) return "error mem-limit: invalid size";
    if (*arg && mem_swap_set_limit(vm, bytes, err, sizeof(err)) < 0) {
        snprintf(buf, len, "error %s", err);
        return buf;
    }
    if (!vm->swap) return "error the VM has no memory limit (--mem-limit)";
    struct mem_swap_stats st;
    mem_swap_get_stats(vm, &st);
    snprintf(buf, len, "ok mem-limit %llu MiB of %llu MiB, resident %llu MiB",
             (unsigned long long)st.limit_pages >> 8, (unsigned long long)st.max_limit_pages >> 8,
             (unsigned long long)st.resident_pages >> 8);
    return buf;
}

/* share: page sharing's figures; share-scan BUDGET and share-map N: the
 * service's half of a sharing round (mem/share.h). */
static const char *share_command(struct vm *vm, const char *cmd, char *buf, size_t len)
{
    char err[160];
    int n;
    if (!vm->share) return "error page sharing is off for this VM (--share-pages)";
    if (!strcmp(cmd, "share")) {
        struct mem_share_stats st;
        mem_share_get_stats(vm, &st);
        snprintf(buf, len,
                 "ok share pooled %llu zero %llu merged %llu zero-merged %llu broken-hart %llu "
                 "broken-device %llu scanned %llu rejected %llu",
                 (unsigned long long)st.pooled, (unsigned long long)st.zero,
                 (unsigned long long)st.merged, (unsigned long long)st.zero_merged,
                 (unsigned long long)st.broken_hart, (unsigned long long)st.broken_device,
                 (unsigned long long)st.scanned, (unsigned long long)st.rejected);
        return buf;
    }
    unsigned long v = strtoul(cmd + 10, NULL, 10);
    if (!strncmp(cmd, "share-scan ", 11))
        n = mem_share_scan(vm, (uint32_t)(v > 1u << 24 ? 1u << 24 : v), err, sizeof(err));
    else
        n = mem_share_map(vm, (uint32_t)(v > 1u << 24 ? 1u << 24 : v), err, sizeof(err));
    if (n < 0)
        snprintf(buf, len, "error %s", err);
    else
        snprintf(buf, len, "ok %d", n);
    return buf;
}

/* "sched cap=PCT pin=LIST|-": the scheduler's controls, live. */
static const char *control_sched(struct vm *vm, const char *args, char *buf, size_t size)
{
    unsigned cap = atomic_load(&vm->sched.cap_pct);
    char pin[256] = "", err[200];
    cpu_set_t set;
    int has_pin = 0;
    for (const char *p = args; *p;) {
        int n = 0;
        if (sscanf(p, "cap=%u%n", &cap, &n) == 1 && cap <= 100 * VM_MAX_CPUS) {
        } else if (sscanf(p, "pin=%255[^ ]%n", pin, &n) == 1) {
            has_pin = 1;
            if (strcmp(pin, "-") && vmdef_parse_pin("pin", pin, &set, err, sizeof(err)) < 0) {
                snprintf(buf, size, "error %s", err);
                return buf;
            }
        } else {
            return "error usage: sched [cap=PCT] [pin=CPUS|-]";
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    vm_set_cap(vm, cap);
    if (has_pin) vm_set_pin(vm, strcmp(pin, "-") ? &set : NULL);
    return "ok";
}

/* This process's resident memory (VmRSS), in KiB; 0 if unreadable. */
static unsigned long long rss_kb(void)
{
    char buf[2048];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
    if (fd >= 0) close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    const char *p = strstr(buf, "\nVmRSS:");
    unsigned long long kb = 0;
    if (p) sscanf(p + 7, " %llu", &kb);
    return kb;
}

/* "stats": host CPU time in guest code, instructions, time throttled,
 * vmon's resident memory, bytes through disks and network, hypercalls; with --mem-limit the guest
 * RAM resident and the pages that went to the swap file and came back. */
static const char *control_stats(struct vm *vm, char *buf, size_t size)
{
    uint64_t steal = 0;
    for (unsigned i = 0; i < vm->ncpus; i++)
        steal += atomic_load_explicit(&vm->vcpu[i].steal_ns, memory_order_relaxed);
    int n = snprintf(
        buf, size, "ok cpu_ns=%llu insns=%llu throttled_ns=%llu cap=%u rss_kb=%llu steal_ns=%llu",
        (unsigned long long)atomic_load(&vm->sched.cpu_ns), (unsigned long long)vm_insns(vm),
        (unsigned long long)atomic_load(&vm->sched.throttled_ns), atomic_load(&vm->sched.cap_pct),
        rss_kb(), (unsigned long long)steal);
    if (n > 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n,
                      " disk_read=%llu disk_written=%llu net_rx=%llu net_tx=%llu hypercalls=%llu",
                      (unsigned long long)atomic_load(&vm->io.disk_read),
                      (unsigned long long)atomic_load(&vm->io.disk_written),
                      (unsigned long long)atomic_load(&vm->io.net_rx),
                      (unsigned long long)atomic_load(&vm->io.net_tx),
                      (unsigned long long)sbi_total_calls(vm));
    if (vm->swap && n > 0 && (size_t)n < size) {
        struct mem_swap_stats st;
        mem_swap_get_stats(vm, &st);
        snprintf(buf + n, size - (size_t)n, " guest_resident_kb=%llu swap_out=%llu swap_in=%llu",
                 (unsigned long long)st.resident_pages * 4, (unsigned long long)st.out,
                 (unsigned long long)st.in);
    }
    return buf;
}

/* "vcpus": each vCPU's state, host CPU time (its thread's clock),
 * instructions retired and steal time. */
static const char *control_vcpus(struct vm *vm, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "ok");
    for (unsigned i = 0; i < vm->ncpus && n < size; i++) {
        struct vcpu_figures f;
        vcpu_get_figures(vm, i, &f);
        n += (size_t)snprintf(buf + n, size - n,
                              " vcpu%u state=%s cpu_ns=%llu insns=%llu steal_ns=%llu", i,
                              vcpu_state_name(f.state), (unsigned long long)f.cpu_ns,
                              (unsigned long long)f.insns, (unsigned long long)f.steal_ns);
    }
    return buf;
}

static const char *control_command(struct vm_control *c, const char *cmd, char *buf, size_t size)
{
    struct vm *vm = c->vm;
    if (!strncmp(cmd, "sched ", 6)) return control_sched(vm, cmd + 6, buf, size);
    if (!strcmp(cmd, "stats")) return control_stats(vm, buf, size);
    if (!strcmp(cmd, "vcpus")) return control_vcpus(vm, buf, size);
    if (!strcmp(cmd, "jit-flush")) return jit_flush_command(vm, buf, size);
    if (!strncmp(cmd, "cpus-online", 11) && (cmd[11] == 0 || cmd[11] == ' '))
        return cpus_command(vm, cmd[11] ? cmd + 12 : "", buf, size);
    if (!strncmp(cmd, "mem-limit", 9) && (cmd[9] == 0 || cmd[9] == ' '))
        return limit_command(vm, cmd[9] ? cmd + 10 : "", buf, size);
    if (!strcmp(cmd, "share") || !strncmp(cmd, "share-scan ", 11) ||
        !strncmp(cmd, "share-map ", 10))
        return share_command(vm, cmd, buf, size);
    if (!strncmp(cmd, "snapshot ", 9))
        return snapshot_command(vm, cmd + 9, c->passed_fd, buf, size);
    if (!strncmp(cmd, "migrate ", 8)) return migrate_command(vm, cmd + 8, buf, size);
    if (!strncmp(cmd, "disk-resize ", 12)) return disk_command(vm, cmd + 12, buf, size);
    if (!strncmp(cmd, "balloon", 7) && (cmd[7] == 0 || cmd[7] == ' '))
        return balloon_command(vm, cmd[7] ? cmd + 8 : "", buf, size);
    if (!strcmp(cmd, "pause")) return vm_pause(vm) < 0 ? "error the VM is stopping" : "ok paused";
    if (!strcmp(cmd, "resume")) {
        vm_resume(vm);
        return "ok running";
    }
    if (!strcmp(cmd, "status")) return run_state(vm);
    if (!strcmp(cmd, "powerdown"))
        return vm_power_button(vm) < 0 ? "error the guest has no driver for the power button"
                                       : "ok pressed";
    if (!strcmp(cmd, "reset")) {
        vm_request_exit(vm, VM_EXIT_RESET, 0, "reset by the control channel");
        vm_resume(vm); /* a paused VM reboots too */
        return "ok resetting";
    }
    return "error unknown command (pause, resume, status, powerdown, reset, sched, stats, vcpus, "
           "balloon [SIZE], disk-resize N SIZE, snapshot [--overlay] PATH, migrate ADDR, "
           "mem-limit [SIZE], cpus-online [N], jit-flush, share)";
}

/* One byte of a command; a descriptor that comes with it (SCM_RIGHTS)
 * is kept for the command, in place of an earlier one. */
static ssize_t read_byte(struct vm_control *c, int fd, char *ch)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct iovec iov = {ch, 1};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
    struct cmsghdr *h = n > 0 ? CMSG_FIRSTHDR(&m) : NULL;
    if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS &&
        h->cmsg_len == CMSG_LEN(sizeof(int))) {
        if (c->passed_fd >= 0) close(c->passed_fd);
        memcpy(&c->passed_fd, CMSG_DATA(h), sizeof(int));
    }
    return n;
}

/* Serve one connection until it closes. */
static void control_serve(struct vm_control *c, int fd)
{
    char line[CONTROL_LINE_MAX];
    size_t len = 0;
    int overlong = 0;
    reply(fd, "ready");
    for (;;) {
        char ch;
        ssize_t n = read_byte(c, fd, &ch);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || atomic_load(&c->closing)) break;
        if (ch != '\n') {
            if (len + 1 < sizeof(line))
                line[len++] = ch;
            else
                overlong = 1;
            continue;
        }
        if (len && line[len - 1] == '\r') len--;
        line[len] = 0;
        char buf[CONTROL_REPLY_MAX];
        pthread_mutex_lock(&c->vm->admin);
        const char *r =
            overlong ? "error line too long" : control_command(c, line, buf, sizeof(buf));
        pthread_mutex_unlock(&c->vm->admin);
        if (c->passed_fd >= 0) close(c->passed_fd); /* it was this command's */
        c->passed_fd = -1;
        reply(fd, r);
        if (!strncmp(r, "ok migrated to ", 15)) { /* it runs elsewhere now: end here */
            vm_request_exit(c->vm, VM_EXIT_MIGRATED, 0, r + 3);
            vm_resume(c->vm);
        }
        len = 0;
        overlong = 0;
    }
    if (c->passed_fd >= 0) close(c->passed_fd); /* a command cut short */
    c->passed_fd = -1;
}

static void *control_thread(void *arg)
{
    struct vm_control *c = arg;
    if (c->listen_fd < 0) {
        control_serve(c, atomic_load(&c->client_fd));
        /* The supervisor went away: shut down as SIGTERM would. */
        if (!atomic_load(&c->closing)) kill(getpid(), SIGTERM);
        return NULL;
    }
    while (!atomic_load(&c->closing)) {
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            break;
        }
        atomic_store(&c->client_fd, fd);
        if (!atomic_load(&c->closing)) control_serve(c, fd);
        atomic_store(&c->client_fd, -1);
        close(fd);
    }
    return NULL;
}

static int control_listen(struct vm_control *c, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "--control %s: path too long", path);
        return -1;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
        snprintf(err, errlen, "--control %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    c->listen_fd = fd;
    snprintf(c->path, sizeof(c->path), "%s", path);
    return 0;
}

static int control_inherit(struct vm_control *c, const char *num, char *err, size_t errlen)
{
    char *end;
    long fd = strtol(num, &end, 10);
    int type = 0;
    socklen_t len = sizeof(type);
    if (*end || end == num || fd < 0 || fd > 65535 ||
        getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) {
        snprintf(err, errlen, "--control fd:%s: not a connected stream socket", num);
        return -1;
    }
    atomic_store(&c->client_fd, (int)fd);
    return 0;
}

struct vm_control *vm_control_start(struct vm *vm, const char *spec, char *err, size_t errlen)
{
    struct vm_control *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->vm = vm;
    c->listen_fd = -1;
    c->passed_fd = -1;
    atomic_store(&c->client_fd, -1);
    int r = strncmp(spec, "fd:", 3) ? control_listen(c, spec, err, errlen)
                                    : control_inherit(c, spec + 3, err, errlen);
    if (r == 0 && pthread_create(&c->thread, NULL, control_thread, c) != 0) {
        snprintf(err, errlen, "--control: cannot create its thread");
        r = -1;
    }
    if (r < 0) {
        if (c->listen_fd >= 0) {
            close(c->listen_fd);
            unlink(c->path);
        }
        free(c);
        return NULL;
    }
    return c;
}

void vm_control_stop(struct vm_control *c)
{
    if (!c) return;
    atomic_store(&c->closing, 1);
    if (c->listen_fd >= 0) shutdown(c->listen_fd, SHUT_RDWR);
    int fd = atomic_load(&c->client_fd);
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
    pthread_join(c->thread, NULL);
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        unlink(c->path);
    } else if (fd >= 0) {
        close(fd);
    }
    free(c);
}

int vm_control_fd(const char *spec)
{
    if (!spec || strncmp(spec, "fd:", 3)) return -1;
    char *end;
    long fd = strtol(spec + 3, &end, 10);
    return *end || end == spec + 3 || fd < 0 || fd > 65535 ? -1 : (int)fd;
}

int vm_control_note(const char *spec, const char *fmt, ...)
{
    int fd = vm_control_fd(spec);
    if (fd < 0) return 0;
    char *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    int r = 0;
    for (int i = 0; i < n && !r; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) r = -1;
    line[n] = '\n';
    for (ssize_t k, off = 0; !r && off <= n; off += k)
        if ((k = send(fd, line + off, (size_t)(n + 1 - off), MSG_NOSIGNAL)) <= 0) r = -1;
    free(line);
    return r;
}
