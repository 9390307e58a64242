/* Dual-mapped code cache (see cache.h). */
#include "jit/cache.h"
#include <sys/mman.h>
#include <unistd.h>

int jit_cache_init(struct jit_cache *c, size_t size)
{
    c->rw = c->rx = NULL;
    c->size = c->used = 0;
    int fd = memfd_create("vmon-jit", MFD_CLOEXEC);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)size) < 0) {
        close(fd);
        return -1;
    }
    void *rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    void *rx = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    close(fd);
    if (rw == MAP_FAILED || rx == MAP_FAILED) {
        if (rw != MAP_FAILED) munmap(rw, size);
        if (rx != MAP_FAILED) munmap(rx, size);
        return -1;
    }
    c->rw = rw;
    c->rx = rx;
    c->size = size;
    return 0;
}

void jit_cache_destroy(struct jit_cache *c)
{
    if (c->rw) munmap(c->rw, c->size);
    if (c->rx) munmap(c->rx, c->size);
    c->rw = c->rx = NULL;
}

void jit_cache_flush(struct jit_cache *c)
{
    c->used = c->start;
    c->flushes++;
}
