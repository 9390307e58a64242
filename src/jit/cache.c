/* Dual-mapped code cache (see cache.h). */
#include "jit/cache.h"
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define DATA_SIZE  (4u << 20)
#define READY      (256u << 10) /* bytes of each half populated at a time */
#define READY_DATA (32u << 10)  /* of the data pages (slots: 8-32 bytes an access) */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

int jit_cache_init(struct jit_cache *c, size_t size)
{
    c->rw = c->rx = c->data = NULL;
    c->size = c->used = c->data_size = c->data_used = 0;
    c->scratch = NULL;
    int fd = memfd_create("vmon-jit", MFD_CLOEXEC);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)size) < 0) {
        close(fd);
        return -1;
    }
    /* one reservation: the executable view, then the data pages */
    uint8_t *rx = mmap(NULL, size + DATA_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int ok = rx != MAP_FAILED && rw != MAP_FAILED &&
             mmap(rx, size, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, fd, 0) != MAP_FAILED &&
             mmap(rx + size, DATA_SIZE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED;
    close(fd);
    if (!ok) {
        if (rw != MAP_FAILED) munmap(rw, size);
        if (rx != MAP_FAILED) munmap(rx, size + DATA_SIZE);
        return -1;
    }
    c->rw = rw;
    c->rx = rx;
    c->size = size;
    c->data = rx + size;
    c->data_size = DATA_SIZE;
    c->data_used = JIT_JC_BYTES;
    c->cold_used = size / 2;
    c->ready_hot = 0;
    c->ready_cold = size / 2;
    c->ready_data = 0;
    return 0;
}

/* The pages of half [.., end) from `used` on, READY bytes ahead, are made
 * present in both views with one call each instead of a page fault each
 * (two per page: one per view), which a host where faults are dear (a
 * VM) pays at every block's first bytes. Without MADV_POPULATE_* (Linux
 * before 5.14) the faults come as before. */
static void ready_half(struct jit_cache *c, size_t used, size_t *ready, size_t end)
{
    if (used + READY / 2 <= *ready || *ready >= end) return;
    size_t from = *ready > used ? *ready : used & ~(size_t)4095;
    size_t to = from + READY < end ? from + READY : end;
    madvise(c->rw + from, to - from, MADV_POPULATE_WRITE);
    madvise(c->rx + from, to - from, MADV_POPULATE_READ);
    *ready = to;
}

void jit_cache_ready(struct jit_cache *c)
{
    ready_half(c, c->used, &c->ready_hot, c->size / 2);
    ready_half(c, c->cold_used, &c->ready_cold, c->size);
    if (c->data_used + READY_DATA / 2 > c->ready_data && c->ready_data < c->data_size) {
        size_t from = c->ready_data > c->data_used ? c->ready_data : c->data_used & ~(size_t)4095;
        size_t to = from + READY_DATA < c->data_size ? from + READY_DATA : c->data_size;
        madvise(c->data + from, to - from, MADV_POPULATE_WRITE);
        c->ready_data = to;
    }
}

void jit_cache_destroy(struct jit_cache *c)
{
    if (c->rw) munmap(c->rw, c->size);
    if (c->rx) munmap(c->rx, c->size + c->data_size);
    c->rw = c->rx = c->data = NULL;
    free(c->scratch);
    c->scratch = NULL;
}

/* The pages of [from, to) of the code (both views: one memfd) and all of
 * the data go back to the host: a flush keeps only what is written anew. */
static void release(struct jit_cache *c, size_t from, size_t to)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    from = (from + page - 1) & ~(page - 1);
    if (to > from) madvise(c->rw + from, to - from, MADV_REMOVE);
}

void jit_cache_flush(struct jit_cache *c)
{
    release(c, c->start, c->used);
    release(c, c->size / 2, c->cold_used);
    madvise(c->data, c->data_used, MADV_DONTNEED); /* the jump table too: empty */
    c->used = c->start;
    c->cold_used = c->size / 2;
    c->ready_hot = c->start;
    c->ready_cold = c->size / 2;
    c->ready_data = 0;
    c->data_used = JIT_JC_BYTES;
    c->flushes++;
}
