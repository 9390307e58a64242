/* The vCPU contract: hart_run(h, budget, deadline) runs exactly the budget
 * and returns why it stopped (budget, idle, hypercall, fatal, yield), and
 * the vCPU loops pause and resume a whole running VM at an instruction
 * boundary with every hart's state exact and stable. Guest programs are a
 * few hand-assembled RV64 instructions placed in RAM. */
#include "check.h"
#include "board/virt.h"
#include "vmm/vm.h"
#include <pthread.h>
#include <string.h>
#include <time.h>

static struct check_ctx c;

/* RV64 encodings used below. */
#define ADDI(rd, rs, imm) (((uint32_t)(imm) << 20) | ((rs) << 15) | ((rd) << 7) | 0x13)
#define JAL0(off)                                                                                  \
    ((((uint32_t)(off) >> 20 & 1) << 31) | (((uint32_t)(off) >> 1 & 0x3ff) << 21) |                \
     (((uint32_t)(off) >> 11 & 1) << 20) | (((uint32_t)(off) >> 12 & 0xff) << 12) | 0x6f)
#define LW(rd, rs, imm) (((uint32_t)(imm) << 20) | ((rs) << 15) | (2u << 12) | ((rd) << 7) | 0x03)
#define BEQ_BACK4(rs1, rs2)                                                                        \
    ((1u << 31) | (0x3fu << 25) | ((rs2) << 20) | ((rs1) << 15) | (0xeu << 8) | (1u << 7) | 0x63)
#define WFI    0x10500073u
#define ECALL  0x00000073u
#define PAUSE  0x0100000fu
#define ILLEG  0x00000000u
#define RAM(a) (VM_RAM_BASE + (a))

static void put(struct vm *vm, uint64_t off, const uint32_t *code, unsigned n)
{
    memcpy(vm->ram + off, code, 4 * n);
}

static struct vm *make_vm(unsigned ncpus, int hyp_sbi)
{
    char err[256];
    struct vm_config cfg = {.ram_size = 1 << 20, .ncpus = ncpus, .hyp_sbi = hyp_sbi};
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    CHECK(&c, vm != NULL, "vm_create: %s", err);
    if (vm) CHECK(&c, virt_board_create(vm, err, sizeof(err)) == 0, "board: %s", err);
    return vm;
}

/* addi x5, x5, 1; j .-4: x5 counts loop iterations. */
static const uint32_t count_loop[] = {ADDI(5, 5, 1), JAL0(-4)};

static void test_budget(void)
{
    struct vm *vm = make_vm(1, 0);
    if (!vm) return;
    struct hart *h = vm->harts[0];
    put(vm, 0, count_loop, 2);
    hart_reset(h, RAM(0));
    CHECK_EQ(&c, hart_run(h, 1000, 0), HART_EXIT_BUDGET);
    CHECK_EQ(&c, h->instret, 1000);
    CHECK_EQ(&c, h->x[5], 500);
    CHECK_EQ(&c, h->pc, RAM(0));
    /* One instruction at a time (a debugger's single step). */
    CHECK_EQ(&c, hart_run(h, 1, 0), HART_EXIT_BUDGET);
    CHECK_EQ(&c, h->instret, 1001);
    CHECK_EQ(&c, h->x[5], 501);
    CHECK_EQ(&c, h->pc, RAM(4));
    CHECK_EQ(&c, hart_run(h, 1, 0), HART_EXIT_BUDGET);
    CHECK_EQ(&c, h->pc, RAM(0));
    /* A large odd budget still stops on the dot. */
    CHECK_EQ(&c, hart_run(h, 123457, 0), HART_EXIT_BUDGET);
    CHECK_EQ(&c, h->instret, 1002 + 123457);
    CHECK_EQ(&c, h->x[5], (1002 + 123457 + 1) / 2);
    /* A deadline in the past returns at the first poll. */
    CHECK_EQ(&c, hart_run(h, ~0ull, host_time_ns()), HART_EXIT_BUDGET);
    /* A VMM event makes it return without running anything. */
    uint64_t before = h->instret;
    vm_kick_hart(vm, 0, HART_EV_VMM);
    CHECK_EQ(&c, hart_run(h, ~0ull, 0), HART_EXIT_EVENT);
    CHECK_EQ(&c, h->instret, before);
    atomic_fetch_and(&h->events, ~HART_EV_VMM);
    vm_destroy(vm);
}

static void test_exits(void)
{
    struct vm *vm = make_vm(1, 1);
    if (!vm) return;
    struct hart *h = vm->harts[0];
    /* WFI with nothing pending: idle, pc past the WFI. */
    const uint32_t wfi[] = {ADDI(6, 0, 7), WFI, ADDI(6, 6, 1)};
    put(vm, 0, wfi, 3);
    hart_reset(h, RAM(0));
    CHECK_EQ(&c, hart_run(h, 100, 0), HART_EXIT_IDLE);
    CHECK_EQ(&c, h->pc, RAM(8));
    CHECK_EQ(&c, h->instret, 2);
    CHECK_EQ(&c, h->x[6], 7);
    /* WFI with an interrupt pending in mie (even with MIE clear) completes. */
    hart_reset(h, RAM(0));
    h->mie = MIP_MSIP;
    atomic_fetch_or(&h->mip_async, MIP_MSIP);
    CHECK_EQ(&c, hart_run(h, 3, 0), HART_EXIT_BUDGET);
    CHECK_EQ(&c, h->x[6], 8);
    atomic_store(&h->mip_async, 0);

    /* ECALL from S-mode under hypervisor SBI: a hypercall exit. */
    const uint32_t ecall[] = {ADDI(17, 0, 0x10), ECALL, ADDI(7, 0, 1)};
    put(vm, 0x100, ecall, 3);
    hart_reset(h, RAM(0x100));
    /* S-mode needs a PMP entry: one NAPOT region over everything, RWX. */
    CHECK_EQ(&c, csr_write(h, 0x3b0, ~0ull >> 10), 0);
    CHECK_EQ(&c, csr_write(h, 0x3a0, 0x1f), 0);
    h->priv = PRV_S;
    CHECK_EQ(&c, hart_run(h, 100, 0), HART_EXIT_HYPERCALL);
    CHECK_EQ(&c, h->pc, RAM(0x108));
    CHECK_EQ(&c, h->instret, 2);
    CHECK_EQ(&c, h->x[17], 0x10);

    /* An illegal instruction with no M-mode software: fatal, state kept. */
    const uint32_t ill[] = {ADDI(5, 0, 1), ILLEG};
    put(vm, 0x200, ill, 2);
    hart_reset(h, RAM(0x200));
    CHECK_EQ(&c, hart_run(h, 100, 0), HART_EXIT_FATAL);
    CHECK(&c, strstr(h->fatal_msg, "cause 2") != NULL, "message: %s", h->fatal_msg);
    CHECK_EQ(&c, h->pc, RAM(0x204));
    CHECK_EQ(&c, h->priv, PRV_M);

    /* Spinning on a PAUSE hint: yield. */
    const uint32_t pause[] = {PAUSE, JAL0(-4)};
    put(vm, 0x300, pause, 2);
    hart_reset(h, RAM(0x300));
    CHECK_EQ(&c, hart_run(h, 1u << 30, 0), HART_EXIT_YIELD);
    CHECK(&c, h->instret < 10000, "yielded after %llu instructions",
          (unsigned long long)h->instret);

    /* Spinning on a memory word with no hint at all (lw; beq back): yield. */
    const uint32_t spin[] = {LW(6, 8, 0), BEQ_BACK4(6, 0)};
    put(vm, 0x600, spin, 2);
    hart_reset(h, RAM(0x600));
    h->x[8] = RAM(0x800);
    memset(vm->ram + 0x800, 0, 4);
    CHECK_EQ(&c, hart_run(h, 1u << 30, 0), HART_EXIT_YIELD);
    CHECK(&c, h->instret < 100000, "yielded after %llu instructions",
          (unsigned long long)h->instret);
    /* ... but a loop that computes does not. */
    put(vm, 0, count_loop, 2);
    hart_reset(h, RAM(0));
    CHECK_EQ(&c, hart_run(h, 1u << 22, 0), HART_EXIT_BUDGET);
    vm_destroy(vm);
}

struct runner {
    struct vm *vm;
    int reason;
};

static void *run_vm(void *arg)
{
    struct runner *r = arg;
    r->reason = vm_run(r->vm);
    return NULL;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Every hart is at an instruction boundary of the counting loop. */
static void check_exact(struct hart *h)
{
    uint64_t n = h->instret;
    CHECK_EQ(&c, h->pc, RAM(0) + (n & 1) * 4);
    CHECK_EQ(&c, h->x[5], (n + 1) / 2);
}

static void test_pause(void)
{
    struct vm *vm = make_vm(3, 0);
    if (!vm) return;
    put(vm, 0, count_loop, 2);
    for (unsigned i = 0; i < vm->ncpus; i++)
        hart_reset(vm->harts[i], RAM(0));
    struct runner r = {vm, -1};
    pthread_t t;
    pthread_create(&t, NULL, run_vm, &r);
    sleep_ms(30);
    uint64_t seen[VM_MAX_CPUS];
    for (int round = 0; round < 3; round++) {
        CHECK_EQ(&c, vm_pause(vm), 0);
        CHECK(&c, vm_paused(vm), "paused");
        uint64_t t0 = vm_time(vm);
        for (unsigned i = 0; i < vm->ncpus; i++) {
            struct hart *h = vm->harts[i];
            CHECK_EQ(&c, atomic_load(&vm->vcpu[i].state), VCPU_PAUSED);
            CHECK(&c, h->instret > (round ? seen[i] : 0), "hart %u ran before round %d", i, round);
            seen[i] = h->instret;
            check_exact(h);
        }
        sleep_ms(20);
        for (unsigned i = 0; i < vm->ncpus; i++)
            CHECK_EQ(&c, vm->harts[i]->instret, seen[i]); /* nothing runs while paused */
        /* Guest time stands still while the VM is paused. */
        uint64_t t1 = vm_time(vm);
        CHECK(&c, t1 - t0 < 50000, "guest time advanced %llu ticks while paused",
              (unsigned long long)(t1 - t0));
        vm_resume(vm);
        CHECK(&c, !vm_paused(vm), "resumed");
        sleep_ms(20);
    }
    vm_request_exit(vm, VM_EXIT_USER, 0, "test done");
    pthread_join(t, NULL);
    CHECK_EQ(&c, r.reason, VM_EXIT_USER);
    CHECK_EQ(&c, vm_pause(vm), -1); /* an exited VM cannot be paused */
    vm_destroy(vm);
}

/* A hart that HSM has stopped costs nothing: its loop sleeps, the VM still
 * pauses as a whole, and a started hart runs. */
static void test_hsm_parked(void)
{
    struct vm *vm = make_vm(2, 1);
    if (!vm) return;
    put(vm, 0, count_loop, 2);
    for (unsigned i = 0; i < vm->ncpus; i++)
        hart_reset(vm->harts[i], RAM(0));
    atomic_store(&vm->vcpu[1].hsm_state, HSM_STOPPED);
    struct runner r = {vm, -1};
    pthread_t t;
    pthread_create(&t, NULL, run_vm, &r);
    sleep_ms(30);
    CHECK_EQ(&c, atomic_load(&vm->vcpu[1].state), VCPU_OFF);
    CHECK_EQ(&c, vm->harts[1]->instret, 0);
    CHECK(&c, vm->vcpu[1].waits <= 2, "stopped hart woke %llu times",
          (unsigned long long)vm->vcpu[1].waits);
    CHECK_EQ(&c, vm_pause(vm), 0);
    check_exact(vm->harts[0]);
    vm_resume(vm);
    vm_request_exit(vm, VM_EXIT_USER, 0, "test done");
    pthread_join(t, NULL);
    vm_destroy(vm);
}

int main(void)
{
    test_budget();
    test_exits();
    test_pause();
    test_hsm_parked();
    return check_report(&c, "test_vcpu");
}
