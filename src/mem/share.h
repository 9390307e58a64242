/* In-hypervisor page sharing, the VM's side (`vmon run --share-pages`;
 * `share_pages` in a service VM's definition). Opt-in per VM: a VM whose
 * pages are shared can tell, by timing its writes, that another VM holds
 * the same content.
 *
 * A scan hashes guest pages at a set rate; a page whose hash did not change
 * since the scan before is a candidate. All-zero candidates are mapped to
 * the host's zero page at once; the others are offered to the page pool
 * (sharepool.h), owned by this process (a lone VM) or by `vmon serve` (all
 * its VMs, over the worker's control channel and a buffer shared with the
 * service). A page the pool already holds is merged: with the VM paused
 * and its device threads held, the guest page is compared with the pool's
 * byte for byte and, if equal, the pool's page is mapped copy-on-write in
 * its place, and every hart's TLB is flushed.
 *
 * From then on no hart gets a write translation for the page without
 * going through mmu.c, which breaks the sharing (mem_share_written) before
 * the store: the host kernel copies the page on that first write (or on a
 * device's), and the pool is told the page left it. */
#ifndef VMON_MEM_SHARE_H
#define VMON_MEM_SHARE_H
#include <stddef.h>
#include <stdint.h>

struct vm;
struct mem_share;

#define SHARE_SLOTS      256u  /* candidate pages per exchange */
#define SHARE_BROKEN_MAX 4096u /* pages reported unshared per exchange */

/* What the VM and the pool's owner exchange per round (in a memfd both map,
 * for the service; in the VM's own memory otherwise). Everything in it is
 * checked by whoever reads it. */
struct share_inbox {
    uint32_t ncand, nbroken, nmap, pad;
    uint64_t cand[SHARE_SLOTS];     /* VM: the guest page held in page[i] */
    uint64_t map_page[SHARE_SLOTS]; /* owner: map this guest page ... */
    uint64_t map_pidx[SHARE_SLOTS]; /* ... to this pool page */
    uint8_t mapped[SHARE_SLOTS];    /* VM: it did */
    uint32_t broken[SHARE_BROKEN_MAX];
    uint8_t page[SHARE_SLOTS][4096] __attribute__((aligned(4096)));
};

struct mem_share_stats {
    uint64_t pooled;              /* guest pages mapping a pool page now */
    uint64_t zero;                /* guest pages mapping the zero page now */
    uint64_t merged, zero_merged; /* merges so far */
    uint64_t broken_hart, broken_device;
    uint64_t scanned, rejected; /* pages hashed; offers that no longer matched */
};

/* rate: pages scanned per second (0: the default). pool_fd < 0: this VM
 * owns its pool and a thread of its own scans; else pool_fd is the
 * service's pool (read-only) and inbox_fd the exchange buffer, and the
 * service drives the scans (mem_share_scan/mem_share_map). Before any
 * vCPU runs. 0, or -1 with err. */
int mem_share_start(struct vm *vm, uint32_t rate, int pool_fd, int inbox_fd, char *err,
                    size_t errlen);
void mem_share_stop(struct vm *vm);
void mem_share_get_stats(struct vm *vm, struct mem_share_stats *st);

/* The RAM page at pa is about to be written by a hart (device = 0) or was
 * written by a device or the page walker (device = 1): it stops sharing. */
void mem_share_written(struct vm *vm, uint64_t pa, int device);
/* Is the RAM page shared (its content is not in this process's own
 * memory, so pagemap does not show it)? */
int mem_share_page_shared(struct vm *vm, uint64_t gpage);
/* Does it map the host's zero page (merged as all-zero)? */
int mem_share_page_zero(struct vm *vm, uint64_t gpage);

/* The guest gave the whole RAM pages [gpa, gpa + len) at host back (a
 * balloon): their memory goes back to the host, they read as zeros (or as
 * the snapshot a RAM was restored from) and stop sharing. */
void mem_discard(struct vm *vm, uint8_t *host, uint64_t gpa, uint64_t len);

/* Service mode: scan up to budget pages, leaving candidates and unshared
 * pages in the inbox (returns the pages gone through: fewer than budget
 * when the inbox filled up); then map what the service answered (returns
 * how many were). -1 with err when the VM is stopping. */
int mem_share_scan(struct vm *vm, uint32_t budget, char *err, size_t errlen);
int mem_share_map(struct vm *vm, uint32_t n, char *err, size_t errlen);
#endif
