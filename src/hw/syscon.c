#include "hw/syscon.h"
#include "vmm/vm.h"
#include "board/fdt.h"
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>

struct syscon {
    struct vm *vm;
};

static int syscon_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
    (void)dev;
    (void)off;
    (void)size;
    *val = 0;
    return 0;
}

static int syscon_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
    struct syscon *s = dev;
    if (off != 0 || size < 2) return 0;
    unsigned cmd = val & 0xffff, code = (val >> 16) & 0xffff;
    char msg[64];
    switch (cmd) {
    case 0x5555: vm_request_exit(s->vm, VM_EXIT_FINISHER, 0, "guest finished: pass"); break;
    case 0x3333:
        snprintf(msg, sizeof(msg), "guest finished: fail, code %u", code);
        /* An exit status is 8 bits: keep a failure nonzero. */
        vm_request_exit(s->vm, VM_EXIT_FINISHER, code & 0xff ? (int)(code & 0xff) : 1, msg);
        break;
    case 0x7777: vm_request_exit(s->vm, VM_EXIT_RESET, 0, "guest requested reset"); break;
    }
    return 0;
}

static void syscon_destroy(void *dev)
{
    free(dev);
}

static int syscon_fdt(void *dev, struct fdt_ctx *c, uint64_t base, uint64_t size)
{
    static const char compat[] = "sifive,test1\0sifive,test0\0syscon";
    void *fdt = c->fdt;
    if (fdt_begin_dev(c, "test", base, size) < 0 ||
        fdt_property(fdt, "compatible", compat, sizeof(compat)) < 0 ||
        fdt_property_u32(fdt, "phandle", c->syscon_phandle) < 0 || fdt_end_node(fdt) < 0)
        return -1;
    static const char *const names[2] = {"poweroff", "reboot"};
    static const char *const compats[2] = {"syscon-poweroff", "syscon-reboot"};
    static const uint32_t values[2] = {0x5555, 0x7777};
    for (int i = 0; i < 2; i++) {
        if (fdt_begin_node(fdt, names[i]) < 0 ||
            fdt_property_string(fdt, "compatible", compats[i]) < 0 ||
            fdt_property_u32(fdt, "regmap", c->syscon_phandle) < 0 ||
            fdt_property_u32(fdt, "offset", 0) < 0 ||
            fdt_property_u32(fdt, "value", values[i]) < 0 || fdt_end_node(fdt) < 0)
            return -1;
    }
    return 0;
}

static const struct dev_ops syscon_ops = {
    .name = "syscon",
    .fdt = syscon_fdt,
    .read = syscon_read,
    .write = syscon_write,
    .destroy = syscon_destroy,
};

int syscon_create(struct vm *vm, uint64_t base)
{
    struct syscon *s = calloc(1, sizeof(*s));
    if (!s) return -1;
    s->vm = vm;
    if (bus_add_mmio(&vm->bus, base, 0x1000, &syscon_ops, s) < 0) {
        free(s);
        return -1;
    }
    return 0;
}
