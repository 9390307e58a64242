/* The worker's seccomp allow-list: see sandbox.h. The list comes from
 * `strace -f -c` of a worker running the demo guest with a disk, user
 * networking (with a forwarded port), a 9p share, virtio-rng and consoles,
 * plus what the device backends call on paths that demo did not take. */
#include "vmm/sandbox.h"
#include "vmm/vm.h"
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/userfaultfd.h>
#include <termios.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANDBOX_DEFAULT SCMP_ACT_LOG
#else
#define SANDBOX_DEFAULT SCMP_ACT_KILL_PROCESS
#endif

/* Allowed whatever their arguments. */
static const char *const allowed[] = {
    /* memory (mmap and mprotect: below) */
    "munmap",
    "mremap",
    "madvise",
    "mincore", /* --mem-limit counts the guest's resident pages */
    "brk",
    "memfd_create",
    "ftruncate",
    /* threads, signals, time */
    "futex",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "exit",
    "exit_group",
    "gettid",
    "getpid",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigtimedwait",
    "sigaltstack",
    "restart_syscall",
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "nanosleep",
    "clock_nanosleep",
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "getrusage",
    "getrandom",
    /* file I/O on held descriptors and inside shares */
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "lseek",
    "close",
    "fsync",
    "fdatasync",
    "fallocate",
    "fstat",
    "newfstatat",
    "statx",
    "fstatfs",
    "statfs",
    "flock",
    "fcntl",
    "getdents64",
    "openat",
    "openat2",
    "readlinkat",
    "readlink", /* realpath(): a snapshot's overlays name their backing file */
    "getcwd",
    "mkdirat",
    "unlinkat",
    "unlink",
    "rename", /* glibc's rename() on x86-64: a snapshot's file put in place */
    "renameat",
    "renameat2",
    "symlinkat",
    "linkat",
    "mknodat",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchownat",
    "utimensat",
    "access",
    "faccessat",
    "faccessat2",
    /* polling and wake-ups */
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "eventfd2",
    "pipe2",
    /* sockets the VM holds, and user networking's (socket: below) */
    "connect",
    "accept",
    "accept4",
    "bind",
    "listen",
    "getsockname",
    "getpeername",
    "getsockopt",
    "setsockopt",
    "shutdown",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    "prctl",
    "prlimit64",
    "getrlimit",
    "sched_getparam",
#endif
};

static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
                const struct scmp_arg_cmp *cmp)
{
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return 0; /* not on this architecture */
    return seccomp_rule_add_array(ctx, action, nr, n, cmp);
}

/* mmap and mprotect, never writable and executable at once. */
static int add_memory(scmp_filter_ctx ctx)
{
    const uint64_t wx = PROT_WRITE | PROT_EXEC;
    const uint64_t ok[] = {0, PROT_WRITE, PROT_EXEC};
    int r = 0;
    for (unsigned i = 0; i < 3 && !r; i++) {
        struct scmp_arg_cmp c = SCMP_A2(SCMP_CMP_MASKED_EQ, wx, ok[i]);
        r = rule(ctx, SCMP_ACT_ALLOW, "mmap", 1, &c);
        if (!r) r = rule(ctx, SCMP_ACT_ALLOW, "mprotect", 1, &c);
    }
    return r;
}

/* Threads, never processes: clone with CLONE_THREAD; clone3 (whose flags
 * seccomp cannot see) answers ENOSYS, and glibc falls back to clone. */
static int add_threads(scmp_filter_ctx ctx)
{
    struct scmp_arg_cmp thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
    struct scmp_arg_cmp self = SCMP_A0(SCMP_CMP_EQ, (uint64_t)getpid());
    int r = rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &thread);
    if (!r) r = rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
    /* Signals to itself only (pthread_kill, the control channel's SIGTERM). */
    if (!r) r = rule(ctx, SCMP_ACT_ALLOW, "tgkill", 1, &self);
    if (!r) r = rule(ctx, SCMP_ACT_ALLOW, "kill", 1, &self);
    return r;
}

/* A unix stream socket as live migration makes it, to connect to its
 * target (socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)); the other unix
 * sockets libraries probe for (nscd's is non-blocking) fail. */
static int add_unix_stream(scmp_filter_ctx ctx)
{
    const uint64_t type = SOCK_STREAM | SOCK_CLOEXEC;
    struct scmp_arg_cmp yes[2] = {SCMP_A0(SCMP_CMP_EQ, AF_UNIX), SCMP_A1(SCMP_CMP_EQ, type)};
    struct scmp_arg_cmp no[2] = {SCMP_A0(SCMP_CMP_EQ, AF_UNIX), SCMP_A1(SCMP_CMP_NE, type)};
    int r = rule(ctx, SCMP_ACT_ALLOW, "socket", 2, yes);
    return r ? r : rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", 2, no);
}

/* IPv4 and IPv6 sockets (user networking, migration over TCP), a few
 * harmless ioctls and a terminal's settings; the probes libraries make (a
 * netlink socket, a window size) fail instead of killing. */
static int add_sockets_ioctls(scmp_filter_ctx ctx)
{
    static const struct {
        const char *name;
        unsigned arg;
        uint64_t value;
        uint32_t action;
    } rules[] = {
        {"socket", 0, AF_INET, SCMP_ACT_ALLOW},
        {"socket", 0, AF_INET6, SCMP_ACT_ALLOW},
        {"socket", 0, AF_NETLINK, SCMP_ACT_ERRNO(EAFNOSUPPORT)},
        {"ioctl", 1, FIONREAD, SCMP_ACT_ALLOW},
        {"ioctl", 1, FIONBIO, SCMP_ACT_ALLOW},
        {"ioctl", 1, FIOCLEX, SCMP_ACT_ALLOW},
        {"ioctl", 1, FIONCLEX, SCMP_ACT_ALLOW},
        {"ioctl", 1, TCGETS, SCMP_ACT_ALLOW}, /* a stdio console's terminal: */
        {"ioctl", 1, TCSETS, SCMP_ACT_ALLOW}, /* its settings restored at exit */
        {"ioctl", 1, TCSETSW, SCMP_ACT_ALLOW},
        {"ioctl", 1, TCSETSF, SCMP_ACT_ALLOW},
        {"ioctl", 1, TIOCGWINSZ, SCMP_ACT_ERRNO(ENOTTY)},
        {"ioctl", 1, UFFDIO_COPY, SCMP_ACT_ALLOW}, /* --mem-limit: pages back in */
        {"ioctl", 1, UFFDIO_ZEROPAGE, SCMP_ACT_ALLOW},
        {"ioctl", 1, UFFDIO_WAKE, SCMP_ACT_ALLOW},
    };
    int r = 0;
    for (unsigned i = 0; i < sizeof(rules) / sizeof(rules[0]) && !r; i++) {
        struct scmp_arg_cmp c = SCMP_CMP(rules[i].arg, SCMP_CMP_EQ, rules[i].value);
        r = rule(ctx, rules[i].action, rules[i].name, 1, &c);
    }
    return r;
}

/* The system-call allow-list, on every thread. */
static int apply_seccomp(char *err, size_t errlen)
{
    scmp_filter_ctx ctx = seccomp_init(SANDBOX_DEFAULT);
    if (!ctx) {
        snprintf(err, errlen, "sandbox: cannot create a seccomp filter");
        return -1;
    }
    int r = 0;
    for (unsigned i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && !r; i++)
        r = rule(ctx, SCMP_ACT_ALLOW, allowed[i], 0, NULL);
    if (!r) r = add_memory(ctx);
    if (!r) r = add_threads(ctx);
    if (!r) r = add_sockets_ioctls(ctx);
    if (!r) r = add_unix_stream(ctx);
    /* Every thread, including those the devices already started. */
    if (!r) r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (!r) r = seccomp_load(ctx);
    seccomp_release(ctx);
    if (r) {
        snprintf(err, errlen, "sandbox: cannot install the seccomp filter: %s", strerror(-r));
        return -1;
    }
    return 0;
}

int sandbox_apply(struct vm *vm, const struct sandbox_path *paths, unsigned n, char *err,
                  size_t errlen)
{
    /* Landlock first: its system calls are not in the allow-list. */
    if (sandbox_landlock(vm, paths, n, err, errlen) < 0 || apply_seccomp(err, errlen) < 0)
        return -1;
    vm->isolation.seccomp = 1;
    return 0;
}
