/* Core-local interruptor: per-hart software interrupt (msip) and timer
 * compare registers, plus the shared mtime counter (10 MHz). */
#include "irq/clint.h"
#include "vmm/vm.h"
#include "board/fdt.h"
#include <libfdt.h>
#include <stdlib.h>

#define CLINT_MSIP     0x0000
#define CLINT_MTIMECMP 0x4000
#define CLINT_MTIME    0xbff8

struct clint {
    struct vm *vm;
};

static int clint_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
    struct clint *c = dev;
    struct vm *vm = c->vm;
    if (size != 4 && size != 8) return -1;
    uint64_t v = 0;
    if (off < CLINT_MSIP + 4 * VM_MAX_CPUS) {
        unsigned i = (unsigned)(off / 4);
        if (size != 4 || (off & 3)) return -1;
        if (i < vm->ncpus) v = (atomic_load(&vm->harts[i]->mip_async) & MIP_MSIP) ? 1 : 0;
    } else if (off >= CLINT_MTIMECMP && off < CLINT_MTIMECMP + 8 * VM_MAX_CPUS) {
        unsigned i = (unsigned)((off - CLINT_MTIMECMP) / 8);
        if (i < vm->ncpus) v = atomic_load(&vm->harts[i]->mtimecmp);
        if (off & 4) v >>= 32;
    } else if (off == CLINT_MTIME || off == CLINT_MTIME + 4) {
        v = vm_time(vm);
        if (off & 4) v >>= 32;
    }
    if (size == 4) v &= 0xffffffffu;
    *val = v;
    return 0;
}

static int clint_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
    struct clint *c = dev;
    struct vm *vm = c->vm;
    if (size != 4 && size != 8) return -1;
    if (off < CLINT_MSIP + 4 * VM_MAX_CPUS) {
        unsigned i = (unsigned)(off / 4);
        if (size != 4 || (off & 3)) return -1;
        if (i >= vm->ncpus) return 0;
        if (val & 1)
            atomic_fetch_or(&vm->harts[i]->mip_async, MIP_MSIP);
        else
            atomic_fetch_and(&vm->harts[i]->mip_async, ~MIP_MSIP);
        vm_kick_hart(vm, i, HART_EV_IRQ);
    } else if (off >= CLINT_MTIMECMP && off < CLINT_MTIMECMP + 8 * VM_MAX_CPUS) {
        unsigned i = (unsigned)((off - CLINT_MTIMECMP) / 8);
        if (i >= vm->ncpus) return 0;
        _Atomic uint64_t *cmp = &vm->harts[i]->mtimecmp;
        uint64_t old = atomic_load(cmp), v;
        if (size == 8)
            v = val;
        else if (off & 4)
            v = (old & 0xffffffffu) | (val << 32);
        else
            v = (old & ~0xffffffffull) | (val & 0xffffffffu);
        atomic_store(cmp, v);
        vm_kick_hart(vm, i, HART_EV_IRQ | HART_EV_VMM); /* its loop re-arms the timer */
    } else if (off == CLINT_MTIME || off == CLINT_MTIME + 4) {
        /* Writing mtime shifts the time base. */
        uint64_t now = vm_time(vm), v;
        if (size == 8)
            v = val;
        else if (off & 4)
            v = (now & 0xffffffffu) | (val << 32);
        else
            v = (now & ~0xffffffffull) | (val & 0xffffffffu);
        vm->time_base_ns += (now - v) * (1000000000ull / VM_TIMEBASE_HZ);
        for (unsigned i = 0; i < vm->ncpus; i++)
            vm_kick_hart(vm, i, HART_EV_IRQ | HART_EV_VMM);
    }
    return 0;
}

static void clint_destroy(void *dev)
{
    free(dev);
}

static int clint_fdt(void *dev, struct fdt_ctx *c, uint64_t base, uint64_t size)
{
    (void)dev;
    uint32_t cells[4 * VM_MAX_CPUS];
    unsigned n = 0;
    for (unsigned i = 0; i < c->vm->ncpus; i++) {
        cells[n++] = c->intc_phandle[i];
        cells[n++] = IRQ_MSI;
        cells[n++] = c->intc_phandle[i];
        cells[n++] = IRQ_MTI;
    }
    static const char compat[] = "sifive,clint0\0riscv,clint0";
    if (fdt_begin_dev(c, "clint", base, size) < 0 ||
        fdt_property(c->fdt, "compatible", compat, sizeof(compat)) < 0 ||
        fdt_prop_cells(c->fdt, "interrupts-extended", cells, n) < 0)
        return -1;
    return fdt_end_node(c->fdt);
}

static const struct dev_ops clint_ops = {
    .name = "clint",
    .fdt = clint_fdt,
    .read = clint_read,
    .write = clint_write,
    .destroy = clint_destroy,
};

struct clint *clint_create(struct vm *vm, uint64_t base)
{
    struct clint *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->vm = vm;
    if (bus_add_mmio(&vm->bus, base, CLINT_SIZE, &clint_ops, c) < 0) {
        free(c);
        return NULL;
    }
    vm->clint = c;
    return c;
}
