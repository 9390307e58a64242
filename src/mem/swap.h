/* Hypervisor swap (--mem-limit SIZE): at most SIZE of guest RAM stays in
 * host memory; colder pages go to a swap file of the VM's own and come
 * back when touched. Cold means not translated by any hart since the
 * clock hand last passed (harts mark the pages their TLB fills map; the
 * TLBs are flushed once per turn of the hand). A page goes out atomically:
 * mremap(MREMAP_DONTUNMAP) takes it away from guest RAM in one step, so a
 * vCPU or device writing it at that moment either wrote it before (and
 * the write is saved) or faults; every fault on guest RAM (a vCPU, a
 * device thread, the loader: no user of RAM needs to know) is served by
 * a userfaultfd thread that reads the page back, or maps zeros for a page
 * never written. All-zero pages go first (a scan for them comes before the
 * clock) and are dropped, not written out. Anonymous RAM only
 * (not a RAM restored from a snapshot file). */
#ifndef VMON_MEM_SWAP_H
#define VMON_MEM_SWAP_H
#include <stddef.h>
#include <stdint.h>

struct vm;
struct mem_swap;

struct mem_swap_stats {
    uint64_t limit_pages, resident_pages;
    uint64_t max_limit_pages;   /* --mem-limit: the most the limit may be set to */
    uint64_t out, in;           /* pages written to the swap file and read back */
    uint64_t zero_out, zero_in; /* all-zero pages dropped, and mapped as zeros */
};

/* Start: guest RAM resident at most limit bytes; the swap file is made
 * (and unlinked at once) in dir. Before the VM touches its RAM (right
 * after vm_create). 0, or -1 with err. */
int mem_swap_start(struct vm *vm, uint64_t limit, const char *dir, char *err, size_t errlen);
void mem_swap_stop(struct vm *vm);
/* Change the limit while the VM runs (the host service does, under
 * pressure): 16 MiB up to the --mem-limit it started with. 0, or -1 with
 * err. */
int mem_swap_set_limit(struct vm *vm, uint64_t limit, char *err, size_t errlen);
void mem_swap_get_stats(struct vm *vm, struct mem_swap_stats *st);
/* Is the RAM page in the swap file now? */
int mem_swap_page_out(struct vm *vm, uint64_t page);

/* A hart's TLB now maps the RAM page at pa (mmu.c, only with vm->swap):
 * it is not cold. */
void mem_access_note(struct vm *vm, uint64_t pa);
#endif
