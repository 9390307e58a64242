/* VM object: memory, harts, devices, threads and the exit protocol. */
#include "vmm/vm.h"
#include "hw/uart.h"
#include "hw/syscon.h"
#include "irq/clint.h"
#include "mem/swap.h"
#include "mem/share.h"
#include <errno.h>
#include <stdarg.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

uint64_t host_time_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t vm_time(const struct vm *vm)
{
    uint64_t now = atomic_load(&vm->pause_start_ns);
    if (!now) now = host_time_ns();
    return (now - vm->time_base_ns) / (1000000000ull / VM_TIMEBASE_HZ);
}

struct vm *vm_create(const struct vm_config *cfg, char *err, size_t errlen)
{
    if (cfg->ncpus < 1 || cfg->ncpus > VM_MAX_CPUS) {
        snprintf(err, errlen, "cpu count %u out of range (1..%d)", cfg->ncpus, VM_MAX_CPUS);
        return NULL;
    }
    if (cfg->ram_size < (1u << 20) || (cfg->ram_size & 0xfff) || cfg->ram_size > (64ull << 30)) {
        snprintf(err, errlen, "memory size %llu invalid (1M..64G, multiple of 4K)",
                 (unsigned long long)cfg->ram_size);
        return NULL;
    }
    struct vm *vm = calloc(1, sizeof(*vm));
    if (!vm) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    vm->cfg = *cfg;
    vm->ncpus = cfg->ncpus;
    vm->ram_base = VM_RAM_BASE;
    vm->ram_size = cfg->ram_size;
    vm->console_out_fd = 1;
    vm->log_level = VM_LOG_WARN;
    vm->isolation.proc_fd = -1;
    /* Lazily allocated: pages cost host memory only once the guest touches them. */
    vm->ram = mmap(NULL, cfg->ram_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (vm->ram == MAP_FAILED) {
        snprintf(err, errlen, "cannot reserve %llu bytes of guest RAM: %s",
                 (unsigned long long)cfg->ram_size, strerror(errno));
        free(vm);
        return NULL;
    }
    bus_add_mem(&vm->bus, vm->ram_base, vm->ram_size, vm->ram, 0);
    vm->code_bits = calloc((cfg->ram_size >> 12) / 64 + 1, sizeof(*vm->code_bits));
    vm->pins = calloc(cfg->ram_size >> 12, sizeof(*vm->pins));
    if (!vm->code_bits || !vm->pins) {
        free(vm->code_bits);
        free((void *)vm->pins);
        snprintf(err, errlen, "out of memory");
        munmap(vm->ram, vm->ram_size);
        free(vm);
        return NULL;
    }
    const char *map = getenv("VMON_JIT_MAP"); /* for scripts/jit-profile.py */
    if (map && (vm->jit_map = fopen(map, "we"))) setvbuf(vm->jit_map, NULL, _IOLBF, 0);
    pthread_mutex_init(&vm->lock, NULL);
    pthread_mutex_init(&vm->admin, NULL);
    pthread_mutex_init(&vm->sched.lock, NULL);
    if (sched_getaffinity(0, sizeof(vm->sched.all), &vm->sched.all) < 0) CPU_ZERO(&vm->sched.all);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&vm->exit_cond, &ca);
    pthread_cond_init(&vm->pause_cond, &ca);
    for (unsigned i = 0; i < VM_MAX_CPUS; i++)
        pthread_cond_init(&vm->vcpu[i].cond, &ca);
    pthread_condattr_destroy(&ca);
    for (unsigned i = 0; i < vm->ncpus; i++) {
        vm->harts[i] = aligned_alloc(64, (sizeof(struct hart) + 63) & ~(size_t)63);
        if (!vm->harts[i] || hart_init(vm->harts[i], vm, i) < 0) {
            snprintf(err, errlen, "out of memory creating hart %u", i);
            vm_destroy(vm);
            return NULL;
        }
        vm->vcpu[i].h = vm->harts[i];
    }
    vm->time_base_ns = host_time_ns();
    return vm;
}

void vm_destroy(struct vm *vm)
{
    if (!vm) return;
    bus_destroy_devices(&vm->bus);
    mem_share_stop(vm);
    mem_swap_stop(vm); /* nothing touches guest RAM any more */
    for (unsigned i = 0; i < VM_MAX_CPUS; i++) {
        if (vm->harts[i]) {
            hart_destroy(vm->harts[i]);
            free(vm->harts[i]);
        }
        pthread_cond_destroy(&vm->vcpu[i].cond);
    }
    pthread_cond_destroy(&vm->exit_cond);
    pthread_cond_destroy(&vm->pause_cond);
    pthread_mutex_destroy(&vm->lock);
    pthread_mutex_destroy(&vm->admin);
    pthread_mutex_destroy(&vm->sched.lock);
    if (vm->ram) munmap(vm->ram, vm->ram_size);
    free(vm->code_bits);
    free((void *)vm->pins);
    free((void *)atomic_load(&vm->dirty_bits));
    if (vm->jit_dump) fclose(vm->jit_dump);
    if (vm->jit_map) fclose(vm->jit_map);
    if (vm->isolation.proc_fd >= 0) close(vm->isolation.proc_fd);
    free(vm->rom);
    free(vm);
}

int vm_use_dir(struct vm *vm, int fd, int use, char *err, size_t errlen)
{
    if (vm->ndirs == VM_MAX_DIRS) {
        snprintf(err, errlen, "more than %d host directories in one VM", VM_MAX_DIRS);
        return -1;
    }
    vm->dirs[vm->ndirs++] = (struct vm_dir){fd, use};
    return 0;
}

void vm_reset(struct vm *vm, uint64_t pc)
{
    for (unsigned i = 0; i < vm->ncpus; i++) {
        hart_reset(vm->harts[i], pc);
        atomic_store(&vm->vcpu[i].hsm_state, HSM_STARTED);
        vm->vcpu[i].idle = 0;
    }
    bus_reset_devices(&vm->bus);
    /* A reboot's request is consumed; any other (a signal that came during
     * the reset, say) stays and ends the run. */
    int reset = VM_EXIT_RESET;
    pthread_mutex_lock(&vm->lock);
    if (atomic_compare_exchange_strong(&vm->exit_reason, &reset, VM_EXIT_NONE)) {
        vm->exit_code = 0;
        vm->exit_msg[0] = 0;
    }
    pthread_mutex_unlock(&vm->lock);
}

void vm_kick_hart(struct vm *vm, unsigned id, unsigned ev)
{
    if (id >= vm->ncpus) return;
    struct hart *h = vm->harts[id];
    atomic_fetch_or_explicit(&h->events, ev, memory_order_seq_cst);
    if (!(ev & (HART_EV_IRQ | HART_EV_VMM))) return; /* applied when it next runs */
    pthread_mutex_lock(&vm->lock);
    pthread_cond_signal(&vm->vcpu[id].cond);
    pthread_mutex_unlock(&vm->lock);
}

void vm_remote_fence(struct hart *self, struct hart *t, unsigned ev)
{
    if (t == self) {
        atomic_fetch_or(&self->events, ev);
        hart_apply_events(self);
        return;
    }
    struct vcpu *v = &t->vm->vcpu[t->id];
    /* Dekker pair with vcpu.c: the target sets in_guest and then reads its
     * events; here the event is set and then in_guest read (both seq_cst),
     * so either the target sees the event on entry or this loop waits. */
    atomic_fetch_or_explicit(&t->events, ev, memory_order_seq_cst);
    unsigned spins = 0;
    while ((atomic_load(&t->events) & ev) && atomic_load(&v->in_guest)) {
        if (self) hart_apply_events(self);
        if (++spins > 64) sched_yield();
    }
}

void vm_log(const struct vm *vm, int level, const char *dev, const char *fmt, ...)
{
    if (level > vm->log_level) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "vmon: %s%s%s%s%s\n", vm->name, vm->name[0] ? ": " : "", dev ? dev : "",
            dev ? ": " : "", msg);
}

int vm_power_button(struct vm *vm)
{
    struct virtio_dev *key = atomic_load_explicit(&vm->power_key, memory_order_acquire);
    return key ? vm->power_key_press(key) : -1;
}

void vm_guest_panicked(struct vm *vm, const char *why)
{
    switch (vm->cfg.on_panic) {
    case VM_PANIC_PAUSE:
        vm_log(vm, VM_LOG_ERROR, NULL, "%s; the VM is paused (attach a debugger, or quit)", why);
        vm_pause_request(vm);
        break;
    case VM_PANIC_REBOOT:
        vm_log(vm, VM_LOG_WARN, NULL, "%s; rebooting it", why);
        vm_request_exit(vm, VM_EXIT_RESET, 0, why);
        break;
    default: vm_request_exit(vm, VM_EXIT_PANIC, 3, why);
    }
}

void vm_request_exit(struct vm *vm, int reason, int code, const char *msg)
{
    int none = VM_EXIT_NONE;
    pthread_mutex_lock(&vm->lock);
    if (atomic_compare_exchange_strong(&vm->exit_reason, &none, reason)) {
        vm->exit_code = code;
        snprintf(vm->exit_msg, sizeof(vm->exit_msg), "%s", msg ? msg : "");
    }
    for (unsigned i = 0; i < vm->ncpus; i++) {
        atomic_fetch_or(&vm->harts[i]->events, HART_EV_VMM);
        pthread_cond_signal(&vm->vcpu[i].cond);
    }
    pthread_cond_broadcast(&vm->exit_cond);
    pthread_cond_broadcast(&vm->pause_cond);
    pthread_mutex_unlock(&vm->lock);
}

int vm_run(struct vm *vm)
{
    unsigned started = 0;
    for (unsigned i = 0; i < vm->ncpus; i++) {
        if (vcpu_start(vm, i) < 0) {
            vm_request_exit(vm, VM_EXIT_ERROR, 1, "cannot create vCPU thread");
            break;
        }
        started++;
    }
    /* --timeout counts from the first boot: reboots do not restart it. */
    if (!vm->run_start_ns) vm->run_start_ns = host_time_ns();
    uint64_t t0 = vm->run_start_ns;
    pthread_mutex_lock(&vm->lock);
    while (!atomic_load(&vm->exit_reason)) {
        if (vm->cfg.timeout > 0) {
            uint64_t end = t0 + (uint64_t)(vm->cfg.timeout * 1e9);
            if (host_time_ns() >= end) {
                pthread_mutex_unlock(&vm->lock);
                char m[96];
                snprintf(m, sizeof(m), "timeout after %.3g seconds", vm->cfg.timeout);
                vm_request_exit(vm, VM_EXIT_TIMEOUT, 1, m);
                pthread_mutex_lock(&vm->lock);
                break;
            }
            struct timespec ts = {(time_t)(end / 1000000000ull), (long)(end % 1000000000ull)};
            pthread_cond_timedwait(&vm->exit_cond, &vm->lock, &ts);
        } else {
            pthread_cond_wait(&vm->exit_cond, &vm->lock);
        }
    }
    pthread_mutex_unlock(&vm->lock);
    for (unsigned i = 0; i < started; i++)
        vcpu_join(vm, i);
    vm->insns_total = 0;
    for (unsigned i = 0; i < vm->ncpus; i++)
        vm->insns_total += vm->harts[i]->instret;
    return atomic_load(&vm->exit_reason);
}
