#include "mem/bus.h"
#include <string.h>

int bus_add_mmio(struct bus *b, uint64_t base, uint64_t size, const struct dev_ops *ops, void *dev)
{
    if (b->n_mmio >= BUS_MAX_MMIO || size == 0 || base + size < base) return -1;
    for (unsigned i = 0; i < b->n_mmio; i++) {
        const struct mmio_region *r = &b->mmio[i];
        if (base < r->base + r->size && r->base < base + size) return -1;
    }
    b->mmio[b->n_mmio++] = (struct mmio_region){base, size, ops, dev};
    return 0;
}

int bus_add_mem(struct bus *b, uint64_t base, uint64_t size, uint8_t *host, int readonly)
{
    if (b->n_mem >= BUS_MAX_MEM || size == 0 || base + size < base) return -1;
    b->mem[b->n_mem++] = (struct mem_region){base, size, host, readonly};
    return 0;
}

const struct mem_region *bus_find_mem(const struct bus *b, uint64_t pa, uint64_t len)
{
    for (unsigned i = 0; i < b->n_mem; i++) {
        const struct mem_region *r = &b->mem[i];
        if (pa >= r->base && pa - r->base < r->size && len <= r->size - (pa - r->base)) return r;
    }
    return NULL;
}

const struct mmio_region *bus_find_mmio(const struct bus *b, uint64_t pa, unsigned size)
{
    for (unsigned i = 0; i < b->n_mmio; i++) {
        const struct mmio_region *r = &b->mmio[i];
        if (pa >= r->base && pa - r->base < r->size && size <= r->size - (pa - r->base)) return r;
    }
    return NULL;
}

int bus_read(struct bus *b, uint64_t pa, unsigned size, uint64_t *val)
{
    const struct mem_region *m = bus_find_mem(b, pa, size);
    if (m) {
        *val = ram_load(m->host + (pa - m->base), size);
        return 0;
    }
    const struct mmio_region *r = bus_find_mmio(b, pa, size);
    if (!r || !r->ops->read || (pa & (size - 1))) return -1;
    uint64_t v = 0;
    if (r->ops->read(r->dev, pa - r->base, size, &v) < 0) return -1;
    if (size < 8) v &= (1ull << (size * 8)) - 1;
    *val = v;
    return 0;
}

int bus_write(struct bus *b, uint64_t pa, unsigned size, uint64_t val)
{
    const struct mem_region *m = bus_find_mem(b, pa, size);
    if (m) {
        if (m->readonly) return -1;
        ram_store(m->host + (pa - m->base), size, val);
        return 0;
    }
    const struct mmio_region *r = bus_find_mmio(b, pa, size);
    if (!r || !r->ops->write || (pa & (size - 1))) return -1;
    if (size < 8) val &= (1ull << (size * 8)) - 1;
    return r->ops->write(r->dev, pa - r->base, size, val);
}

void bus_reset_devices(struct bus *b)
{
    for (unsigned i = 0; i < b->n_mmio; i++)
        if (b->mmio[i].ops->reset) b->mmio[i].ops->reset(b->mmio[i].dev);
}

void bus_destroy_devices(struct bus *b)
{
    /* Newest first: a device added later (virtio, with its own I/O thread)
     * may raise interrupts on a controller added before it until it is
     * destroyed itself. */
    while (b->n_mmio) {
        const struct mmio_region *r = &b->mmio[--b->n_mmio];
        if (r->ops->destroy) r->ops->destroy(r->dev);
    }
}
