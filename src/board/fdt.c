/* Generates the flattened device tree from the machine as built: cpus with
 * their interrupt controllers, memory, chosen, and one node per attached
 * device (each device writes its own node). Devicetree spec v0.4 and the
 * Linux RISC-V bindings (cpus.yaml, sifive,plic, riscv,clint0). */
#include "board/fdt.h"
#include "vmm/vm.h"
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int r_ = (x);                                                                              \
        if (r_ < 0) return r_;                                                                     \
    } while (0)

/* Up to 4 cells per hart: interrupts-extended of the CLINT and PLIC. */
#define MAX_CELLS (4 * FDT_MAX_HARTS)

int fdt_prop_cells(void *fdt, const char *name, const uint32_t *cells, unsigned n)
{
    fdt32_t be[MAX_CELLS];
    if (n > MAX_CELLS) return -1;
    for (unsigned i = 0; i < n; i++)
        be[i] = cpu_to_fdt32(cells[i]);
    return fdt_property(fdt, name, be, (int)(n * sizeof(fdt32_t)));
}

int fdt_begin_dev(struct fdt_ctx *c, const char *name, uint64_t base, uint64_t size)
{
    char node[64];
    snprintf(node, sizeof(node), "%s@%llx", name, (unsigned long long)base);
    TRY(fdt_begin_node(c->fdt, node));
    uint32_t reg[4] = {(uint32_t)(base >> 32), (uint32_t)base, (uint32_t)(size >> 32),
                       (uint32_t)size};
    return fdt_prop_cells(c->fdt, "reg", reg, 4);
}

int fdt_irq(struct fdt_ctx *c, unsigned irq)
{
    TRY(fdt_property_u32(c->fdt, "interrupts", irq));
    return fdt_property_u32(c->fdt, "interrupt-parent", c->plic_phandle);
}

static int fdt_cpus(struct fdt_ctx *c)
{
    void *fdt = c->fdt;
    TRY(fdt_begin_node(fdt, "cpus"));
    TRY(fdt_property_u32(fdt, "#address-cells", 1));
    TRY(fdt_property_u32(fdt, "#size-cells", 0));
    TRY(fdt_property_u32(fdt, "timebase-frequency", VM_TIMEBASE_HZ));
    for (unsigned i = 0; i < c->vm->ncpus; i++) {
        char name[32];
        snprintf(name, sizeof(name), "cpu@%u", i);
        TRY(fdt_begin_node(fdt, name));
        TRY(fdt_property_string(fdt, "device_type", "cpu"));
        TRY(fdt_property_u32(fdt, "reg", i));
        TRY(fdt_property_string(fdt, "status", "okay"));
        TRY(fdt_property_string(fdt, "compatible", "riscv"));
        TRY(fdt_property_string(fdt, "riscv,isa", "rv64imafdc_zicntr_zicsr_zifencei_zihintpause"));
        TRY(fdt_property_string(fdt, "mmu-type", "riscv,sv57"));
        TRY(fdt_property_u32(fdt, "phandle", 0x100 + i));
        TRY(fdt_begin_node(fdt, "interrupt-controller"));
        TRY(fdt_property_u32(fdt, "#interrupt-cells", 1));
        TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
        TRY(fdt_property_string(fdt, "compatible", "riscv,cpu-intc"));
        TRY(fdt_property_u32(fdt, "phandle", c->intc_phandle[i]));
        TRY(fdt_end_node(fdt));
        TRY(fdt_end_node(fdt));
    }
    TRY(fdt_begin_node(fdt, "cpu-map"));
    TRY(fdt_begin_node(fdt, "cluster0"));
    for (unsigned i = 0; i < c->vm->ncpus; i++) {
        char name[32];
        snprintf(name, sizeof(name), "core%u", i);
        TRY(fdt_begin_node(fdt, name));
        TRY(fdt_property_u32(fdt, "cpu", 0x100 + i));
        TRY(fdt_end_node(fdt));
    }
    TRY(fdt_end_node(fdt));
    TRY(fdt_end_node(fdt));
    return fdt_end_node(fdt);
}

_Static_assert(VM_MAX_CPUS <= FDT_MAX_HARTS, "an interrupt controller phandle per hart");

int fdt_build(struct vm *vm, const struct fdt_boot *boot, void *buf, size_t size)
{
    struct fdt_ctx c = {.fdt = buf, .vm = vm, .plic_phandle = 1, .syscon_phandle = 2};
    for (unsigned i = 0; i < VM_MAX_CPUS; i++)
        c.intc_phandle[i] = 0x10 + i;
    void *fdt = buf;
    TRY(fdt_create(fdt, (int)size));
    TRY(fdt_finish_reservemap(fdt));
    TRY(fdt_begin_node(fdt, ""));
    TRY(fdt_property_u32(fdt, "#address-cells", 2));
    TRY(fdt_property_u32(fdt, "#size-cells", 2));
    TRY(fdt_property_string(fdt, "compatible", "riscv-virtio"));
    TRY(fdt_property_string(fdt, "model", "vmon,virt"));

    TRY(fdt_begin_node(fdt, "chosen"));
    if (boot && boot->bootargs) TRY(fdt_property_string(fdt, "bootargs", boot->bootargs));
    TRY(fdt_property_string(fdt, "stdout-path", "/soc/serial@10000000"));
    if (boot && boot->initrd_end) {
        TRY(fdt_property_u64(fdt, "linux,initrd-start", boot->initrd_start));
        TRY(fdt_property_u64(fdt, "linux,initrd-end", boot->initrd_end));
    }
    TRY(fdt_end_node(fdt));

    char mem[40];
    snprintf(mem, sizeof(mem), "memory@%llx", (unsigned long long)vm->ram_base);
    TRY(fdt_begin_node(fdt, mem));
    TRY(fdt_property_string(fdt, "device_type", "memory"));
    uint32_t reg[4] = {(uint32_t)(vm->ram_base >> 32), (uint32_t)vm->ram_base,
                       (uint32_t)(vm->ram_size >> 32), (uint32_t)vm->ram_size};
    TRY(fdt_prop_cells(fdt, "reg", reg, 4));
    TRY(fdt_end_node(fdt));

    TRY(fdt_cpus(&c));

    TRY(fdt_begin_node(fdt, "soc"));
    TRY(fdt_property_u32(fdt, "#address-cells", 2));
    TRY(fdt_property_u32(fdt, "#size-cells", 2));
    TRY(fdt_property_string(fdt, "compatible", "simple-bus"));
    TRY(fdt_property(fdt, "ranges", NULL, 0));
    for (unsigned i = 0; i < vm->bus.n_mmio; i++) {
        const struct mmio_region *r = &vm->bus.mmio[i];
        if (r->ops->fdt) TRY(r->ops->fdt(r->dev, &c, r->base, r->size));
    }
    TRY(fdt_end_node(fdt));

    TRY(fdt_end_node(fdt));
    TRY(fdt_finish(fdt));
    return (int)fdt_totalsize(fdt);
}
