/* Worker processes: each running VM is `vmon run` (this executable) with
 * the VM's options, its serial console in DIR/logs/NAME.console.log, its
 * messages in DIR/logs/NAME.log, and a control socket on fd 3 (--control
 * fd:3). The worker runs with no_new_privs, in its own session, in /, with
 * no descriptors but those (its images, shares and sockets it opens
 * itself), core dumps off, its descriptors and address space bounded, and
 * a seccomp allow-list once its machine is built (--sandbox). If the service
 * goes away the control socket closes and the worker shuts its VM down. */
#include "host/host.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKER_ARGS        96
#define READY_TIMEOUT_MS   60000 /* machine built and images loaded */
#define REQUEST_TIMEOUT_MS 10000
#define WORKER_NOFILE      1024

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WORKER_LIMIT_AS 0 /* sanitizers reserve terabytes of shadow memory */
#else
#define WORKER_LIMIT_AS 1
#endif

struct worker_args {
    char *argv[WORKER_ARGS];
    char membuf[128];
};

static int build_argv(struct service *svc, struct host_vm *vm, struct worker_args *a)
{
    int n = 0;
    a->argv[n++] = "vmon";
    a->argv[n++] = "run";
    if (vmdef_to_argv(&vm->def, a->argv, &n, WORKER_ARGS - 9, a->membuf, sizeof(a->membuf)) < 0)
        return -1;
    if (vm->def.mem_limit) {
        a->argv[n++] = "--swap-dir";
        a->argv[n++] = svc->swap_dir;
    }
    const char *con = vm->def.console;
    if (host_console_is_ours(&vm->def)) con = "fd:4"; /* the service's console socket */
    a->argv[n++] = "--console";
    a->argv[n++] = (char *)con;
    a->argv[n++] = "--control";
    a->argv[n++] = "fd:3";
    if (vm->def.share_pages) { /* the pool and its exchange buffer (host_share_prepare) */
        a->argv[n++] = "--share-fds";
        a->argv[n++] = "5,6";
    }
    a->argv[n++] = "--sandbox";
    a->argv[n] = NULL;
    return 0;
}

static void limit(int res, rlim_t v)
{
    struct rlimit rl = {v, v};
    setrlimit(res, &rl);
}

/* In the child, between fork and exec: only async-signal-safe calls.
 * share: page sharing's pool and exchange buffer, or -1s. */
static void worker_child(int ctl, int con, const int share[2], int logfd, uint64_t mem, char **argv)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* What the service ignores (SIGPIPE; SIGINT and SIGQUIT when a shell
     * started it in the background) the worker must not: an incoming
     * worker, before it handles signals itself, ends on them. */
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    const int sigs[] = {SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP};
    for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &dfl, NULL);
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
        dup2(ctl, 3) < 0 || fcntl(3, F_SETFD, 0) < 0)
        _exit(126);
    if (con >= 0 && (dup2(con, 4) < 0 || fcntl(4, F_SETFD, 0) < 0)) _exit(126);
    for (int i = 0; i < 2; i++)
        if (share[i] >= 0 && (dup2(share[i], 5 + i) < 0 || fcntl(5 + i, F_SETFD, 0) < 0))
            _exit(126);
    close_range(share[0] >= 0 ? 7 : con >= 0 ? 5 : 4, ~0u, 0);
    if (chdir("/") < 0) _exit(126);
    setsid();
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    limit(RLIMIT_CORE, 0);
    limit(RLIMIT_NOFILE, WORKER_NOFILE);
    if (WORKER_LIMIT_AS) limit(RLIMIT_AS, (rlim_t)mem + (4ull << 30));
    execv("/proc/self/exe", argv);
    _exit(127);
}

/* Start the worker (vm->busy set by the caller); the caller then waits for
 * it with host_worker_wait_ready. */
int host_worker_spawn(struct service *svc, struct host_vm *vm, char *err, size_t errlen)
{
    struct worker_args a;
    char logpath[PATH_MAX];
    int sv[2] = {-1, -1};
    if (build_argv(svc, vm, &a) < 0) {
        snprintf(err, errlen, "too many settings for one worker");
        return -1;
    }
    host_log_path(svc, vm->def.name, "log", logpath, sizeof(logpath));
    int logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int cv[2] = {-1, -1};
    if (logfd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        (host_console_is_ours(&vm->def) &&
         socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cv) < 0)) {
        snprintf(err, errlen, "cannot start a worker: %s: %s", logfd < 0 ? logpath : "socketpair",
                 strerror(errno));
        int fds[] = {logfd, sv[0], sv[1]};
        for (unsigned i = 0; i < 3; i++)
            if (fds[i] >= 0) close(fds[i]);
        return -1;
    }
    int share[2] = {-1, -1};
    if (vm->def.share_pages && host_share_prepare(svc, vm, share, err, errlen) < 0) {
        int fds[] = {logfd, sv[0], sv[1], cv[0], cv[1]};
        for (unsigned i = 0; i < 5; i++)
            if (fds[i] >= 0) close(fds[i]);
        return -1;
    }
    pthread_mutex_lock(&vm->ctl_lock);
    if (vm->ctl_fd >= 0) close(vm->ctl_fd);
    vm->ctl_fd = sv[0];
    pthread_mutex_unlock(&vm->ctl_lock);
    /* Under svc->lock, so the reaper knows the pid before it can exit. */
    pthread_mutex_lock(&svc->lock);
    pid_t pid = fork();
    int fork_errno = errno;
    /* An incoming VM's memory is the source's: up to the most there is. */
    uint64_t mem = vm->def.incoming ? VMDEF_MEM_MAX : vm->def.mem;
    if (pid == 0) worker_child(sv[1], cv[1], share, logfd, mem, a.argv);
    if (pid > 0) {
        vm->pid = pid;
        vm->started_ns = host_now_ns();
        vm->sample_ns = vm->started_ns;
        vm->cpu_secs = vm->cpu_pct = 0;
        vm->guest_cpu_ns = vm->insns = vm->stats_ns = 0;
        vm->usage_pct = vm->mips = 0;
        vm->cap_sent = vm->def.cap; /* its --cap */
        vm->sched_dirty = 0;
        memset(&vm->used, 0, sizeof(vm->used));
        memset(&vm->io, 0, sizeof(vm->io));
        memset(&vm->io_rate, 0, sizeof(vm->io_rate));
        vm->nvcpus = 0; /* the last run's figures are gone */
        memset(&vm->isolation, 0, sizeof(vm->isolation));
        vm->stop_sig = 0;
        vm->kill_at_ns = 0;
        vm->starts++;
        svc->workers_started++;
    }
    pthread_mutex_unlock(&svc->lock);
    close(sv[1]);
    close(logfd);
    if (cv[1] >= 0) close(cv[1]);
    for (int i = 0; i < 2; i++)
        if (share[i] >= 0) close(share[i]);
    if (pid < 0) {
        snprintf(err, errlen, "cannot start a worker: fork: %s", strerror(fork_errno));
        if (cv[0] >= 0) close(cv[0]);
        return -1;
    }
    /* A worker without its console reader would block on its first line. */
    if (cv[0] >= 0 && host_console_open(svc, vm, cv[0], err, errlen) < 0) {
        close(cv[0]);
        kill(pid, SIGKILL);
        return -1;
    }
    host_log("VM %s: worker %d started", vm->def.name, (int)pid);
    return 0;
}

int host_read_line(int fd, char *buf, size_t size, int timeout_ms)
{
    size_t len = 0;
    uint64_t end = host_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    for (;;) {
        uint64_t now = host_now_ns();
        if (now >= end) return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)((end - now) / 1000000ull) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        char ch;
        ssize_t n = read(fd, &ch, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) return 0;
        if (ch == '\n') {
            buf[len] = 0;
            return 1;
        }
        if (len + 1 < size) buf[len++] = ch;
    }
}

/* Send one command (with the descriptor fd if it is one) and read its
 * reply: HOST_OK, HOST_FAILED if the worker is gone, HOST_TIMEOUT if it
 * did not answer (reply says which). */
static int request_locked(struct host_vm *vm, const char *cmd, int fd, char *reply, size_t size,
                          int timeout_ms);

int host_worker_request(struct host_vm *vm, const char *cmd, char *reply, size_t size)
{
    return host_worker_request_within(vm, cmd, REQUEST_TIMEOUT_MS, reply, size);
}

int host_worker_request_within(struct host_vm *vm, const char *cmd, int timeout_ms, char *reply,
                               size_t size)
{
    return host_worker_request_fd(vm, cmd, -1, timeout_ms, reply, size);
}

int host_worker_request_fd(struct host_vm *vm, const char *cmd, int fd, int timeout_ms, char *reply,
                           size_t size)
{
    pthread_mutex_lock(&vm->ctl_lock);
    return request_locked(vm, cmd, fd, reply, size, timeout_ms);
}

int host_worker_try_request(struct host_vm *vm, const char *cmd, char *reply, size_t size)
{
    if (pthread_mutex_trylock(&vm->ctl_lock) != 0) return HOST_CONFLICT;
    return request_locked(vm, cmd, -1, reply, size, REQUEST_TIMEOUT_MS);
}

int host_worker_try_request_for(struct host_vm *vm, const char *cmd, char *reply, size_t size,
                                int wait_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)wait_ms % 1000 * 1000000;
    until.tv_sec += wait_ms / 1000 + until.tv_nsec / 1000000000;
    until.tv_nsec %= 1000000000;
    if (pthread_mutex_timedlock(&vm->ctl_lock, &until) != 0) return HOST_CONFLICT;
    return request_locked(vm, cmd, -1, reply, size, REQUEST_TIMEOUT_MS);
}

/* The command line, and fd with it (SCM_RIGHTS) if it is one: 0 or -1. */
static int send_command(int sock, const char *line, size_t n, int fd)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct iovec iov = {(void *)line, n};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&u, 0, sizeof(u));
        m.msg_control = u.buf;
        m.msg_controllen = sizeof(u.buf);
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &fd, sizeof(int));
    }
    return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* With ctl_lock held; releases it. */
static int request_locked(struct host_vm *vm, const char *cmd, int fd, char *reply, size_t size,
                          int timeout_ms)
{
    int r = HOST_FAILED;
    char line[320];
    int n = snprintf(line, sizeof(line), "%s\n", cmd);
    if (n >= (int)sizeof(line)) {
        snprintf(reply, size, "the command is too long for its control channel");
    } else if (vm->ctl_fd < 0) {
        snprintf(reply, size, "its control channel is closed");
    } else if (send_command(vm->ctl_fd, line, (size_t)n, fd) < 0) {
        snprintf(reply, size, "its worker is gone");
    } else {
        int got = host_read_line(vm->ctl_fd, reply, size, timeout_ms);
        if (got <= 0) {
            snprintf(reply, size,
                     got ? "its worker did not answer '%s' within %d s" : "its worker is gone", cmd,
                     timeout_ms / 1000);
            /* A late answer would be taken for the next one's. */
            close(vm->ctl_fd);
            vm->ctl_fd = -1;
            r = got ? HOST_TIMEOUT : HOST_FAILED;
        } else {
            r = HOST_OK;
        }
    }
    pthread_mutex_unlock(&vm->ctl_lock);
    return r;
}

/* The last line of the worker's log, for messages. */
static void log_tail(struct service *svc, const char *name, char *buf, size_t size)
{
    char path[PATH_MAX], data[1024];
    buf[0] = 0;
    host_log_path(svc, name, "log", path, sizeof(path));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    off_t end = lseek(fd, 0, SEEK_END);
    off_t start = end > (off_t)sizeof(data) - 1 ? end - (off_t)sizeof(data) + 1 : 0;
    ssize_t n = pread(fd, data, sizeof(data) - 1, start);
    close(fd);
    if (n <= 0) return;
    data[n] = 0;
    while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
        data[--n] = 0;
    char *last = strrchr(data, '\n');
    snprintf(buf, size, "%.*s", (int)size - 1, last ? last + 1 : data);
}

int host_worker_note(struct service *svc, struct host_vm *vm, const char *line)
{
    int seccomp, n = 0;
    char fs[16];
    if (sscanf(line, "isolation seccomp=%d filesystem=%15[a-z] detail=%n", &seccomp, fs, &n) != 2 ||
        !n)
        return 0;
    pthread_mutex_lock(&svc->lock);
    vm->isolation.known = 1;
    vm->isolation.seccomp = seccomp == 1;
    snprintf(vm->isolation.filesystem, sizeof(vm->isolation.filesystem), "%s", fs);
    snprintf(vm->isolation.detail, sizeof(vm->isolation.detail), "%s", line + n);
    pthread_mutex_unlock(&svc->lock);
    if (!strcmp(fs, "none"))
        host_log("VM %s: isolation: seccomp%s; the file system is NOT confined: %s", vm->def.name,
                 seccomp == 1 ? "" : " off", line + n);
    else
        host_log("VM %s: isolation: seccomp%s, file system confined by %s (%s)", vm->def.name,
                 seccomp == 1 ? "" : " off", fs, line + n);
    return 1;
}

/* Wait for the worker's "ready", or an incoming VM's "incoming ADDR"
 * (vm->busy held): HOST_OK (state running or incoming), or the reason it
 * did not start once it has been reaped. What confines it comes first. */
int host_worker_wait_ready(struct service *svc, struct host_vm *vm, char *err, size_t errlen)
{
    char line[VMDEF_ADDR_MAX + 256] = "";
    pthread_mutex_lock(&vm->ctl_lock);
    int r;
    do
        r = host_read_line(vm->ctl_fd, line, sizeof(line), READY_TIMEOUT_MS);
    while (r == 1 && host_worker_note(svc, vm, line));
    pthread_mutex_unlock(&vm->ctl_lock);
    pthread_mutex_lock(&svc->lock);
    int incoming = vm->def.incoming && !strncmp(line, "incoming ", 9);
    if (r == 1 && (incoming || !strcmp(line, "ready")) && vm->state == HVM_STARTING) {
        vm->state = incoming ? HVM_INCOMING : HVM_RUNNING;
        pthread_mutex_unlock(&svc->lock);
        return HOST_OK;
    }
    if (vm->pid && r < 0) kill(vm->pid, SIGKILL); /* it never got ready */
    uint64_t give_up = host_now_ns() + 10000000000ull;
    while (vm->pid && host_now_ns() < give_up) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&svc->changed, &svc->lock, &ts);
    }
    snprintf(err, errlen, "VM %s did not start: %s", vm->def.name,
             vm->reason[0] ? vm->reason : "its worker did not get ready");
    pthread_mutex_unlock(&svc->lock);
    return HOST_FAILED;
}

/* Why a worker ended (svc->lock held). */
static void classify_exit(struct service *svc, struct host_vm *vm, int status)
{
    char tail[200];
    log_tail(svc, vm->def.name, tail, sizeof(tail));
    int migrated = vm->migrate_to[0] && !strncmp(tail, "vmon: migrated to ", 18);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && migrated) {
        vm->state = HVM_MIGRATED;
        snprintf(vm->reason, sizeof(vm->reason), "migrated to %s", vm->migrate_to);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        vm->state = HVM_STOPPED;
        snprintf(vm->reason, sizeof(vm->reason), "the guest powered off");
    } else if (vm->stop_sig) {
        vm->state = HVM_STOPPED;
        if (!vm->reason[0]) /* else the service's own (incoming.c) */
            snprintf(vm->reason, sizeof(vm->reason), "%s",
                     vm->stop_sig == SIGTERM ? "shut down" : "stopped");
    } else if (WIFEXITED(status)) {
        vm->state = HVM_CRASHED;
        int code = WEXITSTATUS(status);
        snprintf(vm->reason, sizeof(vm->reason), "worker exited with status %d%s%s%s", code,
                 code == 3 ? " (the guest panicked)" : "", tail[0] ? ": " : "", tail);
    } else {
        vm->state = HVM_CRASHED;
        int sig = WTERMSIG(status);
        snprintf(vm->reason, sizeof(vm->reason), "worker killed by signal %d (%s)", sig,
                 strsignal(sig));
    }
    vm->migrate_to[0] = 0;
    if (vm->state == HVM_CRASHED) {
        vm->crashes++;
        svc->workers_crashed++;
    }
}

void host_worker_reap(struct service *svc)
{
    for (;;) {
        int status;
        struct rusage ru;
        pid_t pid = wait4(-1, &status, WNOHANG, &ru);
        if (pid <= 0) return;
        pthread_mutex_lock(&svc->lock);
        for (struct host_vm *vm = svc->vms; vm; vm = vm->next) {
            if (vm->pid != pid) continue;
            vm->cpu_secs = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
            classify_exit(svc, vm, status);
            vm->pid = 0;
            host_share_end(svc, vm);
            host_log("VM %s: worker %d ended: %s: %s", vm->def.name, (int)pid,
                     host_state_name(vm->state), vm->reason);
            break;
        }
        pthread_cond_broadcast(&svc->changed);
        pthread_mutex_unlock(&svc->lock);
    }
}

/* utime + stime of a process, in seconds; -1 if unreadable. */
static double proc_cpu_secs(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Each VM's CPU time and recent share; SIGKILL for workers past their
 * stop deadline. */
void host_worker_sample(struct service *svc)
{
    uint64_t now = host_now_ns();
    pthread_mutex_lock(&svc->lock);
    for (struct host_vm *vm = svc->vms; vm; vm = vm->next) {
        if (!vm->pid) continue;
        double secs = proc_cpu_secs(vm->pid);
        if (secs >= 0 && now > vm->sample_ns) {
            vm->cpu_pct = (secs - vm->cpu_secs) * 1e11 / (double)(now - vm->sample_ns);
            vm->cpu_secs = secs;
            vm->sample_ns = now;
        }
        if (vm->kill_at_ns && now >= vm->kill_at_ns) {
            host_log("VM %s: worker %d did not stop in time; killing it", vm->def.name,
                     (int)vm->pid);
            kill(vm->pid, SIGKILL);
            vm->kill_at_ns = 0;
        }
    }
    pthread_mutex_unlock(&svc->lock);
}
