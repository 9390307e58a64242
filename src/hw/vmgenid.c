/* Virtual machine generation ID (vmgenid.h). */
#include "hw/vmgenid.h"
#include "board/fdt.h"
#include "snap/snap.h"
#include "vmm/vm.h"
#include <libfdt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct vmgenid {
    struct irq_line irq;
    pthread_mutex_t lock;
    uint8_t id[16];
    int raised; /* a new generation the guest has not read yet */
};

static void new_generation(struct vmgenid *g)
{
    size_t got = 0;
    while (got < sizeof(g->id)) {
        ssize_t n = getrandom(g->id + got, sizeof(g->id) - got, 0);
        if (n > 0) got += (size_t)n;
    }
}

static int vmgenid_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
    struct vmgenid *g = dev;
    uint64_t v = 0;
    pthread_mutex_lock(&g->lock);
    if (off < sizeof(g->id) && off + size <= sizeof(g->id)) memcpy(&v, g->id + off, size);
    if (g->raised) { /* the guest looks at the new value: the notification is taken */
        g->raised = 0;
        irq_set(&g->irq, 0);
    }
    pthread_mutex_unlock(&g->lock);
    *val = v;
    return 0;
}

static int vmgenid_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
    return -1; /* read-only */
}

static int vmgenid_fdt(void *dev, struct fdt_ctx *c, uint64_t base, uint64_t size)
{
    struct vmgenid *g = dev;
    if (fdt_begin_dev(c, "vmgenid", base, size) < 0 ||
        fdt_property_string(c->fdt, "compatible", "microsoft,vmgenid") < 0 ||
        fdt_irq(c, g->irq.num) < 0)
        return -1;
    return fdt_end_node(c->fdt);
}

static void vmgenid_save(void *dev, struct snap_w *w)
{
    struct vmgenid *g = dev;
    pthread_mutex_lock(&g->lock);
    snap_put(w, g->id, sizeof(g->id));
    pthread_mutex_unlock(&g->lock);
}

/* A restored VM is a new generation: two VMs restored from one snapshot
 * (or one restored twice) must not share what the guest derived from the
 * old one (RNG state, identities). */
static int vmgenid_load(void *dev, struct snap_r *r)
{
    struct vmgenid *g = dev;
    uint8_t old[16];
    snap_get(r, old, sizeof(old));
    pthread_mutex_lock(&g->lock);
    do
        new_generation(g);
    while (!memcmp(old, g->id, sizeof(old)));
    g->raised = 1;
    irq_set(&g->irq, 1);
    pthread_mutex_unlock(&g->lock);
    return r->err[0] ? -1 : 0;
}

static void vmgenid_destroy(void *dev)
{
    struct vmgenid *g = dev;
    pthread_mutex_destroy(&g->lock);
    free(g);
}

static const struct dev_ops vmgenid_ops = {
    .name = "vmgenid",
    .fdt = vmgenid_fdt,
    .read = vmgenid_read,
    .write = vmgenid_write,
    .destroy = vmgenid_destroy,
    .save = vmgenid_save,
    .load = vmgenid_load,
};

int vmgenid_create(struct vm *vm, uint64_t base, struct irq_line irq)
{
    struct vmgenid *g = calloc(1, sizeof(*g));
    if (!g) return -1;
    g->irq = irq;
    pthread_mutex_init(&g->lock, NULL);
    new_generation(g);
    if (bus_add_mmio(&vm->bus, base, VMGENID_SIZE, &vmgenid_ops, g) < 0) {
        vmgenid_destroy(g);
        return -1;
    }
    return 0;
}
