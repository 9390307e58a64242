/* The CPU scheduler's policy (see host.h), whose sampling also gathers each
 * worker's memory figures. The mechanism is the worker's:
 * its vCPUs charge the host CPU time they use to a per-VM bucket and sleep
 * when it is empty (vmm/vcpu.c), and follow the pinning they are given.
 * The service decides the caps: a VM's own cap, or under contention its
 * weighted share of the host CPUs if that is less. */
#include "host/host.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHED_INTERVAL_NS 100000000ull /* decisions take effect within 100 ms */
#define BUSY_PCT          5.0          /* a VM using less is not competing */
#define SMOOTH            0.3          /* weight of the newest sample */

/* KEY=N in a stats reply: 1 with N in *v, 0 if it is not there. */
static int stat_field(const char *reply, const char *key, uint64_t *v)
{
    size_t n = strlen(key);
    for (const char *p = strstr(reply, key); p; p = strstr(p + 1, key)) {
        unsigned long long x;
        if (p[-1] == ' ' && p[n] == '=' && sscanf(p + n + 1, "%llu", &x) == 1) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

/* The memory figures of a stats reply (svc->lock held). */
static void memory_figures(struct host_vm *vm, const char *reply)
{
    stat_field(reply, "rss_kb", &vm->used.rss_kb);
    vm->used.swap = stat_field(reply, "guest_resident_kb", &vm->used.guest_resident_kb) &
                    stat_field(reply, "swap_out", &vm->used.swap_out) &
                    stat_field(reply, "swap_in", &vm->used.swap_in);
}

const char *const host_io_names[HIO_N] = {"disk_read", "disk_written", "net_rx", "net_tx",
                                          "hypercalls"};

/* The I/O counters of a stats reply and their rates over the dt ns since
 * the last (svc->lock held; a counter that went back, a new run, restarts). */
static void io_figures(struct host_vm *vm, const char *reply, double dt)
{
    for (unsigned i = 0; i < HIO_N; i++) {
        uint64_t now;
        if (!stat_field(reply, host_io_names[i], &now)) continue;
        double r = dt > 0 && now >= vm->io[i] ? (double)(now - vm->io[i]) * 1e9 / dt : 0;
        vm->io_rate[i] += SMOOTH * (r - vm->io_rate[i]);
        vm->io[i] = now;
    }
}

/* Read the worker's figures and smooth them (vm->busy not needed: "stats"
 * is answered at once; skipped if another request is in flight). */
static void sample(struct service *svc, struct host_vm *vm, uint64_t now)
{
    char reply[1024];
    if (host_worker_try_request(vm, "stats", reply, sizeof(reply)) != HOST_OK) return;
    unsigned long long cpu, insns;
    if (sscanf(reply, "ok cpu_ns=%llu insns=%llu", &cpu, &insns) != 2) return;
    pthread_mutex_lock(&svc->lock);
    memory_figures(vm, reply);
    stat_field(reply, "steal_ns", &vm->steal_ns);
    io_figures(vm, reply, vm->stats_ns && now > vm->stats_ns ? (double)(now - vm->stats_ns) : 0);
    if (vm->stats_ns && now > vm->stats_ns && cpu >= vm->guest_cpu_ns && insns >= vm->insns) {
        double dt = (double)(now - vm->stats_ns);
        double use = (double)(cpu - vm->guest_cpu_ns) * 100.0 / dt;
        double mips = (double)(insns - vm->insns) * 1e3 / dt;
        vm->usage_pct += SMOOTH * (use - vm->usage_pct);
        vm->mips += SMOOTH * (mips - vm->mips);
    }
    vm->guest_cpu_ns = cpu;
    vm->insns = insns;
    vm->stats_ns = now;
    pthread_mutex_unlock(&svc->lock);
}

/* The most a VM can use, in percent of one CPU: its vCPUs, its own cap. */
static double vm_limit(const struct host_vm *vm)
{
    double lim = 100.0 * vm->def.cpus;
    return vm->def.cap && vm->def.cap < lim ? vm->def.cap : lim;
}

/* Weighted max-min shares of total among the n busy VMs (svc->lock held):
 * each gets capacity in proportion to its weight, never more than its
 * limit; what a limited VM leaves is shared again among the others. */
static void water_fill(struct host_vm **busy, unsigned n, double total, double *share)
{
    int *done = calloc(n, sizeof(*done));
    if (!done) return;
    for (unsigned left = n; left && total > 0.01;) {
        double wsum = 0;
        for (unsigned i = 0; i < n; i++)
            if (!done[i]) wsum += busy[i]->def.weight;
        int capped = 0;
        for (unsigned i = 0; i < n; i++) {
            if (done[i]) continue;
            double fair = total * busy[i]->def.weight / wsum;
            if (share[i] + fair >= vm_limit(busy[i])) {
                total -= vm_limit(busy[i]) - share[i];
                share[i] = vm_limit(busy[i]);
                done[i] = 1;
                left--;
                capped = 1;
            }
        }
        if (capped) continue;
        for (unsigned i = 0; i < n; i++)
            if (!done[i]) share[i] += total * busy[i]->def.weight / wsum;
        break;
    }
    free(done);
}

/* Each running VM's effective cap (svc->lock held): its own, or its share
 * when the busy VMs want more than the host CPUs. */
static void decide(struct service *svc, unsigned *caps, struct host_vm **vms, unsigned n)
{
    struct host_vm *busy[64];
    unsigned nb = 0, idx[64];
    double want = 0, share[64] = {0};
    for (unsigned i = 0; i < n; i++) {
        caps[i] = vms[i]->def.cap;
        int competing = vms[i]->usage_pct >= BUSY_PCT ||
                        (vms[i]->cap_sent && vms[i]->usage_pct >= 0.5 * vms[i]->cap_sent);
        if (competing && nb < 64) {
            idx[nb] = i;
            busy[nb++] = vms[i];
            want += vm_limit(vms[i]);
        }
    }
    if (want <= 100.0 * svc->ncpus) return; /* no contention: own caps only */
    water_fill(busy, nb, 100.0 * svc->ncpus, share);
    for (unsigned k = 0; k < nb; k++) {
        unsigned c = share[k] < 1 ? 1 : (unsigned)(share[k] + 0.5);
        if (c < vm_limit(busy[k])) caps[idx[k]] = c;
    }
}

/* Tell the workers whose effective cap changed (or who need it again). */
static void apply(struct service *svc)
{
    struct host_vm *vms[64];
    unsigned caps[64], n = 0;
    pthread_mutex_lock(&svc->lock);
    for (struct host_vm *vm = svc->vms; vm && n < 64; vm = vm->next)
        if (vm->pid && vm->state == HVM_RUNNING) vms[n++] = vm;
    decide(svc, caps, vms, n);
    for (unsigned i = 0; i < n; i++) {
        if (caps[i] == vms[i]->cap_sent && !vms[i]->sched_dirty) continue;
        char cmd[300], reply[256];
        snprintf(cmd, sizeof(cmd), "sched cap=%u pin=%s", caps[i],
                 vms[i]->def.pin ? vms[i]->def.pin : "-");
        vms[i]->refs++;
        pthread_mutex_unlock(&svc->lock);
        int r = host_worker_try_request(vms[i], cmd, reply, sizeof(reply));
        pthread_mutex_lock(&svc->lock);
        vms[i]->refs--;
        if (r == HOST_OK && !strncmp(reply, "ok", 2)) {
            vms[i]->cap_sent = caps[i];
            vms[i]->sched_dirty = 0;
        }
    }
    pthread_mutex_unlock(&svc->lock);
}

void *host_sched_thread(void *arg)
{
    struct service *svc = arg;
    while (!atomic_load(&svc->quit)) {
        uint64_t now = host_now_ns();
        struct host_vm *vms[64];
        unsigned n = 0;
        pthread_mutex_lock(&svc->lock);
        for (struct host_vm *vm = svc->vms; vm && n < 64; vm = vm->next) {
            if (!vm->pid || vm->state != HVM_RUNNING) continue;
            vm->refs++; /* not deleted while sampled */
            vms[n++] = vm;
        }
        pthread_mutex_unlock(&svc->lock);
        for (unsigned i = 0; i < n; i++)
            sample(svc, vms[i], now);
        pthread_mutex_lock(&svc->lock);
        for (unsigned i = 0; i < n; i++)
            vms[i]->refs--;
        pthread_mutex_unlock(&svc->lock);
        apply(svc);
        struct timespec ts = {0, (long)SCHED_INTERVAL_NS};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int host_set_sched(struct service *svc, const char *name, const struct vm_def *d, int has_weight,
                   int has_cap, int has_pin, char *err, size_t errlen)
{
    pthread_mutex_lock(&svc->lock);
    struct host_vm *vm = host_vm_find(svc, name);
    if (!vm) {
        pthread_mutex_unlock(&svc->lock);
        snprintf(err, errlen, "no VM named '%.64s'", name);
        return HOST_NOT_FOUND;
    }
    struct vm_def old = vm->def;
    char *pin = has_pin && d->pin ? strdup(d->pin) : NULL;
    if (has_weight) vm->def.weight = d->weight;
    if (has_cap) vm->def.cap = d->cap;
    if (has_pin) vm->def.pin = pin;
    int r = HOST_OK;
    if (host_registry_save(svc, &vm->def, err, errlen) < 0) {
        vm->def = old; /* nothing changed */
        free(pin);
        r = HOST_FAILED;
    } else {
        if (has_pin) free(old.pin);
        vm->sched_dirty = 1; /* the scheduler sends it within its interval */
        host_log("VM %s: weight %u, cap %u%%, pin %s", vm->def.name, vm->def.weight, vm->def.cap,
                 vm->def.pin ? vm->def.pin : "none");
    }
    pthread_mutex_unlock(&svc->lock);
    return r;
}
