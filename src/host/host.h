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
    HVM_CRASHED
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
    pthread_mutex_t ctl_lock;
    int ctl_fd; /* the worker's control socket (ctl_lock), -1 when none */
};

struct service {
    char socket_path[108];
    char state_dir[256];
    char log_dir[272];
    int listen_fd, sock_lock_fd, state_lock_fd;
    struct MHD_Daemon *httpd;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a worker ended or a state changed */
    struct host_vm *vms;
    uint64_t started_ns;
    pthread_t supervisor, autostarter;
    int autostarting;
    _Atomic int quit;
    _Atomic uint64_t requests, client_errors, server_errors;
    unsigned workers_started, workers_crashed;
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
/* The VM as the API shows it (svc->lock held). */
struct json_object *host_vm_json(const struct service *svc, const struct host_vm *vm, int full);

/* worker.c: worker processes. */
int host_worker_spawn(struct service *svc, struct host_vm *vm, char *err, size_t errlen);
int host_worker_wait_ready(struct service *svc, struct host_vm *vm, char *err, size_t errlen);
int host_worker_request(struct host_vm *vm, const char *cmd, char *reply, size_t size);
void host_worker_reap(struct service *svc);
void host_worker_sample(struct service *svc);

/* lifecycle.c: what the API asks; each returns HOST_* with err set. */
int host_create(struct service *svc, struct vm_def *d, char *err, size_t errlen);
int host_delete(struct service *svc, const char *name, char *err, size_t errlen);
int host_action(struct service *svc, const char *name, const char *action, char *err,
                size_t errlen);
/* Stop every worker (shutdown, then a hard stop) and wait for them. */
void host_stop_all(struct service *svc);
void *host_autostart_thread(void *arg);

/* service.c */
void host_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int serve_main(int argc, char **argv);
void serve_usage(FILE *out);
#endif
