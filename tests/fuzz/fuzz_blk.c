/* libFuzzer target: the virtio-blk request parser. The input picks the
 * backend (raw or qcow2, read-write or ,ro), the features the driver
 * accepts, and a series of requests: each is a descriptor chain of up to
 * eight segments (device-readable or -writable, direct or through an
 * indirect table) over a buffer whose bytes (request header, data,
 * discard/write-zeroes ranges) come from the input. The device serves them
 * on its worker thread; the fuzzer waits for each completion. The
 * sanitizers catch any access outside guest memory or the device's and
 * backend's state; used lengths are checked against the chain.
 * Build with `make fuzz`; run build/fuzz/fuzz_blk [corpus]. */
#include "vmm/devices.h"
#include "virtio_driver.h"
#include "virtio/devices.h"
#include "backend/block.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM       (1u << 20)
#define RINGS     (VM_RAM_BASE + 0x10000)
#define ITABLE    (VM_RAM_BASE + 0x20000)
#define BUF       (VM_RAM_BASE + 0x40000) /* request bytes from the input */
#define BUF_SIZE  0x40000
#define QN        16
#define DISK_SIZE (256u << 10)

/* Disk images, reset to their initial content before every input so that
 * each input is reproducible. */
static int raw_fd = -1, qcow_fd = -1;
static uint8_t *qcow_init;
static size_t qcow_init_len;

static void setup_images(void)
{
    raw_fd = memfd_create("fuzz-blk-raw", MFD_CLOEXEC);
    qcow_fd = memfd_create("fuzz-blk-qcow2", MFD_CLOEXEC);
    char tmpl[] = "/tmp/fuzz-blk-XXXXXX", err[256];
    int tfd = mkstemp(tmpl);
    if (raw_fd < 0 || qcow_fd < 0 || tfd < 0) abort();
    close(tfd);
    unlink(tmpl);
    /* a qcow2 with 4 KiB clusters and a little data in it */
    if (blk_create(tmpl, BLK_FMT_QCOW2, DISK_SIZE, NULL, BLK_FMT_PROBE, 12, err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz setup: %s\n", err);
        abort();
    }
    struct blk *b = blk_open(tmpl, BLK_FMT_QCOW2, 0, err, sizeof(err));
    if (!b) abort();
    uint8_t pat[10000];
    for (unsigned i = 0; i < sizeof(pat); i++)
        pat[i] = (uint8_t)(i * 7);
    blk_write(b, 5000, pat, sizeof(pat));
    blk_close(b);
    int fd = open(tmpl, O_RDONLY);
    off_t len = lseek(fd, 0, SEEK_END);
    qcow_init = malloc((size_t)len);
    qcow_init_len = (size_t)len;
    if (fd < 0 || !qcow_init || blk_pread_full(fd, 0, qcow_init, (size_t)len) < 0) abort();
    close(fd);
    unlink(tmpl);
}

static void reset_images(void)
{
    if (ftruncate(raw_fd, 0) < 0 || ftruncate(raw_fd, DISK_SIZE) < 0) abort();
    blk_pwrite_full(raw_fd, 0, "raw disk", 8);
    if (ftruncate(qcow_fd, 0) < 0 || blk_pwrite_full(qcow_fd, 0, qcow_init, qcow_init_len) < 0)
        abort();
}

static int broken(struct tdrv *t)
{
    return (tdrv_rd(t, TV_STATUS) & VIRTIO_STATUS_NEEDS_RESET) != 0;
}

/* Wait for the worker: the used index catches up, or the device broke. */
static void wait_done(struct tdrv *t)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (tdrv_used_idx(t) == t->avail_idx || broken(t)) return;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 5) {
            fprintf(stderr, "fuzz_blk: request not completed in 5 s\n");
            abort();
        }
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
}

struct in {
    const uint8_t *p;
    size_t n;
};

static unsigned take(struct in *in, unsigned bytes)
{
    unsigned v = 0;
    for (unsigned i = 0; i < bytes; i++) {
        v = v << 8 | (in->n ? *in->p : 0);
        if (in->n) in->p++, in->n--;
    }
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (raw_fd < 0) setup_images();
    reset_images();
    struct in in = {data, size};
    unsigned cfg = take(&in, 1);
    char spec[128], err[256];
    snprintf(spec, sizeof(spec), "/proc/self/fd/%d,format=%s%s", (cfg & 1) ? qcow_fd : raw_fd,
             (cfg & 1) ? "qcow2" : "raw", (cfg & 2) ? ",ro" : "");
    struct vm_config vc = {.ram_size = RAM, .ncpus = 1, .hyp_sbi = 1};
    struct vm *vm = vm_create(&vc, err, sizeof(err));
    if (!vm || virt_board_create(vm, err, sizeof(err)) < 0 ||
        vmdev_add_spec(vm, DEVCFG_DISK, spec, err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz setup: %s\n", err);
        abort();
    }
    struct tdrv t;
    /* every feature the device offers, minus what cfg bits 2..5 drop */
    uint64_t feats = ~0ull;
    if (cfg & 4) feats &= ~VIRTIO_F_INDIRECT_DESC;
    if (cfg & 8) feats &= ~VIRTIO_F_EVENT_IDX;
    if (cfg & 16) feats &= ~(1ull << 13); /* DISCARD */
    if (cfg & 32) feats &= ~(1ull << 14); /* WRITE_ZEROES */
    tdrv_init(&t, vm, VIRT_VIRTIO_BASE, 0, QN, RINGS, feats);
    uint8_t *buf = tdrv_ram(&t, BUF);
    uint8_t *itab = tdrv_ram(&t, ITABLE);
    for (unsigned r = 0; r < 24 && in.n && !broken(&t); r++) {
        /* request bytes: header and data, copied to the start of BUF */
        unsigned hdr = take(&in, 1);
        unsigned nbytes = hdr & 0x3f;
        memset(buf, 0, 64);
        buf[0] = (uint8_t)take(&in, 1) % 16; /* type: mostly valid ones */
        buf[8] = (uint8_t)take(&in, 1);      /* sector, low bytes */
        buf[9] = (uint8_t)take(&in, 1);
        if (hdr & 0x40) buf[15] = 0x80; /* or a huge one */
        for (unsigned i = 0; i < nbytes && in.n; i++)
            buf[16 + i] = (uint8_t)take(&in, 1);
        /* the chain */
        unsigned nseg = 1 + take(&in, 1) % 8;
        int indirect = (hdr & 0x80) != 0;
        uint8_t *dt = indirect ? itab : tdrv_ram(&t, t.desc);
        unsigned base = 0; /* chains start at descriptor 0 */
        for (unsigned i = 0; i < nseg; i++) {
            unsigned a = take(&in, 2), l = take(&in, 2), f = take(&in, 1);
            /* the first segment usually holds the header at BUF */
            uint64_t addr = i == 0 && !(f & 0x40) ? BUF : BUF + (a % BUF_SIZE);
            /* odd l: whole sectors; even l: any small size */
            uint32_t len = l % 2 ? (l >> 1) * 512u : (l >> 1) % 600;
            if (addr + len > BUF + BUF_SIZE) len = (uint32_t)(BUF + BUF_SIZE - addr);
            uint16_t flags = (uint16_t)(f & VRING_DESC_F_WRITE);
            if (i + 1 < nseg) flags |= VRING_DESC_F_NEXT;
            if (f & 0x80) flags ^= VRING_DESC_F_NEXT; /* sometimes a bad chain */
            uint16_t next = (uint16_t)(base + i + 1);
            uint8_t *d = dt + 16 * (base + i);
            memcpy(d, &addr, 8);
            memcpy(d + 8, &len, 4);
            memcpy(d + 12, &flags, 2);
            memcpy(d + 14, &next, 2);
        }
        if (indirect) tdrv_desc(&t, 0, ITABLE, 16 * nseg, VRING_DESC_F_INDIRECT, 0);
        uint16_t used_before = tdrv_used_idx(&t);
        tdrv_kick(&t, 0, 0);
        wait_done(&t);
        if (!broken(&t) && tdrv_used_idx(&t) != used_before) {
            uint32_t id, len;
            tdrv_used_elem(&t, used_before, &id, &len);
            if (id != 0 || len > BUF_SIZE * 8u) abort(); /* impossible completion */
        }
    }
    vm_destroy(vm);
    return 0;
}
