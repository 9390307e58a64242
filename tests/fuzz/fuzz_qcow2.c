/* libFuzzer target: the qcow2 opener (header, extensions, backing name, L1
 * and refcount tables, the L2 scan) on an arbitrary byte blob, and, when
 * the blob opens, reads, writes, write-zeroes, discards and info on it, so
 * the run-time paths meet whatever metadata got past the checks. The blob
 * lives in a memfd opened through /proc/self/fd. Build with `make fuzz`;
 * run build/fuzz/fuzz_qcow2 [corpus]. A seed corpus: a few images from
 * `vmon img create -f qcow2` and `qemu-img create -f qcow2`. */
#include "backend/block.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        fd = memfd_create("fuzz-qcow2", MFD_CLOEXEC);
        if (fd < 0) abort();
    }
    if (ftruncate(fd, 0) < 0 || (size && blk_pwrite_full(fd, 0, data, size) < 0)) abort();
    char path[64], err[512];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    /* The last byte picks read-only or read-write (the header is at the
     * front, so it rarely matters to the parser). */
    unsigned flags = size && (data[size - 1] & 1) ? BLK_RDONLY : 0;
    struct blk *b = blk_open(path, BLK_FMT_QCOW2, flags | BLK_NOLOCK, err, sizeof(err));
    if (!b) {
        if (!err[0]) abort(); /* a refusal always says why */
        return 0;
    }
    struct blk_info info;
    blk_info(b, &info);
    uint64_t vsize = blk_size(b);
    uint8_t buf[3 * 4096 + 100];
    /* a few ranges: the start, the end, and two picked by the blob */
    uint64_t offs[4] = {0, vsize > sizeof(buf) ? vsize - sizeof(buf) : 0, 0, 0};
    for (unsigned i = 2; i < 4 && size >= 8 * i; i++) {
        uint64_t v;
        memcpy(&v, data + size - 8 * (i - 1), 8);
        offs[i] = vsize ? v % vsize : 0;
    }
    for (unsigned i = 0; i < 4; i++) {
        uint64_t off = offs[i], len = sizeof(buf);
        if (off > vsize) off = vsize;
        if (len > vsize - off) len = vsize - off;
        blk_read(b, off, buf, (size_t)len);
        if (!flags) {
            memset(buf, (int)i + 1, sizeof(buf));
            blk_write(b, off, buf, (size_t)len);
            blk_read(b, off, buf, (size_t)len);
            blk_write_zeroes(b, off, len, (int)(i & 1));
            blk_discard(b, off, len);
            blk_write(b, off + len / 2, buf, (size_t)(len - len / 2));
        }
    }
    blk_flush(b);
    blk_info(b, &info);
    blk_close(b);
    return 0;
}
