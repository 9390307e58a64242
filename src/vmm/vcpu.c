/* The vCPU loop: one per hart, on its own host thread. It owns everything
 * that waits or involves the VMM: the Running/Idle/Off/Paused state, timer
 * deadlines, WFI sleeps, the instruction limit, hypercalls and pausing.
 * The hart (src/cpu) only runs guest code for a budget and says why it
 * stopped (enum hart_exit). */
#include "vmm/vm.h"
#include "vmm/sbi.h"
#include "vmm/gdbstub.h"
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* Longest stretch in guest code before the loop looks at the VM again. */
#define VCPU_SLICE_NS 10000000ull

static uint64_t ticks_to_host_ns(const struct vm *vm, uint64_t ticks)
{
    if (ticks == ~0ull) return ~0ull;
    return vm->time_base_ns + ticks * (1000000000ull / VM_TIMEBASE_HZ);
}

/* Sleep (vm->lock held) until kicked, the VM exits or pauses, or the host
 * clock reaches deadline_ns (~0 = none). */
static void vcpu_sleep(struct vm *vm, struct vcpu *v, uint64_t deadline_ns)
{
    if ((atomic_load(&v->h->events) & (HART_EV_IRQ | HART_EV_VMM)) ||
        atomic_load(&vm->exit_reason) || atomic_load(&vm->pause_req))
        return;
    v->waits++;
    if (deadline_ns == ~0ull) {
        pthread_cond_wait(&v->cond, &vm->lock);
    } else if (deadline_ns > host_time_ns()) {
        struct timespec ts = {(time_t)(deadline_ns / 1000000000ull),
                              (long)(deadline_ns % 1000000000ull)};
        pthread_cond_timedwait(&v->cond, &vm->lock, &ts);
    }
}

static void vcpu_wait(struct vm *vm, struct vcpu *v, int state, uint64_t deadline_ns)
{
    atomic_store(&v->state, state);
    pthread_mutex_lock(&vm->lock);
    vcpu_sleep(vm, v, deadline_ns);
    pthread_mutex_unlock(&vm->lock);
}

/* Pause: park until resumed (or the VM exits). */
static void vcpu_park(struct vm *vm, struct vcpu *v)
{
    pthread_mutex_lock(&vm->lock);
    int prev = atomic_load(&v->state);
    atomic_store(&v->state, VCPU_PAUSED);
    vm->vcpus_parked++;
    pthread_cond_broadcast(&vm->pause_cond);
    while (atomic_load(&vm->pause_req) && !atomic_load(&vm->exit_reason))
        pthread_cond_wait(&v->cond, &vm->lock);
    vm->vcpus_parked--;
    atomic_store(&v->state, prev);
    pthread_mutex_unlock(&vm->lock);
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The CPU time the VM's cap leaves for this period, refilling the bucket
 * when periods have passed (s->lock held). */
static int64_t cap_left(struct vm_sched *s, unsigned cap, uint64_t now)
{
    int64_t quota = (int64_t)(VM_SCHED_PERIOD_NS * cap / 100);
    if (now >= s->period_ns + VM_SCHED_PERIOD_NS) {
        uint64_t periods = (now - s->period_ns) / VM_SCHED_PERIOD_NS;
        s->budget_ns += periods > 1000 ? quota : (int64_t)periods * quota;
        if (s->budget_ns > quota) s->budget_ns = quota;
        s->period_ns = periods > 1000 ? now : s->period_ns + periods * VM_SCHED_PERIOD_NS;
    }
    return s->budget_ns;
}

/* How long this vCPU may run under the VM's cap (~0: no cap), or 0 after
 * sleeping until the bucket refills. */
static uint64_t vcpu_cap_allows(struct vm *vm, struct vcpu *v)
{
    struct vm_sched *s = &vm->sched;
    unsigned cap = atomic_load(&s->cap_pct);
    if (!cap) return ~0ull;
    uint64_t now = host_time_ns();
    pthread_mutex_lock(&s->lock);
    int64_t left = cap_left(s, cap, now);
    uint64_t next = s->period_ns + VM_SCHED_PERIOD_NS;
    pthread_mutex_unlock(&s->lock);
    if (left > 0) return (uint64_t)left;
    vcpu_wait(vm, v, VCPU_RUNNING, next);
    uint64_t waited = host_time_ns() - now;
    atomic_fetch_add(&s->throttled_ns, waited);
    v->throttled_ns += waited;
    return 0;
}

/* Charge the host CPU time this vCPU used in guest code to its VM. */
static void vcpu_charge(struct vm *vm, uint64_t used_ns)
{
    struct vm_sched *s = &vm->sched;
    atomic_fetch_add(&s->cpu_ns, used_ns);
    if (!atomic_load(&s->cap_pct)) return;
    pthread_mutex_lock(&s->lock);
    s->budget_ns -= (int64_t)used_ns;
    pthread_mutex_unlock(&s->lock);
}

/* Follow the VM's pinning when it changed. */
static void vcpu_apply_pin(struct vm *vm, struct vcpu *v)
{
    struct vm_sched *s = &vm->sched;
    unsigned gen = atomic_load(&s->pin_gen);
    if (gen == v->pin_gen) return;
    v->pin_gen = gen;
    pthread_mutex_lock(&s->lock);
    cpu_set_t set = CPU_COUNT(&s->pin) ? s->pin : s->all;
    pthread_mutex_unlock(&s->lock);
    if (CPU_COUNT(&set) && pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
        vm_log(vm, VM_LOG_WARN, NULL, "vcpu%u: cannot set its CPU affinity", v->h->id);
}

/* Nanoseconds this thread was runnable but waiting for a host CPU. */
static uint64_t run_delay_ns(int fd)
{
    char buf[96];
    ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
    if (n <= 0) return 0;
    buf[n] = 0;
    unsigned long long run = 0, delay = 0;
    return sscanf(buf, "%llu %llu", &run, &delay) == 2 ? delay : 0;
}

/* Steal time, brought up to date at most once a millisecond, and told to
 * the guest through its SBI STA shared memory (sbi.c) if it set one. */
static void vcpu_update_steal(struct vm *vm, struct vcpu *v)
{
    uint64_t now = host_time_ns();
    if (now - v->steal_at < 1000000) return;
    v->steal_at = now;
    uint64_t steal = v->steal_base + run_delay_ns(v->schedstat_fd) + v->throttled_ns;
    atomic_store_explicit(&v->steal_ns, steal, memory_order_relaxed);
    if (v->sta_addr) sbi_sta_write(vm, v);
}

/* Run guest code until the slice, the next timer, the instruction limit
 * or the end of what the cap allows. */
static int vcpu_enter(struct vm *vm, struct vcpu *v, uint64_t timer_ns, uint64_t budget,
                      uint64_t allowed_ns)
{
    struct hart *h = v->h;
    if (vm->cfg.max_insns && vm->cfg.max_insns - h->instret < budget)
        budget = vm->cfg.max_insns - h->instret;
    uint64_t now = host_time_ns();
    uint64_t deadline = now + (allowed_ns < VCPU_SLICE_NS ? allowed_ns : VCPU_SLICE_NS);
    if (timer_ns < deadline) deadline = timer_ns;
    atomic_store(&v->state, VCPU_RUNNING);
    uint64_t cpu0 = thread_cpu_ns();
    atomic_store_explicit(&v->in_guest, 1, memory_order_seq_cst);
    int r = hart_run(h, budget, deadline);
    atomic_store_explicit(&v->in_guest, 0, memory_order_seq_cst);
    vcpu_charge(vm, thread_cpu_ns() - cpu0);
    atomic_store_explicit(&v->insns, h->instret, memory_order_relaxed);
    v->exits[r]++;
    return r;
}

/* Serve what hart_run returned for; 0 when the VM is to stop. */
static int vcpu_handle_exit(struct vm *vm, struct vcpu *v, int r)
{
    struct hart *h = v->h;
    switch (r) {
    case HART_EXIT_IDLE: v->idle = 1; break;
    case HART_EXIT_HYPERCALL: sbi_call(h); break;
    case HART_EXIT_YIELD: sched_yield(); break;
    case HART_EXIT_FATAL: vm_request_exit(vm, VM_EXIT_ERROR, 1, h->fatal_msg); return 0;
    case HART_EXIT_DEBUG:
        if (vm->gdb) gdb_vcpu_stopped(vm->gdb, h->id);
        vm_pause_request(vm);
        break;
    default: break; /* budget or event: look again */
    }
    return 1;
}

void vcpu_step(struct vm *vm, struct vcpu *v)
{
    struct hart *h = v->h;
    atomic_fetch_and(&h->events, ~HART_EV_VMM); /* the pause that parks its loop */
    hart_apply_events(h);
    if (atomic_load(&v->hsm_state) == HSM_STOPPED) return;
    hart_sync_timers(h, vm_time(vm));
    if (v->idle) {
        if (!hart_wakeup_pending(h)) return; /* waits for an interrupt */
        v->idle = 0;
    }
    int r = hart_run(h, 1, 0);
    if (r == HART_EXIT_DEBUG) return;
    v->exits[r]++;
    vcpu_handle_exit(vm, v, r);
}

static int vcpu_loop_once(struct vm *vm, struct vcpu *v)
{
    struct hart *h = v->h;
    atomic_fetch_and(&h->events, ~HART_EV_VMM);
    hart_apply_events(h);
    if (atomic_load(&vm->exit_reason)) return 0;
    vcpu_apply_pin(vm, v);
    if (atomic_load(&vm->pause_req)) {
        vcpu_park(vm, v);
        return 1;
    }
    if (atomic_load(&v->hsm_state) == HSM_STOPPED) {
        vcpu_wait(vm, v, VCPU_OFF, ~0ull);
        return 1;
    }
    uint64_t timer_ns = ticks_to_host_ns(vm, hart_sync_timers(h, vm_time(vm)));
    if (v->idle) {
        if (!hart_wakeup_pending(h)) {
            vcpu_wait(vm, v, VCPU_IDLE, timer_ns);
            return 1;
        }
        v->idle = 0;
        if (atomic_load(&v->hsm_state) == HSM_SUSPENDED) atomic_store(&v->hsm_state, HSM_STARTED);
    }
    if (vm->cfg.max_insns && h->instret >= vm->cfg.max_insns) {
        vm_request_exit(vm, VM_EXIT_MAX_INSNS, 1, "instruction limit reached");
        return 0;
    }
    uint64_t allowed = vcpu_cap_allows(vm, v);
    if (!allowed) return 1; /* slept for the cap: look at the VM again */
    vcpu_update_steal(vm, v);
    return vcpu_handle_exit(vm, v, vcpu_enter(vm, v, timer_ns, ~0ull, allowed));
}

static void *vcpu_thread(void *arg)
{
    struct vcpu *v = arg;
    struct vm *vm = v->h->vm;
    v->pin_gen = ~0u; /* a new thread takes the VM's pinning */
    /* Steal goes on from what earlier threads of this vCPU counted. */
    v->steal_base = atomic_load(&v->steal_ns);
    v->throttled_ns = 0;
    v->steal_at = 0;
    v->schedstat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    clockid_t clock;
    int has_clock = pthread_getcpuclockid(pthread_self(), &clock) == 0;
    pthread_mutex_lock(&vm->lock);
    v->cpu_clock = clock;
    v->cpu_clock_live = has_clock;
    pthread_mutex_unlock(&vm->lock);
    while (vcpu_loop_once(vm, v)) {
    }
    v->steal_at = 0;
    vcpu_update_steal(vm, v);
    if (v->schedstat_fd >= 0) close(v->schedstat_fd);
    v->schedstat_fd = -1;
    pthread_mutex_lock(&vm->lock);
    v->cpu_base_ns += thread_cpu_ns(); /* its clock ends with the thread */
    v->cpu_clock_live = 0;
    atomic_store(&v->state, VCPU_EXITED);
    vm->vcpus_live--;
    pthread_cond_broadcast(&vm->pause_cond);
    pthread_mutex_unlock(&vm->lock);
    return NULL;
}

int vcpu_start(struct vm *vm, unsigned id)
{
    struct vcpu *v = &vm->vcpu[id];
    pthread_mutex_lock(&vm->lock);
    vm->vcpus_live++;
    pthread_mutex_unlock(&vm->lock);
    if (pthread_create(&v->thread, NULL, vcpu_thread, v) != 0) {
        pthread_mutex_lock(&vm->lock);
        vm->vcpus_live--;
        pthread_mutex_unlock(&vm->lock);
        return -1;
    }
    return 0;
}

void vcpu_join(struct vm *vm, unsigned id)
{
    pthread_join(vm->vcpu[id].thread, NULL);
}

void vm_pause_request(struct vm *vm)
{
    atomic_store(&vm->pause_req, 1);
    for (unsigned i = 0; i < vm->ncpus; i++)
        vm_kick_hart(vm, i, HART_EV_VMM);
}

int vm_pause(struct vm *vm)
{
    vm_pause_request(vm);
    pthread_mutex_lock(&vm->lock);
    while (vm->vcpus_parked < vm->vcpus_live && !atomic_load(&vm->exit_reason))
        pthread_cond_wait(&vm->pause_cond, &vm->lock);
    int r = atomic_load(&vm->exit_reason) ? -1 : 0;
    if (!r && !atomic_load(&vm->pause_start_ns)) atomic_store(&vm->pause_start_ns, host_time_ns());
    pthread_mutex_unlock(&vm->lock);
    return r;
}

void vm_resume(struct vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    uint64_t since = atomic_load(&vm->pause_start_ns);
    if (since) {
        atomic_fetch_add(&vm->time_base_ns, host_time_ns() - since);
        atomic_store(&vm->pause_start_ns, 0);
    }
    atomic_store(&vm->pause_req, 0);
    for (unsigned i = 0; i < vm->ncpus; i++)
        pthread_cond_signal(&vm->vcpu[i].cond);
    pthread_mutex_unlock(&vm->lock);
}

int vm_paused(struct vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    int r = atomic_load(&vm->pause_req) && vm->vcpus_parked == vm->vcpus_live;
    pthread_mutex_unlock(&vm->lock);
    return r;
}

void vcpu_print_stats(const struct vcpu *v, FILE *out)
{
    static const char *const names[HART_EXIT_COUNT] = {"budget", "idle",  "hypercall", "event",
                                                       "fatal",  "yield", "debug"};
    fprintf(out, "vcpu%u: exits", v->h->id);
    for (unsigned r = 0; r < HART_EXIT_COUNT; r++)
        fprintf(out, " %s=%llu", names[r], (unsigned long long)v->exits[r]);
    fprintf(out, " sleeps=%llu\n", (unsigned long long)v->waits);
}

void vm_set_cap(struct vm *vm, unsigned cap_pct)
{
    pthread_mutex_lock(&vm->sched.lock);
    vm->sched.budget_ns = 0;
    vm->sched.period_ns = host_time_ns();
    atomic_store(&vm->sched.cap_pct, cap_pct);
    pthread_mutex_unlock(&vm->sched.lock);
    for (unsigned i = 0; i < vm->ncpus; i++)
        vm_kick_hart(vm, i, HART_EV_VMM); /* a throttled vCPU looks again */
}

void vm_set_pin(struct vm *vm, const cpu_set_t *set)
{
    pthread_mutex_lock(&vm->sched.lock);
    if (set)
        vm->sched.pin = *set;
    else
        CPU_ZERO(&vm->sched.pin);
    atomic_fetch_add(&vm->sched.pin_gen, 1);
    pthread_mutex_unlock(&vm->sched.lock);
    for (unsigned i = 0; i < vm->ncpus; i++)
        vm_kick_hart(vm, i, HART_EV_VMM); /* sleeping vCPUs apply it too */
}

/* Instructions retired by every vCPU, as of each one's last return from
 * the guest: read while they run (a hart's own instret is its thread's). */
uint64_t vm_insns(const struct vm *vm)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < vm->ncpus; i++)
        n += atomic_load_explicit(&vm->vcpu[i].insns, memory_order_relaxed);
    return n;
}

const char *vcpu_state_name(int state)
{
    static const char *const names[] = {"running", "idle", "stopped", "paused", "exited"};
    return state >= 0 && state <= VCPU_EXITED ? names[state] : "unknown";
}

void vcpu_get_figures(struct vm *vm, unsigned id, struct vcpu_figures *f)
{
    struct vcpu *v = &vm->vcpu[id];
    struct timespec ts;
    pthread_mutex_lock(&vm->lock); /* its thread's clock is valid while live */
    f->cpu_ns = v->cpu_base_ns;
    if (v->cpu_clock_live && clock_gettime(v->cpu_clock, &ts) == 0)
        f->cpu_ns += (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    pthread_mutex_unlock(&vm->lock);
    f->state = atomic_load(&v->state);
    f->insns = atomic_load_explicit(&v->insns, memory_order_relaxed);
    f->steal_ns = atomic_load_explicit(&v->steal_ns, memory_order_relaxed);
}
