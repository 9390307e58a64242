/* The guest-memory API (guest.h). */
#include "mem/guest.h"
#include "cpu/hart.h"
#include "mem/bus.h"
#include "mem/dirty.h"
#include "mem/pagemap.h"
#include "mem/share.h"
#include "mem/swap.h"
#include "vmm/vm.h"
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; before, the pages fault in as they are written */
#endif

#define PAGE 4096u

/* The main RAM's pages of [gpa, gpa + len), if the range is in it. */
static int ram_pages(const struct vm *vm, uint64_t gpa, uint64_t len, uint64_t *first,
                     uint64_t *last)
{
    if (gpa < vm->ram_base || gpa - vm->ram_base >= vm->ram_size) return 0;
    uint64_t off = gpa - vm->ram_base;
    *first = off / PAGE;
    *last = (off + (len ? len - 1 : 0)) / PAGE;
    return 1;
}

static void pin_pages(struct vm *vm, uint64_t gpa, uint64_t len, int delta)
{
    uint64_t first, last;
    if (!vm->pins || !ram_pages(vm, gpa, len, &first, &last)) return;
    for (uint64_t p = first; p <= last; p++)
        atomic_fetch_add_explicit(&vm->pins[p], (uint16_t)delta, memory_order_relaxed);
}

uint8_t *mem_pin(struct vm *vm, uint64_t gpa, uint64_t len, unsigned intent)
{
    const struct mem_region *m = bus_find_mem(&vm->bus, gpa, len ? len : 1);
    if (!m || ((intent & MEM_WRITE) && m->readonly)) return NULL;
    pin_pages(vm, gpa, len, 1);
    if (intent & MEM_WRITE) {
        uint64_t end = gpa + (len ? len : 1);
        for (uint64_t p = gpa & ~(uint64_t)(PAGE - 1); p < end; p += PAGE) {
            mem_dirty_note(vm, p);
            if (vm->share) mem_share_written(vm, p, 1);
        }
    }
    return m->host + (gpa - m->base);
}

void mem_unpin(struct vm *vm, uint64_t gpa, uint64_t len, unsigned intent)
{
    if (intent & MEM_WRITE) mem_written(vm, gpa, len);
    pin_pages(vm, gpa, len, -1);
}

void mem_host_populate(void *p, size_t len)
{
    uintptr_t from = ((uintptr_t)p + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
    uintptr_t to = ((uintptr_t)p + len) & ~(uintptr_t)(PAGE - 1);
    if (to > from) madvise((void *)from, to - from, MADV_POPULATE_WRITE);
}

int mem_write_bytes(struct vm *vm, uint64_t gpa, const void *data, uint64_t len)
{
    uint8_t *p = mem_pin(vm, gpa, len, MEM_WRITE);
    if (!p) return -1;
    if (len >= (64u << 10)) mem_host_populate(p, len); /* a kernel or an initrd */
    memcpy(p, data, len);
    mem_unpin(vm, gpa, len, MEM_WRITE);
    return 0;
}

void mem_walker_wrote(struct vm *vm, uint64_t pa)
{
    mem_dirty_note(vm, pa);
    if (vm->share) mem_share_written(vm, pa, 0);
}

int mem_page_pinned(struct vm *vm, uint64_t page)
{
    return vm->pins && page < vm->ram_size / PAGE &&
           atomic_load_explicit(&vm->pins[page], memory_order_relaxed) != 0;
}

unsigned mem_page_state(struct vm *vm, uint64_t gpa)
{
    uint64_t p, last;
    if (!ram_pages(vm, gpa, 1, &p, &last)) return 0;
    unsigned st = MEM_PG_RAM;
    uint8_t present = 0;
    if (mem_touched_pages(vm->ram + p * PAGE, PAGE, &present) == 0 && present) st |= MEM_PG_PRESENT;
    _Atomic uint64_t *bits = atomic_load(&vm->dirty_bits);
    if (atomic_load(&vm->dirty_on) && bits && (atomic_load(&bits[p / 64]) >> (p % 64) & 1))
        st |= MEM_PG_DIRTY;
    if (mem_share_page_shared(vm, p)) st |= MEM_PG_SHARED;
    if (mem_share_page_zero(vm, p)) st |= MEM_PG_ZERO;
    if (vm->swap && mem_swap_page_out(vm, p)) st |= MEM_PG_SWAPPED;
    if (mem_page_pinned(vm, p)) st |= MEM_PG_PINNED;
    return st;
}

void mem_invalidate_page(struct vm *vm, uint64_t gpa)
{
    mmu_code_range_written(vm, gpa & ~(uint64_t)(PAGE - 1), PAGE);
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (vm->harts[i]) vm_remote_fence(NULL, vm->harts[i], HART_EV_TLB);
}
