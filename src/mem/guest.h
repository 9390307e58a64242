/* The guest-memory API: how vmon itself (virtio devices and their worker
 * threads, the loader and boot code, SBI, the page walker) reaches guest
 * RAM, as opposed to a hart's loads and stores through its TLB (mmu.c).
 *
 * A range is pinned with an intent before it is used and unpinned after:
 *  - read: the host address of the range (it must lie in one RAM or ROM
 *    region of the bus; RAM may be several regions);
 *  - write: the same, in a writable region; its pages leave page sharing
 *    and are marked dirty at once, and when it is unpinned the code
 *    translated from it is dropped and the pages are dirty again (so a
 *    dirty-log read in between misses nothing).
 * A pinned page of the main RAM is left alone by hypervisor swap and by
 * page sharing (it is neither moved out nor merged while a device may be
 * using it; a device touching an unpinned swapped page still works, the
 * fault brings it back).
 *
 * Per-page state and the invalidation of one page everywhere (every
 * hart's TLB, translated code) complete it. */
#ifndef VMON_MEM_GUEST_H
#define VMON_MEM_GUEST_H
#include <stddef.h>
#include <stdint.h>

struct vm;

#define MEM_READ  1u
#define MEM_WRITE 2u

/* Host address of guest-physical [gpa, gpa + len) for intent, pinned; NULL
 * if the range is not all in one region (or a write to ROM). len 0 is a
 * range of one byte's page. */
uint8_t *mem_pin(struct vm *vm, uint64_t gpa, uint64_t len, unsigned intent);
void mem_unpin(struct vm *vm, uint64_t gpa, uint64_t len, unsigned intent);
/* Copy into guest RAM (the loader, boot code): pin, copy, unpin. 0, or -1
 * if the range is not RAM. */
int mem_write_bytes(struct vm *vm, uint64_t gpa, const void *data, uint64_t len);

/* Make the whole host pages inside [p, p + len) present and writable with
 * one call (MADV_POPULATE_WRITE) rather than a page fault each, which a VM
 * host charges dearly; without it (Linux before 5.14) they fault in as
 * they are used. */
void mem_host_populate(void *p, size_t len);

/* A hart's page walker set A/D in the PTE at pa (a write vmon made). */
void mem_walker_wrote(struct vm *vm, uint64_t pa);

enum {
    MEM_PG_RAM = 1,      /* the page is in the main RAM (the rest only then) */
    MEM_PG_PRESENT = 2,  /* it has host memory of its own (pagemap) */
    MEM_PG_DIRTY = 4,    /* in the dirty log (logging on) */
    MEM_PG_SHARED = 8,   /* maps a page of the sharing pool */
    MEM_PG_ZERO = 16,    /* maps the host's zero page (sharing) */
    MEM_PG_SWAPPED = 32, /* in the VM's swap file */
    MEM_PG_PINNED = 64,  /* pinned by vmon */
};
/* The state of the page holding gpa (MEM_PG_*). */
unsigned mem_page_state(struct vm *vm, uint64_t gpa);
/* Is the main-RAM page pinned? (swap and sharing ask) */
int mem_page_pinned(struct vm *vm, uint64_t page);
/* Drop the page at gpa from every hart's TLB and every translation made
 * from it; returns once no hart can use a stale one. */
void mem_invalidate_page(struct vm *vm, uint64_t gpa);
#endif
