/* Incoming VMs (see host.h): the worker of a definition with incoming
 * (`vmon run --incoming ADDR --control fd:3`) says "incoming ADDR" once it
 * listens, which ends its start; a thread then reads what it says next:
 * "machine OPT" lines and "receiving" once the source has come, "ready"
 * once the VM runs here. The service gives the source incoming_timeout
 * seconds to come; the migration itself is bounded by the worker's own
 * I/O timeouts. A worker that ends without the VM (stopped, killed) may
 * leave its unix socket behind: removed once nobody listens on it. */
#include "host/host.h"
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MACHINE_OPTS 64
#define LINE_SIZE    (VMDEF_STR_MAX + 64) /* "machine --append=..." */
#define SLICE_MS     1000

struct waiter {
    struct service *svc;
    struct host_vm *vm;
    char *opts[MACHINE_OPTS];
    unsigned nopts;
    int lost;     /* an option did not fit: the source's machine is not known */
    int received; /* the source came */
};

/* --- the definition a migrated-in VM keeps ------------------------------ */

/* The settings the source's machine options may set. */
static const char *const machine_keys[] = {"kernel", "initrd",    "append",   "bios",   "mem",
                                           "cpus",   "engine",    "on_panic", "disks",  "nets",
                                           "shares", "vconsoles", "rng",      "balloon"};
#define N_MACHINE_KEYS (sizeof(machine_keys) / sizeof(machine_keys[0]))

static int machine_key(const char *key)
{
    for (unsigned i = 0; i < N_MACHINE_KEYS; i++)
        if (!strcmp(machine_keys[i], key)) return 1;
    return 0;
}

/* One option as `vmon run` stores it: "--opt=value" or "--flag". */
static int machine_opt(struct vm_def *d, const char *arg, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    char opt[40];
    snprintf(opt, sizeof(opt), "%.*s", (int)(eq ? (size_t)(eq - arg) : strlen(arg)), arg);
    if (!strcmp(opt, "--jit-hot")) return 0; /* a tuning knob definitions do not have */
    const struct vmdef_field *f = vmdef_field_by_opt(opt);
    if (!f || !machine_key(f->key) || (f->type == VMDEF_FLAG) != !eq) {
        snprintf(err, errlen, "the source's machine has '%.64s', which a definition cannot hold",
                 arg);
        return -1;
    }
    return vmdef_set(d, f, opt, eq ? eq + 1 : NULL, err, errlen);
}

int host_incoming_def(const struct vm_def *d, char *const *opts, unsigned n, struct vm_def *out,
                      char *err, size_t errlen)
{
    json_object *o = vmdef_to_json(d);
    json_object_object_del(o, "incoming");
    json_object_object_del(o, "incoming_timeout");
    for (unsigned i = 0; i < N_MACHINE_KEYS; i++)
        json_object_object_del(o, machine_keys[i]);
    vmdef_init(out);
    int r = vmdef_from_json(out, o, err, errlen);
    json_object_put(o);
    for (unsigned i = 0; i < n && r == 0; i++)
        r = machine_opt(out, opts[i], err, errlen);
    if (r == 0) r = vmdef_check(out, err, errlen);
    if (r == 0) r = vmdef_check_files(out, err, errlen);
    if (r < 0) vmdef_free(out);
    return r;
}

/* --- the thread ---------------------------------------------------------- */

static void take_line(struct waiter *w, const char *line)
{
    if (host_worker_note(w->svc, w->vm, line)) return;
    if (!strcmp(line, "receiving")) {
        w->received = 1;
        host_log("VM %s: the source came; receiving the migration", w->vm->def.name);
    } else if (!strncmp(line, "machine ", 8)) {
        char *s = strlen(line) + 1 < LINE_SIZE ? strdup(line + 8) : NULL;
        if (s && w->nopts < MACHINE_OPTS) {
            w->opts[w->nopts++] = s;
        } else {
            w->lost = 1;
            free(s);
        }
    }
}

/* Read the worker's lines: 1 once it runs, 0 once it is gone, -1 when the
 * source did not come in time. */
static int read_lines(struct waiter *w)
{
    struct host_vm *vm = w->vm;
    uint64_t deadline = host_now_ns() + (uint64_t)(vm->def.incoming_timeout * 1e9);
    char *line = malloc(LINE_SIZE);
    int r = line ? 2 : 0;
    while (r == 2) {
        if (!w->received && host_now_ns() >= deadline) {
            r = -1;
            break;
        }
        pthread_mutex_lock(&vm->ctl_lock);
        int got = vm->ctl_fd >= 0 ? host_read_line(vm->ctl_fd, line, LINE_SIZE, SLICE_MS) : 0;
        pthread_mutex_unlock(&vm->ctl_lock);
        pthread_mutex_lock(&w->svc->lock);
        int gone = !vm->pid;
        pthread_mutex_unlock(&w->svc->lock);
        if (got == 0 || (got < 0 && gone))
            r = 0;
        else if (got == 1 && !strcmp(line, "ready"))
            r = 1;
        else if (got == 1)
            take_line(w, line);
    }
    free(line);
    return r;
}

/* It runs here: its definition becomes the source's machine (svc->lock). */
static void on_running(struct waiter *w)
{
    struct host_vm *vm = w->vm;
    struct vm_def nd;
    char err[512] = "the worker did not report the source's machine";
    if (vm->state == HVM_INCOMING) vm->state = HVM_RUNNING;
    int r = w->lost || !w->nopts
                ? -1
                : host_incoming_def(&vm->def, w->opts, w->nopts, &nd, err, sizeof(err));
    if (r == 0 && host_registry_save(w->svc, &nd, err, sizeof(err)) < 0) {
        vmdef_free(&nd);
        r = -1;
    }
    if (r < 0) {
        host_log("VM %s: migration received; running; its definition keeps incoming (%s)",
                 vm->def.name, err);
        return;
    }
    vmdef_free(&vm->def);
    vm->def = nd;
    host_log("VM %s: migration received; running; started again, it boots %s", vm->def.name,
             vm->def.kernel ? vm->def.kernel : vm->def.bios);
}

/* The source never came: stop the worker (svc->lock). */
static void on_timeout(struct waiter *w)
{
    struct host_vm *vm = w->vm;
    if (!vm->pid || vm->state != HVM_INCOMING) return;
    snprintf(vm->reason, sizeof(vm->reason), "no migration came to %s within %g s",
             vm->def.incoming, vm->def.incoming_timeout);
    vm->stop_sig = SIGKILL;
    vm->state = HVM_STOPPING;
    kill(vm->pid, SIGKILL);
    host_log("VM %s: %s; stopping it", vm->def.name, vm->reason);
}

/* Until the worker that did not get the VM is reaped (svc->lock); its unix
 * socket, which a killed worker leaves, to path ("" if none). */
static void wait_reaped(struct waiter *w, char *path, size_t size)
{
    uint64_t give_up = host_now_ns() + 10000000000ull;
    while (w->vm->pid && host_now_ns() < give_up) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&w->svc->changed, &w->svc->lock, &ts);
    }
    const char *a = w->vm->def.incoming;
    snprintf(path, size, "%s", !w->vm->pid && a && !strncmp(a, "unix:", 5) ? a + 5 : "");
}

/* Remove path if it is a socket nobody listens on. */
static void remove_stale(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    if (!path[0] || lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) return;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == ECONNREFUSED)
        unlink(path);
    if (fd >= 0) close(fd);
}

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    char stale[128] = "";
    int r = read_lines(w);
    pthread_mutex_lock(&w->svc->lock);
    if (r == 1)
        on_running(w);
    else if (r < 0)
        on_timeout(w);
    if (r != 1) wait_reaped(w, stale, sizeof(stale));
    w->vm->refs--;
    w->svc->waiters--;
    pthread_cond_broadcast(&w->svc->changed);
    pthread_mutex_unlock(&w->svc->lock);
    remove_stale(stale);
    for (unsigned i = 0; i < w->nopts; i++)
        free(w->opts[i]);
    free(w);
    return NULL;
}

int host_incoming_wait(struct service *svc, struct host_vm *vm)
{
    struct waiter *w = calloc(1, sizeof(*w));
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&svc->lock);
    vm->refs++;
    svc->waiters++;
    int r = 0;
    if (w) *w = (struct waiter){.svc = svc, .vm = vm};
    if (!w || pthread_create(&t, &attr, wait_thread, w) != 0) {
        vm->refs--;
        svc->waiters--;
        snprintf(vm->reason, sizeof(vm->reason), "cannot wait for the migration: no thread");
        vm->stop_sig = SIGKILL;
        if (vm->pid) kill(vm->pid, SIGKILL);
        free(w);
        r = -1;
    }
    pthread_mutex_unlock(&svc->lock);
    pthread_attr_destroy(&attr);
    return r;
}
