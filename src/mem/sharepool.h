/* The page pool of in-hypervisor page sharing (share.h has the VM side).
 *
 * The pool is a memfd holding one copy of each page content that two or
 * more guest pages were found to hold; VMs map those pages copy-on-write
 * over their own RAM. Whoever owns the pool (`vmon serve` for all its VMs,
 * or a lone `vmon run --share-pages` for itself) is its only writer: VMs
 * get it read-only and only ever offer contents, so a VM cannot change a
 * page another VM maps.
 *
 * A content offered for the first time is only remembered (by hash and
 * who offered it); a second guest page with that hash, from anyone else,
 * makes the pool copy it and tell the offerer to map it, and the first
 * offerer maps it at its next offer (as KSM's unstable and stable trees).
 * Every mapping is a reference the pool counts per client and guest page:
 * a client reports the pages it stopped sharing (written) by guest page
 * number, which can only drop its own references, and when a pool page
 * has none left its memory is given back (a hole punched in the memfd). */
#ifndef VMON_MEM_SHAREPOOL_H
#define VMON_MEM_SHAREPOOL_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SHARE_PAGE 4096u

struct share_client {
    uint32_t *ref; /* per guest page: pool page + 1, or 0 */
    uint64_t npages;
    _Atomic uint64_t nrefs; /* guest pages mapping a pool page (read by anyone) */
    uint64_t id;            /* tells offerers apart */
};

struct share_pool {
    int fd;         /* the memfd, read-write */
    uint8_t *map;   /* all of it, read-write */
    uint32_t limit; /* pages it may hold */
    struct pool_page *page;
    uint32_t npages;        /* slots used so far (free ones are on the free list) */
    uint32_t free_head;     /* a free slot + 1, or 0 */
    uint32_t *bucket;       /* hash index: slot + 1, chained through pool_page.next */
    uint32_t nbuckets;      /* a power of two */
    struct pool_seen *seen; /* contents offered once */
    uint32_t nseen, seen_cap;
    uint64_t next_client;
    uint64_t held, refs; /* pages holding content; references to them */
    pthread_mutex_t lock;
};

/* A page's content hash (64 bits, not cryptographic: equal hashes are
 * always compared byte for byte). data may be guest RAM being written. */
uint64_t share_page_hash(const uint8_t *data);

/* limit: most pages the pool holds. 0, or -1 with err. */
int share_pool_init(struct share_pool *p, uint32_t limit, char *err, size_t errlen);
void share_pool_destroy(struct share_pool *p);
/* A read-only descriptor of the pool for a VM (close it when sent). */
int share_pool_ro_fd(const struct share_pool *p);

int share_client_init(struct share_pool *p, struct share_client *c, uint64_t npages);
/* The client is gone: every reference it held is dropped. */
void share_client_release(struct share_pool *p, struct share_client *c);

/* Client c's guest page gpage holds data (a private copy, not guest RAM):
 * returns the pool page it should map, or -1 (first seen, pool full, or
 * gpage out of range). Each page returned must be answered with
 * share_pool_confirm (mapped or not). */
int64_t share_pool_offer(struct share_pool *p, struct share_client *c, uint64_t gpage,
                         const uint8_t *data);
void share_pool_confirm(struct share_pool *p, struct share_client *c, uint64_t gpage, uint32_t pidx,
                        int mapped);
/* c's guest page gpage no longer maps its pool page (a write broke it). */
void share_pool_drop(struct share_pool *p, struct share_client *c, uint64_t gpage);
#endif
