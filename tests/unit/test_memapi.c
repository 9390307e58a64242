/* The guest-memory API (mem/guest.h): pins of RAM and ROM ranges with
 * their intent (and the ranges refused), the per-page state a pin, the
 * dirty log and page sharing leave, writes through it, and a pinned page
 * that page sharing leaves alone while its equals merge. */
#include "check.h"
#include "board/virt.h"
#include "mem/dirty.h"
#include "mem/guest.h"
#include "mem/share.h"
#include "vmm/vm.h"
#include <string.h>
#include <unistd.h>

static struct check_ctx c;

#define PAGE 4096u

static struct vm *make_vm(void)
{
    char err[256];
    struct vm_config cfg = {.ram_size = 1 << 20, .ncpus = 1, .engine = VM_ENGINE_INTERP};
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    CHECK(&c, vm && virt_board_create(vm, err, sizeof(err)) == 0, "vm: %s", err);
    if (vm) vm->console_out_fd = -1;
    return vm;
}

static void test_pins(struct vm *vm)
{
    uint64_t a = VM_RAM_BASE + 5 * PAGE + 100;
    uint8_t *p = mem_pin(vm, a, 2 * PAGE, MEM_READ);
    CHECK(&c, p == vm->ram + 5 * PAGE + 100, "a RAM range pins to its host address");
    for (unsigned pg = 5; pg <= 7; pg++)
        CHECK(&c, mem_page_state(vm, VM_RAM_BASE + pg * PAGE) & MEM_PG_PINNED, "page %u is pinned",
              pg);
    CHECK(&c, !(mem_page_state(vm, VM_RAM_BASE + 8 * PAGE) & MEM_PG_PINNED), "page 8 is not");
    uint8_t *q = mem_pin(vm, a, 10, MEM_READ);
    mem_unpin(vm, a, 2 * PAGE, MEM_READ);
    CHECK(&c, q && (mem_page_state(vm, a) & MEM_PG_PINNED), "a second pin keeps it pinned");
    mem_unpin(vm, a, 10, MEM_READ);
    CHECK(&c, !(mem_page_state(vm, a) & MEM_PG_PINNED), "both unpinned: not pinned");
    CHECK(&c, mem_page_state(vm, a) & MEM_PG_RAM, "a RAM page is RAM");
    CHECK(&c, mem_page_state(vm, 0x100) == 0, "below RAM: no state");
    uint64_t end = VM_RAM_BASE + vm->ram_size;
    CHECK(&c, !mem_pin(vm, end - 8, 16, MEM_READ), "a range across the end of RAM is refused");
    CHECK(&c, !mem_pin(vm, end, 1, MEM_READ), "past RAM is refused");
    CHECK(&c, !mem_pin(vm, VM_RAM_BASE - 4, 8, MEM_READ), "a range into RAM from below is refused");
    CHECK(&c, mem_pin(vm, VIRT_MROM_BASE, 16, MEM_READ) == vm->rom, "the boot ROM reads");
    mem_unpin(vm, VIRT_MROM_BASE, 16, MEM_READ);
    CHECK(&c, !mem_pin(vm, VIRT_MROM_BASE, 16, MEM_WRITE), "the boot ROM does not write");
    CHECK(&c, !mem_pin(vm, 0x10000000, 4, MEM_READ), "MMIO is not memory");
}

static void test_writes(struct vm *vm)
{
    char err[128];
    uint64_t a = VM_RAM_BASE + 20 * PAGE;
    CHECK(&c, mem_dirty_start(vm, err, sizeof(err)) == 0, "dirty log: %s", err);
    CHECK(&c, !(mem_page_state(vm, a) & MEM_PG_DIRTY), "clean at the start");
    uint8_t *p = mem_pin(vm, a, 16, MEM_WRITE);
    CHECK(&c, p && (mem_page_state(vm, a) & MEM_PG_DIRTY), "a write pin marks the page dirty");
    memcpy(p, "written by vmon", 16);
    uint64_t bits[4];
    mem_dirty_read_clear(vm, bits, 4);
    CHECK(&c, (bits[0] >> 20) & 1, "the log has page 20");
    mem_unpin(vm, a, 16, MEM_WRITE);
    CHECK(&c, mem_page_state(vm, a) & MEM_PG_DIRTY, "dirty again once unpinned (after a read)");
    CHECK(&c, (mem_page_state(vm, a) & MEM_PG_PRESENT), "a written page is present");
    CHECK(&c, !(mem_page_state(vm, VM_RAM_BASE + 200 * PAGE) & MEM_PG_PRESENT),
          "a page never touched is not");
    CHECK(&c,
          mem_write_bytes(vm, a + 16, "more", 5) == 0 &&
              !memcmp(vm->ram + 20 * PAGE, "written by vmon\0more", 21),
          "mem_write_bytes writes");
    CHECK(&c, mem_write_bytes(vm, VM_RAM_BASE + vm->ram_size - 2, "abcd", 4) < 0,
          "mem_write_bytes refuses a range past RAM");
    mem_dirty_stop(vm);
    CHECK(&c, !(mem_page_state(vm, a) & MEM_PG_DIRTY), "logging off: not dirty");
}

/* Three pages alike, one of them pinned: the other two merge, the pinned
 * one stays its own; unpinned, it joins them. */
static void test_sharing(struct vm *vm)
{
    char err[256];
    for (unsigned pg = 40; pg < 43; pg++)
        for (unsigned i = 0; i < PAGE; i++)
            vm->ram[pg * PAGE + i] = (uint8_t)(i * 7 + 3);
    uint64_t b = VM_RAM_BASE + 41 * PAGE;
    CHECK(&c, mem_pin(vm, b, 8, MEM_READ) != NULL, "pin page 41");
    CHECK(&c, mem_share_start(vm, 0, -1, -1, err, sizeof(err)) == 0, "sharing: %s", err);
    unsigned st40 = 0;
    for (int i = 0; i < 50 && !(st40 & MEM_PG_SHARED); i++) {
        usleep(100000);
        st40 = mem_page_state(vm, VM_RAM_BASE + 40 * PAGE);
    }
    CHECK(&c, st40 & MEM_PG_SHARED, "page 40 merges");
    CHECK(&c, mem_page_state(vm, VM_RAM_BASE + 42 * PAGE) & MEM_PG_SHARED, "page 42 merges");
    CHECK(&c, !(mem_page_state(vm, b) & MEM_PG_SHARED), "the pinned page 41 is left alone");
    mem_unpin(vm, b, 8, MEM_READ);
    unsigned st41 = 0;
    for (int i = 0; i < 50 && !(st41 & MEM_PG_SHARED); i++) {
        usleep(100000);
        st41 = mem_page_state(vm, b);
    }
    CHECK(&c, st41 & MEM_PG_SHARED, "unpinned, page 41 merges too");
    uint8_t *w = mem_pin(vm, b, 1, MEM_WRITE);
    CHECK(&c, w && !(mem_page_state(vm, b) & MEM_PG_SHARED), "a write pin takes it out at once");
    *w = 0xee;
    mem_unpin(vm, b, 1, MEM_WRITE);
    CHECK(&c, vm->ram[40 * PAGE] == 3 && vm->ram[42 * PAGE] == 3 && vm->ram[41 * PAGE] == 0xee,
          "the write is seen through page 41 only");
    struct mem_share_stats st;
    mem_share_get_stats(vm, &st);
    CHECK(&c, st.broken_device >= 1, "counted as a device's write (%llu)",
          (unsigned long long)st.broken_device);
    mem_share_stop(vm);
}

int main(void)
{
    struct vm *vm = make_vm();
    if (vm) {
        test_pins(vm);
        test_writes(vm);
        test_sharing(vm);
        vm_destroy(vm);
    }
    return check_report(&c, "test_memapi");
}
