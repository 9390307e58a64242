/* File-system confinement with Landlock (see sandbox.h). One ruleset
 * handles every file-system right the kernel knows; its rules leave the
 * VM's own paths reachable; then every thread of the process restricts
 * itself with it. Landlock restricts only the calling thread (kernels
 * before LANDLOCK_RESTRICT_SELF_TSYNC), and the devices have started
 * threads of their own by now, so each other thread is asked to do it by
 * a signal whose handler calls landlock_restrict_self, as glibc's setxid
 * does for set*id; the signal carries the ruleset and the tally. */
#include "vmm/sandbox.h"
#include "vmm/vm.h"
#include <linux/landlock.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Rights of later ABIs than the build's headers may know. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ull << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ull << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ull << 15) /* ABI 5 */
#endif
#define SCOPE_ABSTRACT_UNIX_SOCKET (1ull << 0) /* ABI 6 */
#define SCOPE_SIGNAL               (1ull << 1)

#define FS(x) LANDLOCK_ACCESS_FS_##x
/* The rights a rule on a file (not a directory) may hold. */
#define FILE_RIGHTS (FS(EXECUTE) | FS(WRITE_FILE) | FS(READ_FILE) | FS(TRUNCATE) | FS(IOCTL_DEV))

#define MAX_THREADS  512
#define SYNC_WAIT_NS 5000000000ull /* for every thread to have restricted itself */
#define SYNC_ROUNDS  4             /* listings of the threads, for ones started meanwhile */

/* struct landlock_ruleset_attr of ABI 6 (the headers may be older). */
struct ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

/* Paths every VM reads once it runs: the system's libraries (name
 * resolution may load NSS modules) and what name resolution and the C
 * library read in /etc. */
static const char *const system_reads[] = {
    "/usr",          "/lib",           "/lib64",           "/etc/ld.so.cache",
    "/etc/hosts",    "/etc/host.conf", "/etc/resolv.conf", "/etc/nsswitch.conf",
    "/etc/gai.conf", "/etc/services",  "/etc/protocols",   "/etc/localtime",
};

static uint64_t handled_rights(int abi)
{
    uint64_t r = (FS(MAKE_SYM) << 1) - 1; /* ABI 1: EXECUTE .. MAKE_SYM */
    if (abi >= 2) r |= FS(REFER);
    if (abi >= 3) r |= FS(TRUNCATE);
    if (abi >= 5) r |= FS(IOCTL_DEV);
    return r;
}

static uint64_t access_rights(int access)
{
    switch (access) {
    case SANDBOX_READ: return FS(READ_FILE) | FS(READ_DIR);
    case SANDBOX_TREE:
        return FS(READ_FILE) | FS(READ_DIR) | FS(WRITE_FILE) | FS(TRUNCATE) | FS(REMOVE_DIR) |
               FS(REMOVE_FILE) | FS(MAKE_DIR) | FS(MAKE_REG) | FS(MAKE_SYM) | FS(MAKE_FIFO) |
               FS(MAKE_SOCK) | FS(REFER);
    case SANDBOX_FILES_IN: return FS(MAKE_REG) | FS(WRITE_FILE) | FS(TRUNCATE) | FS(REMOVE_FILE);
    case SANDBOX_SOCKETS_IN: return FS(MAKE_SOCK) | FS(REMOVE_FILE);
    }
    return 0;
}

static int vm_dir_access(int use)
{
    return use == VM_DIR_WRITE  ? SANDBOX_TREE
           : use == VM_DIR_READ ? SANDBOX_READ
                                : SANDBOX_SOCKETS_IN;
}

/* Allow rights beneath fd (those a file can hold if it is no directory). */
static int add_rule(int ruleset, int fd, uint64_t rights, const char *what, char *err,
                    size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "sandbox: %s: %s", what, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) rights &= FILE_RIGHTS;
    if (!rights) return 0;
    struct landlock_path_beneath_attr pb = {.allowed_access = rights, .parent_fd = fd};
    if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0) {
        snprintf(err, errlen, "sandbox: Landlock rule for %s: %s", what, strerror(errno));
        return -1;
    }
    return 0;
}

/* The same for a path; one that does not exist (now) needs no rule. */
static int add_path(int ruleset, const char *path, uint64_t rights, char *err, size_t errlen)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return 0;
    int r = add_rule(ruleset, fd, rights, path, err, errlen);
    close(fd);
    return r;
}

/* Every rule: the given paths, the devices' directories, what every VM
 * reads, and this process's own /proc entries (held open: a procfs entry
 * looked up again would be another inode, outside the rule). */
static int add_rules(struct vm *vm, int ruleset, uint64_t handled, const struct sandbox_path *paths,
                     unsigned n, char *err, size_t errlen)
{
    int r = 0;
    for (unsigned i = 0; i < n && !r; i++)
        r = add_path(ruleset, paths[i].path, access_rights(paths[i].access) & handled, err, errlen);
    for (unsigned i = 0; i < vm->ndirs && !r; i++)
        r = add_rule(ruleset, vm->dirs[i].fd,
                     access_rights(vm_dir_access(vm->dirs[i].use)) & handled,
                     "a device's directory", err, errlen);
    for (unsigned i = 0; i < sizeof(system_reads) / sizeof(system_reads[0]) && !r; i++)
        r = add_path(ruleset, system_reads[i], access_rights(SANDBOX_READ) & handled, err, errlen);
    if (r) return r;
    vm->isolation.proc_fd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (vm->isolation.proc_fd < 0) return 0; /* no procfs: nothing to read there */
    /* Directories too: a sanitizer's leak check lists the threads there. */
    return add_rule(ruleset, vm->isolation.proc_fd, (FS(READ_FILE) | FS(READ_DIR)) & handled,
                    "/proc/self", err, errlen);
}

/* --- every thread restricts itself ---------------------------------------- */

struct thread_sync {
    int ruleset;
    pid_t pid;
    _Atomic int restricted, failed, n;
    pid_t tids[MAX_THREADS]; /* the threads that restricted themselves */
    pid_t sent[MAX_THREADS]; /* the threads signalled (by this thread only) */
    int nsent;
};

static void restrict_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    int saved = errno;
    struct thread_sync *s = si->si_value.sival_ptr;
    if (si->si_code == SI_QUEUE && si->si_pid == getpid() && s) {
        syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (syscall(SYS_landlock_restrict_self, s->ruleset, 0) == 0) {
            int i = atomic_fetch_add(&s->n, 1);
            if (i < MAX_THREADS) s->tids[i] = (pid_t)syscall(SYS_gettid);
            atomic_fetch_add(&s->restricted, 1);
        } else {
            atomic_fetch_add(&s->failed, 1);
        }
    }
    errno = saved;
}

static int restricted_already(const struct thread_sync *s, pid_t tid)
{
    int n = atomic_load(&s->n);
    for (int i = 0; i < n && i < MAX_THREADS; i++)
        if (s->tids[i] == tid) return 1;
    return 0;
}

/* Signal every thread but this one that has not restricted itself: how
 * many were signalled, or -1 if the threads cannot be listed. */
static int signal_threads(struct thread_sync *s, int sig)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    pid_t self = (pid_t)syscall(SYS_gettid);
    int sent = 0;
    for (struct dirent *e; (e = readdir(d));) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0 || tid == self || restricted_already(s, tid)) continue;
        if (s->nsent == MAX_THREADS) {
            sent = -1;
            errno = EMFILE;
            break;
        }
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        si.si_signo = sig;
        si.si_code = SI_QUEUE;
        si.si_pid = s->pid;
        si.si_uid = getuid();
        si.si_value.sival_ptr = s;
        if (syscall(SYS_rt_tgsigqueueinfo, s->pid, tid, sig, &si) == 0) {
            s->sent[s->nsent++] = tid;
            sent++;
        }
    }
    closedir(d);
    return sent;
}

/* Threads signalled that ended before they answered (the signal went
 * with them). */
static int gone_threads(const struct thread_sync *s)
{
    int gone = 0;
    for (int i = 0; i < s->nsent; i++)
        if (!restricted_already(s, s->sent[i]) && syscall(SYS_tgkill, s->pid, s->sent[i], 0) < 0 &&
            errno == ESRCH)
            gone++;
    return gone;
}

/* Wait until want threads have answered or ended: 0, or -1 after
 * SYNC_WAIT_NS. */
static int wait_answers(struct thread_sync *s, int want)
{
    for (uint64_t waited = 0; waited < SYNC_WAIT_NS; waited += 1000000) {
        int answered = atomic_load(&s->restricted) + atomic_load(&s->failed);
        if (answered >= want || (waited % 100000000 == 0 && answered + gone_threads(s) >= want))
            return 0;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* Every other thread, then this one. A thread that never answers leaves
 * s allocated (its handler may still run): the VM does not start then. */
static int restrict_all_threads(int ruleset, char *err, size_t errlen)
{
    struct thread_sync *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "sandbox: out of memory");
        return -1;
    }
    s->ruleset = ruleset;
    s->pid = getpid();
    int sig = SIGRTMIN;
    struct sigaction sa = {.sa_sigaction = restrict_handler, .sa_flags = SA_SIGINFO | SA_RESTART},
                     old;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, &old);
    int want = 0, r = 0, sent = 1;
    for (int round = 0; round < SYNC_ROUNDS && sent > 0 && !r; round++) {
        sent = signal_threads(s, sig);
        want += sent > 0 ? sent : 0;
        if (sent < 0)
            r = snprintf(err, errlen, "sandbox: cannot signal every thread: %s", strerror(errno));
        else if (wait_answers(s, want) < 0)
            r = snprintf(err, errlen, "sandbox: a thread did not confine itself in time");
        else if (atomic_load(&s->failed))
            r = snprintf(err, errlen, "sandbox: a thread could not confine itself");
    }
    if (!r && sent > 0) r = snprintf(err, errlen, "sandbox: threads keep starting");
    if (!r && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
        r = snprintf(err, errlen, "sandbox: landlock_restrict_self: %s", strerror(errno));
    if (r && atomic_load(&s->restricted) + atomic_load(&s->failed) + gone_threads(s) < want)
        return -1; /* keep s */
    sigaction(sig, &old, NULL);
    free(s);
    return r ? -1 : 0;
}

/* --- the ruleset ------------------------------------------------------------ */

static int make_ruleset(int abi, uint64_t handled)
{
    struct ruleset_attr attr = {.handled_access_fs = handled};
    size_t size = sizeof(attr.handled_access_fs);
    if (abi >= 6) {
        /* Nor abstract unix sockets nor signals outside its own domain. */
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL;
        size = sizeof(attr);
    }
    return (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
}

int sandbox_landlock(struct vm *vm, const struct sandbox_path *paths, unsigned n, char *err,
                     size_t errlen)
{
    struct vm_isolation *iso = &vm->isolation;
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) {
        snprintf(iso->detail, sizeof(iso->detail), "this kernel has no Landlock (%s)",
                 errno == EOPNOTSUPP ? "it is disabled at boot" : strerror(errno));
        return 0;
    }
    uint64_t handled = handled_rights((int)abi);
    int ruleset = make_ruleset((int)abi, handled);
    if (ruleset < 0) {
        snprintf(err, errlen, "sandbox: landlock_create_ruleset: %s", strerror(errno));
        return -1;
    }
    int r = add_rules(vm, ruleset, handled, paths, n, err, errlen);
    if (!r && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        snprintf(err, errlen, "sandbox: no_new_privs: %s", strerror(errno));
        r = -1;
    }
    if (!r) r = restrict_all_threads(ruleset, err, errlen);
    close(ruleset);
    if (r) return -1;
    iso->landlock_abi = (int)abi;
    snprintf(iso->detail, sizeof(iso->detail), "Landlock ABI %ld", abi);
    return 0;
}
