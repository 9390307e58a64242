/* `vmon serve`: the host service. It runs in the foreground with its log on
 * stderr, owns a unix socket (mode 0600; a second service on it is
 * refused, a stale socket file replaced) and a state directory (locked, so
 * two services never share one), serves the management API there, and
 * supervises one worker process per running VM. SIGTERM/SIGINT shut every
 * VM down and end the service. */
#include "host/host.h"
#include "mem/sharepool.h"
#include "api/api.h"
#include "vmm/cli.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

uint64_t host_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void host_log(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "vmon serve: %s\n", msg);
}

void host_default_socket(char *buf, size_t size)
{
    const char *run = getenv("XDG_RUNTIME_DIR");
    if (geteuid() == 0)
        snprintf(buf, size, "/run/vmon.sock");
    else if (run && run[0] == '/')
        snprintf(buf, size, "%s/vmon.sock", run);
    else
        snprintf(buf, size, "/tmp/vmon-%u.sock", (unsigned)geteuid());
}

void host_default_state_dir(char *buf, size_t size)
{
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (geteuid() == 0)
        snprintf(buf, size, "/var/lib/vmon");
    else if (state && state[0] == '/')
        snprintf(buf, size, "%s/vmon", state);
    else
        snprintf(buf, size, "%s/.local/state/vmon", home ? home : "/tmp");
}

enum {
    SERVE_SOCKET,
    SERVE_STATE,
    SERVE_CPUS,
    SERVE_OVERCOMMIT,
    SERVE_HOST_MEM,
    SERVE_SHARE_RATE,
    SERVE_RECLAIM_AT
};
static const struct cli_opt serve_opts[] = {
    {"--socket", "PATH",
     "the API's unix socket (default $XDG_RUNTIME_DIR/vmon.sock, /run/vmon.sock for root)",
     SERVE_SOCKET},
    {"--state", "DIR",
     "VM definitions and logs (default $XDG_STATE_HOME/vmon or ~/.local/state/vmon,\n"
     "/var/lib/vmon for root)",
     SERVE_STATE},
    {"--cpus", "LIST",
     "the host CPUs the VMs share, e.g. 0-3 (default: all this process may use);\n"
     "weights divide them among the busy VMs",
     SERVE_CPUS},
    {"--overcommit", "RATIO",
     "start a VM only while the guest RAM the VMs with a worker commit (each its\n"
     "mem_limit, else its mem) stays within RATIO x the host's memory (default 2;\n"
     "0: no limit)",
     SERVE_OVERCOMMIT},
    {"--host-mem", "SIZE",
     "the host memory that RATIO multiplies (default MemTotal of /proc/meminfo;\n"
     "less keeps some for the host, a made-up size serves tests)",
     SERVE_HOST_MEM},
    {"--share-rate", "PAGES",
     "pages of guest RAM each VM with share_pages has looked at per second for\n"
     "sharing (default 25600: 100 MiB/s)",
     SERVE_SHARE_RATE},
    {"--reclaim-at", "SIZE",
     "take memory back from the VMs once their workers hold more than SIZE in all\n"
     "(or the host has under 5% available): balloons first, then faster page\n"
     "sharing, then lower memory limits (swap); 0: only when the host is short\n"
     "(default: 90% of --host-mem)",
     SERVE_RECLAIM_AT},
};
#define N_SERVE_OPTS (sizeof(serve_opts) / sizeof(serve_opts[0]))

void serve_usage(FILE *out)
{
    fprintf(out, "usage: vmon serve [options]\n"
                 "Host VMs behind the management API (HTTP/JSON on a unix socket; see\n"
                 "doc/api.yaml); runs in the foreground, logs on stderr; SIGTERM shuts\n"
                 "every VM down and stops.\n\n");
    cli_print_opts(serve_opts, N_SERVE_OPTS, out);
}

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p) continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0700) < 0 && errno != EEXIST) return -1;
        *p = c;
        if (!c) return 0;
    }
}

/* An exclusive lock held for the service's life: -1 if another has it. */
static int take_lock(const char *path, const char *what)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "vmon serve: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        fprintf(stderr, "vmon serve: another vmon serve is using %s\n", what);
        close(fd);
        return -1;
    }
    return fd;
}

static int open_state(struct service *svc)
{
    snprintf(svc->log_dir, sizeof(svc->log_dir), "%s/logs", svc->state_dir);
    if (make_dirs(svc->log_dir) < 0) {
        fprintf(stderr, "vmon serve: state directory %s: %s\n", svc->state_dir, strerror(errno));
        return -1;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/.lock", svc->state_dir);
    svc->state_lock_fd = take_lock(path, svc->state_dir);
    if (svc->state_lock_fd < 0) return -1;
    /* Workers with a mem_limit make their swap files here (run in /). */
    snprintf(path, sizeof(path), "%s/swap", svc->state_dir);
    if (make_dirs(path) < 0 || !realpath(path, svc->swap_dir)) {
        fprintf(stderr, "vmon serve: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Is something answering on the socket path? */
static int socket_alive(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int r = fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
    if (fd >= 0) close(fd);
    return r;
}

static int open_socket(struct service *svc)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char lock[sizeof(svc->socket_path) + 8];
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", svc->socket_path);
    snprintf(lock, sizeof(lock), "%s.lock", svc->socket_path);
    if ((svc->sock_lock_fd = take_lock(lock, svc->socket_path)) < 0) return -1;
    struct stat st;
    if (lstat(svc->socket_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            fprintf(stderr, "vmon serve: %s exists and is not a socket\n", svc->socket_path);
            return -1;
        }
        if (socket_alive(&sa)) {
            fprintf(stderr, "vmon serve: something already listens on %s\n", svc->socket_path);
            return -1;
        }
        host_log("replacing the stale socket %s", svc->socket_path);
        unlink(svc->socket_path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t old = umask(0177);
    int r = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0 || chmod(svc->socket_path, 0600) < 0 || listen(fd, 64) < 0) {
        fprintf(stderr, "vmon serve: %s: %s\n", svc->socket_path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    svc->listen_fd = fd;
    return 0;
}

/* Reaps workers as they end, samples CPU time and enforces stop deadlines,
 * until the service has stopped every VM. */
static void *supervisor_thread(void *arg)
{
    struct service *svc = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    uint64_t next_sample = 0;
    while (atomic_load(&svc->quit) < 2) {
        struct pollfd p = {.fd = sfd, .events = POLLIN};
        poll(&p, sfd >= 0 ? 1 : 0, 200);
        struct signalfd_siginfo si;
        while (sfd >= 0 && read(sfd, &si, sizeof(si)) == sizeof(si)) {
        }
        host_worker_reap(svc);
        if (host_now_ns() >= next_sample) {
            host_worker_sample(svc);
            next_sample = host_now_ns() + 1000000000ull;
        }
    }
    if (sfd >= 0) close(sfd);
    return NULL;
}

/* MemTotal of /proc/meminfo in bytes, 0 if unreadable. */
static uint64_t host_mem_total(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[128];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) break;
    if (f) fclose(f);
    return (uint64_t)kb << 10;
}

/* --overcommit RATIO, --host-mem SIZE, --share-rate PAGES, --reclaim-at
 * SIZE; CLI_OK or CLI_USAGE. */
static int parse_memory_opt(struct service *svc, int id, const char *v)
{
    char *end;
    unsigned long long m;
    if (id == SERVE_OVERCOMMIT) {
        errno = 0;
        double r = strtod(v, &end);
        if (!errno && end != v && !*end && r >= 0 && r <= 1000) {
            svc->overcommit = r;
            return CLI_OK;
        }
        fprintf(stderr,
                "vmon serve: invalid --overcommit '%s' (want a ratio 0..1000, e.g. 1.5; "
                "0: no limit)\n",
                v);
        return CLI_USAGE;
    }
    if (id == SERVE_SHARE_RATE) {
        m = strtoull(v, &end, 10);
        if (end != v && !*end && m >= 1 && m <= (1u << 24)) {
            svc->share_rate = (unsigned)m;
            return CLI_OK;
        }
        fprintf(stderr, "vmon serve: invalid --share-rate '%s' (want 1..16777216 pages)\n", v);
        return CLI_USAGE;
    }
    if (id == SERVE_RECLAIM_AT) {
        if (cli_parse_size(v, 20, &m) == 0) {
            svc->reclaim_at = m;
            svc->reclaim_set = 1;
            return CLI_OK;
        }
        fprintf(stderr, "vmon serve: invalid --reclaim-at '%s' (want a size, e.g. 20G)\n", v);
        return CLI_USAGE;
    }
    if (cli_parse_size(v, 20, &m) == 0 && m >= (16ull << 20)) {
        svc->host_mem = m;
        return CLI_OK;
    }
    fprintf(stderr, "vmon serve: invalid --host-mem '%s' (want a size from 16M, e.g. 1G)\n", v);
    return CLI_USAGE;
}

static int parse_serve_opts(struct service *svc, int argc, char **argv)
{
    struct cli c;
    cli_init(&c, "vmon serve", serve_opts, N_SERVE_OPTS, argc, argv);
    for (;;) {
        switch (cli_next(&c)) {
        case CLI_END: return CLI_OK;
        case CLI_HELP: serve_usage(stdout); return -1;
        case CLI_BAD: return CLI_USAGE;
        }
        if (c.positional) {
            fprintf(stderr, "vmon serve: unexpected argument '%s'\n", c.positional);
            return CLI_USAGE;
        }
        if (c.opt->id == SERVE_OVERCOMMIT || c.opt->id == SERVE_HOST_MEM ||
            c.opt->id == SERVE_SHARE_RATE || c.opt->id == SERVE_RECLAIM_AT) {
            if (parse_memory_opt(svc, c.opt->id, c.value) != CLI_OK) return CLI_USAGE;
            continue;
        }
        if (c.opt->id == SERVE_CPUS) {
            char err[160];
            if (vmdef_parse_pin("--cpus", c.value, &svc->cpus, err, sizeof(err)) < 0 ||
                !CPU_COUNT(&svc->cpus)) {
                fprintf(stderr, "vmon serve: %s\n", CPU_COUNT(&svc->cpus) ? err : "--cpus: no CPU");
                return CLI_USAGE;
            }
            continue;
        }
        size_t max = c.opt->id == SERVE_SOCKET ? sizeof(svc->socket_path) : 256;
        if (strlen(c.value) >= max || !c.value[0]) {
            fprintf(stderr, "vmon serve: %s '%s': empty or too long\n", c.opt->name, c.value);
            return CLI_USAGE;
        }
        if (c.opt->id == SERVE_SOCKET)
            snprintf(svc->socket_path, sizeof(svc->socket_path), "%.107s", c.value);
        else
            snprintf(svc->state_dir, sizeof(svc->state_dir), "%.255s", c.value);
    }
}

static void service_init(struct service *svc)
{
    memset(svc, 0, sizeof(*svc));
    svc->listen_fd = svc->sock_lock_fd = svc->state_lock_fd = -1;
    host_default_socket(svc->socket_path, sizeof(svc->socket_path));
    host_default_state_dir(svc->state_dir, sizeof(svc->state_dir));
    pthread_mutex_init(&svc->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&svc->changed, &ca);
    pthread_condattr_destroy(&ca);
    svc->started_ns = host_now_ns();
    svc->overcommit = 2.0;
    svc->share_rate = 25600;
    svc->share_boost = 1;
    if (sched_getaffinity(0, sizeof(svc->cpus), &svc->cpus) < 0 || !CPU_COUNT(&svc->cpus))
        CPU_SET(0, &svc->cpus);
}

static void service_destroy(struct service *svc)
{
    while (svc->vms) {
        struct host_vm *vm = svc->vms;
        svc->vms = vm->next;
        host_vm_free(vm);
    }
    if (svc->listen_fd >= 0) {
        close(svc->listen_fd);
        unlink(svc->socket_path);
    }
    if (svc->sock_lock_fd >= 0) close(svc->sock_lock_fd);
    if (svc->state_lock_fd >= 0) close(svc->state_lock_fd);
    if (svc->pool) share_pool_destroy(svc->pool);
    free(svc->pool);
    pthread_cond_destroy(&svc->changed);
    pthread_mutex_destroy(&svc->lock);
}

/* Serve until SIGTERM, SIGINT or SIGHUP; then stop every VM. */
static int service_run(struct service *svc, const sigset_t *stop)
{
    if (pthread_create(&svc->supervisor, NULL, supervisor_thread, svc) != 0) {
        fprintf(stderr, "vmon serve: cannot create the supervisor thread\n");
        return CLI_ERROR;
    }
    char err[256];
    int r = CLI_OK;
    if (api_start(svc, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmon serve: %s\n", err);
        r = CLI_ERROR;
    } else {
        svc->autostarting =
            pthread_create(&svc->autostarter, NULL, host_autostart_thread, svc) == 0;
        svc->scheduling = pthread_create(&svc->scheduler, NULL, host_sched_thread, svc) == 0;
        svc->sharing = pthread_create(&svc->sharer, NULL, host_share_thread, svc) == 0;
        svc->reclaiming = pthread_create(&svc->reclaimer, NULL, host_reclaim_thread, svc) == 0;
        host_log("listening on %s; state in %s; %u host CPUs; %llu MiB of host memory, "
                 "overcommit %g%s",
                 svc->socket_path, svc->state_dir, svc->ncpus,
                 (unsigned long long)(svc->host_mem >> 20), svc->overcommit,
                 svc->overcommit > 0 ? "" : " (no limit)");
        int sig = 0;
        while (sigwait(stop, &sig) != 0) {
        }
        host_log("signal %d: stopping every VM and the service", sig);
        atomic_store(&svc->quit, 1);
        host_console_end_sessions(svc);
        api_stop(svc);
        if (svc->autostarting) pthread_join(svc->autostarter, NULL);
        if (svc->scheduling) pthread_join(svc->scheduler, NULL);
        if (svc->sharing) pthread_join(svc->sharer, NULL);
        if (svc->reclaiming) pthread_join(svc->reclaimer, NULL);
        host_stop_all(svc);
    }
    atomic_store(&svc->quit, 2);
    pthread_join(svc->supervisor, NULL);
    return r;
}

int serve_main(int argc, char **argv)
{
    struct service *svc = malloc(sizeof(*svc));
    if (!svc) return CLI_ERROR;
    service_init(svc);
    int r = parse_serve_opts(svc, argc, argv);
    if (r) {
        service_destroy(svc);
        free(svc);
        return r < 0 ? CLI_OK : r;
    }
    /* Every thread inherits the mask: SIGCHLD goes to the supervisor's
     * signalfd, the stop signals to sigwait. */
    sigset_t stop, all;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    all = stop;
    sigaddset(&all, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    signal(SIGPIPE, SIG_IGN);
    svc->ncpus = (unsigned)CPU_COUNT(&svc->cpus);
    if (!svc->host_mem) svc->host_mem = host_mem_total();
    if (!svc->reclaim_set) svc->reclaim_at = svc->host_mem / 10 * 9;
    if (!svc->host_mem) {
        host_log("cannot read MemTotal from /proc/meminfo; give --host-mem (no admission "
                 "limit meanwhile)");
        svc->overcommit = 0;
    }
    r = CLI_ERROR;
    if (open_state(svc) == 0 && open_socket(svc) == 0) {
        host_registry_load(svc);
        r = service_run(svc, &stop);
    }
    service_destroy(svc);
    free(svc);
    return r;
}
