/* A hostile guest: bare-metal M-mode code that pokes every device register
 * of the virt machine with random values and sizes, then drives every
 * virtio device through its handshake with rings, descriptors and
 * requests full of random bytes (loops, huge lengths, addresses outside
 * RAM, bogus indices), re-randomising them between notifications. vmon
 * must survive all of it: the program ends through the test finisher and
 * the test checks vmon's exit status (0), and that nothing outside what
 * the guest may touch changed. Faulting accesses are skipped by the trap
 * handler in start.S. */
#include <stdint.h>

extern volatile uint64_t traps;

#define FINISHER ((volatile uint32_t *)0x100000ul)
#define VIRTIO_BASE 0x10001000ul
#define VIRTIO_SLOTS 8
#define ROUNDS 12

static uint64_t seed = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

static void wr(uintptr_t a, unsigned size, uint64_t v)
{
    switch (size) {
    case 1: *(volatile uint8_t *)a = (uint8_t)v; break;
    case 2: *(volatile uint16_t *)a = (uint16_t)v; break;
    case 4: *(volatile uint32_t *)a = (uint32_t)v; break;
    default: *(volatile uint64_t *)a = v; break;
    }
}

static uint64_t rd(uintptr_t a, unsigned size)
{
    switch (size) {
    case 1: return *(volatile uint8_t *)a;
    case 2: return *(volatile uint16_t *)a;
    case 4: return *(volatile uint32_t *)a;
    default: return *(volatile uint64_t *)a;
    }
}

struct region {
    uintptr_t base, size;
};
/* RTC, CLINT, PLIC (priorities, pending, enables, contexts), UART, virtio
 * slots. The test finisher is left alone: writing it ends the run. */
static const struct region regions[] = {
    {0x101000, 0x1000},     {0x2000000, 0x10000}, {0xc000000, 0x3000},
    {0xc002000, 0x2000},    {0xc200000, 0x4000},  {0x10000000, 0x100},
    {VIRTIO_BASE, VIRTIO_SLOTS * 0x1000},
};

/* guest memory the rings, tables and buffers live in (all random) */
static uint8_t arena[256 * 1024] __attribute__((aligned(4096)));

static void scramble(void)
{
    for (unsigned i = 0; i < sizeof(arena); i += 8) {
        uint64_t v = rnd();
        /* bias some words towards plausible guest addresses and small
         * lengths so requests get past the first checks */
        if ((v & 3) == 0) v = (uintptr_t)arena + (v >> 8) % sizeof(arena);
        else if ((v & 3) == 1) v = (v >> 8) & 0x1fff;
        *(uint64_t *)(arena + i) = v;
    }
}

static void poke_registers(void)
{
    for (unsigned r = 0; r < sizeof(regions) / sizeof(regions[0]); r++) {
        uintptr_t b = regions[r].base, n = regions[r].size;
        for (uintptr_t off = 0; off < n; off += 4) {
            (void)rd(b + off, 4);
            if ((rnd() & 7) == 0) wr(b + off, 4, rnd());
        }
        for (unsigned i = 0; i < 2000; i++) {
            unsigned size = 1u << (rnd() & 3);
            uintptr_t a = b + rnd() % n;
            if (rnd() & 1) wr(a, size, rnd());
            else (void)rd(a, size);
        }
    }
}

static void v32(uintptr_t dev, unsigned off, uint32_t v) { wr(dev + off, 4, v); }

static void drive_virtio(void)
{
    for (unsigned s = 0; s < VIRTIO_SLOTS; s++) {
        uintptr_t dev = VIRTIO_BASE + 0x1000ul * s;
        if (rd(dev, 4) != 0x74726976 || rd(dev + 8, 4) == 0) continue; /* no device */
        for (unsigned round = 0; round < ROUNDS; round++) {
            v32(dev, 0x70, 0); /* reset */
            v32(dev, 0x70, 1);
            v32(dev, 0x70, 3);
            for (unsigned sel = 0; sel < 2; sel++) {
                v32(dev, 0x14, sel);
                uint32_t offered = (uint32_t)rd(dev + 0x10, 4);
                v32(dev, 0x24, sel);
                v32(dev, 0x20, round & 1 ? offered : (uint32_t)rnd() | (sel ? 1u : 0u));
            }
            v32(dev, 0x70, 11);
            uintptr_t qrings[3];
            uint32_t qnum[3];
            uint16_t qidx[3] = {0, 0, 0};
            for (unsigned q = 0; q < 3; q++) {
                uintptr_t rings = (uintptr_t)arena + 0x1000ul * (rnd() % 60);
                qrings[q] = rings;
                qnum[q] = 1u << (rnd() % 7);
                v32(dev, 0x30, q);
                v32(dev, 0x38, round == 3 ? (uint32_t)rnd() : qnum[q]);
                v32(dev, 0x80, round == 5 ? (uint32_t)rnd() : (uint32_t)rings);
                v32(dev, 0x84, round == 5 ? (uint32_t)rnd() : 0);
                v32(dev, 0x90, (uint32_t)(rings + 0x800));
                v32(dev, 0x94, 0);
                v32(dev, 0xa0, (uint32_t)(rings + 0xc00));
                v32(dev, 0xa4, round == 7 ? 0xffffffffu : 0);
                v32(dev, 0x44, 1);
            }
            v32(dev, 0x70, 15);
            for (unsigned k = 0; k < 8; k++) {
                scramble();
                /* mostly well-formed rings holding random descriptors */
                for (unsigned q = 0; q < 3 && (k & 3) != 3; q++) {
                    volatile uint16_t *avail = (volatile uint16_t *)(qrings[q] + 0x800);
                    volatile uint64_t *desc = (volatile uint64_t *)qrings[q];
                    for (unsigned i = 0; i < qnum[q]; i++) {
                        uint64_t r = rnd();
                        desc[2 * i] = (uintptr_t)arena + (r >> 40) % sizeof(arena);
                        if ((r & 15) == 0) desc[2 * i] = rnd();
                        uint32_t len = (r & 16) ? (uint32_t)(r >> 8) & 0x3fff : (uint32_t)rnd();
                        uint16_t flags = (uint16_t)(r >> 20) & 7, next = (uint16_t)((r >> 24) % qnum[q]);
                        if (k & 1) { /* well-formed chains: readable head, writable tail */
                            flags = (uint16_t)((i % 3 != 2 && i + 1 < qnum[q]) ? 1 : 0) |
                                    (uint16_t)(i % 3 != 0 ? 2 : 0);
                            next = (uint16_t)(i + 1);
                            len &= 0xfff;
                            desc[2 * i] = (uintptr_t)arena + 64 * ((r >> 40) % (sizeof(arena) / 64 - 64));
                            *(volatile uint32_t *)desc[2 * i] = (uint32_t)(r >> 28) % 16; /* a request type */
                        } else if (flags & 4 && (r & 0x300)) {
                            flags &= 3; /* indirect tables only now and then */
                        }
                        desc[2 * i + 1] = len | (uint64_t)flags << 32 | (uint64_t)next << 48;
                    }
                    qidx[q] = (uint16_t)(qidx[q] + 1 + rnd() % 2);
                    for (unsigned i = 0; i < qnum[q]; i++)
                        avail[2 + i] = (uint16_t)((k & 1) ? 3 * (rnd() % (qnum[q] / 3 + 1)) % qnum[q] : rnd() % qnum[q]);
                    avail[0] = (uint16_t)(rnd() & 1);
                    avail[1] = qidx[q];
                }
                for (unsigned q = 0; q < 3; q++) v32(dev, 0x50, q);
                v32(dev, 0x64, (uint32_t)rnd()); /* interrupt ack */
                for (volatile unsigned spin = 0; spin < 20000; spin++) {
                }
            }
        }
        v32(dev, 0x70, 0);
    }
}

int main(void)
{
    poke_registers();
    drive_virtio();
    poke_registers();
    *FINISHER = 0x5555;
    for (;;) {
    }
}
