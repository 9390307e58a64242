/* SBI v2.0 (RISC-V Supervisor Binary Interface specification) served by the
 * hypervisor: BASE, TIME, IPI, RFENCE, HSM, SRST, DBCN and the legacy
 * extensions. Calling convention (ch. 3): a7 = EID, a6 = FID, a0..a5
 * arguments; returns a0 = error, a1 = value. */
#include "vmm/sbi.h"
#include "cpu/hart.h"
#include "vmm/vm.h"
#include "mem/dirty.h"
#include "mem/guest.h"
#include <sched.h>
#include <string.h>
#include <unistd.h>

#define SBI_SUCCESS               0
#define SBI_ERR_FAILED            -1
#define SBI_ERR_NOT_SUPPORTED     -2
#define SBI_ERR_INVALID_PARAM     -3
#define SBI_ERR_DENIED            -4
#define SBI_ERR_INVALID_ADDRESS   -5
#define SBI_ERR_ALREADY_AVAILABLE -6
#define SBI_ERR_ALREADY_STARTED   -7
#define SBI_ERR_ALREADY_STOPPED   -8

#define EXT_BASE   0x10
#define EXT_TIME   0x54494d45
#define EXT_IPI    0x735049
#define EXT_RFENCE 0x52464e43
#define EXT_HSM    0x48534d
#define EXT_SRST   0x53525354
#define EXT_DBCN   0x4442434e
#define EXT_STA    0x535441
#define STA_SIZE   64

#define SBI_IMPL_ID      0x766d6f6e /* "vmon" */
#define SBI_IMPL_VERSION 1

static const char *const ext_names[SBI_X_COUNT] = {"legacy", "base", "time", "ipi", "rfence",
                                                   "hsm",    "srst", "dbcn", "sta", "unknown"};

struct sbi_ret {
    int64_t error;
    uint64_t value;
    int regs_set; /* the call already set a0/a1 (non-retentive resume) */
};

static int ext_supported(uint64_t eid)
{
    switch (eid) {
    case EXT_BASE:
    case EXT_TIME:
    case EXT_IPI:
    case EXT_RFENCE:
    case EXT_HSM:
    case EXT_SRST:
    case EXT_DBCN:
    case EXT_STA: return 1;
    }
    return eid <= 0x08; /* legacy */
}

/* Apply fn to every hart named by (mask, base); base == -1 means all. */
static int64_t for_harts(struct hart *h, uint64_t mask, uint64_t base,
                         void (*fn)(struct hart *self, struct hart *target))
{
    struct vm *vm = h->vm;
    if (base == ~0ull) {
        for (unsigned i = 0; i < vm->ncpus; i++)
            fn(h, vm->harts[i]);
        return SBI_SUCCESS;
    }
    for (unsigned b = 0; b < 64; b++) {
        if (!((mask >> b) & 1)) continue;
        if (base + b < base || base + b >= vm->ncpus) return SBI_ERR_INVALID_PARAM;
    }
    for (unsigned b = 0; b < 64; b++)
        if ((mask >> b) & 1) fn(h, vm->harts[base + b]);
    return SBI_SUCCESS;
}

static void send_ipi(struct hart *self, struct hart *t)
{
    (void)self;
    atomic_fetch_or(&t->mip_async, MIP_SSIP);
    vm_kick_hart(t->vm, t->id, HART_EV_IRQ);
}

/* Every write to a page holding code (by a hart or a device) already drops
 * the translations made from it (mmu.c), so instruction fetch is always
 * coherent: a remote FENCE.I has nothing left to do. */
static void fence_i(struct hart *self, struct hart *t)
{
    (void)self;
    (void)t;
}

static void sfence(struct hart *self, struct hart *t)
{
    vm_remote_fence(self, t, HART_EV_TLB);
}

static void set_timer(struct hart *h, uint64_t when)
{
    h->stimecmp = when;
    h->mip &= ~MIP_STIP;
    h->check = 1;
}

/* The vCPU loop waits for an interrupt, then resumes the hart. */
static void hsm_suspend(struct hart *h)
{
    struct vcpu *v = &h->vm->vcpu[h->id];
    v->idle = 1;
    atomic_store(&v->hsm_state, HSM_SUSPENDED);
    h->check = 1;
}

int vm_set_cpus_online(struct vm *vm, unsigned n)
{
    if (n > vm->ncpus) return -1;
    atomic_store(&vm->cpus_online, n);
    return 0;
}

unsigned vm_harts_running(struct vm *vm)
{
    unsigned n = 0;
    for (unsigned i = 0; i < vm->ncpus; i++)
        n += atomic_load(&vm->vcpu[i].hsm_state) != HSM_STOPPED;
    return n;
}

static struct sbi_ret hsm_start(struct hart *h, uint64_t hartid, uint64_t addr, uint64_t opaque)
{
    struct vm *vm = h->vm;
    if (hartid >= vm->ncpus) return (struct sbi_ret){SBI_ERR_INVALID_PARAM, 0};
    struct hart *t = vm->harts[hartid];
    struct vcpu *tv = &vm->vcpu[hartid];
    if (atomic_load(&tv->hsm_state) != HSM_STOPPED)
        return (struct sbi_ret){SBI_ERR_ALREADY_AVAILABLE, 0};
    if (addr < vm->ram_base || addr - vm->ram_base >= vm->ram_size)
        return (struct sbi_ret){SBI_ERR_INVALID_ADDRESS, 0};
    /* The target's loop is parked (HSM_STOPPED): its state is ours to set
     * until the store below, under the lock its loop waits with (and two
     * starts at once count the harts running one after the other). */
    pthread_mutex_lock(&vm->lock);
    unsigned online = atomic_load(&vm->cpus_online);
    if (online && vm_harts_running(vm) >= online) { /* the host allows no more */
        pthread_mutex_unlock(&vm->lock);
        return (struct sbi_ret){SBI_ERR_DENIED, 0};
    }
    t->pc = addr;
    t->x[10] = hartid;
    t->x[11] = opaque;
    t->priv = PRV_S;
    t->satp = 0;
    t->mstatus &= ~(MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP);
    t->check = 1;
    tv->idle = 0;
    atomic_store(&tv->hsm_state, HSM_STARTED);
    pthread_mutex_unlock(&vm->lock);
    vm_kick_hart(vm, t->id, HART_EV_IRQ | HART_EV_TLB);
    return (struct sbi_ret){SBI_SUCCESS, 0};
}

void sbi_sta_write(struct vm *vm, struct vcpu *v)
{
    uint8_t *p = mem_pin(vm, v->sta_addr, STA_SIZE, MEM_WRITE);
    if (!p) return;
    ram_store(p, 4, ++v->sta_seq); /* odd: changing */
    ram_store(p + 8, 8, atomic_load(&v->steal_ns));
    ram_store(p + 16, 1, 0); /* preempted: not reported */
    ram_store(p, 4, ++v->sta_seq);
    mem_unpin(vm, v->sta_addr, STA_SIZE, MEM_WRITE);
}

/* STA set_shmem(lo, hi, flags): where this hart's steal time goes, or
 * nowhere (lo = hi = -1). */
static struct sbi_ret sta_set_shmem(struct hart *h, const uint64_t *a)
{
    struct vcpu *v = &h->vm->vcpu[h->id];
    if (a[0] == ~0ull && a[1] == ~0ull) {
        v->sta_addr = 0;
        return (struct sbi_ret){SBI_SUCCESS, 0};
    }
    if (a[2] != 0 || (a[0] & (STA_SIZE - 1))) return (struct sbi_ret){SBI_ERR_INVALID_PARAM, 0};
    uint8_t *p = a[1] == 0 ? mem_pin(h->vm, a[0], STA_SIZE, MEM_WRITE) : NULL;
    if (!p) return (struct sbi_ret){SBI_ERR_INVALID_ADDRESS, 0};
    v->sta_addr = a[0];
    v->sta_seq = 0;
    for (unsigned i = 0; i < STA_SIZE; i += 8)
        ram_store(p + i, 8, 0);
    mem_unpin(h->vm, a[0], STA_SIZE, MEM_WRITE);
    sbi_sta_write(h->vm, v);
    return (struct sbi_ret){SBI_SUCCESS, 0};
}

static struct sbi_ret sbi_dispatch(struct hart *h, uint64_t eid, uint64_t fid, const uint64_t *a)
{
    struct vm *vm = h->vm;
    switch (eid) {
    case EXT_BASE:
        switch (fid) {
        case 0: return (struct sbi_ret){0, 2u << 24}; /* spec version 2.0 */
        case 1: return (struct sbi_ret){0, SBI_IMPL_ID};
        case 2: return (struct sbi_ret){0, SBI_IMPL_VERSION};
        case 3: return (struct sbi_ret){0, (uint64_t)ext_supported(a[0])};
        case 4:
        case 5:
        case 6: return (struct sbi_ret){0, 0}; /* mvendorid, marchid, mimpid */
        }
        break;
    case EXT_TIME:
        if (fid == 0) {
            set_timer(h, a[0]);
            return (struct sbi_ret){0, 0};
        }
        break;
    case EXT_IPI:
        if (fid == 0) return (struct sbi_ret){for_harts(h, a[0], a[1], send_ipi), 0};
        break;
    case EXT_RFENCE:
        /* Ranges and ASIDs are honoured by flushing more than asked, which
         * the spec permits. */
        switch (fid) {
        case 0: return (struct sbi_ret){for_harts(h, a[0], a[1], fence_i), 0};
        case 1:
        case 2: return (struct sbi_ret){for_harts(h, a[0], a[1], sfence), 0};
        }
        break;
    case EXT_HSM:
        switch (fid) {
        case 0: return hsm_start(h, a[0], a[1], a[2]);
        case 1: /* hart_stop: the vCPU loop parks this hart */
            atomic_store(&vm->vcpu[h->id].hsm_state, HSM_STOPPED);
            h->check = 1;
            return (struct sbi_ret){0, 0};
        case 2:
            if (a[0] >= vm->ncpus) return (struct sbi_ret){SBI_ERR_INVALID_PARAM, 0};
            return (struct sbi_ret){0, (uint64_t)atomic_load(&vm->vcpu[a[0]].hsm_state)};
        case 3: {
            uint32_t type = (uint32_t)a[0];
            if (type == 0) { /* default retentive suspend: behaves as WFI */
                hsm_suspend(h);
                return (struct sbi_ret){0, 0};
            }
            if (type == 0x80000000u) { /* non-retentive: resume at a[1] in S-mode */
                if (a[1] < vm->ram_base || a[1] - vm->ram_base >= vm->ram_size)
                    return (struct sbi_ret){SBI_ERR_INVALID_ADDRESS, 0};
                hsm_suspend(h);
                h->pc = a[1];
                h->x[10] = h->id;
                h->x[11] = a[2];
                h->satp = 0;
                h->mstatus &= ~MSTATUS_SIE;
                mmu_flush_tlb(h);
                return (struct sbi_ret){0, 0, 1};
            }
            return (struct sbi_ret){SBI_ERR_INVALID_PARAM, 0};
        }
        }
        break;
    case EXT_SRST:
        if (fid == 0) {
            uint32_t type = (uint32_t)a[0], reason = (uint32_t)a[1];
            if (reason > 1 && reason < 0xe0000000u)
                return (struct sbi_ret){SBI_ERR_INVALID_PARAM, 0};
            if (reason == 1) { /* system failure: the guest's way of saying it crashed */
                vm_guest_panicked(vm, type == 0 ? "guest shut down: system failure"
                                                : "guest reset: system failure");
                return (struct sbi_ret){0, 0};
            }
            if (type == 0) {
                vm_request_exit(vm, VM_EXIT_POWEROFF, 0, "guest shut down");
                return (struct sbi_ret){0, 0};
            }
            if (type == 1 || type == 2) {
                vm_request_exit(vm, VM_EXIT_RESET, 0, "guest requested reboot");
                return (struct sbi_ret){0, 0};
            }
            return (struct sbi_ret){SBI_ERR_INVALID_PARAM, 0};
        }
        break;
    case EXT_DBCN:
        switch (fid) {
        case 0: { /* console_write(num_bytes, base_lo, base_hi): physical address */
            uint64_t n = a[0], pa = a[1];
            if (a[2] || pa < vm->ram_base || pa - vm->ram_base > vm->ram_size ||
                n > vm->ram_size - (pa - vm->ram_base))
                return (struct sbi_ret){SBI_ERR_INVALID_PARAM, 0};
            uint8_t *p = n ? mem_pin(vm, pa, n, MEM_READ) : NULL;
            if (vm->console_out_fd >= 0 && p) {
                ssize_t w = write(vm->console_out_fd, p, n);
                mem_unpin(vm, pa, n, MEM_READ);
                return (struct sbi_ret){0, w > 0 ? (uint64_t)w : 0};
            }
            if (p) mem_unpin(vm, pa, n, MEM_READ);
            return (struct sbi_ret){0, n};
        }
        case 1: { /* console_read */
            uint64_t n = a[0], pa = a[1];
            if (a[2] || pa < vm->ram_base || pa - vm->ram_base > vm->ram_size ||
                n > vm->ram_size - (pa - vm->ram_base))
                return (struct sbi_ret){SBI_ERR_INVALID_PARAM, 0};
            return (struct sbi_ret){0, 0}; /* no console input is routed to SBI */
        }
        case 2: {
            uint8_t c = (uint8_t)a[0];
            if (vm->console_out_fd >= 0 && write(vm->console_out_fd, &c, 1) < 0)
                return (struct sbi_ret){SBI_ERR_FAILED, 0};
            return (struct sbi_ret){0, 0};
        }
        }
        break;
    case EXT_STA:
        if (fid == 0) return sta_set_shmem(h, a);
        break;
    }
    return (struct sbi_ret){SBI_ERR_NOT_SUPPORTED, 0};
}

/* Legacy extensions (SBI v0.1): return only a0. */
static int64_t sbi_legacy(struct hart *h, uint64_t eid, const uint64_t *a)
{
    struct vm *vm = h->vm;
    switch (eid) {
    case 0x00: set_timer(h, a[0]); return 0;
    case 0x01: {
        uint8_t c = (uint8_t)a[0];
        if (vm->console_out_fd >= 0 && write(vm->console_out_fd, &c, 1) < 0) return -1;
        return 0;
    }
    case 0x02: return -1; /* no input */
    case 0x03:
        h->mip &= ~MIP_SSIP;
        atomic_fetch_and(&h->mip_async, ~MIP_SSIP);
        return 0;
    case 0x04:
    case 0x05:
    case 0x06:
    case 0x07: {
        /* a0 is the virtual address of a hart mask (0 = all harts). */
        uint64_t mask = ~0ull, tval;
        if (a[0] && mmu_load_slow(h, a[0], 8, &mask, &tval)) return SBI_ERR_INVALID_ADDRESS;
        void (*fn)(struct hart *, struct hart *) = eid == 0x04   ? send_ipi
                                                   : eid == 0x05 ? fence_i
                                                                 : sfence;
        for (unsigned i = 0; i < vm->ncpus && i < 64; i++)
            if ((mask >> i) & 1) fn(h, vm->harts[i]);
        return 0;
    }
    case 0x08: vm_request_exit(vm, VM_EXIT_POWEROFF, 0, "guest shut down"); return 0;
    }
    return SBI_ERR_NOT_SUPPORTED;
}

static unsigned ext_index(uint64_t eid)
{
    switch (eid) {
    case EXT_BASE: return SBI_X_BASE;
    case EXT_TIME: return SBI_X_TIME;
    case EXT_IPI: return SBI_X_IPI;
    case EXT_RFENCE: return SBI_X_RFENCE;
    case EXT_HSM: return SBI_X_HSM;
    case EXT_SRST: return SBI_X_SRST;
    case EXT_DBCN: return SBI_X_DBCN;
    case EXT_STA: return SBI_X_STA;
    }
    return eid <= 0x08 ? SBI_X_LEGACY : SBI_X_UNKNOWN;
}

void sbi_call(struct hart *h)
{
    uint64_t *x = h->x;
    uint64_t eid = x[17], fid = x[16];
    uint64_t args[6] = {x[10], x[11], x[12], x[13], x[14], x[15]};
    atomic_fetch_add_explicit(&h->vm->sbi_calls[ext_index(eid)], 1, memory_order_relaxed);
    if (eid <= 0x08) {
        x[10] = (uint64_t)sbi_legacy(h, eid, args);
        return;
    }
    struct sbi_ret r = sbi_dispatch(h, eid, fid, args);
    if (r.regs_set) return;
    x[10] = (uint64_t)r.error;
    x[11] = r.value;
}

uint64_t sbi_total_calls(struct vm *vm)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < SBI_X_COUNT; i++)
        total += atomic_load_explicit(&vm->sbi_calls[i], memory_order_relaxed);
    return total;
}

void sbi_print_stats(struct vm *vm, FILE *out)
{
    fprintf(out, "hypercalls: %llu", (unsigned long long)sbi_total_calls(vm));
    for (unsigned i = 0; i < SBI_X_COUNT; i++) {
        uint64_t n = atomic_load(&vm->sbi_calls[i]);
        if (n) fprintf(out, " %s=%llu", ext_names[i], (unsigned long long)n);
    }
    fputc('\n', out);
}
