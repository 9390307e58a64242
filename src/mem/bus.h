/* Guest physical address space: host-backed memory regions (RAM, ROM) and
 * MMIO device regions. Devices see region-relative, size-checked accesses. */
#ifndef VMON_BUS_H
#define VMON_BUS_H
#include <stdint.h>
#include <stddef.h>

/* Guest RAM is shared between vCPU threads (and device workers), and guests
 * race on it by design (lock-free code ordered by FENCE). Every access vmon
 * makes on a guest's behalf is therefore a relaxed atomic of the access
 * size (a plain mov on x86-64), byte by byte when misaligned. */
static inline uint64_t ram_load(const uint8_t *p, unsigned size)
{
    if (((uintptr_t)p & (size - 1)) == 0) {
        switch (size) {
        case 1: return __atomic_load_n(p, __ATOMIC_RELAXED);
        case 2: return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_RELAXED);
        case 4: return __atomic_load_n((const uint32_t *)(const void *)p, __ATOMIC_RELAXED);
        case 8: return __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_RELAXED);
        default: break;
        }
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < size && i < 8; i++)
        v |= (uint64_t)__atomic_load_n(p + i, __ATOMIC_RELAXED) << (8 * i);
    return v;
}

static inline void ram_store(uint8_t *p, unsigned size, uint64_t v)
{
    if (((uintptr_t)p & (size - 1)) == 0) {
        switch (size) {
        case 1: __atomic_store_n(p, (uint8_t)v, __ATOMIC_RELAXED); return;
        case 2: __atomic_store_n((uint16_t *)(void *)p, (uint16_t)v, __ATOMIC_RELAXED); return;
        case 4: __atomic_store_n((uint32_t *)(void *)p, (uint32_t)v, __ATOMIC_RELAXED); return;
        case 8: __atomic_store_n((uint64_t *)(void *)p, v, __ATOMIC_RELAXED); return;
        default: break;
        }
    }
    for (unsigned i = 0; i < size && i < 8; i++)
        __atomic_store_n(p + i, (uint8_t)(v >> (8 * i)), __ATOMIC_RELAXED);
}

/* Copy between guest RAM and a host buffer with relaxed atomic accesses
 * (8 bytes at a time once the guest side is aligned), for device payloads
 * the guest may be touching concurrently. */
static inline void ram_copy_from(void *dst, const uint8_t *src, size_t n)
{
    uint8_t *d = dst;
    while (n && ((uintptr_t)src & 7)) {
        *d++ = __atomic_load_n(src++, __ATOMIC_RELAXED);
        n--;
    }
    for (; n >= 8; n -= 8, src += 8, d += 8) {
        uint64_t v = __atomic_load_n((const uint64_t *)(const void *)src, __ATOMIC_RELAXED);
        __builtin_memcpy(d, &v, 8);
    }
    while (n--)
        *d++ = __atomic_load_n(src++, __ATOMIC_RELAXED);
}

static inline void ram_copy_to(uint8_t *dst, const void *src, size_t n)
{
    const uint8_t *s = src;
    while (n && ((uintptr_t)dst & 7)) {
        __atomic_store_n(dst++, *s++, __ATOMIC_RELAXED);
        n--;
    }
    for (; n >= 8; n -= 8, dst += 8, s += 8) {
        uint64_t v;
        __builtin_memcpy(&v, s, 8);
        __atomic_store_n((uint64_t *)(void *)dst, v, __ATOMIC_RELAXED);
    }
    while (n--)
        __atomic_store_n(dst++, *s++, __ATOMIC_RELAXED);
}

struct vm;
struct fdt_ctx;
struct snap_w;
struct snap_r;

/* Device operations. read/write get a region-relative offset and a size of
 * 1, 2, 4 or 8; they return 0, or -1 for an access the device rejects
 * (the hart then raises an access fault). */
struct dev_ops {
    const char *name;
    int (*read)(void *dev, uint64_t off, unsigned size, uint64_t *val);
    int (*write)(void *dev, uint64_t off, unsigned size, uint64_t val);
    void (*reset)(void *dev);
    /* Describe the device in the device tree (inside /soc; see board/fdt.h). */
    int (*fdt)(void *dev, struct fdt_ctx *ctx, uint64_t base, uint64_t size);
    void (*destroy)(void *dev);
    /* Snapshots (snap/snap.h), optional for a device with no state of its
     * own: save writes the device's state (the VM is paused, its vCPUs
     * parked); load reads it into a device built the same way, checking
     * every value, and returns 0 or -1 (with the reader's err set). */
    void (*save)(void *dev, struct snap_w *w);
    int (*load)(void *dev, struct snap_r *r);
    /* Optional: stop (on = 1) and let go (0) the device's own threads that
     * write guest RAM, around a snapshot. */
    void (*hold)(void *dev, int on);
};

struct mmio_region {
    uint64_t base, size;
    const struct dev_ops *ops;
    void *dev;
};

struct mem_region {
    uint64_t base, size;
    uint8_t *host;
    int readonly;
};

#define BUS_MAX_MMIO 48
#define BUS_MAX_MEM  4

struct bus {
    struct mmio_region mmio[BUS_MAX_MMIO];
    unsigned n_mmio;
    struct mem_region mem[BUS_MAX_MEM];
    unsigned n_mem;
};

int bus_add_mmio(struct bus *b, uint64_t base, uint64_t size, const struct dev_ops *ops, void *dev);
int bus_add_mem(struct bus *b, uint64_t base, uint64_t size, uint8_t *host, int readonly);
/* Host-backed region containing [pa, pa+len), or NULL. */
const struct mem_region *bus_find_mem(const struct bus *b, uint64_t pa, uint64_t len);
const struct mmio_region *bus_find_mmio(const struct bus *b, uint64_t pa, unsigned size);
/* Physical access (memory or device). 0 on success, -1 on access fault. */
int bus_read(struct bus *b, uint64_t pa, unsigned size, uint64_t *val);
int bus_write(struct bus *b, uint64_t pa, unsigned size, uint64_t val);
void bus_reset_devices(struct bus *b);
void bus_destroy_devices(struct bus *b);
#endif
