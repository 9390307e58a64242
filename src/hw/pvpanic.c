/* pvpanic (QEMU docs/specs/pvpanic.rst), MMIO form "qemu,pvpanic-mmio" as
 * Linux's pvpanic-mmio driver finds it in the device tree: one byte; reads
 * give the events supported, a write of bit 0 says the guest panicked,
 * bit 1 that a crash kernel is loaded. */
#include "hw/pvpanic.h"
#include "board/fdt.h"
#include "vmm/vm.h"
#include <libfdt.h>
#include <stdlib.h>

#define PVPANIC_PANICKED     1u
#define PVPANIC_CRASH_LOADED 2u

struct pvpanic {
    struct vm *vm;
};

static int pvpanic_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
    (void)dev;
    (void)size;
    *val = off == 0 ? PVPANIC_PANICKED | PVPANIC_CRASH_LOADED : 0;
    return 0;
}

static int pvpanic_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
    struct pvpanic *p = dev;
    (void)size;
    if (off == 0 && (val & PVPANIC_PANICKED)) vm_guest_panicked(p->vm, "guest kernel panicked");
    return 0;
}

static void pvpanic_destroy(void *dev)
{
    free(dev);
}

static int pvpanic_fdt(void *dev, struct fdt_ctx *c, uint64_t base, uint64_t size)
{
    (void)dev;
    if (fdt_begin_dev(c, "pvpanic", base, size) < 0 ||
        fdt_property_string(c->fdt, "compatible", "qemu,pvpanic-mmio") < 0 ||
        fdt_end_node(c->fdt) < 0)
        return -1;
    return 0;
}

static const struct dev_ops pvpanic_ops = {
    .name = "pvpanic",
    .fdt = pvpanic_fdt,
    .read = pvpanic_read,
    .write = pvpanic_write,
    .destroy = pvpanic_destroy,
};

int pvpanic_create(struct vm *vm, uint64_t base)
{
    struct pvpanic *p = calloc(1, sizeof(*p));
    if (!p) return -1;
    p->vm = vm;
    if (bus_add_mmio(&vm->bus, base, 2, &pvpanic_ops, p) < 0) {
        free(p);
        return -1;
    }
    return 0;
}
