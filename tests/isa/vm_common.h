/*
 * Shared body of the virtual-memory tests vm_sv39.c, vm_sv48.c, vm_sv57.c
 * (privileged spec 1.12, 4.3-4.6).  vm_test(levels) builds page tables for
 * Sv39 (3 levels), Sv48 (4) or Sv57 (5) and checks translation from S-mode,
 * U-mode and M-mode with MPRV.
 *
 * Virtual layout (the same below 512 GiB in every mode; "l2" is the table
 * that indexes VA bits 38:30 -- the root in Sv39, reached through entry 0
 * of the upper levels in Sv48/Sv57):
 *   l2[0]  0x0000_0000  1 GiB gigapage, identity, RW, S (devices)
 *   l2[1]  0x4000_0000  table t1:
 *            t1[0] 0x4000_0000  table t0 of 4 KiB test pages (TVA(i))
 *            t1[1] 0x4020_0000  2 MiB megapage -> MEGA_PA, RW
 *            t1[2] 0x4040_0000  misaligned megapage (PPN not 2 MiB aligned)
 *   l2[2]  0x8000_0000  RAM identity: first 2 MiB as 4 KiB pages (U=1 on the
 *                       .text.user/.data.user pages), the rest as megapages
 *   l2[3]  0xc000_0000  1 GiB gigapage -> 0x8000_0000, RW
 *   l2[4]  0x1_0000_0000 misaligned gigapage
 * plus a gigapage at the top (negative) 1 GiB of the address space ->
 * 0x8000_0000, and for Sv48/Sv57 terapages (and a petapage for Sv57).
 */
#ifndef ISA_VM_COMMON_H
#define ISA_VM_COMMON_H
#include "priv.h"

#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_U (1ull << 4)
#define PTE_G (1ull << 5)
#define PTE_A (1ull << 6)
#define PTE_D (1ull << 7)

#define RAM_BASE 0x80000000ull
#define TV 0x40000000ull
#define TVA(i) (TV + (u64)(i) * 4096)
#define MEGA_VA 0x40200000ull
#define MEGA_BAD_VA 0x40400000ull
#define MEGA_PA 0x80600000ull
#define NOTBL_VA 0x40600000ull /* t1[3]: points to a "table" outside memory */
#define GIGA_VA 0xc0000000ull
#define GIGA_BAD_VA 0x100000000ull
#define TERA_VA 0x8000000000ull      /* Sv48/Sv57: 512 GiB page -> PA 0 */
#define TERA_BAD_VA 0x10000000000ull /* misaligned terapage */
#define PETA_VA (1ull << 48)         /* Sv57: 256 TiB page -> PA 0 */
#define PETA_BAD_VA (2ull << 48)
#define HIGH_VA (~0ull << 30)        /* top 1 GiB */

#define VAL0 0x1111222233334444ull
#define VAL1 0x5555666677778888ull
#define VAL2 0x2222222222222222ull
#define VAL3 0x3333333333333333ull

/* test page indexes in t0 */
enum {
    P_RW = 0,     /* p0 RW */
    P_RO = 1,     /* p0 R */
    P_INV = 2,    /* invalid */
    P_XO = 3,     /* code, X only */
    P_WO = 4,     /* p0, W without R (reserved) */
    P_WX = 5,     /* code, W+X without R (reserved) */
    P_URW = 6,    /* p0 RW U */
    P_URX = 7,    /* code RX U */
    P_AD = 8,     /* p1 RW, A = D = 0 */
    P_XA = 9,     /* code RX, A = 0 */
    P_SWAP = 10,  /* p2 / p3 RW (SFENCE.VMA tests) */
    P_RWX = 11,   /* code RWX */
    P_UXO = 12,   /* code X only U */
    P_NL = 14,    /* non-leaf PTE at the last level */
    P_RSV = 15,   /* p0 RW with a reserved PTE bit (60) set */
    P_ST0 = 16,   /* straddle, both pages valid: 16 -> sa, 17 -> sb */
    P_ST1 = 18,   /* straddle, second page invalid: 18 -> sa, 19 invalid */
    P_GLB = 20,   /* p2 RW G (global) */
};

struct vmst {
    int levels;
    u64 mode;
    u64 *root, *l2, *t1, *t0, *l1ram, *l0ram;
    u64 *p0, *p1, *p2, *p3;
    u32 *code;
    u16 *sa, *sb;
    u64 *root2, *l2b, *t1b, *t0b;
};
static struct vmst V;
static u8 *alloc_ptr;
static int deleg_on; /* page faults delegated to S */

static void *page_alloc(void)
{
    if (!alloc_ptr) alloc_ptr = (u8 *)(((u64)__free_mem + 4095) & ~4095ull);
    void *p = alloc_ptr;
    alloc_ptr += 4096;
    memset(p, 0, 4096);
    return p;
}
static u64 leaf(u64 pa, u64 fl) { return ((pa >> 12) << 10) | fl | PTE_V; }
static u64 nonleaf(void *t) { return (((u64)t >> 12) << 10) | PTE_V; }
static u64 pte_pa(u64 pte) { return ((pte >> 10) & ((1ull << 44) - 1)) << 12; }

/* a root for this mode whose low 512 GiB are described by l2 */
static u64 *make_root(u64 *l2)
{
    if (V.levels == 3) return l2;
    u64 *root = page_alloc();
    if (V.levels == 4) {
        root[0] = nonleaf(l2);
    } else {
        u64 *l3 = page_alloc();
        l3[0] = nonleaf(l2);
        root[0] = nonleaf(l3);
    }
    return root;
}

/* map the top 1 GiB of the address space (a chain of tables ending in a
 * gigapage leaf) */
static void map_high(u64 *root)
{
    u64 *t = root;
    for (int lvl = V.levels - 1; lvl > 2; lvl--) {
        u64 *n = page_alloc();
        t[511] = nonleaf(n);
        t = n;
    }
    t[511] = leaf(RAM_BASE, PTE_R | PTE_W | PTE_A | PTE_D);
}

static u64 satp_for(u64 *root, u64 asid) { return (V.mode << 60) | (asid << 44) | ((u64)root >> 12); }

static void vm_build(int levels)
{
    V.levels = levels;
    V.mode = levels == 3 ? 8 : levels == 4 ? 9 : 10;
    u64 rwxad = PTE_R | PTE_W | PTE_X | PTE_A | PTE_D;
    V.l2 = page_alloc();
    V.root = make_root(V.l2);
    V.t1 = page_alloc();
    V.t0 = page_alloc();
    V.l1ram = page_alloc();
    V.l0ram = page_alloc();
    V.p0 = page_alloc();
    V.p1 = page_alloc();
    V.p2 = page_alloc();
    V.p3 = page_alloc();
    V.code = page_alloc();
    V.sa = page_alloc();
    V.sb = page_alloc();

    V.l2[0] = leaf(0, PTE_R | PTE_W | PTE_A | PTE_D);
    V.l2[1] = nonleaf(V.t1);
    V.l2[2] = nonleaf(V.l1ram);
    V.l2[3] = leaf(RAM_BASE, PTE_R | PTE_W | PTE_A | PTE_D);
    V.l2[4] = leaf(RAM_BASE + 0x200000, PTE_R | PTE_W | PTE_A | PTE_D);
    V.l1ram[0] = nonleaf(V.l0ram);
    for (int i = 1; i < 512; i++) V.l1ram[i] = leaf(RAM_BASE + ((u64)i << 21), rwxad);
    for (int i = 0; i < 512; i++) {
        u64 pa = RAM_BASE + ((u64)i << 12);
        u64 u = pa >= (u64)__user_text_start && pa < (u64)__user_data_end ? PTE_U : 0;
        V.l0ram[i] = leaf(pa, rwxad | u);
    }
    V.t1[0] = nonleaf(V.t0);
    V.t1[1] = leaf(MEGA_PA, PTE_R | PTE_W | PTE_A | PTE_D);
    V.t1[2] = leaf(MEGA_PA + 0x1000, PTE_R | PTE_W | PTE_A | PTE_D);
    V.t1[3] = ((0x90000000ull >> 12) << 10) | PTE_V;

    u64 c = (u64)V.code, ad = PTE_A | PTE_D;
    V.t0[P_RW] = leaf((u64)V.p0, PTE_R | PTE_W | ad);
    V.t0[P_RO] = leaf((u64)V.p0, PTE_R | PTE_A);
    V.t0[P_INV] = 0;
    V.t0[P_XO] = leaf(c, PTE_X | PTE_A);
    V.t0[P_WO] = leaf((u64)V.p0, PTE_W | ad);
    V.t0[P_WX] = leaf(c, PTE_W | PTE_X | ad);
    V.t0[P_URW] = leaf((u64)V.p0, PTE_R | PTE_W | PTE_U | ad);
    V.t0[P_URX] = leaf(c, PTE_R | PTE_X | PTE_U | PTE_A);
    V.t0[P_AD] = leaf((u64)V.p1, PTE_R | PTE_W);
    V.t0[P_XA] = leaf(c, PTE_R | PTE_X);
    V.t0[P_SWAP] = leaf((u64)V.p2, PTE_R | PTE_W | ad);
    V.t0[P_RWX] = leaf(c, PTE_R | PTE_W | PTE_X | ad);
    V.t0[P_UXO] = leaf(c, PTE_X | PTE_U | PTE_A);
    V.t0[P_NL] = nonleaf(V.p0);
    V.t0[P_RSV] = leaf((u64)V.p0, PTE_R | PTE_W | ad) | (1ull << 60);
    V.t0[P_ST0] = leaf((u64)V.sa, PTE_R | PTE_X | PTE_A);
    V.t0[P_ST0 + 1] = leaf((u64)V.sb, PTE_R | PTE_X | PTE_A);
    V.t0[P_ST1] = leaf((u64)V.sa, PTE_R | PTE_X | PTE_A);
    V.t0[P_ST1 + 1] = 0;
    V.t0[P_GLB] = leaf((u64)V.p2, PTE_R | PTE_W | PTE_G | ad);

    map_high(V.root);
    if (levels >= 4) {
        u64 *top4 = levels == 4 ? V.root : (u64 *)pte_pa(V.root[0]); /* Sv48 root / Sv57 l3 */
        top4[1] = leaf(0, PTE_R | PTE_W | PTE_A | PTE_D);
        top4[2] = leaf(RAM_BASE, PTE_R | PTE_W | PTE_A | PTE_D);
    }
    if (levels == 5) {
        V.root[1] = leaf(0, PTE_R | PTE_W | PTE_A | PTE_D);
        V.root[2] = leaf(1ull << 39, PTE_R | PTE_W | PTE_A | PTE_D);
    }

    /* data and code */
    V.p0[0] = VAL0;
    V.p1[0] = VAL1;
    V.p2[0] = VAL2;
    V.p3[0] = VAL3;
    V.code[0] = 0x02a00513; /* li a0, 42 */
    V.code[1] = 0x00008067; /* ret */
    /* straddle: c.nop at 0xffc, li a0, 43 across the boundary, c.jr ra */
    V.sa[0xffc / 2] = 0x0001;
    V.sa[0xffe / 2] = 0x0513;
    V.sb[0] = 0x02b0;
    V.sb[1] = 0x8082;
    for (int i = 0; i < 512; i++) ((u64 *)MEGA_PA)[i] = MEGA_PA + 8 * i;
    ((u64 *)(MEGA_PA + 0x1ff000))[0] = 0xabcdef;

    /* second root: same as the first but P_SWAP maps p3 */
    V.l2b = page_alloc();
    V.t1b = page_alloc();
    V.t0b = page_alloc();
    memcpy(V.l2b, V.l2, 4096);
    memcpy(V.t1b, V.t1, 4096);
    memcpy(V.t0b, V.t0, 4096);
    V.l2b[1] = nonleaf(V.t1b);
    V.t1b[0] = nonleaf(V.t0b);
    V.t0b[P_SWAP] = leaf((u64)V.p3, PTE_R | PTE_W | ad);
    V.root2 = make_root(V.l2b);
    fence_i();
}

/* ---- access helpers (record the pc of the access for fault checks) ---- */
static u64 acc_pc;
static u64 do_load(u64 va)
{
    u64 v = 0xbadbadbadull, pc;
    TRAP_EXPECT();
    __asm__ volatile("la %1, 1f\n1: ld %0, 0(%2)" : "+&r"(v), "=&r"(pc) : "r"(va) : "memory");
    TRAP_END();
    acc_pc = pc;
    return v;
}
static u32 do_load32(u64 va)
{
    u64 v = 0xbadbadbadull, pc;
    TRAP_EXPECT();
    __asm__ volatile("la %1, 1f\n1: lwu %0, 0(%2)" : "+&r"(v), "=&r"(pc) : "r"(va) : "memory");
    TRAP_END();
    acc_pc = pc;
    return (u32)v;
}
static void do_store(u64 va, u64 v)
{
    u64 pc;
    TRAP_EXPECT();
    __asm__ volatile("la %0, 1f\n1: sd %1, 0(%2)" : "=&r"(pc) : "r"(v), "r"(va) : "memory");
    TRAP_END();
    acc_pc = pc;
}
static void do_amo(u64 va)
{
    u64 pc;
    TRAP_EXPECT();
    __asm__ volatile("la %0, 1f\n1: amoor.d zero, zero, (%1)" : "=&r"(pc) : "r"(va) : "memory");
    TRAP_END();
    acc_pc = pc;
}
static u64 do_exec(u64 va)
{
    register u64 a0 __asm__("a0") = 0xbad;
    TRAP_EXPECT();
    __asm__ volatile("jalr ra, 0(%1)" : "+r"(a0) : "r"(va) : "ra", "memory");
    TRAP_END();
    return a0;
}

/* U-mode accesses from M through call_in_mode (the helpers are in
 * .text.user, mapped U) */
static u64 u_load(u64 va)
{
    TRAP_EXPECT();
    u64 r = call_in_mode(PRIV_U, u_load64, va, 0);
    TRAP_END();
    acc_pc = (u64)u_load64;
    return r;
}
static void u_store(u64 va)
{
    TRAP_EXPECT();
    call_in_mode(PRIV_U, u_store64, va, 0);
    TRAP_END();
    acc_pc = (u64)u_store64;
}
static u64 u_exec(u64 va)
{
    TRAP_EXPECT();
    u64 r = call_in_mode(PRIV_U, u_jump, va, 0);
    TRAP_END();
    return r;
}

static void fault(const char *name, u64 cause, u64 va, u64 epc, int from)
{
    check_trap(name, cause, epc, va, deleg_on && from != PRIV_M ? PRIV_S : PRIV_M, from);
}
#define LOAD_FAULT(name, va, from) fault(name, CAUSE_LOAD_PAGE, va, acc_pc, from)
#define STORE_FAULT(name, va, from) fault(name, CAUSE_STORE_PAGE, va, acc_pc, from)
#define FETCH_FAULT(name, va, from) fault(name, CAUSE_FETCH_PAGE, va, va, from)

/* ---------------- S-mode tests ---------------- */
static void s_basic(void)
{
    /* 4 KiB pages */
    CHECK("4K RW page: load", do_load(TVA(P_RW)), VAL0);
    check_no_trap("4K RW page: load, no trap");
    do_store(TVA(P_RW) + 8, 0x1234);
    check_no_trap("4K RW page: store, no trap");
    CHECK("4K RW page: store reached the frame", V.p0[1], 0x1234);
    V.p0[2] = 0x777;
    CHECK("4K RW page: load other offset", do_load(TVA(P_RW) + 16), 0x777);
    CHECK("4K R page: load", do_load(TVA(P_RO)), VAL0);
    do_store(TVA(P_RO) + 8, 1);
    STORE_FAULT("4K R page: store fault", TVA(P_RO) + 8, PRIV_S);
    do_amo(TVA(P_RO) + 16);
    STORE_FAULT("4K R page: AMO fault", TVA(P_RO) + 16, PRIV_S);
    do_load(TVA(P_INV) + 0x10);
    LOAD_FAULT("invalid page: load fault", TVA(P_INV) + 0x10, PRIV_S);
    do_store(TVA(P_INV) + 0x18, 1);
    STORE_FAULT("invalid page: store fault", TVA(P_INV) + 0x18, PRIV_S);
    do_exec(TVA(P_INV));
    FETCH_FAULT("invalid page: fetch fault", TVA(P_INV), PRIV_S);
    do_exec(TVA(P_RW));
    FETCH_FAULT("RW page: fetch fault", TVA(P_RW), PRIV_S);
    CHECK("RWX page: exec", do_exec(TVA(P_RWX)), 42);
    check_no_trap("RWX page: exec, no trap");
    CHECK("X-only page: exec", do_exec(TVA(P_XO)), 42);
    do_load(TVA(P_XO));
    LOAD_FAULT("X-only page: load fault (MXR=0)", TVA(P_XO), PRIV_S);
    do_store(TVA(P_XO), 0);
    STORE_FAULT("X-only page: store fault", TVA(P_XO), PRIV_S);
    csr_set(sstatus, MSTATUS_MXR);
    CHECK("X-only page: load with MXR", do_load32(TVA(P_XO)), 0x02a00513);
    check_no_trap("X-only page: load with MXR, no trap");
    do_store(TVA(P_XO), 0);
    STORE_FAULT("X-only page: store fault with MXR", TVA(P_XO), PRIV_S);
    csr_clear(sstatus, MSTATUS_MXR);
    do_load(TVA(P_XO) + 8);
    LOAD_FAULT("X-only page: load fault after MXR cleared", TVA(P_XO) + 8, PRIV_S);

    /* reserved encodings */
    do_load(TVA(P_WO));
    LOAD_FAULT("W without R: load fault", TVA(P_WO), PRIV_S);
    do_store(TVA(P_WO), 5);
    STORE_FAULT("W without R: store fault", TVA(P_WO), PRIV_S);
    do_exec(TVA(P_WX));
    FETCH_FAULT("W+X without R: fetch fault", TVA(P_WX), PRIV_S);
    do_load(TVA(P_NL));
    LOAD_FAULT("non-leaf PTE at level 0: load fault", TVA(P_NL), PRIV_S);
    u64 v = do_load(TVA(P_RSV));
    if (on_qemu() && trap.count == 0) {
        printf_("note: reserved PTE bit 60: QEMU deviates from the spec (no fault)\n");
        (void)v;
    } else {
        LOAD_FAULT("reserved PTE bit 60: load fault", TVA(P_RSV), PRIV_S);
    }

    /* U pages from S: SUM, never executable */
    do_load(TVA(P_URW));
    LOAD_FAULT("U page from S (SUM=0): load fault", TVA(P_URW), PRIV_S);
    do_store(TVA(P_URW), 3);
    STORE_FAULT("U page from S (SUM=0): store fault", TVA(P_URW), PRIV_S);
    csr_set(sstatus, MSTATUS_SUM);
    CHECK("U page from S (SUM=1): load", do_load(TVA(P_URW)), VAL0);
    check_no_trap("U page from S (SUM=1): load, no trap");
    do_store(TVA(P_URW) + 24, 0x55);
    check_no_trap("U page from S (SUM=1): store, no trap");
    CHECK("U page from S (SUM=1): stored", V.p0[3], 0x55);
    do_exec(TVA(P_URX));
    FETCH_FAULT("U page from S (SUM=1): fetch fault", TVA(P_URX), PRIV_S);
    csr_clear(sstatus, MSTATUS_SUM);
    do_exec(TVA(P_URX));
    FETCH_FAULT("U page from S (SUM=0): fetch fault", TVA(P_URX), PRIV_S);
    /* MXR with SUM: U X-only page readable from S */
    csr_set(sstatus, MSTATUS_SUM | MSTATUS_MXR);
    CHECK("U X-only page from S with SUM+MXR: load", do_load32(TVA(P_UXO)), 0x02a00513);
    check_no_trap("U X-only page from S with SUM+MXR: no trap");
    csr_clear(sstatus, MSTATUS_SUM | MSTATUS_MXR);

    /* instruction straddling two pages */
    CHECK("straddling instruction: exec", do_exec(TVA(P_ST0) + 0xffc), 43);
    check_no_trap("straddling instruction: no trap");
    do_exec(TVA(P_ST1) + 0xffc);
    {
        const char *n = "straddling instruction, 2nd page invalid";
        u64 epc = TVA(P_ST1) + 0xffe;
        CHECKI(n, 0, trap.count, 1);
        CHECKI(n, 1, trap.cause, CAUSE_FETCH_PAGE);
        CHECKI(n, 2, trap.epc, epc);
        /* tval: the address of the faulting portion (the spec's choice;
         * the pc of the instruction is also seen in implementations) */
        CHECK_QDEV("straddling instruction: tval = 2nd page", trap.tval, TVA(P_ST1 + 1));
    }
}

static void s_superpages(void)
{
    /* megapage */
    CHECK("megapage: load", do_load(MEGA_VA + 8 * 5), MEGA_PA + 8 * 5);
    CHECK("megapage: load last 4K", do_load(MEGA_VA + 0x1ff000), 0xabcdef);
    do_store(MEGA_VA + 0x100008, 0x4242);
    check_no_trap("megapage: store, no trap");
    CHECK("megapage: store reached PA", *(volatile u64 *)(MEGA_PA + 0x100008), 0x4242);
    do_load(MEGA_BAD_VA + 0x10);
    LOAD_FAULT("misaligned megapage: load fault", MEGA_BAD_VA + 0x10, PRIV_S);
    do_store(MEGA_BAD_VA + 0x1000, 1);
    STORE_FAULT("misaligned megapage: store fault", MEGA_BAD_VA + 0x1000, PRIV_S);
    /* gigapage */
    u64 off = (u64)&V - RAM_BASE;
    CHECK("gigapage: load", do_load(GIGA_VA + off), *(volatile u64 *)&V);
    CHECK("gigapage: load MEGA_PA", do_load(GIGA_VA + (MEGA_PA - RAM_BASE) + 8), MEGA_PA + 8);
    do_store(GIGA_VA + (MEGA_PA - RAM_BASE) + 0x200, 0x99);
    CHECK("gigapage: store", *(volatile u64 *)(MEGA_PA + 0x200), 0x99);
    /* a page-table walk that reads nonexistent memory: access fault */
    do_load(NOTBL_VA + 0x30);
    if (on_qemu() && trap.cause == CAUSE_LOAD_PAGE)
        printf_("note: PTE read from nonexistent memory: QEMU deviates from the spec "
                "(page fault, not access fault)\n");
    else
        fault("PTE read from nonexistent memory: load access fault", CAUSE_LOAD_ACCESS,
              NOTBL_VA + 0x30, acc_pc, PRIV_S);
    do_store(NOTBL_VA + 0x38, 0);
    if (!(on_qemu() && trap.cause == CAUSE_STORE_PAGE))
        fault("PTE read from nonexistent memory: store access fault", CAUSE_STORE_ACCESS,
              NOTBL_VA + 0x38, acc_pc, PRIV_S);
    do_load(GIGA_BAD_VA + 0x20);
    LOAD_FAULT("misaligned gigapage: load fault", GIGA_BAD_VA + 0x20, PRIV_S);
    /* the top (negative) gigabyte */
    CHECK("top-of-address-space gigapage: load", do_load(HIGH_VA + (MEGA_PA - RAM_BASE) + 16),
          MEGA_PA + 16);
    check_no_trap("top-of-address-space gigapage: no trap");
    if (V.levels >= 4) {
        CHECK("terapage: load", do_load(TERA_VA + MEGA_PA + 24), MEGA_PA + 24);
        check_no_trap("terapage: no trap");
        do_store(TERA_VA + MEGA_PA + 0x300, 0x31);
        CHECK("terapage: store", *(volatile u64 *)(MEGA_PA + 0x300), 0x31);
        do_load(TERA_BAD_VA + 0x80);
        LOAD_FAULT("misaligned terapage: load fault", TERA_BAD_VA + 0x80, PRIV_S);
    }
    if (V.levels == 5) {
        CHECK("petapage: load", do_load(PETA_VA + MEGA_PA + 32), MEGA_PA + 32);
        check_no_trap("petapage: no trap");
        do_load(PETA_BAD_VA + 0x88);
        LOAD_FAULT("misaligned petapage: load fault", PETA_BAD_VA + 0x88, PRIV_S);
    }
}

static void s_noncanonical(void)
{
    int vabits = 12 + 9 * V.levels;
    u64 bad[3] = {
        1ull << (vabits - 1),                       /* top VA bit set, upper bits clear */
        (~0ull << vabits) | 0x1000,                 /* upper bits set, top VA bit clear */
        (1ull << 63) | TVA(P_RW),                   /* only bit 63 set */
    };
    for (int i = 0; i < 3; i++) {
        do_load(bad[i]);
        LOAD_FAULT("non-canonical VA: load fault", bad[i], PRIV_S);
        do_store(bad[i] + 8, 0);
        STORE_FAULT("non-canonical VA: store fault", bad[i] + 8, PRIV_S);
        do_exec(bad[i]);
        FETCH_FAULT("non-canonical VA: fetch fault", bad[i], PRIV_S);
    }
}

static void s_ad_bits(void)
{
    volatile u64 *pte = &V.t0[P_AD];
    CHECK("A/D: initially clear", *pte & (PTE_A | PTE_D), 0);
    CHECK("A/D: load", do_load(TVA(P_AD)), VAL1);
    check_no_trap("A/D: load without A, no trap (hardware update)");
    CHECK("A/D: load sets A only", *pte & (PTE_A | PTE_D), PTE_A);
    do_store(TVA(P_AD) + 8, 7);
    check_no_trap("A/D: store without D, no trap (hardware update)");
    CHECK("A/D: store sets A and D", *pte & (PTE_A | PTE_D), PTE_A | PTE_D);
    CHECK("A/D: store reached", V.p1[1], 7);
    /* a store to a fresh page sets both at once */
    *pte &= ~(PTE_A | PTE_D);
    sfence_vma_all();
    do_store(TVA(P_AD) + 16, 8);
    CHECK("A/D: first access a store sets A and D", *pte & (PTE_A | PTE_D), PTE_A | PTE_D);
    /* fetch sets A */
    volatile u64 *xp = &V.t0[P_XA];
    CHECK("A on fetch: initially clear", *xp & PTE_A, 0);
    CHECK("A on fetch: exec", do_exec(TVA(P_XA)), 42);
    CHECK("A on fetch: set", *xp & (PTE_A | PTE_D), PTE_A);
    /* a faulting access does not set A */
    *pte &= ~(PTE_A | PTE_D);
    *pte &= ~PTE_W;
    sfence_vma_all();
    do_store(TVA(P_AD), 1);
    STORE_FAULT("A/D: store to read-only page faults", TVA(P_AD), PRIV_S);
    CHECK("A/D: faulting store sets no D", *pte & PTE_D, 0);
    *pte |= PTE_W;
    sfence_vma_all();
}

static void s_sfence(void)
{
    volatile u64 *pte = &V.t0[P_SWAP];
    u64 ad = PTE_A | PTE_D;
    CHECK("sfence: old mapping", do_load(TVA(P_SWAP)), VAL2);
    *pte = leaf((u64)V.p3, PTE_R | PTE_W | ad);
    __asm__ volatile("sfence.vma" ::: "memory");
    CHECK("sfence.vma (all): new mapping visible", do_load(TVA(P_SWAP)), VAL3);
    *pte = leaf((u64)V.p2, PTE_R | PTE_W | ad);
    __asm__ volatile("sfence.vma %0, zero" ::"r"(TVA(P_SWAP)) : "memory");
    CHECK("sfence.vma va: new mapping visible", do_load(TVA(P_SWAP)), VAL2);
    u64 asid = (csr_read(satp) >> 44) & 0xffff;
    *pte = leaf((u64)V.p3, PTE_R | PTE_W | ad);
    __asm__ volatile("sfence.vma zero, %0" ::"r"(asid) : "memory");
    CHECK("sfence.vma x0, asid: new mapping visible", do_load(TVA(P_SWAP)), VAL3);
    *pte = leaf((u64)V.p2, PTE_R | PTE_W | ad);
    __asm__ volatile("sfence.vma %0, %1" ::"r"(TVA(P_SWAP)), "r"(asid) : "memory");
    CHECK("sfence.vma va, asid: new mapping visible", do_load(TVA(P_SWAP)), VAL2);
    /* invalidating a PTE */
    *pte = 0;
    __asm__ volatile("sfence.vma %0, zero" ::"r"(TVA(P_SWAP)) : "memory");
    do_load(TVA(P_SWAP));
    LOAD_FAULT("sfence.vma: invalidated PTE faults", TVA(P_SWAP), PRIV_S);
    *pte = leaf((u64)V.p2, PTE_R | PTE_W | ad);
    __asm__ volatile("sfence.vma %0, zero" ::"r"(TVA(P_SWAP)) : "memory");
    CHECK("sfence.vma: revalidated PTE", do_load(TVA(P_SWAP)), VAL2);
    /* global mapping, flushed by address */
    volatile u64 *g = &V.t0[P_GLB];
    CHECK("global page: load", do_load(TVA(P_GLB)), VAL2);
    *g = leaf((u64)V.p3, PTE_R | PTE_W | PTE_G | ad);
    __asm__ volatile("sfence.vma %0, zero" ::"r"(TVA(P_GLB)) : "memory");
    CHECK("global page: sfence.vma va", do_load(TVA(P_GLB)), VAL3);
    *g = leaf((u64)V.p2, PTE_R | PTE_W | PTE_G | ad);
    __asm__ volatile("sfence.vma" ::: "memory");

    /* a new root through satp (with another ASID) */
    u64 old = csr_read(satp);
    csr_write(satp, satp_for(V.root2, 2));
    __asm__ volatile("sfence.vma" ::: "memory");
    CHECK("satp new root: new mapping", do_load(TVA(P_SWAP)), VAL3);
    CHECK("satp new root: other mappings", do_load(TVA(P_RW)), VAL0);
    csr_write(satp, old);
    __asm__ volatile("sfence.vma" ::: "memory");
    CHECK("satp old root: old mapping", do_load(TVA(P_SWAP)), VAL2);
    /* same ASID for both roots: switch, then flush that ASID */
    csr_write(satp, satp_for(V.root2, (old >> 44) & 0xffff));
    __asm__ volatile("sfence.vma zero, %0" ::"r"((old >> 44) & 0xffff) : "memory");
    CHECK("satp new root, same ASID, sfence asid", do_load(TVA(P_SWAP)), VAL3);
    csr_write(satp, old);
    __asm__ volatile("sfence.vma" ::: "memory");
    CHECK("satp back", do_load(TVA(P_SWAP)), VAL2);
}

/* ---------------- U-mode tests (run from M) ---------------- */
static void u_tests(void)
{
    CHECK("U: load U page", u_load(TVA(P_URW)), VAL0);
    check_no_trap("U: load U page, no trap");
    u_store(TVA(P_URW) + 32);
    check_no_trap("U: store U page, no trap");
    CHECK("U: store reached", V.p0[4], TVA(P_URW) + 32);
    CHECK("U: exec U page", u_exec(TVA(P_URX)), 42);
    check_no_trap("U: exec U page, no trap");
    u_load(TVA(P_RW));
    LOAD_FAULT("U: load S page", TVA(P_RW), PRIV_U);
    u_store(TVA(P_RW) + 8);
    STORE_FAULT("U: store S page", TVA(P_RW) + 8, PRIV_U);
    u_exec(TVA(P_RWX));
    FETCH_FAULT("U: exec S page", TVA(P_RWX), PRIV_U);
    u_exec(TVA(P_XO));
    FETCH_FAULT("U: exec S X-only page", TVA(P_XO), PRIV_U);
    u_load(TVA(P_INV) + 0x40);
    LOAD_FAULT("U: load invalid page", TVA(P_INV) + 0x40, PRIV_U);
    u_exec(TVA(P_INV));
    FETCH_FAULT("U: exec invalid page", TVA(P_INV), PRIV_U);
    /* SUM does not matter to U */
    csr_set(mstatus, MSTATUS_SUM);
    u_load(TVA(P_RW));
    LOAD_FAULT("U: load S page with SUM=1", TVA(P_RW), PRIV_U);
    csr_clear(mstatus, MSTATUS_SUM);
    /* MXR applies to U too */
    u_load(TVA(P_UXO));
    LOAD_FAULT("U: load X-only U page (MXR=0)", TVA(P_UXO), PRIV_U);
    csr_set(mstatus, MSTATUS_MXR);
    CHECK("U: load X-only U page with MXR", u_load(TVA(P_UXO)) & 0xffffffff, 0x02a00513);
    check_no_trap("U: load X-only U page with MXR, no trap");
    csr_clear(mstatus, MSTATUS_MXR);
    /* U read-only page: store faults */
    u64 save = V.t0[P_URW];
    V.t0[P_URW] = leaf((u64)V.p0, PTE_R | PTE_U | PTE_A);
    sfence_vma_all();
    u_store(TVA(P_URW));
    STORE_FAULT("U: store to read-only U page", TVA(P_URW), PRIV_U);
    V.t0[P_URW] = save;
    sfence_vma_all();
}

/* ---------------- M-mode with MPRV ---------------- */
static u64 mprv_load(u64 va, u64 mpp)
{
    u64 v = 0xbadbadbadull, pc;
    csr_clear(mstatus, MSTATUS_MPP);
    csr_set(mstatus, mpp << MSTATUS_MPP_SHIFT);
    TRAP_EXPECT();
    __asm__ volatile("li t0, %3\n\t"
                     "csrs mstatus, t0\n\t"
                     "la %1, 1f\n"
                     "1: ld %0, 0(%2)\n\t"
                     "csrc mstatus, t0"
                     : "+&r"(v), "=&r"(pc)
                     : "r"(va), "i"(MSTATUS_MPRV)
                     : "t0", "memory");
    TRAP_END();
    acc_pc = pc;
    return v;
}
static void mprv_store(u64 va, u64 mpp, u64 val)
{
    u64 pc;
    csr_clear(mstatus, MSTATUS_MPP);
    csr_set(mstatus, mpp << MSTATUS_MPP_SHIFT);
    TRAP_EXPECT();
    __asm__ volatile("li t0, %3\n\t"
                     "csrs mstatus, t0\n\t"
                     "la %0, 1f\n"
                     "1: sd %1, 0(%2)\n\t"
                     "csrc mstatus, t0"
                     : "=&r"(pc)
                     : "r"(val), "r"(va), "i"(MSTATUS_MPRV)
                     : "t0", "memory");
    TRAP_END();
    acc_pc = pc;
}

static void m_mprv(void)
{
    /* without MPRV, M-mode ignores satp */
    CHECK("M: physical access with satp set", *(volatile u64 *)V.p0, VAL0);
    do_load(GIGA_VA + 0x1000); /* nothing at that physical address */
    CHECK("M: VA is not translated without MPRV", trap.count, 1);
    CHECK("M: VA is not translated without MPRV (access fault)", trap.cause, CAUSE_LOAD_ACCESS);
    CHECK("MPRV, MPP=S: translated load", mprv_load(TVA(P_RW), PRIV_S), VAL0);
    check_no_trap("MPRV, MPP=S: no trap");
    mprv_store(TVA(P_RW) + 40, PRIV_S, 0x4545);
    check_no_trap("MPRV, MPP=S: store, no trap");
    CHECK("MPRV, MPP=S: store reached", V.p0[5], 0x4545);
    mprv_store(TVA(P_RO) + 40, PRIV_S, 1);
    fault("MPRV, MPP=S: store to R page", CAUSE_STORE_PAGE, TVA(P_RO) + 40, acc_pc, PRIV_M);
    CHECK("MPRV: trap to M sets MPP=M", (trap.status >> MSTATUS_MPP_SHIFT) & 3, PRIV_M);
    mprv_load(TVA(P_URW), PRIV_S);
    fault("MPRV, MPP=S, SUM=0: U page", CAUSE_LOAD_PAGE, TVA(P_URW), acc_pc, PRIV_M);
    csr_set(mstatus, MSTATUS_SUM);
    CHECK("MPRV, MPP=S, SUM=1: U page", mprv_load(TVA(P_URW), PRIV_S), VAL0);
    csr_clear(mstatus, MSTATUS_SUM);
    CHECK("MPRV, MPP=U: U page", mprv_load(TVA(P_URW), PRIV_U), VAL0);
    check_no_trap("MPRV, MPP=U: U page, no trap");
    mprv_load(TVA(P_RW), PRIV_U);
    fault("MPRV, MPP=U: S page", CAUSE_LOAD_PAGE, TVA(P_RW), acc_pc, PRIV_M);
    mprv_load(TVA(P_XO), PRIV_S);
    fault("MPRV, MPP=S: X-only page", CAUSE_LOAD_PAGE, TVA(P_XO), acc_pc, PRIV_M);
    csr_set(mstatus, MSTATUS_MXR);
    CHECK("MPRV, MPP=S, MXR: X-only page", mprv_load(TVA(P_XO), PRIV_S) & 0xffffffff, 0x02a00513);
    csr_clear(mstatus, MSTATUS_MXR);
    CHECK("MPRV, MPP=M: untranslated", mprv_load((u64)V.p0, PRIV_M), VAL0);
    check_no_trap("MPRV, MPP=M: no trap");
    CHECK("MPRV, MPP=S: megapage", mprv_load(MEGA_VA + 0x28, PRIV_S), MEGA_PA + 0x28);
    /* instruction fetch is not affected by MPRV: we are still running */
    csr_set(mstatus, MSTATUS_MPP);
    CHECK("MPRV cleared afterwards", csr_read(mstatus) & MSTATUS_MPRV, 0);
}

/* ---------------- top level ---------------- */
static void vm_test(int levels)
{
    vm_build(levels);
    u64 asid = 1;
    csr_write(satp, satp_for(V.root, asid));
    CHECK("satp mode accepted", csr_read(satp) >> 60, V.mode);
    sfence_vma_all();

    goto_priv(PRIV_S);
    s_basic();
    s_superpages();
    s_noncanonical();
    s_ad_bits();
    s_sfence();
    goto_priv(PRIV_M);
    u_tests();
    m_mprv();

    /* page faults delegated to S: stval/scause/sepc */
    csr_write(medeleg, (1ull << CAUSE_FETCH_PAGE) | (1ull << CAUSE_LOAD_PAGE) |
                           (1ull << CAUSE_STORE_PAGE));
    deleg_on = 1;
    goto_priv(PRIV_S);
    do_load(TVA(P_INV) + 0x48);
    LOAD_FAULT("delegated: S load fault", TVA(P_INV) + 0x48, PRIV_S);
    do_store(TVA(P_RO) + 0x50, 1);
    STORE_FAULT("delegated: S store fault", TVA(P_RO) + 0x50, PRIV_S);
    do_exec(TVA(P_RW));
    FETCH_FAULT("delegated: S fetch fault", TVA(P_RW), PRIV_S);
    goto_priv(PRIV_M);
    u_load(TVA(P_RW) + 0x58);
    LOAD_FAULT("delegated: U load fault", TVA(P_RW) + 0x58, PRIV_U);
    u_store(TVA(P_RO) + 0x60);
    STORE_FAULT("delegated: U store fault", TVA(P_RO) + 0x60, PRIV_U);
    u_exec(TVA(P_RWX));
    FETCH_FAULT("delegated: U fetch fault", TVA(P_RWX), PRIV_U);
    /* M-mode (MPRV) page faults are never delegated */
    mprv_load(TVA(P_INV), PRIV_S);
    fault("delegated: MPRV fault stays in M", CAUSE_LOAD_PAGE, TVA(P_INV), acc_pc, PRIV_M);
    deleg_on = 0;
    csr_write(medeleg, 0);

    csr_write(satp, 0);
    sfence_vma_all();
}
#endif
