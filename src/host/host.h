/* The host service (`vmon serve`): a registry of VM definitions kept in a
 * state directory, one supervised worker process per running VM (`vmon run
 * --control fd:3`), and the lifecycle rules the management API applies.
 * Everything hangs off struct service; svc->lock guards the registry and
 * every host_vm field except the control socket (ctl_lock). */
#ifndef VMON_HOST_H
#define VMON_HOST_H
#include "vmm/vmdef.h"
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct json_object;
struct MHD_Daemon;

enum host_vm_state {
    HVM_STOPPED,
    HVM_STARTING,
    HVM_RUNNING,
    HVM_PAUSED,
    HVM_STOPPING,
    HVM_CRASHED,
    HVM_INCOMING, /* its worker waits for a live migration, or receives it */
    HVM_MIGRATED, /* its worker ended once the VM ran on a migration target */
    HVM_NSTATES
};

/* Results of host operations, as the API answers them. */
enum {
    HOST_OK = 0,
    HOST_BAD = 400,
    HOST_NOT_FOUND = 404,
    HOST_CONFLICT = 409,
    HOST_FAILED = 500,
    HOST_TIMEOUT = 504
};

/* A VM's serial console as the service holds it (console "log"): the
 * worker's UART goes to a socket whose other end a reader thread drains
 * into a ring of the last HOST_CONSOLE_RING bytes (vmon logs), the console
 * log file, and the one client attached (vmon console), whose typing goes
 * back to the worker. */
#define HOST_CONSOLE_RING (256u << 10)
struct host_console {
    pthread_mutex_t lock;
    char *ring;       /* HOST_CONSOLE_RING bytes, allocated at the first start */
    uint64_t written; /* bytes ever put in the ring */
    int worker_fd;    /* the service's end of the worker's console, -1 when none */
    int client_fd;    /* the attached client, -1 when none */
    int file_fd;      /* STATE/logs/NAME.console.log, -1 when none */
    int reading;      /* reader threads running (svc->lock) */
    int sessions;     /* attach sessions alive (svc->lock) */
};

/* One vCPU's figures as its worker last reported them (vcpus.c). */
struct host_vcpu {
    char state[12]; /* running, idle, stopped, paused, exited */
    uint64_t cpu_ns, insns, steal_ns;
};

/* The I/O a worker counts: the keys of its "stats" and of the API's "io". */
enum host_io_kind {
    HIO_DISK_READ,
    HIO_DISK_WRITTEN,
    HIO_NET_RX,
    HIO_NET_TX,
    HIO_HYPERCALLS,
    HIO_N
};
extern const char *const host_io_names[HIO_N];

struct host_vm {
    struct host_vm *next;
    struct vm_def def;               /* immutable while the VM exists */
    int state;                       /* enum host_vm_state */
    int busy;                        /* a start or control-channel request is in flight */
    int refs;                        /* requests holding this entry: it is not deleted meanwhile */
    pid_t pid;                       /* the worker, 0 when none */
    int stop_sig;                    /* signal the service sent to end the worker, or 0 */
    uint64_t started_ns, kill_at_ns; /* kill_at: SIGKILL a worker that outstays its stop */
    uint64_t sample_ns;
    double cpu_secs, cpu_pct; /* worker CPU time, and its share over the last second */
    unsigned starts, crashes;
    char reason[320]; /* why it last stopped or crashed */
    /* Where a migrate request in flight sends it (or sent it: the worker
     * is ending), else "". */
    char migrate_to[VMDEF_ADDR_MAX + 1];
    pthread_mutex_t ctl_lock;
    int ctl_fd; /* the worker's control socket (ctl_lock), -1 when none */
    struct host_console con;
    /* The CPU scheduler's view (sched.c), from the worker's "stats". */
    uint64_t guest_cpu_ns, insns, stats_ns;
    uint64_t steal_ns;      /* its vCPUs' steal time: runnable, not running */
    double usage_pct, mips; /* smoothed over the last second or so */
    unsigned cap_sent;      /* the effective cap the worker has */
    int sched_dirty;        /* send it the effective cap and pinning again */
    /* Bytes through its disks and network cards and its hypercalls, as
     * counted by this run's worker, and their smoothed rates per second. */
    uint64_t io[HIO_N];
    double io_rate[HIO_N];
    struct host_share *share; /* page sharing (pageshare.c), once it started with it */
    /* What reclaim.c took from it under pressure, to give back after. */
    struct {
        _Atomic uint64_t balloon_mib; /* its balloon was inflated by this */
        _Atomic uint64_t limit_mib;   /* its memory limit is this now, or 0 */
        uint64_t next_ns;             /* not acted on again before */
        int ballooned;                /* its balloon was asked this episode */
        int code_dropped;             /* its translated code was dropped this episode */
    } reclaim;
    /* What it really uses, from the same "stats" (this run; 0 before). */
    struct {
        uint64_t rss_kb;            /* the worker's VmRSS */
        uint64_t guest_resident_kb; /* with a mem_limit: guest RAM in host memory */
        uint64_t swap_out, swap_in; /* pages to its swap file and back */
        int swap;                   /* the worker reported the last three */
    } used;
    /* Per-vCPU figures, as last asked of this run's worker (vcpus.c). */
    struct host_vcpu *vcpus;
    unsigned nvcpus;
    /* What confines this run's worker, as it said before "ready". */
    struct {
        int known, seccomp;
        char filesystem[16]; /* landlock, none */
        char detail[200];    /* "Landlock ABI 7", or why the file system is open */
    } isolation;
};

struct service {
    char socket_path[108];
    char state_dir[256];
    char log_dir[272];
    char swap_dir[PATH_MAX]; /* STATE/swap, absolute: the workers' --swap-dir */
    int listen_fd, sock_lock_fd, state_lock_fd;
    struct MHD_Daemon *httpd;
    struct mhd_lib *mhd; /* libmicrohttpd, loaded by api_start (api/mhd.h) */
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a worker ended or a state changed */
    struct host_vm *vms;
    uint64_t started_ns;
    pthread_t supervisor, autostarter, scheduler;
    int scheduling;
    cpu_set_t cpus; /* serve --cpus: the host CPUs the VMs share */
    unsigned ncpus; /* CPU_COUNT(cpus) */
    int autostarting;
    _Atomic int quit;
    _Atomic uint64_t requests, client_errors, server_errors;
    unsigned workers_started, workers_crashed;
    unsigned waiters; /* incoming VMs' threads waiting for their migration (lock) */
    /* Memory admission (lifecycle.c): a VM starts only if the guest RAM
     * committed to the VMs with a worker, its own included, stays within
     * overcommit x host_mem (overcommit 0: no limit). */
    uint64_t host_mem; /* serve --host-mem, else MemTotal */
    double overcommit; /* serve --overcommit, default 2 */
    /* Page sharing between VMs (pageshare.c): the pool, made when the
     * first VM with share_pages starts, and the thread that drives it. */
    struct share_pool *pool;
    unsigned share_rate;          /* serve --share-rate: pages each VM scans a second */
    _Atomic unsigned share_boost; /* times that, under memory pressure */
    pthread_t sharer;
    int sharing;
    /* Reclaim under pressure (reclaim.c): the VMs' RSS it starts at. */
    uint64_t reclaim_at; /* serve --reclaim-at, 0: only when the host is short */
    int reclaim_set;     /* given (else 90% of host_mem) */
    _Atomic int pressure;
    _Atomic uint64_t reclaim_actions;
    uint64_t swap_after_ns; /* limits are not lowered before (balloons act first) */
    pthread_t reclaimer;
    int reclaiming;
};

const char *host_state_name(int state);
uint64_t host_now_ns(void);

/* Default socket and state directory for this user (root or not). */
void host_default_socket(char *buf, size_t size);
void host_default_state_dir(char *buf, size_t size);

/* registry.c: the definitions in the state directory. */
struct host_vm *host_vm_find(struct service *svc, const char *name);
void host_registry_load(struct service *svc);
int host_registry_save(struct service *svc, const struct vm_def *d, char *err, size_t errlen);
void host_registry_remove(struct service *svc, struct host_vm *vm);
void host_vm_free(struct host_vm *vm);
struct host_vm *host_registry_add(struct service *svc, const struct vm_def *d);
void host_log_path(const struct service *svc, const char *name, const char *kind, char *buf,
                   size_t size);
/* A figure printed with 3 decimals. */
struct json_object *host_json_num(double v);
/* The VM's memory: its settings, commitment and what it uses (svc->lock). */
struct json_object *host_vm_memory_json(const struct host_vm *vm);
/* Its disk and network bytes and hypercalls, totals and rates per second
 * (svc->lock). */
struct json_object *host_vm_io_json(const struct host_vm *vm);
/* The VM as the API shows it (svc->lock held). */
struct json_object *host_vm_json(const struct service *svc, const struct host_vm *vm, int full);

/* worker.c: worker processes. */
int host_worker_spawn(struct service *svc, struct host_vm *vm, char *err, size_t errlen);
int host_worker_wait_ready(struct service *svc, struct host_vm *vm, char *err, size_t errlen);
int host_worker_request(struct host_vm *vm, const char *cmd, char *reply, size_t size);
/* A line the worker says before "ready" that tells what confines it
 * ("isolation seccomp=1 filesystem=landlock detail=..."): 1 if line was
 * one (kept in vm->isolation and logged), else 0 (svc->lock not held). */
int host_worker_note(struct service *svc, struct host_vm *vm, const char *line);
/* One line from fd within timeout_ms (a longer one is cut to size - 1
 * bytes): 1, 0 at end of file, -1 on a timeout or error. */
int host_read_line(int fd, char *buf, size_t size, int timeout_ms);
/* The same, waiting up to timeout_ms for the answer (a long command). */
int host_worker_request_within(struct host_vm *vm, const char *cmd, int timeout_ms, char *reply,
                               size_t size);
/* The same, with the descriptor fd passed along (SCM_RIGHTS). */
int host_worker_request_fd(struct host_vm *vm, const char *cmd, int fd, int timeout_ms, char *reply,
                           size_t size);
/* One control-channel command to the worker of a running or paused VM
 * (lifecycle.c), within timeout_ms: HOST_OK with its reply line, or an
 * error status (what names the request in a 409's message: "resize"). */
int host_vm_request(struct service *svc, const char *name, const char *what, const char *cmd,
                    int timeout_ms, char *reply, size_t size, char *err, size_t errlen);
/* Would host_vm_request be taken now? HOST_OK, or its refusal. */
int host_vm_can_request(struct service *svc, const char *name, const char *what, char *err,
                        size_t errlen);
/* The same, with the descriptor fd passed along with the command (the
 * file a snapshot goes into: a sandboxed worker cannot open its path). */
int host_vm_request_fd(struct service *svc, const char *name, const char *what, const char *cmd,
                       int fd, int timeout_ms, char *reply, size_t size, char *err, size_t errlen);
/* Migrate a running or paused VM live to `to` (its worker's "migrate
 * ADDR [copy-disks]", within a time that grows with its memory; with
 * copy_disks its disks go too): as host_vm_request.
 * On "ok", the worker's end is the state migrated, not stopped. */
int host_vm_migrate(struct service *svc, const char *name, const char *to, int copy_disks,
                    char *reply, size_t size, char *err, size_t errlen);
/* The same, or HOST_CONFLICT at once if another request is in flight. */
int host_worker_try_request(struct host_vm *vm, const char *cmd, char *reply, size_t size);
/* The same after waiting up to wait_ms for a request in flight to end. */
int host_worker_try_request_for(struct host_vm *vm, const char *cmd, char *reply, size_t size,
                                int wait_ms);
void host_worker_reap(struct service *svc);
void host_worker_sample(struct service *svc);

/* pageshare.c: page sharing between VMs. Before a share_pages VM's worker
 * starts: fds gets the pool (read-only) and the VM's exchange buffer, for
 * the worker's fds 5 and 6 (the caller closes them). 0, or -1 with err. */
int host_share_prepare(struct service *svc, struct host_vm *vm, int fds[2], char *err,
                       size_t errlen);
/* Its worker ended: the pool drops what it mapped. */
void host_share_end(struct service *svc, struct host_vm *vm);
void host_share_free(struct host_vm *vm);
void *host_share_thread(void *arg);
/* The VM's sharing figures (NULL without share_pages), and the pool's. */
struct json_object *host_share_json(const struct host_vm *vm);
struct json_object *host_share_pool_json(struct service *svc);

/* reclaim.c: memory back from the VMs under pressure (balloon, sharing,
 * swap, in that order). */
void *host_reclaim_thread(void *arg);
struct json_object *host_reclaim_json(const struct service *svc);
struct json_object *host_vm_reclaim_json(const struct host_vm *vm);

/* console.c: the service's end of workers' serial consoles. */
void host_console_init(struct host_console *c);
void host_console_destroy(struct host_console *c);
/* Does the service hold this VM's console (its console setting is "log")? */
int host_console_is_ours(const struct vm_def *d);
/* A new worker's console: fd is the service's end. Starts the reader
 * (svc->lock not held). */
int host_console_open(struct service *svc, struct host_vm *vm, int fd, char *err, size_t errlen);
/* The ring's contents, oldest first (malloc'd; NULL if empty). */
char *host_console_ring(struct host_vm *vm, size_t *len);
/* Attach client_fd: the ring is sent to it, then new output; *to_worker
 * gets a descriptor for typing into the guest (the caller closes it).
 * HOST_OK, or HOST_CONFLICT with err set when someone is attached. */
int host_console_attach(struct host_vm *vm, int client_fd, int *to_worker, char *err,
                        size_t errlen);
void host_console_detach(struct host_vm *vm, int client_fd);
/* End every attach session (the service is stopping) and wait for them. */
void host_console_end_sessions(struct service *svc);

/* incoming.c: a VM whose definition has incoming, once its worker listens
 * (state incoming): a thread waits for the migration, until the source has
 * come within incoming_timeout and the VM runs (then its definition becomes
 * the source's machine, which boots when started again), or the worker
 * ended (crashed, with its message), or the source never came (stopped).
 * 0, or -1 if the thread cannot start (the worker is then killed). */
int host_incoming_wait(struct service *svc, struct host_vm *vm);
/* The definition a migrated-in VM keeps: d (the one it was received with)
 * less incoming, its devices and machine replaced by the machine options
 * the worker reported ("--kernel=/k", "--rng"...). 0, or -1 with err. */
int host_incoming_def(const struct vm_def *d, char *const *opts, unsigned n, struct vm_def *out,
                      char *err, size_t errlen);

/* lifecycle.c: what the API asks; each returns HOST_* with err set. */
/* Has its worker ended (stopped, crashed, migrated)? (svc->lock held) */
int host_vm_ended(const struct host_vm *vm);
int host_create(struct service *svc, struct vm_def *d, char *err, size_t errlen);
int host_delete(struct service *svc, const char *name, char *err, size_t errlen);
int host_action(struct service *svc, const char *name, const char *action, char *err,
                size_t errlen);
/* Change a stopped or crashed VM's mem_limit (0: none) and save it. */
int host_set_mem_limit(struct service *svc, const char *name, uint64_t limit, char *err,
                       size_t errlen);
/* The guest RAM a VM commits when it runs: its mem_limit if it has one
 * (it never holds more), else its mem. */
uint64_t host_vm_committed(const struct host_vm *vm);
/* What the VMs with a worker (or starting) commit (svc->lock held). */
uint64_t host_committed(const struct service *svc);
/* Stop every worker (shutdown, then a hard stop) and wait for them. */
void host_stop_all(struct service *svc);
void *host_autostart_thread(void *arg);

/* vcpus.c: ask a running or paused VM's worker for its per-vCPU figures
 * now (kept in vm->vcpus; the last ones stand if its control channel is
 * busy), and the array GET /v1/vms/NAME shows (svc->lock held; empty
 * without a worker). */
void host_vm_refresh_vcpus(struct service *svc, const char *name);
struct json_object *host_vm_vcpus_json(const struct host_vm *vm);

/* sched.c: the CPU scheduler's policy. Every SCHED_INTERVAL it reads each
 * running worker's CPU time and instructions, shares serve --cpus among
 * the busy VMs by weight (weighted max-min; a VM never gets more than its
 * vCPUs or its own cap) and sends each worker its effective cap. */
void *host_sched_thread(void *arg);
/* Change a VM's weight, cap and pinning (the fields given in d; has_*
 * say which), save the definition and apply it to the worker at once. */
int host_set_sched(struct service *svc, const char *name, const struct vm_def *d, int has_weight,
                   int has_cap, int has_pin, char *err, size_t errlen);

/* service.c */
void host_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int serve_main(int argc, char **argv);
void serve_usage(FILE *out);
#endif
