/* Device tree assembly with libfdt's sequential-write API. */
#ifndef VMON_FDT_H
#define VMON_FDT_H
#include <stddef.h>
#include <stdint.h>
struct vm;

#define FDT_MAX_HARTS 64 /* at least VM_MAX_CPUS (checked in fdt.c) */

struct fdt_ctx {
    void *fdt;
    struct vm *vm;
    uint32_t plic_phandle;
    uint32_t syscon_phandle;
    uint32_t intc_phandle[FDT_MAX_HARTS];
};

struct fdt_boot {
    const char *bootargs;
    uint64_t initrd_start, initrd_end; /* end == 0: no initrd */
};

/* Build the tree for vm into buf; returns the blob size or -1. */
int fdt_build(struct vm *vm, const struct fdt_boot *boot, void *buf, size_t size);

/* Helpers for device callbacks. */
int fdt_begin_dev(struct fdt_ctx *c, const char *name, uint64_t base, uint64_t size);
int fdt_prop_cells(void *fdt, const char *name, const uint32_t *cells, unsigned n);
int fdt_irq(struct fdt_ctx *c, unsigned irq);
#endif
