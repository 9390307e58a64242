/* Snapshot state records (src/snap): a VM's harts, PLIC, UART and virtio
 * devices saved and loaded into a second VM built the same way come back
 * equal; and thousands of damaged records (flipped bytes, cut short, swapped
 * records) are each refused with a message or loaded, never a crash (run
 * under ASan/UBSan by `make SANITIZE=1 check`). */
#include "vmm/devices.h"
#include "check.h"
#include "board/virt.h"
#include "cpu/hart.h"
#include "snap/snap.h"
#include "snap/vmsnap.h"
#include "virtio/devices.h"
#include "vmm/vm.h"
#include <stdlib.h>
#include <string.h>

static struct check_ctx c;

static struct vm *machine(void)
{
    struct vm_config cfg = {.ram_size = 1u << 20, .ncpus = 2, .hyp_sbi = 1};
    char err[256];
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    if (!vm || virt_board_create(vm, err, sizeof(err)) < 0 ||
        vmdev_add_spec(vm, DEVCFG_RNG, "", err, sizeof(err)) < 0 ||
        vmdev_add_spec(vm, DEVCFG_BALLOON, "", err, sizeof(err)) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
    return vm;
}

/* Some state worth saving: registers, CSRs, a PLIC setup, UART registers. */
static void dirty_up(struct vm *vm)
{
    for (unsigned i = 0; i < vm->ncpus; i++) {
        struct hart *h = vm->harts[i];
        for (unsigned r = 1; r < 32; r++)
            h->x[r] = 0x1000u * i + r;
        h->f[3] = 0x400921fb54442d18ull;
        h->pc = 0x80001234 + 4 * i;
        csr_write(h, 0x105, 0x80002000);             /* stvec */
        csr_write(h, 0x180, (8ull << 60) | 0x80123); /* satp: Sv39 */
        csr_write(h, 0x300, 1ull << 13);             /* mstatus.FS */
        h->priv = PRV_S;
        h->instret = 123456 + i;
        atomic_store(&h->mtimecmp, 999 + i);
    }
    bus_write(&vm->bus, VIRT_PLIC_BASE + 4 * 10, 4, 5);               /* priority of 10 */
    bus_write(&vm->bus, VIRT_PLIC_BASE + 0x2000 + 0x80, 4, 1u << 10); /* enable, ctx 1 */
    bus_write(&vm->bus, VIRT_PLIC_BASE + 0x201000, 4, 2);             /* threshold, ctx 1 */
    bus_write(&vm->bus, VIRT_UART_BASE + 3, 1, 0x03);                 /* LCR */
    bus_write(&vm->bus, VIRT_UART_BASE + 7, 1, 0x5a);                 /* SCR */
}

static int load(struct vm *vm, const uint8_t *state, size_t len, char *err, size_t errlen)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, state, len);
    struct snap_file f;
    if (snap_from_state(&f, copy, len, vm->ram_base, vm->ram_size, err, errlen) < 0) return -1;
    int r = vmsnap_load(vm, &f, err, errlen);
    snap_close(&f);
    return r;
}

static uint64_t rd(struct vm *vm, uint64_t pa, unsigned size)
{
    uint64_t v = 0;
    bus_read(&vm->bus, pa, size, &v);
    return v;
}

static void test_round_trip(const uint8_t *state, size_t len, struct vm *a)
{
    struct vm *b = machine();
    char err[512] = "";
    CHECK(&c, load(b, state, len, err, sizeof(err)) == 0, "load: %s", err);
    for (unsigned i = 0; i < a->ncpus; i++) {
        struct hart *x = a->harts[i], *y = b->harts[i];
        CHECK(&c, !memcmp(x->x, y->x, sizeof(x->x)), "hart %u registers", i);
        CHECK_EQ(&c, y->f[3], x->f[3]);
        CHECK_EQ(&c, y->pc, x->pc);
        CHECK_EQ(&c, y->priv, x->priv);
        CHECK_EQ(&c, y->stvec, x->stvec);
        CHECK_EQ(&c, y->satp, x->satp);
        CHECK_EQ(&c, y->mstatus, x->mstatus);
        CHECK_EQ(&c, y->instret, x->instret);
        CHECK_EQ(&c, atomic_load(&y->mtimecmp), atomic_load(&x->mtimecmp));
    }
    CHECK_EQ(&c, rd(b, VIRT_PLIC_BASE + 4 * 10, 4), 5);
    CHECK_EQ(&c, rd(b, VIRT_PLIC_BASE + 0x2000 + 0x80, 4), 1u << 10);
    CHECK_EQ(&c, rd(b, VIRT_PLIC_BASE + 0x201000, 4), 2);
    CHECK_EQ(&c, rd(b, VIRT_UART_BASE + 3, 1), 0x03);
    CHECK_EQ(&c, rd(b, VIRT_UART_BASE + 7, 1), 0x5a);
    /* a device that was never set up by a driver stays so */
    CHECK_EQ(&c, rd(b, VIRT_VIRTIO_BASE + 0x70, 4), 0); /* status */
    vm_destroy(b);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Damaged records: loaded or refused with a message, never a crash. */
static void test_damage(const uint8_t *state, size_t len)
{
    uint8_t *buf = malloc(len);
    unsigned refused = 0, loaded = 0, silent = 0;
    for (unsigned i = 0; i < 1500; i++) {
        memcpy(buf, state, len);
        size_t n = len;
        unsigned kind = i % 3;
        if (kind == 0) { /* flipped bytes */
            for (unsigned k = 0; k < 1 + next() % 4; k++)
                buf[next() % len] ^= (uint8_t)(1u << (next() % 8));
        } else if (kind == 1) { /* a random value at a random place */
            size_t at = next() % (len - 8);
            uint64_t v = next();
            memcpy(buf + at, &v, 8);
        } else { /* cut short */
            n = next() % len;
        }
        struct vm *vm = machine();
        char err[512] = "";
        if (load(vm, buf, n, err, sizeof(err)) == 0)
            loaded++;
        else if (err[0])
            refused++;
        else
            silent++;
        vm_destroy(vm);
    }
    CHECK(&c, silent == 0, "%u refusals without a message", silent);
    CHECK(&c, refused > 300, "only %u of 1500 damaged states refused", refused);
    printf("damaged states: %u refused, %u loaded\n", refused, loaded);
    free(buf);
}

int main(void)
{
    struct vm *a = machine();
    dirty_up(a);
    struct snap_w w;
    snap_w_init(&w);
    vmsnap_state(a, &w);
    CHECK(&c, !w.oom && w.len > 1000, "state of %zu bytes", w.len);
    test_round_trip(w.buf, w.len, a);
    test_damage(w.buf, w.len);
    /* a machine with other devices refuses the state */
    struct vm *other = machine();
    char err[512] = "";
    vmdev_add_spec(other, DEVCFG_RNG, "", err, sizeof(err));
    CHECK(&c,
          load(other, w.buf, w.len, err, sizeof(err)) < 0 && strstr(err, "has no virtio-mmio at"),
          "extra device: %s", err);
    vm_destroy(other);
    snap_w_free(&w);
    vm_destroy(a);
    return check_report(&c, "test_snapshot");
}
