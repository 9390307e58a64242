/* VM lifecycle: which request is legal in which state, and what it does.
 *
 *   stopped/crashed/migrated --start--> starting --ready--> running
 *   running <--pause/resume--> paused
 *   running/paused/starting/incoming --shutdown/stop--> stopping --worker ends--> stopped
 *   running/paused --reboot--> running (the machine resets in the same worker)
 *   a worker that ends unasked, other than by the guest powering off: crashed
 * Live migration (incoming.c, api/migrate.c):
 *   starting --the worker listens--> incoming --the VM runs here--> running
 *   incoming --the source does not come in time--> stopped
 *   running/paused --migrate, the VM runs on the target--> migrated
 *
 * Shutdown presses the guest's power button (SIGTERM to the worker, which
 * stops the VM itself after the definition's shutdown_timeout); stop is a
 * hard stop at once (SIGQUIT: the worker still flushes and unlocks its
 * images); a worker that outstays either is killed. Both wait for the
 * worker to end. */
#include "host/host.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define STOP_GRACE_NS 5000000000ull /* a stopped worker's time to leave */
/* A migration's time to send RAM a few times over a slow link: two
 * minutes, and a second more for every 64 MiB. */
#define MIGRATE_TIMEOUT_MS 120000

int host_create(struct service *svc, struct vm_def *d, char *err, size_t errlen)
{
    if (vmdef_check(d, err, errlen) < 0 || vmdef_check_files(d, err, errlen) < 0) return HOST_BAD;
    pthread_mutex_lock(&svc->lock);
    int r = HOST_OK;
    if (host_vm_find(svc, d->name)) {
        snprintf(err, errlen, "VM %s exists", d->name);
        r = HOST_CONFLICT;
    } else if (host_registry_save(svc, d, err, errlen) < 0) {
        r = HOST_FAILED;
    } else if (!host_registry_add(svc, d)) {
        snprintf(err, errlen, "out of memory");
        r = HOST_FAILED;
    }
    pthread_mutex_unlock(&svc->lock);
    if (r == HOST_OK) host_log("VM %s: created", d->name);
    return r;
}

static void wait_changed(struct service *svc)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += 1;
    pthread_cond_timedwait(&svc->changed, &svc->lock, &ts);
}

static int not_found(const char *name, char *err, size_t errlen)
{
    snprintf(err, errlen, "no VM named '%.64s'", name);
    return HOST_NOT_FOUND;
}

static int illegal(const struct host_vm *vm, const char *what, const char *want, char *err,
                   size_t errlen)
{
    if (vm->busy)
        snprintf(err, errlen, "VM %s is busy with another request", vm->def.name);
    else
        snprintf(err, errlen, "cannot %s VM %s: it is %s (%s needs it %s)", what, vm->def.name,
                 host_state_name(vm->state), what, want);
    return HOST_CONFLICT;
}

int host_delete(struct service *svc, const char *name, char *err, size_t errlen)
{
    pthread_mutex_lock(&svc->lock);
    struct host_vm *vm = host_vm_find(svc, name);
    int r = HOST_OK;
    /* A worker just ended: its console reader is finishing. */
    for (int i = 0; vm && vm->con.reading && !vm->pid && i < 3; i++)
        wait_changed(svc);
    if (!vm) {
        r = not_found(name, err, errlen);
    } else if (vm->con.reading) {
        snprintf(err, errlen, "VM %s is busy with another request", vm->def.name);
        r = HOST_CONFLICT;
    } else if (vm->busy || vm->refs || !host_vm_ended(vm)) {
        r = illegal(vm, "delete", "stopped, crashed or migrated", err, errlen);
    } else {
        host_registry_remove(svc, vm);
    }
    pthread_mutex_unlock(&svc->lock);
    if (r != HOST_OK) return r;
    host_log("VM %s: deleted", name);
    host_vm_free(vm);
    return HOST_OK;
}

int host_vm_ended(const struct host_vm *vm)
{
    return vm->state == HVM_STOPPED || vm->state == HVM_CRASHED || vm->state == HVM_MIGRATED;
}

uint64_t host_vm_committed(const struct host_vm *vm)
{
    return vm->def.mem_limit ? vm->def.mem_limit : vm->def.mem;
}

uint64_t host_committed(const struct service *svc)
{
    uint64_t sum = 0;
    for (const struct host_vm *vm = svc->vms; vm; vm = vm->next)
        if (vm->pid || vm->state == HVM_STARTING) sum += host_vm_committed(vm);
    return sum;
}

/* "512 MiB", "2 GiB", "1.62 GiB". */
static void format_size(uint64_t bytes, char *buf, size_t size)
{
    if (bytes < (1ull << 30))
        snprintf(buf, size, "%llu MiB", (unsigned long long)(bytes >> 20));
    else if (bytes % (1ull << 30) == 0)
        snprintf(buf, size, "%llu GiB", (unsigned long long)(bytes >> 30));
    else
        snprintf(buf, size, "%.2f GiB", (double)bytes / (double)(1ull << 30));
}

/* May vm start without committing more than overcommit x host_mem
 * (svc->lock held)? HOST_OK, or HOST_CONFLICT with the figures. */
static int admit(const struct service *svc, const struct host_vm *vm, char *err, size_t errlen)
{
    uint64_t own = host_vm_committed(vm), total = host_committed(svc) + own;
    if (svc->overcommit <= 0 || (double)total <= svc->overcommit * (double)svc->host_mem)
        return HOST_OK;
    char o[32], t[32], h[32];
    format_size(own, o, sizeof(o));
    format_size(total, t, sizeof(t));
    format_size(svc->host_mem, h, sizeof(h));
    snprintf(err, errlen,
             "admitting VM %s (%s%s) would commit %s of guest RAM, more than %g x the host's "
             "%s (--overcommit)",
             vm->def.name, o, vm->def.mem_limit ? ": its mem_limit" : "", t, svc->overcommit, h);
    return HOST_CONFLICT;
}

static int do_start(struct service *svc, struct host_vm *vm, char *err, size_t errlen)
{
    if (vm->busy || !host_vm_ended(vm))
        return illegal(vm, "start", "stopped, crashed or migrated", err, errlen);
    if (admit(svc, vm, err, errlen) != HOST_OK) return HOST_CONFLICT;
    vm->busy = 1;
    vm->state = HVM_STARTING;
    vm->reason[0] = 0;
    pthread_mutex_unlock(&svc->lock);
    int r = host_worker_spawn(svc, vm, err, errlen);
    if (r == 0) {
        r = host_worker_wait_ready(svc, vm, err, errlen);
        if (r == HOST_OK && vm->def.incoming && host_incoming_wait(svc, vm) < 0) {
            snprintf(err, errlen, "VM %s: cannot wait for its migration", vm->def.name);
            r = HOST_FAILED;
        }
    } else {
        pthread_mutex_lock(&svc->lock);
        vm->state = HVM_CRASHED;
        snprintf(vm->reason, sizeof(vm->reason), "%s", err);
        pthread_mutex_unlock(&svc->lock);
        r = HOST_FAILED;
    }
    pthread_mutex_lock(&svc->lock);
    vm->busy = 0;
    return r;
}

/* pause, resume, reboot: a control-channel command (svc->lock held). */
static int do_control(struct service *svc, struct host_vm *vm, const char *action, char *err,
                      size_t errlen)
{
    static const struct {
        const char *action, *cmd, *want;
        int from1, from2, to;
    } ops[] = {
        {"pause", "pause", "running", HVM_RUNNING, HVM_RUNNING, HVM_PAUSED},
        {"resume", "resume", "paused", HVM_PAUSED, HVM_PAUSED, HVM_RUNNING},
        {"reboot", "reset", "running or paused", HVM_RUNNING, HVM_PAUSED, HVM_RUNNING},
    };
    unsigned i = 0;
    while (strcmp(ops[i].action, action))
        i++;
    if (vm->busy || (vm->state != ops[i].from1 && vm->state != ops[i].from2))
        return illegal(vm, action, ops[i].want, err, errlen);
    vm->busy = 1;
    pthread_mutex_unlock(&svc->lock);
    char reply[256];
    int r = host_worker_request(vm, ops[i].cmd, reply, sizeof(reply));
    pthread_mutex_lock(&svc->lock);
    vm->busy = 0;
    if (r == HOST_OK && strncmp(reply, "ok", 2)) r = HOST_FAILED;
    if (r != HOST_OK) {
        snprintf(err, errlen, "cannot %s VM %s: %s", action, vm->def.name,
                 strncmp(reply, "error ", 6) ? reply : reply + 6);
        return r;
    }
    if (vm->state == ops[i].from1 || vm->state == ops[i].from2) vm->state = ops[i].to;
    host_log("VM %s: %s", vm->def.name, host_state_name(vm->state));
    return HOST_OK;
}

/* Send sig to the worker and wait until it has ended (svc->lock held). */
static int do_signal_stop(struct service *svc, struct host_vm *vm, int sig)
{
    uint64_t grace = STOP_GRACE_NS;
    if (sig == SIGTERM) grace += (uint64_t)(vm->def.shutdown_timeout * 1e9);
    if (sig == SIGQUIT && vm->stop_sig == SIGQUIT) sig = SIGKILL; /* stop, again */
    vm->stop_sig = sig;
    vm->kill_at_ns = host_now_ns() + grace;
    vm->state = HVM_STOPPING;
    kill(vm->pid, sig);
    host_log("VM %s: %s (signal %d to worker %d)", vm->def.name,
             sig == SIGTERM ? "shutting down" : "stopping", sig, (int)vm->pid);
    vm->refs++;
    uint64_t give_up = host_now_ns() + grace + STOP_GRACE_NS;
    while (vm->pid && host_now_ns() < give_up)
        wait_changed(svc);
    vm->refs--;
    return HOST_OK;
}

static int do_stop(struct service *svc, struct host_vm *vm, const char *action, char *err,
                   size_t errlen)
{
    int shutdown = !strcmp(action, "shutdown");
    if (!vm->pid || (shutdown && vm->state == HVM_STOPPING))
        return illegal(vm, action, shutdown ? "running, paused or starting" : "to have a worker",
                       err, errlen);
    /* A paused guest cannot answer its power button, an incoming VM has no
     * guest yet: stop them at once. */
    int sig = shutdown && vm->state != HVM_PAUSED && vm->state != HVM_INCOMING ? SIGTERM : SIGQUIT;
    return do_signal_stop(svc, vm, sig);
}

/* Can a control-channel request go to vm now? (svc->lock held) */
static int can_request(const struct host_vm *vm, const char *name, const char *what, char *err,
                       size_t errlen)
{
    if (!vm) return not_found(name, err, errlen);
    if (vm->busy || (vm->state != HVM_RUNNING && vm->state != HVM_PAUSED))
        return illegal(vm, what, "running or paused", err, errlen);
    return HOST_OK;
}

int host_vm_can_request(struct service *svc, const char *name, const char *what, char *err,
                        size_t errlen)
{
    pthread_mutex_lock(&svc->lock);
    int r = can_request(host_vm_find(svc, name), name, what, err, errlen);
    pthread_mutex_unlock(&svc->lock);
    return r;
}

/* A control-channel request; to: a migration's target (vm->migrate_to
 * while it is in flight, and after it succeeded), or NULL. timeout_ms 0:
 * the migration's, from the VM's memory. */
static int vm_request(struct service *svc, const char *name, const char *what, const char *to,
                      const char *cmd, int fd, int timeout_ms, char *reply, size_t size, char *err,
                      size_t errlen)
{
    pthread_mutex_lock(&svc->lock);
    struct host_vm *vm = host_vm_find(svc, name);
    int r = can_request(vm, name, what, err, errlen);
    if (r != HOST_OK) {
        pthread_mutex_unlock(&svc->lock);
        return r;
    }
    vm->busy = 1;
    if (to) snprintf(vm->migrate_to, sizeof(vm->migrate_to), "%s", to);
    if (!timeout_ms) timeout_ms = MIGRATE_TIMEOUT_MS + (int)(vm->def.mem >> 26) * 1000;
    pthread_mutex_unlock(&svc->lock);
    r = host_worker_request_fd(vm, cmd, fd, timeout_ms, reply, size);
    pthread_mutex_lock(&svc->lock);
    vm->busy = 0;
    if (to && (r != HOST_OK || strncmp(reply, "ok ", 3))) vm->migrate_to[0] = 0;
    pthread_mutex_unlock(&svc->lock);
    if (r != HOST_OK) snprintf(err, errlen, "VM %s: %s", name, reply);
    return r;
}

int host_vm_request(struct service *svc, const char *name, const char *what, const char *cmd,
                    int timeout_ms, char *reply, size_t size, char *err, size_t errlen)
{
    return vm_request(svc, name, what, NULL, cmd, -1, timeout_ms, reply, size, err, errlen);
}

int host_vm_request_fd(struct service *svc, const char *name, const char *what, const char *cmd,
                       int fd, int timeout_ms, char *reply, size_t size, char *err, size_t errlen)
{
    return vm_request(svc, name, what, NULL, cmd, fd, timeout_ms, reply, size, err, errlen);
}

int host_vm_migrate(struct service *svc, const char *name, const char *to, int copy_disks,
                    char *reply, size_t size, char *err, size_t errlen)
{
    char cmd[VMDEF_ADDR_MAX + 32];
    snprintf(cmd, sizeof(cmd), "migrate %s%s", to, copy_disks ? " copy-disks" : "");
    return vm_request(svc, name, "migrate", to, cmd, -1, 0, reply, size, err, errlen);
}

int host_action(struct service *svc, const char *name, const char *action, char *err, size_t errlen)
{
    pthread_mutex_lock(&svc->lock);
    struct host_vm *vm = host_vm_find(svc, name);
    int r;
    if (!vm)
        r = not_found(name, err, errlen);
    else if (!strcmp(action, "start"))
        r = do_start(svc, vm, err, errlen);
    else if (!strcmp(action, "pause") || !strcmp(action, "resume") || !strcmp(action, "reboot"))
        r = do_control(svc, vm, action, err, errlen);
    else if (!strcmp(action, "shutdown") || !strcmp(action, "stop"))
        r = do_stop(svc, vm, action, err, errlen);
    else {
        snprintf(err, errlen,
                 "unknown action '%.32s' (start, pause, resume, shutdown, stop, reboot)", action);
        r = HOST_NOT_FOUND;
    }
    pthread_cond_broadcast(&svc->changed);
    pthread_mutex_unlock(&svc->lock);
    return r;
}

int host_set_mem_limit(struct service *svc, const char *name, uint64_t limit, char *err,
                       size_t errlen)
{
    pthread_mutex_lock(&svc->lock);
    struct host_vm *vm = host_vm_find(svc, name);
    int r = HOST_OK;
    uint64_t old = vm ? vm->def.mem_limit : 0;
    if (!vm) {
        r = not_found(name, err, errlen);
    } else if (vm->busy || (vm->state != HVM_STOPPED && vm->state != HVM_CRASHED)) {
        snprintf(err, errlen,
                 "cannot change VM %s's mem_limit: it is %s (it changes while stopped)", name,
                 vm->busy ? "busy with another request" : host_state_name(vm->state));
        r = HOST_CONFLICT;
    } else {
        vm->def.mem_limit = limit;
        if (vmdef_check(&vm->def, err, errlen) < 0)
            r = HOST_BAD;
        else if (host_registry_save(svc, &vm->def, err, errlen) < 0)
            r = HOST_FAILED;
        if (r != HOST_OK) vm->def.mem_limit = old;
    }
    pthread_mutex_unlock(&svc->lock);
    if (r == HOST_OK)
        host_log("VM %s: mem_limit %llu MiB", name, (unsigned long long)(limit >> 20));
    return r;
}

void host_stop_all(struct service *svc)
{
    pthread_mutex_lock(&svc->lock);
    uint64_t now = host_now_ns(), last = now;
    for (struct host_vm *vm = svc->vms; vm; vm = vm->next) {
        if (!vm->pid) continue;
        int sig = vm->state == HVM_PAUSED ? SIGQUIT : SIGTERM;
        uint64_t grace = STOP_GRACE_NS;
        if (sig == SIGTERM) grace += (uint64_t)(vm->def.shutdown_timeout * 1e9);
        vm->stop_sig = sig;
        vm->kill_at_ns = now + grace;
        if (vm->kill_at_ns > last) last = vm->kill_at_ns;
        vm->state = HVM_STOPPING;
        kill(vm->pid, sig);
        host_log("VM %s: shutting down with the service", vm->def.name);
    }
    for (;;) {
        int live = (int)svc->waiters;
        for (struct host_vm *vm = svc->vms; vm; vm = vm->next)
            live += vm->pid != 0 || vm->con.reading;
        if (!live || host_now_ns() > last + STOP_GRACE_NS) break;
        wait_changed(svc);
    }
    pthread_mutex_unlock(&svc->lock);
}

/* The autostart VM that comes after name in name order, copied to next. */
static int next_autostart(struct service *svc, const char *name, char *next, size_t size)
{
    int found = 0;
    pthread_mutex_lock(&svc->lock);
    for (struct host_vm *vm = svc->vms; vm && !found; vm = vm->next) {
        if (!vm->def.autostart || strcmp(vm->def.name, name) <= 0) continue;
        snprintf(next, size, "%s", vm->def.name);
        found = 1;
    }
    pthread_mutex_unlock(&svc->lock);
    return found;
}

void *host_autostart_thread(void *arg)
{
    struct service *svc = arg;
    char name[VMDEF_NAME_MAX + 1] = "";
    while (!atomic_load(&svc->quit) && next_autostart(svc, name, name, sizeof(name))) {
        char err[512];
        if (host_action(svc, name, "start", err, sizeof(err)) != HOST_OK)
            host_log("autostart: %s", err);
        else
            host_log("VM %s: started (autostart)", name);
    }
    return NULL;
}
