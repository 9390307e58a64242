/* Dirty page logging (see dirty.h). */
#include "mem/dirty.h"
#include "mem/share.h"
#include "vmm/vm.h"
#include <stdlib.h>
#include <string.h>

uint64_t mem_dirty_pages(const struct vm *vm)
{
    return vm->ram_size >> 12;
}

static size_t log_words(const struct vm *vm)
{
    return (size_t)((mem_dirty_pages(vm) + 63) / 64);
}

void mem_dirty_note(struct vm *vm, uint64_t pa)
{
    if (!atomic_load_explicit(&vm->dirty_on, memory_order_acquire)) return;
    _Atomic uint64_t *bits = atomic_load_explicit(&vm->dirty_bits, memory_order_acquire);
    if (!bits || pa - vm->ram_base >= vm->ram_size) return;
    uint64_t pg = (pa - vm->ram_base) >> 12;
    uint64_t bit = 1ull << (pg & 63);
    if (!(atomic_load_explicit(&bits[pg >> 6], memory_order_relaxed) & bit))
        atomic_fetch_or(&bits[pg >> 6], bit);
}

void mem_written(struct vm *vm, uint64_t pa, uint64_t len)
{
    if (!len) return;
    mmu_code_range_written(vm, pa, len);
    for (uint64_t p = pa & ~0xfffull; p < pa + len; p += 4096) {
        mem_dirty_note(vm, p);
        if (vm->share) mem_share_written(vm, p, 1);
    }
}

/* Every hart drops its TLB (and so every write translation) before this
 * returns, or before it next runs guest code if it is not running now. */
static void flush_all_tlbs(struct vm *vm)
{
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (vm->harts[i]) vm_remote_fence(NULL, vm->harts[i], HART_EV_TLB);
}

/* The log stays allocated once made (freed with the VM), so a device
 * thread inside mem_dirty_note never sees it go away. */
int mem_dirty_start(struct vm *vm, char *err, size_t errlen)
{
    if (atomic_load(&vm->dirty_on)) {
        snprintf(err, errlen, "dirty logging is already on");
        return -1;
    }
    _Atomic uint64_t *bits = atomic_load(&vm->dirty_bits);
    if (!bits) {
        bits = calloc(log_words(vm), sizeof(*bits));
        if (!bits) {
            snprintf(err, errlen, "out of memory for the dirty log");
            return -1;
        }
        atomic_store_explicit(&vm->dirty_bits, bits, memory_order_release);
    }
    for (size_t i = 0; i < log_words(vm); i++)
        atomic_store(&bits[i], 0);
    atomic_store(&vm->dirty_on, 1);
    flush_all_tlbs(vm);
    return 0;
}

void mem_dirty_stop(struct vm *vm)
{
    atomic_store(&vm->dirty_on, 0);
}

uint64_t mem_dirty_read_clear(struct vm *vm, uint64_t *out, size_t nwords)
{
    _Atomic uint64_t *bits = atomic_load_explicit(&vm->dirty_bits, memory_order_acquire);
    size_t n = log_words(vm);
    if (out) memset(out, 0, nwords * sizeof(*out));
    if (!bits || !atomic_load(&vm->dirty_on)) return 0;
    uint64_t count = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t w = atomic_exchange(&bits[i], 0);
        count += (uint64_t)__builtin_popcountll(w);
        if (out && i < nwords) out[i] = w;
    }
    /* A page had a write translation only if its bit was set before; the
     * bits are clear now, so after the flush every first write of the new
     * round goes through mmu.c again and sets its bit. */
    flush_all_tlbs(vm);
    return count;
}
