/* Page sharing seen from the guest (vmon --share-pages; driven by
 * tests/integration/pageshare.sh, not by run.sh). The program fills
 * SAME pages with one content and UNIQUE pages with contents of their own,
 * says "pageshare: filled", and waits for a byte on the UART (the host
 * sends it once vmon reports the pages merged; without one it goes on
 * after 30 s). Then a store from the hart writes into page HART_PAGE, and
 * the virtio-rng device fills page DEV_PAGE (a device write, through its
 * queue), and every page must read as it should: the written ones changed,
 * every other one exactly as filled (a write to a shared page must never
 * be seen through another). It prints a checksum of all pages, waits for
 * a second byte (or 30 s) and exits through test_done. */
#include "common.h"

#define SAME      64
#define UNIQUE    8
#define HART_PAGE 3
#define DEV_PAGE  5
#define WORDS     512

static u64 pages[SAME + UNIQUE][WORDS] __attribute__((aligned(4096)));

static u64 pattern(unsigned page, unsigned w)
{
    u64 v = 0x5a5a000000000000ull + (u64)w * 0x9e3779b97f4a7c15ull;
    return page < SAME ? v : v ^ ((u64)page << 40);
}

static void fill(void)
{
    for (unsigned p = 0; p < SAME + UNIQUE; p++)
        for (unsigned w = 0; w < WORDS; w++)
            pages[p][w] = pattern(p, w);
    __asm__ volatile("fence rw, rw" ::: "memory");
}

/* The host's go: a byte on the UART, or 30 s. */
static void wait_go(void)
{
    volatile u8 *uart = (volatile u8 *)UART_BASE;
    for (u64 t0 = rdmtime(); rdmtime() - t0 < 300000000ull;)
        if (uart[5] & 1) {
            (void)uart[0];
            return;
        }
    printf_("pageshare: no go from the host, going on\n");
}

/* ---- a minimal virtio-rng driver (virtio-mmio 1.x, one request) ---- */

struct vq_desc {
    u64 addr;
    u32 len;
    u16 flags, next;
};
static struct {
    struct vq_desc desc[8];
    u16 avail[2 + 8 + 1];
    u8 pad[4096 - 8 * 16 - 22];
    u16 used_hdr[2];
    u32 used[2 * 8];
} vq __attribute__((aligned(4096)));

/* Ask the device to fill len bytes at buf; returns how many it wrote. */
static u32 rng_fill(u64 dev, void *buf, u32 len)
{
    mmio_write32(dev + 0x70, 0);
    mmio_write32(dev + 0x70, 1 | 2); /* ACKNOWLEDGE | DRIVER */
    mmio_write32(dev + 0x24, 1);     /* VIRTIO_F_VERSION_1 */
    mmio_write32(dev + 0x20, 1);
    mmio_write32(dev + 0x24, 0);
    mmio_write32(dev + 0x20, 0);
    mmio_write32(dev + 0x70, 1 | 2 | 8); /* FEATURES_OK */
    if (!(mmio_read32(dev + 0x70) & 8)) return 0;
    mmio_write32(dev + 0x30, 0);
    mmio_write32(dev + 0x38, 8);
    u64 addr[3] = {(u64)vq.desc, (u64)vq.avail, (u64)vq.used_hdr};
    for (unsigned i = 0; i < 3; i++) { /* 32-bit registers (4.2.2.2) */
        mmio_write32(dev + 0x80 + 0x10 * i, (u32)addr[i]);
        mmio_write32(dev + 0x84 + 0x10 * i, (u32)(addr[i] >> 32));
    }
    mmio_write32(dev + 0x44, 1);
    mmio_write32(dev + 0x70, 1 | 2 | 8 | 4); /* DRIVER_OK */
    vq.desc[0] = (struct vq_desc){.addr = (u64)buf, .len = len, .flags = 2 /* WRITE */};
    vq.avail[2] = 0;
    __asm__ volatile("fence rw, rw" ::: "memory");
    vq.avail[1] = 1;
    __asm__ volatile("fence rw, rw" ::: "memory");
    mmio_write32(dev + 0x50, 0);
    for (u64 t0 = rdmtime(); rdmtime() - t0 < 50000000ull;)
        if (*(volatile u16 *)&vq.used_hdr[1] == 1) return vq.used[1];
    return 0;
}

int main(void)
{
    fill();
    printf_("pageshare: filled\n");
    wait_go();
    pages[HART_PAGE][100] = 0x1234;
    u64 rng = virtio_find(4);
    CHECK("a virtio-rng device is there", rng != 0, 1);
    u32 got = rng ? rng_fill(rng, pages[DEV_PAGE], 4096) : 0;
    CHECK("the device filled its page", got > 64, 1);
    u64 sum = 0;
    unsigned bad = 0, dev_changed = 0;
    for (unsigned p = 0; p < SAME + UNIQUE; p++)
        for (unsigned w = 0; w < WORDS; w++) {
            u64 v = *(volatile u64 *)&pages[p][w];
            sum = sum * 31 + v;
            if (p == DEV_PAGE) {
                dev_changed += v != pattern(p, w);
                continue;
            }
            u64 want = p == HART_PAGE && w == 100 ? 0x1234 : pattern(p, w);
            if (v != want) bad++;
        }
    CHECK("every page reads as written", bad, 0);
    CHECK("the device's page changed", dev_changed > 4, 1);
    printf_("pageshare: checked, sum %lx\n", sum);
    wait_go(); /* the host reads vmon's figures while the pages are as checked */
    return test_done();
}
