/* The page pool of in-hypervisor page sharing (sharepool.h). */
#include "mem/sharepool.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct pool_page {
    uint64_t hash;
    uint32_t refs, pending; /* mappings; offers not yet confirmed */
    uint32_t next;          /* hash chain or free list: slot + 1, or 0 */
    uint32_t used;
};

struct pool_seen {
    uint64_t hash; /* 0: empty */
    uint64_t who;  /* client id and guest page */
};

#define SEEN_MIN (1u << 14)
#define SEEN_MAX (1u << 21)

uint64_t share_page_hash(const uint8_t *data)
{
    /* Four independent lanes (multiply-xorshift), then mixed. */
    const uint64_t k = 0x9e3779b97f4a7c15ull;
    uint64_t h[4] = {k, k ^ 1, k ^ 2, k ^ 3};
    const uint64_t *w = (const uint64_t *)(const void *)data;
    for (unsigned i = 0; i < SHARE_PAGE / 8; i += 4)
        for (unsigned l = 0; l < 4; l++) {
            uint64_t v = h[l] ^ __atomic_load_n(&w[i + l], __ATOMIC_RELAXED);
            v *= k;
            h[l] = v ^ (v >> 31);
        }
    uint64_t r = h[0];
    for (unsigned l = 1; l < 4; l++)
        r = (r ^ h[l]) * k + (r >> 29);
    r ^= r >> 32;
    return r ? r : 1;
}

int share_pool_init(struct share_pool *p, uint32_t limit, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->fd = -1;
    if (!limit || limit > (1u << 28)) {
        snprintf(err, errlen, "page sharing: a pool of %u pages is out of range", limit);
        return -1;
    }
    p->limit = limit;
    for (p->nbuckets = 1024; p->nbuckets < limit; p->nbuckets <<= 1) {
    }
    p->fd = memfd_create("vmon-shared-pages", MFD_CLOEXEC);
    size_t bytes = (size_t)limit * SHARE_PAGE;
    if (p->fd < 0 || ftruncate(p->fd, (off_t)bytes) < 0) {
        snprintf(err, errlen, "page sharing: cannot make the page pool: %s", strerror(errno));
        share_pool_destroy(p);
        return -1;
    }
    p->map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, p->fd, 0);
    p->page = calloc(limit, sizeof(*p->page));
    p->bucket = calloc(p->nbuckets, sizeof(*p->bucket));
    p->seen_cap = SEEN_MIN;
    p->seen = calloc(p->seen_cap, sizeof(*p->seen));
    if (p->map == MAP_FAILED || !p->page || !p->bucket || !p->seen) {
        if (p->map == MAP_FAILED) p->map = NULL;
        snprintf(err, errlen, "page sharing: out of memory for the page pool");
        share_pool_destroy(p);
        return -1;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->next_client = 1;
    return 0;
}

void share_pool_destroy(struct share_pool *p)
{
    if (p->map) {
        munmap(p->map, (size_t)p->limit * SHARE_PAGE);
        pthread_mutex_destroy(&p->lock);
    }
    if (p->fd >= 0) close(p->fd);
    free(p->page);
    free(p->bucket);
    free(p->seen);
    memset(p, 0, sizeof(*p));
    p->fd = -1;
}

int share_pool_ro_fd(const struct share_pool *p)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", p->fd);
    return open(path, O_RDONLY | O_CLOEXEC);
}

int share_client_init(struct share_pool *p, struct share_client *c, uint64_t npages)
{
    memset(c, 0, sizeof(*c));
    c->ref = calloc(npages ? npages : 1, sizeof(*c->ref));
    if (!c->ref) return -1;
    c->npages = npages;
    pthread_mutex_lock(&p->lock);
    c->id = p->next_client++;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

/* ---- under the lock ---- */

static uint32_t *chain_head(struct share_pool *p, uint64_t hash)
{
    return &p->bucket[hash & (p->nbuckets - 1)];
}

static void page_free(struct share_pool *p, uint32_t idx)
{
    struct pool_page *pg = &p->page[idx];
    for (uint32_t *link = chain_head(p, pg->hash); *link; link = &p->page[*link - 1].next)
        if (*link == idx + 1) {
            *link = pg->next;
            break;
        }
    fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)idx * SHARE_PAGE,
              SHARE_PAGE);
    memset(pg, 0, sizeof(*pg));
    pg->next = p->free_head;
    p->free_head = idx + 1;
    p->held--;
}

static void page_unref(struct share_pool *p, uint32_t idx)
{
    struct pool_page *pg = &p->page[idx];
    if (pg->refs) {
        pg->refs--;
        p->refs--;
    }
    if (!pg->refs && !pg->pending) page_free(p, idx);
}

static int64_t page_new(struct share_pool *p, uint64_t hash, const uint8_t *data)
{
    uint32_t idx;
    if (p->free_head) {
        idx = p->free_head - 1;
        p->free_head = p->page[idx].next;
    } else if (p->npages < p->limit) {
        idx = p->npages++;
    } else {
        return -1;
    }
    memcpy(p->map + (size_t)idx * SHARE_PAGE, data, SHARE_PAGE);
    struct pool_page *pg = &p->page[idx];
    *pg = (struct pool_page){.hash = hash, .used = 1};
    uint32_t *head = chain_head(p, hash);
    pg->next = *head;
    *head = idx + 1;
    p->held++;
    return idx;
}

static int64_t page_find(struct share_pool *p, uint64_t hash, const uint8_t *data)
{
    for (uint32_t i = *chain_head(p, hash); i; i = p->page[i - 1].next) {
        const struct pool_page *pg = &p->page[i - 1];
        if (pg->hash == hash && !memcmp(p->map + (size_t)(i - 1) * SHARE_PAGE, data, SHARE_PAGE))
            return i - 1;
    }
    return -1;
}

/* Twice the room, or (at the largest size, or without memory) forget
 * everything seen so far: a content offered again is remembered anew. */
static void seen_grow(struct share_pool *p)
{
    uint32_t cap = p->seen_cap * 2, oldcap = p->seen_cap;
    struct pool_seen *old = p->seen, *s = cap <= SEEN_MAX ? calloc(cap, sizeof(*s)) : NULL;
    p->nseen = 0;
    if (!s) {
        memset(old, 0, (size_t)oldcap * sizeof(*old));
        return;
    }
    for (uint32_t i = 0; i < oldcap; i++) {
        if (!old[i].hash) continue;
        uint32_t j = (uint32_t)old[i].hash & (cap - 1);
        while (s[j].hash)
            j = (j + 1) & (cap - 1);
        s[j] = old[i];
        p->nseen++;
    }
    free(old);
    p->seen = s;
    p->seen_cap = cap;
}

/* Was this content offered before by someone else? If not, remember it. */
static int seen_before(struct share_pool *p, uint64_t hash, uint64_t who)
{
    if (p->nseen * 2 >= p->seen_cap) seen_grow(p);
    uint32_t j = (uint32_t)hash & (p->seen_cap - 1);
    for (; p->seen[j].hash; j = (j + 1) & (p->seen_cap - 1))
        if (p->seen[j].hash == hash && p->seen[j].who != who)
            return 1;
        else if (p->seen[j].hash == hash)
            return 0;
    p->seen[j] = (struct pool_seen){hash, who};
    p->nseen++;
    return 0;
}

/* ---- the interface ---- */

int64_t share_pool_offer(struct share_pool *p, struct share_client *c, uint64_t gpage,
                         const uint8_t *data)
{
    if (gpage >= c->npages) return -1;
    uint64_t hash = share_page_hash(data);
    pthread_mutex_lock(&p->lock);
    int64_t idx = page_find(p, hash, data);
    if (idx < 0 && seen_before(p, hash, c->id << 40 | gpage)) idx = page_new(p, hash, data);
    if (idx >= 0 && c->ref[gpage] == (uint32_t)idx + 1) idx = -1; /* maps it already */
    if (idx >= 0) p->page[idx].pending++;
    pthread_mutex_unlock(&p->lock);
    return idx;
}

void share_pool_confirm(struct share_pool *p, struct share_client *c, uint64_t gpage, uint32_t pidx,
                        int mapped)
{
    pthread_mutex_lock(&p->lock);
    struct pool_page *pg = pidx < p->npages ? &p->page[pidx] : NULL;
    if (pg && pg->used && pg->pending && gpage < c->npages) {
        pg->pending--;
        if (mapped) {
            uint32_t old = c->ref[gpage];
            pg->refs++;
            p->refs++;
            c->ref[gpage] = pidx + 1;
            if (old) {
                page_unref(p, old - 1);
            } else {
                c->nrefs++;
            }
        }
        if (!pg->refs && !pg->pending) page_free(p, pidx);
    }
    pthread_mutex_unlock(&p->lock);
}

void share_pool_drop(struct share_pool *p, struct share_client *c, uint64_t gpage)
{
    pthread_mutex_lock(&p->lock);
    if (gpage < c->npages && c->ref[gpage]) {
        uint32_t idx = c->ref[gpage] - 1;
        c->ref[gpage] = 0;
        c->nrefs--;
        page_unref(p, idx);
    }
    pthread_mutex_unlock(&p->lock);
}

void share_client_release(struct share_pool *p, struct share_client *c)
{
    for (uint64_t g = 0; c->ref && g < c->npages; g++)
        if (c->ref[g]) share_pool_drop(p, c, g);
    free(c->ref);
    c->ref = NULL;
    c->npages = 0;
}
