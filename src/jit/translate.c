/* Decoded blocks to x86-64 (see translate.h for the conventions). */
#include "jit/translate.h"
#include "jit/helpers.h"
#include "mem/bus.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define HP  X86_RBP /* the hart */
#define PC  X86_R12 /* guest pc of the block */
#define BUD X86_R13 /* instructions left */

#define OFF_X(r)   ((int32_t)(offsetof(struct hart, x) + 8 * (r)))
#define OFF_F(r)   ((int32_t)(offsetof(struct hart, f) + 8 * (r)))
#define OFF_PC     ((int32_t)offsetof(struct hart, pc))
#define OFF_MSTAT  ((int32_t)offsetof(struct hart, mstatus))
#define OFF_FFLAGS ((int32_t)offsetof(struct hart, fflags))
#define OFF_FRM    ((int32_t)offsetof(struct hart, frm))
#define OFF_EVENTS ((int32_t)offsetof(struct hart, events))
#define OFF_FAULT  ((int32_t)offsetof(struct hart, jit_fault))
#define OFF_MXCSR  ((int32_t)offsetof(struct hart, jit_mxcsr))
#define OFF_BAIL   ((int32_t)offsetof(struct hart, jit_bail))
#define OFF_SITE   ((int32_t)offsetof(struct hart, jit_site))
#define OFF_SITEPA ((int32_t)offsetof(struct hart, jit_site_pa))
#define OFF_TLBX   ((int32_t)offsetof(struct hart, jit_tlbx))
#define OFF_TLBD   ((int32_t)offsetof(struct hart, jit_tlbd))
#define OFF_SKEY   ((int32_t)offsetof(struct hart, jit_site_key))
#define OFF_FKEY   ((int32_t)offsetof(struct hart, jit_fetch_key))
#define OFF_SLOTS  ((int32_t)offsetof(struct hart, bc.slot))
#define OFF_RX     ((int32_t)offsetof(struct hart, jit.rx))
#define TLB_TABLE  ((int32_t)(TLB_SIZE * sizeof(struct tlb_entry)))

/* The trampoline at offset 0 of every cache: enter(h, pc, budget, code)
 * saves the callee-saved registers, sets up the fixed ones and jumps
 * to the block; the exit at EPILOGUE returns the budget left. */
#define EPILOGUE_AT 64
/* Jumps whose target is known only at run time (JALR, other pages) go to
 * LOOKUP_AT with the target in r12: the fetch TLB and the block cache are
 * searched inline and a translated target is entered directly; anything
 * else returns to the dispatcher. */
#define LOOKUP_AT 96

/* ---- register allocation within a block ---- */

#define NHOST 9
static const int host_reg[NHOST] = {X86_RBX, X86_R15, X86_R14, X86_RSI, X86_RDI,
                                    X86_R8,  X86_R9,  X86_R10, X86_R11};
#define CALLER_SAVED_FROM 3 /* host_reg[3..] are clobbered by calls */

/* A loop's F registers held in xmm registers for the whole loop (fp_plan):
 * the xmm of each, or -1 (then it stays in the hart). They all go back to
 * the hart at every exit and come back after every call (the C ABI keeps
 * no xmm register). xmm0 and xmm1 stay scratch for the fast paths. */
#define FP_XMM_FIRST 2
#define FP_XMM_N     14
struct fpcache {
    int8_t xmm[32];
    unsigned n;
};

struct ra {
    int8_t guest[NHOST]; /* guest register held, or -1 */
    uint8_t dirty[NHOST];
    uint32_t stamp[NHOST];
    const struct fpcache *fp; /* the loop's F registers in xmm, or NULL */
    /* F registers in xmm that hold singles not yet NaN-boxed (the fast
     * copy of a loop, where only singles are written to them): the upper
     * word is junk until something needs all 64 bits (fp_full). */
    uint32_t lazy;
};

/* An out-of-line piece of code at the end of the block, reached by a jump
 * from the mainline with the allocator's state at that point. */
enum stub_kind {
    STUB_LOAD,
    STUB_STORE,
    STUB_BRANCH,
    STUB_LOOP,
    STUB_BAIL,
    STUB_FPCALL,
    STUB_TRAPPED, /* a helper took a trap: registers already written back */
    STUB_NONE     /* a branch's exit it turned out not to need (resolve_forward) */
};
/* An access's own TLB slot (see tlb_lookup). */
struct site {
    uint64_t slot; /* its address (0: none) */
    size_t hit;    /* the access itself */
    int32_t table; /* which TLB table fills it */
    uint64_t pred; /* outside loops: the addend it expects (0: none) */
    size_t other;  /* the jump taken when the TLB's addend is another */
};

struct stub {
    enum stub_kind kind;
    size_t from; /* displacement of the jump to the stub */
    size_t back; /* where the mainline goes on (loads, stores) */
    unsigned idx;
    struct ra ra;
    struct insn d;
    int32_t pc_off;      /* from the block's pc (a trace's may be below it) */
    int val;             /* stores: host register of the value, -1 for zero, -2 for f[rs2];
                            loads: host register of rd when the value goes straight there, else -1 */
    int64_t to;          /* branches: target offset from the block's pc */
    unsigned loop_k;     /* STUB_LOOP: the instruction an iteration starts at */
    int32_t loop_refund; /* STUB_LOOP: what the iteration charged and did not run */
    size_t from_ev;      /* STUB_LOOP: the jump taken when events are pending */
    struct site site;
};

/* A loop's tail: straight-line code out of the loop's range (on its page)
 * that a branch of the loop goes to and that jumps back into the loop, as
 * compilers lay out an if-body that ends in `continue`. It is translated
 * with the loop's registers, so that taking it does not leave the loop. */
#define TAIL_MAX  6 /* instructions, the jump back included */
#define MAX_TAILS 4
#define TAIL_BASE (BLOCK_MAX + 1) /* instruction index of the first tail's first */
struct tail {
    unsigned branch; /* the loop's instruction that branches there */
    unsigned first;  /* its instructions: ins(t, TAIL_BASE + first)... */
    unsigned n;
    size_t jmp;   /* the branch's jump to it (in the copy being emitted) */
    struct ra ra; /* the allocator's state at the branch */
    /* If-converted (plan_selects): the instruction both ways go on at, the
     * branch's fall-through being at most one instruction before it; the
     * tail is then not emitted. 0: not converted. */
    unsigned select;
};

/* A block that ends in a JAL x0 into its own page goes on there (a trace):
 * at most TRACE_MAX more instructions, through at most TRACE_HOPS JALs,
 * held where a loop's tails are (a block is one or the other). */
#define TRACE_MAX  32
#define TRACE_HOPS 4

#define MAX_STUBS                                                                                  \
    (2 * (BLOCK_MAX / 2 * 8 + MAX_TAILS * TAIL_MAX) + 2 * TRACE_MAX + 8) /* FP fast paths: 7 */
struct tctx {
    /* Per-block state, zeroed before each translation (up to `stub`). */
    struct x86buf *b;
    struct jit_cache *c;
    const struct block *blk;
    unsigned n; /* instructions translated (charged at entry) */
    struct ra ra;
    uint32_t now;
    unsigned locked; /* host slots the current instruction uses */
    unsigned nstub;
    struct site site; /* tlb_lookup's, until add_stub takes it */
    int loop;         /* the block branches to its own start: registers stay in host ones */
    unsigned nslots;
    size_t validate_jmp; /* the entry's jump to that check, 0 if it has none */
    struct fpcache fp;   /* ra.fp, when the loop keeps F registers in xmm */
    /* The fast copy of a loop is being emitted: the copy its entry runs
     * when its checks hold (fast_copy_plan). Its F/D instructions skip the
     * FS, NX and frm checks, and registers in fp_boxed_ok (every write in
     * the loop boxes them) their NaN-box checks. */
    int fast_copy;
    uint32_t fp_boxed_ok;
    /* Divisors the loop's entry found to hold the values they held when it
     * was translated (and the loop does not write): its fast copy divides
     * by those constants with a multiplication. */
    uint32_t div_const;
    /* Divisions whose divisor an earlier instruction of the block set to a
     * constant (plan_known_divisors): their values are in kdiv_val. */
    uint64_t kdiv_known;
    uint64_t targets;             /* instructions of the block some jump goes to (plan_targets) */
    const uint64_t *regs;         /* the guest registers at translation time, or NULL */
    const struct tlb_entry *tlbd; /* the data TLB's read table then, or NULL */
    unsigned ntails, ntail_ins, nfwd;
    unsigned skip_to;     /* emit_body: instructions before this one an if-conversion did */
    unsigned ntrace;      /* a trace's instructions (plan_trace), from TAIL_BASE on */
    uint32_t trace_taken; /* its branches it goes on after taken (bit i: its i-th) */
    int trace_back;       /* it went back (to a lower address) somewhere: see exit_to */
    unsigned charged;     /* instructions the entry charges: n, and a trace's */
    /* Arrays, valid up to their counts (or written before they are read). */
    uint64_t div_val[32];
    uint64_t kdiv_val[BLOCK_MAX];
    struct stub stub[MAX_STUBS + 1]; /* the last: where a stub too many goes */
    /* A loop's access slots, whose keys its entry checks (validate_slots). */
    uint64_t slots[BLOCK_MAX];
    size_t ins_off[BLOCK_MAX]; /* where each instruction's code begins (loop targets) */
    struct tail tails[MAX_TAILS];
    struct iinsn tail_ins[MAX_TAILS * TAIL_MAX > TRACE_MAX ? MAX_TAILS *TAIL_MAX : TRACE_MAX];
    /* Branches forward within the block (over an if-body): the stub of
     * each, and the instruction it goes to; then where that is, once the
     * registers there turned out to be where they are at the branch. */
    struct fwd {
        unsigned stub, to;
        size_t at; /* 0: not (yet) */
    } fwd[BLOCK_MAX];
};

/* Instruction idx: the block's, or a tail's from TAIL_BASE on. */
static const struct iinsn *ins(const struct tctx *t, unsigned idx)
{
    return idx < TAIL_BASE ? &t->blk->insn[idx] : &t->tail_ins[idx - TAIL_BASE];
}

/* The i-th of a loop's instructions, then of its tails' (i below
 * t->n + t->ntail_ins). */
static const struct iinsn *loop_ins(const struct tctx *t, unsigned i)
{
    return ins(t, i < t->n ? i : TAIL_BASE + i - t->n);
}

/* An instruction's offset from the block's pc: below it for some of a
 * trace's (the block and its traces lie in one page: |offset| < 4096). */
static int32_t pc_rel(const struct iinsn *ii)
{
    return (int16_t)ii->pc_off;
}

/* Instructions retired before idx in the pass through the block that
 * runs it (a tail's follow its branch). */
static unsigned retired_before(const struct tctx *t, unsigned idx)
{
    return ins(t, idx)->count - 1u;
}

static int slot_of(const struct tctx *t, unsigned r)
{
    for (int i = 0; i < NHOST; i++)
        if (t->ra.guest[i] == (int)r) return i;
    return -1;
}

static int victim(struct tctx *t)
{
    int best = -1;
    for (int i = 0; i < NHOST; i++) {
        if (t->locked & (1u << i)) continue;
        if (t->ra.guest[i] < 0) return i;
        if (best < 0 || t->ra.stamp[i] < t->ra.stamp[best]) best = i;
    }
    if (t->ra.dirty[best]) x86_store(t->b, HP, OFF_X(t->ra.guest[best]), host_reg[best]);
    t->ra.guest[best] = -1;
    t->ra.dirty[best] = 0;
    return best;
}

static int take(struct tctx *t, int s)
{
    t->ra.stamp[s] = ++t->now;
    t->locked |= 1u << s;
    return host_reg[s];
}

/* The host register holding guest register r (1..31), loaded if needed. */
static int get(struct tctx *t, unsigned r)
{
    int s = slot_of(t, r);
    if (s < 0) {
        s = victim(t);
        t->ra.guest[s] = (int8_t)r;
        x86_load(t->b, host_reg[s], HP, OFF_X(r));
    }
    return take(t, s);
}

/* A source operand: guest r in a host register, or x0 as zero in scratch. */
static int src(struct tctx *t, unsigned r, int scratch)
{
    if (r == 0 || r == REG_SINK) {
        x86_alu32_rr(t->b, X86_XOR, scratch, scratch);
        return scratch;
    }
    return get(t, r);
}

/* The host register that will hold a new value of guest register r. */
static int def(struct tctx *t, unsigned r)
{
    int s = slot_of(t, r);
    if (s < 0) {
        s = victim(t);
        t->ra.guest[s] = (int8_t)r;
    }
    t->ra.dirty[s] = 1;
    return take(t, s);
}

static void writeback(struct x86buf *b, const struct ra *ra)
{
    for (int i = 0; i < NHOST; i++)
        if (ra->guest[i] >= 0 && ra->dirty[i]) x86_store(b, HP, OFF_X(ra->guest[i]), host_reg[i]);
    if (ra->lazy) x86_pcmpeqd(b, 1, 1);
    for (unsigned r = 0; ra->fp && r < 32; r++) {
        if (ra->fp->xmm[r] < 0) continue;
        if (ra->lazy >> r & 1) x86_punpckldq(b, ra->fp->xmm[r], 1); /* boxed in place */
        x86_sse_st(b, X86_MEM(HP, OFF_F(r)), ra->fp->xmm[r]);
    }
}

/* After a call: the caller-saved registers again (every xmm is). */
static void reload_caller_saved(struct x86buf *b, const struct ra *ra)
{
    for (int i = CALLER_SAVED_FROM; i < NHOST; i++)
        if (ra->guest[i] >= 0) x86_load(b, host_reg[i], HP, OFF_X(ra->guest[i]));
    for (unsigned r = 0; ra->fp && r < 32; r++)
        if (ra->fp->xmm[r] >= 0) x86_sse_ld(b, 1, ra->fp->xmm[r], X86_MEM(HP, OFF_F(r)));
}

static struct stub *add_stub(struct tctx *t, enum stub_kind kind, size_t from, unsigned idx)
{
    if (t->nstub == MAX_STUBS) { /* cannot happen (see MAX_STUBS); give up the block */
        t->b->overflow = 1;
        return &t->stub[MAX_STUBS];
    }
    struct stub *s = &t->stub[t->nstub++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->from = from;
    s->idx = idx;
    s->ra = t->ra;
    s->d = ins(t, idx)->d;
    s->pc_off = pc_rel(ins(t, idx));
    s->site = t->site;
    t->site.slot = 0;
    t->site.pred = 0;
    return s;
}

/* ---- exits ---- */

static uint64_t site_alloc(struct jit_cache *c);
static int loop_target(const struct tctx *t, unsigned idx);
static void jmp_to(struct x86buf *b, size_t target);
static void jc_entry(struct x86buf *b, uint64_t jc);

/* Go to the guest address in r12, which only run time knows (JALR) or
 * which lies on another page: this exit's own cache remembers the last
 * target and its translation (valid for the fetch key it was made with:
 * TLB and code generations, privilege), so a return or a call jumps there
 * straight from its own indirect jump; otherwise the shared lookup finds
 * it and refills the cache. */
static void jmp_lookup(struct tctx *t)
{
    struct x86buf *b = t->b;
    uint64_t slot = site_alloc(t->c);
    if (!slot) {
        x86_alu32_rr(b, X86_XOR, X86_RAX, X86_RAX);
        x86_store(b, X86_RSP, 0, X86_RAX);
        jmp_to(b, LOOKUP_AT);
        return;
    }
    x86_alu_rm(b, X86_CMP, PC, X86_ABS(slot));
    size_t miss = x86_jcc32(b, X86_CC_NE);
    x86_load(b, X86_RAX, HP, OFF_FKEY);
    x86_alu_rm(b, X86_CMP, X86_RAX, X86_ABS(slot + 16));
    size_t miss2 = x86_jcc32(b, X86_CC_NE);
    x86_jmp_m(b, X86_ABS(slot + 8));
    x86_patch(b, miss, b->len);
    x86_patch(b, miss2, b->len);
    /* the hart's jump table, probed here rather than in the shared lookup:
     * an indirect jump of its own lets the host predict this exit's
     * targets (a switch's, say) apart from every other exit's */
    jc_entry(b, (uint64_t)(uintptr_t)t->c->data);
    x86_alu_rm(b, X86_CMP, PC, X86_MEM(X86_RCX, 0));
    size_t slow = x86_jcc32(b, X86_CC_NE);
    x86_load(b, X86_RAX, HP, OFF_FKEY);
    x86_alu_rm(b, X86_CMP, X86_RAX, X86_MEM(X86_RCX, 16));
    size_t slow2 = x86_jcc32(b, X86_CC_NE);
    x86_jmp_m(b, X86_MEM(X86_RCX, 8));
    x86_patch(b, slow, b->len);
    x86_patch(b, slow2, b->len);
    x86_lea(b, X86_RAX, X86_ABS(slot));
    x86_store(b, X86_RSP, 0, X86_RAX);
    jmp_to(b, LOOKUP_AT);
}

static void jmp_to(struct x86buf *b, size_t target)
{
    x86_patch(b, x86_jmp32(b), target);
}

static void refund(struct x86buf *b, int64_t k)
{
    if (k) x86_alu_ri(b, X86_ADD, BUD, (int32_t)k);
}

/* Leave for the guest address block pc + to (registers written back,
 * budget settled). A target on the block's own guest page is a chaining
 * candidate: its jump can later be pointed at the target's translation. */
static void exit_to(struct tctx *t, int64_t to, int64_t from)
{
    struct x86buf *b = t->b;
    if (to) x86_lea(b, PC, X86_MEM(PC, (int32_t)to));
    int64_t in_page = (int64_t)(t->blk->paddr & 0xfff) + to;
    if (in_page >= 0 && in_page < 4096) {
        size_t site = x86_jmp32(b);
        x86_patch(b, site, b->len); /* unlinked: falls through to the exit */
        /* bit 0 (pcs are even): a forward jump, whose link may skip the
         * target's look at events (every cycle has a backward edge; a
         * trace that went back inside the translation had its backward
         * edge unchecked, so none of its exits counts as forward) */
        uint64_t pa =
            ((t->blk->paddr & ~0xfffull) + (uint64_t)in_page) | (to > from && !t->trace_back);
        x86_lea(b, X86_RAX, X86_ABS((uint64_t)(uintptr_t)(t->c->rx + site)));
        x86_store(b, HP, OFF_SITE, X86_RAX);
        x86_mov_ri(b, X86_RAX, pa);
        x86_store(b, HP, OFF_SITEPA, X86_RAX);
        x86_store(b, HP, OFF_PC, PC);
        jmp_to(b, EPILOGUE_AT);
        return;
    }
    jmp_lookup(t);
}

/* ---- instructions ---- */

static enum x86_alu alu_of(unsigned op)
{
    switch (op) {
    case OP_ADD:
    case OP_ADDI:
    case OP_ADDW:
    case OP_ADDIW: return X86_ADD;
    case OP_SUB:
    case OP_SUBW: return X86_SUB;
    case OP_XOR:
    case OP_XORI: return X86_XOR;
    case OP_OR:
    case OP_ORI: return X86_OR;
    default: return X86_AND;
    }
}

static enum x86_shift shift_of(unsigned op)
{
    switch (op) {
    case OP_SLL:
    case OP_SLLI:
    case OP_SLLW:
    case OP_SLLIW: return X86_SHL;
    case OP_SRL:
    case OP_SRLI:
    case OP_SRLW:
    case OP_SRLIW: return X86_SHR;
    default: return X86_SAR;
    }
}

static int writes_rd(const struct insn *d)
{
    return d->rd != 0 && d->rd != REG_SINK;
}

/* rd = rax (or its low 32 bits sign-extended). */
static void put_rax(struct tctx *t, const struct insn *d, int w32)
{
    if (!writes_rd(d)) return;
    int hd = def(t, d->rd);
    if (w32)
        x86_movsxd(t->b, hd, X86_RAX);
    else
        x86_mov_rr(t->b, hd, X86_RAX);
}

/* ADDI, XORI/ORI/ANDI and the shifts by an immediate, straight into rd's
 * host register: `lea`, or `mov` + op (just op when rd is rs1). */
static int emit_imm_direct(struct tctx *t, const struct insn *d)
{
    struct x86buf *b = t->b;
    int32_t imm = d->imm;
    if (!writes_rd(d)) return 1; /* no effect */
    int a = d->rs1 ? get(t, d->rs1) : -1;
    int hd = def(t, d->rd);
    if (d->op == OP_ADDI) {
        if (a < 0)
            x86_mov_ri(b, hd, (uint64_t)(int64_t)imm);
        else if (imm == 0)
            x86_mov_rr(b, hd, a);
        else
            x86_lea(b, hd, X86_MEM(a, imm));
        return 1;
    }
    if (a < 0)
        x86_alu32_rr(b, X86_XOR, hd, hd);
    else if (hd != a)
        x86_mov_rr(b, hd, a);
    if (d->op == OP_XORI || d->op == OP_ORI || d->op == OP_ANDI)
        x86_alu_ri(b, alu_of(d->op), hd, imm);
    else
        x86_shift_ri(b, shift_of(d->op), hd, (uint8_t)imm);
    return 1;
}

static void emit_imm_alu(struct tctx *t, const struct insn *d)
{
    struct x86buf *b = t->b;
    int64_t imm = d->imm;
    switch (d->op) {
    case OP_ADDI:
    case OP_XORI:
    case OP_ORI:
    case OP_ANDI:
    case OP_SLLI:
    case OP_SRLI:
    case OP_SRAI: emit_imm_direct(t, d); return;
    }
    int a = src(t, d->rs1, X86_RAX);
    switch (d->op) {
    case OP_SLTI:
    case OP_SLTIU:
        x86_mov_ri(b, X86_RCX, (uint64_t)imm);
        x86_alu_rr(b, X86_CMP, a, X86_RCX);
        x86_setcc(b, d->op == OP_SLTI ? X86_CC_L : X86_CC_B, X86_RAX);
        break;
    case OP_ADDIW: /* the low 32 bits of a 64-bit sum are the 32-bit sum */
        if (imm) x86_lea(b, X86_RAX, X86_MEM(a, (int32_t)imm));
        if (writes_rd(d)) x86_movsxd(b, def(t, d->rd), imm ? X86_RAX : a);
        return;
    default: /* SLLIW SRLIW SRAIW */
        x86_mov32_rr(b, X86_RAX, a);
        x86_shift32_ri(b, shift_of(d->op), X86_RAX, (uint8_t)imm);
        put_rax(t, d, 1);
        return;
    }
    put_rax(t, d, 0);
}

/* ADD SUB XOR OR AND MUL with both operands registers, straight into rd's
 * host register (through rax only when rd is rs2 of a SUB). */
static int emit_reg_direct(struct tctx *t, const struct insn *d)
{
    struct x86buf *b = t->b;
    if (!writes_rd(d)) return 1;
    if (d->rs1 == 0 ||
        d->rs2 == 0) { /* a move (mv is add rd, x0, rs), a zero or the general path */
        unsigned other = d->rs1 ? d->rs1 : d->rs2;
        int mv = d->op == OP_ADD || d->op == OP_OR || d->op == OP_XOR ||
                 (d->op == OP_SUB && d->rs2 == 0);
        if (!mv && d->op != OP_AND && d->op != OP_MUL) return 0;
        int o = mv && other ? get(t, other) : -1;
        int hd = def(t, d->rd);
        if (o >= 0) {
            if (o != hd) x86_mov_rr(b, hd, o);
        } else {
            x86_alu32_rr(b, X86_XOR, hd, hd); /* x0 op x0, and with or times zero */
        }
        return 1;
    }
    int a = get(t, d->rs1), c = get(t, d->rs2);
    int hd = def(t, d->rd);
    if (hd == c && hd != a) {
        if (d->op == OP_SUB) {
            x86_mov_rr(b, X86_RAX, a);
            x86_alu_rr(b, X86_SUB, X86_RAX, c);
            x86_mov_rr(b, hd, X86_RAX);
            return 1;
        }
        c = a; /* the others commute: op rd, rs1 */
    } else if (hd != a) {
        x86_mov_rr(b, hd, a);
    }
    if (d->op == OP_MUL)
        x86_imul_rr(b, hd, c);
    else
        x86_alu_rr(b, alu_of(d->op), hd, c);
    return 1;
}

/* Division and remainder with RISC-V's results for a zero divisor and
 * for overflow (M extension 13.2), where x86 would fault: the divisor in
 * rcx, the dividend in rax; the quotient ends in rax, the remainder in rdx. */
static void emit_div(struct x86buf *b, int w64, int sgn)
{
    x86_test_rr(b, X86_RCX, X86_RCX);
    size_t zero = x86_jcc32(b, X86_CC_E);
    size_t minus1 = 0;
    if (sgn) {
        if (w64)
            x86_alu_ri(b, X86_CMP, X86_RCX, -1);
        else
            x86_alu32_ri(b, X86_CMP, X86_RCX, -1);
        minus1 = x86_jcc32(b, X86_CC_E);
        if (w64)
            x86_cqo(b);
        else
            x86_cdq(b);
    } else {
        x86_alu32_rr(b, X86_XOR, X86_RDX, X86_RDX);
    }
    x86_muldiv(b, w64, sgn ? X86_IDIV : X86_DIV, X86_RCX);
    size_t done1 = x86_jmp32(b);
    size_t done2 = 0;
    if (sgn) { /* divisor -1: the quotient is -dividend (wrapping), no remainder */
        x86_patch(b, minus1, b->len);
        if (w64)
            x86_neg(b, X86_RAX);
        else {
            x86_mov32_rr(b, X86_RAX, X86_RAX);
            x86_neg(b, X86_RAX);
        }
        x86_alu32_rr(b, X86_XOR, X86_RDX, X86_RDX);
        done2 = x86_jmp32(b);
    }
    x86_patch(b, zero, b->len); /* divisor 0: quotient all ones, remainder the dividend */
    x86_mov_rr(b, X86_RDX, X86_RAX);
    x86_mov_ri(b, X86_RAX, ~0ull);
    x86_patch(b, done1, b->len);
    if (sgn) x86_patch(b, done2, b->len);
}

/* Unsigned 64-bit division by a constant d >= 1 as a multiplication
 * (Granlund and Montgomery, "Division by invariant integers using
 * multiplication", 1994, fig. 4.1): with l = ceil(log2 d) and
 * m = floor(2^64 (2^l - d) / d) + 1, t = mulhi(m, n),
 * n / d = (t + ((n - t) >> min(l, 1))) >> max(l - 1, 0). */
struct divu_magic {
    uint64_t m;
    unsigned sh1, sh2;
};

static struct divu_magic divu_magic(uint64_t d)
{
    unsigned l = d == 1 ? 0 : 64 - (unsigned)__builtin_clzll(d - 1);
    unsigned __int128 span = ((unsigned __int128)1 << l) - d; /* below 2^63 */
    unsigned __int128 m = (span << 64) / d + 1;
    return (struct divu_magic){(uint64_t)m, l ? 1 : 0, l ? l - 1 : 0};
}

static uint64_t divu_by_magic(struct divu_magic g, uint64_t n)
{
    uint64_t t = (uint64_t)(((unsigned __int128)g.m * n) >> 64);
    return (t + ((n - t) >> g.sh1)) >> g.sh2;
}

/* Does the multiplication give n / d for dividends at the edges (and a
 * few others)? It always should; a divisor it does not is not
 * specialized. */
static int divu_magic_ok(uint64_t d)
{
    struct divu_magic g = divu_magic(d);
    const uint64_t n[] = {0,
                          1,
                          d - 1,
                          d,
                          d + 1,
                          2 * d - 1,
                          2 * d,
                          ~0ull,
                          ~0ull - 1,
                          1ull << 63,
                          ~0ull / d * d,
                          ~0ull / d * d - 1,
                          0x9e3779b97f4a7c15ull,
                          12345678901ull};
    for (unsigned i = 0; i < sizeof(n) / sizeof(n[0]); i++)
        if (divu_by_magic(g, n[i]) != n[i] / d) return 0;
    return 1;
}

static int is_divrem(unsigned op)
{
    return op >= OP_DIV && op <= OP_REMUW && op != OP_MULW;
}

/* The unsigned divisor a division by the value v comes down to: v for
 * DIVU/REMU, its low word for the unsigned W forms, the magnitude of v
 * (or of its low word, sign-extended) for the signed ones; 0 when the
 * translator must divide (by zero, or by a divisor whose multiplication
 * fails divu_magic_ok). */
static uint64_t div_magnitude(unsigned op, uint64_t v)
{
    uint64_t d = v;
    if (op == OP_DIVUW || op == OP_REMUW) d = (uint32_t)v;
    if (op == OP_DIVW || op == OP_REMW) d = (uint64_t)(int64_t)(int32_t)v;
    if ((op == OP_DIV || op == OP_REM || op == OP_DIVW || op == OP_REMW) && (int64_t)d < 0)
        d = 0 - d;
    return d && divu_magic_ok(d) ? d : 0;
}

/* Division or remainder of host register a by the constant value v (the
 * divisor's register holds it: known at translation, or checked by the
 * loop's entry), without a division: the result in rax; returns 1 for the
 * W forms, as emit_divrem. The dividend's magnitude goes to rcx, the
 * unsigned quotient by |divisor| (multiplication by its magic number) to
 * rax; the remainder is the magnitude less the quotient times |divisor|;
 * then the signs: the quotient's is the dividend's times the divisor's, the
 * remainder's the dividend's, as RISC-V's truncating division has them
 * (the most negative dividend by -1 wraps to itself, remainder 0). */
static int emit_div_const(struct x86buf *b, unsigned op, int a, uint64_t v)
{
    uint64_t dm = div_magnitude(op, v);
    int w = op >= OP_DIVW, sgn = op == OP_DIV || op == OP_REM || op == OP_DIVW || op == OP_REMW;
    int rem = op == OP_REM || op == OP_REMU || op == OP_REMW || op == OP_REMUW;
    struct divu_magic g = divu_magic(dm);
    if (w && sgn)
        x86_movsxd(b, X86_RCX, a);
    else if (w)
        x86_mov32_rr(b, X86_RCX, a);
    else
        x86_mov_rr(b, X86_RCX, a);
    if (sgn) { /* rcx = |rcx| */
        x86_mov_rr(b, X86_RAX, X86_RCX);
        x86_shift_ri(b, X86_SAR, X86_RAX, 63);
        x86_alu_rr(b, X86_XOR, X86_RCX, X86_RAX);
        x86_alu_rr(b, X86_SUB, X86_RCX, X86_RAX);
    }
    x86_mov_ri(b, X86_RAX, g.m);
    x86_muldiv(b, 1, X86_MUL, X86_RCX); /* rdx = mulhi(m, n) */
    x86_mov_rr(b, X86_RAX, X86_RCX);
    x86_alu_rr(b, X86_SUB, X86_RAX, X86_RDX);
    if (g.sh1) x86_shift_ri(b, X86_SHR, X86_RAX, (uint8_t)g.sh1);
    x86_alu_rr(b, X86_ADD, X86_RAX, X86_RDX);
    if (g.sh2) x86_shift_ri(b, X86_SHR, X86_RAX, (uint8_t)g.sh2);
    if (rem) { /* n - (n / d) * d */
        x86_mov_ri(b, X86_RDX, dm);
        x86_imul_rr(b, X86_RAX, X86_RDX);
        x86_alu_rr(b, X86_SUB, X86_RCX, X86_RAX);
        x86_mov_rr(b, X86_RAX, X86_RCX);
    }
    if (!sgn) return w;
    if (w) /* rcx = all ones when the result is negative, else 0 */
        x86_movsxd(b, X86_RCX, a);
    else
        x86_mov_rr(b, X86_RCX, a);
    x86_shift_ri(b, X86_SAR, X86_RCX, 63);
    if (!rem && (w ? (int32_t)v < 0 : (int64_t)v < 0)) x86_alu_ri(b, X86_XOR, X86_RCX, -1);
    x86_alu_rr(b, X86_XOR, X86_RAX, X86_RCX);
    x86_alu_rr(b, X86_SUB, X86_RAX, X86_RCX);
    return w;
}

/* The divisor of the division at idx, when it is a constant: the value an
 * earlier instruction of the block put there (kdiv, known with no way in
 * between), or, in a loop's fast copy, the value its entry checked. */
static int div_divisor(const struct tctx *t, const struct insn *d, unsigned idx, uint64_t *v)
{
    if (idx < BLOCK_MAX && (t->kdiv_known >> idx & 1)) {
        *v = t->kdiv_val[idx];
        return 1;
    }
    if (t->fast_copy && (t->div_const >> d->rs2 & 1)) {
        *v = t->div_val[d->rs2];
        return 1;
    }
    return 0;
}

/* DIV[U][W] or REM[U][W] of host registers a by c: the result in rax;
 * returns 1 for the W forms (rax's low half, sign-extended by put_rax). */
static int emit_divrem(struct tctx *t, const struct insn *d, unsigned idx, int a, int c)
{
    struct x86buf *b = t->b;
    unsigned op = d->op;
    uint64_t v;
    if (d->rs1 && div_divisor(t, d, idx, &v) && div_magnitude(op, v))
        return emit_div_const(b, op, a, v);
    int w64 = op == OP_DIV || op == OP_DIVU || op == OP_REM || op == OP_REMU;
    int sgn = op == OP_DIV || op == OP_REM || op == OP_DIVW || op == OP_REMW;
    int rem = op == OP_REM || op == OP_REMU || op == OP_REMW || op == OP_REMUW;
    x86_mov_rr(b, X86_RDX, c);
    x86_mov_rr(b, X86_RCX, X86_RDX);
    x86_mov_rr(b, X86_RAX, a);
    if (!w64) {
        x86_mov32_rr(b, X86_RCX, X86_RCX);
        x86_mov32_rr(b, X86_RAX, X86_RAX);
    }
    emit_div(b, w64, sgn);
    if (rem) x86_mov_rr(b, X86_RAX, X86_RDX);
    return !w64;
}

static void emit_reg_alu(struct tctx *t, const struct insn *d, unsigned idx)
{
    struct x86buf *b = t->b;
    unsigned op = d->op;
    if ((op == OP_ADD || op == OP_SUB || op == OP_XOR || op == OP_OR || op == OP_AND ||
         op == OP_MUL) &&
        emit_reg_direct(t, d))
        return;
    int a = src(t, d->rs1, X86_RAX);
    int c = src(t, d->rs2, X86_RCX);
    int w32 = 0;
    switch (op) {
    case OP_ADD:
    case OP_SUB:
    case OP_XOR:
    case OP_OR:
    case OP_AND:
        x86_mov_rr(b, X86_RAX, a);
        x86_alu_rr(b, alu_of(op), X86_RAX, c);
        break;
    case OP_ADDW:
    case OP_SUBW:
        x86_mov32_rr(b, X86_RAX, a);
        x86_alu32_rr(b, alu_of(op), X86_RAX, c);
        w32 = 1;
        break;
    case OP_SLT:
    case OP_SLTU:
        x86_alu_rr(b, X86_CMP, a, c);
        x86_setcc(b, op == OP_SLT ? X86_CC_L : X86_CC_B, X86_RAX);
        break;
    case OP_SLL:
    case OP_SRL:
    case OP_SRA: /* x86 masks the count as RISC-V does: 6 bits, or 5 for W */
        x86_mov_rr(b, X86_RCX, c);
        x86_mov_rr(b, X86_RAX, a);
        x86_shift_cl(b, shift_of(op), X86_RAX);
        break;
    case OP_SLLW:
    case OP_SRLW:
    case OP_SRAW:
        x86_mov_rr(b, X86_RCX, c);
        x86_mov32_rr(b, X86_RAX, a);
        x86_shift32_cl(b, shift_of(op), X86_RAX);
        w32 = 1;
        break;
    case OP_MUL:
        x86_mov_rr(b, X86_RAX, a);
        x86_imul_rr(b, X86_RAX, c);
        break;
    case OP_MULW:
        x86_mov32_rr(b, X86_RAX, a);
        x86_imul32_rr(b, X86_RAX, c);
        w32 = 1;
        break;
    case OP_MULH:
    case OP_MULHU:
    case OP_MULHSU:
        x86_mov_rr(b, X86_RDX, c); /* c may be rcx, the dividend's... keep it */
        x86_mov_rr(b, X86_RCX, X86_RDX);
        x86_mov_rr(b, X86_RAX, a);
        x86_muldiv(b, 1, op == OP_MULH ? X86_IMUL1 : X86_MUL, X86_RCX);
        if (op == OP_MULHSU) { /* signed a: subtract b when a < 0 */
            x86_mov_rr(b, X86_RAX, a);
            x86_shift_ri(b, X86_SAR, X86_RAX, 63);
            x86_alu_rr(b, X86_AND, X86_RAX, X86_RCX);
            x86_alu_rr(b, X86_SUB, X86_RDX, X86_RAX);
        }
        x86_mov_rr(b, X86_RAX, X86_RDX);
        break;
    default: w32 = emit_divrem(t, d, idx, a, c); break; /* DIV[U][W], REM[U][W] */
    }
    put_rax(t, d, w32);
}

static unsigned mem_size(unsigned op)
{
    switch (op) {
    case OP_LB:
    case OP_LBU:
    case OP_SB: return 1;
    case OP_LH:
    case OP_LHU:
    case OP_SH: return 2;
    case OP_LW:
    case OP_LWU:
    case OP_SW:
    case OP_FLW:
    case OP_FSW: return 4;
    default: return 8;
    }
}

/* A TLB slot of the access's own (in the code cache's data pages):
 * {tag, addend, key}, empty at first. */
#define SLOT_BYTES 32
static uint64_t site_alloc(struct jit_cache *c)
{
    if (c->data_used + SLOT_BYTES > c->data_size) return 0;
    uint64_t *slot = (uint64_t *)(void *)(c->data + c->data_used);
    c->data_used += SLOT_BYTES;
    slot[0] = ~0ull; /* no address's tag */
    slot[1] = 0;
    slot[2] = ~0ull; /* no key */
    return (uint64_t)(uintptr_t)slot;
}

static void insn_use(const struct insn *d, uint32_t *in, uint32_t *out);

/* The addend of the page the load at idx would read if it ran now: its
 * address register not written before it in the block, and the page in
 * the data TLB (else 0, which no page has in practice). */
static uint64_t addend_now(const struct tctx *t, const struct insn *d, unsigned idx)
{
    if (!t->regs || !t->tlbd || idx >= t->n) return 0;
    for (unsigned i = 0; i < idx; i++) {
        uint32_t in, out;
        insn_use(&t->blk->insn[i].d, &in, &out);
        if (out >> d->rs1 & 1) return 0;
    }
    uint64_t va = (d->rs1 ? t->regs[d->rs1] : 0) + (uint64_t)(int64_t)d->imm;
    const struct tlb_entry *e = &t->tlbd[(va >> 12) & (TLB_SIZE - 1)];
    return e->tag == (va & ~0xfffull) ? (uint64_t)e->addend : 0;
}

/* A load's expected addend (tlb_lookup), at first the one it would meet
 * now. */
static uint64_t pred_alloc(struct tctx *t, const struct insn *d, unsigned idx)
{
    struct jit_cache *c = t->c;
    if (c->data_used + 8 > c->data_size) return 0;
    uint64_t *pred = (uint64_t *)(void *)(c->data + c->data_used);
    c->data_used += 8;
    *pred = addend_now(t, d, idx);
    return (uint64_t)(uintptr_t)pred;
}

/* rcx = the data TLB's entry for the guest address in rax (its read
 * table's; the write table follows at TLB_TABLE). */
static void tlb_entry_addr(struct x86buf *b)
{
    x86_mov32_rr(b, X86_RCX, X86_RAX);
    x86_shift32_ri(b, X86_SHR, X86_RCX, 12 - 5);
    x86_alu32_ri(b, X86_AND, X86_RCX, (TLB_SIZE - 1) << 5);
    x86_alu_rm(b, X86_ADD, X86_RCX, X86_MEM(HP, OFF_TLBD));
}

/* The access at idx whose address register the two instructions before
 * it made base + (index << k), k <= 3 (slli, add: an array's element, as
 * RV64GC without Zba computes it): rax = base + index * 2^k + imm in one
 * step, those two off the address's path (they still write their
 * register). Only with no jump into the block between them. */
/* Instructions idx and idx + 1 of the block: slli r, x, k (k <= 3) and
 * add r, r, b (or b, r), with no jump into the block to the add: then
 * r = b + x * 2^k (emit_scaled_add, fused_address). */
struct scaled {
    unsigned r, x, b, k;
};
static int scaled_add(const struct tctx *t, unsigned idx, struct scaled *sa)
{
    if (idx + 1 >= t->n || idx + 1 >= BLOCK_MAX || (t->targets >> (idx + 1) & 1)) return 0;
    const struct insn *sl = &t->blk->insn[idx].d, *ad = &t->blk->insn[idx + 1].d;
    unsigned r = sl->rd;
    if (sl->op != OP_SLLI || sl->imm > 3 || !sl->rs1 || !writes_rd(sl) || ad->op != OP_ADD ||
        ad->rd != r)
        return 0;
    unsigned b = ad->rs1 == r ? ad->rs2 : ad->rs2 == r ? ad->rs1 : 0;
    if (!b || b == r) return 0;
    *sa = (struct scaled){r, sl->rs1, b, (unsigned)sl->imm};
    return 1;
}

static int fused_address(struct tctx *t, const struct insn *d, unsigned idx)
{
    struct scaled sa;
    if (idx < 2 || idx >= BLOCK_MAX || (t->targets >> idx & 1) || !scaled_add(t, idx - 2, &sa) ||
        sa.r != d->rs1 || sa.x == sa.r)
        return 0;
    int hb = get(t, sa.b), hx = get(t, sa.x);
    x86_lea(t->b, X86_RAX, X86_MEMX(hb, hx, 1 << sa.k, d->imm));
    return 1;
}

/* rax = guest address rs1 + imm, then its host address if the access
 * hits; returns the jump to take otherwise (to the stub that add_stub
 * creates next). In a loop each access first checks its own slot, which
 * remembers the last page it used: the addend is loaded without waiting
 * for the address, so a chain of dependent loads runs almost at host
 * speed. A slot is valid for the TLB generation and data mode it was
 * filled in (h->jit_site_key, fixed while translated code runs): the
 * loop's entry empties those filled with another (validate_slots). On a
 * slot miss the stub looks up the TLB (table at disp from r14), refills
 * the slot and comes back; on a TLB miss it takes the slow path. */
static size_t tlb_lookup(struct tctx *t, const struct insn *d, unsigned idx, unsigned size,
                         int32_t table)
{
    struct x86buf *b = t->b;
    if (d->rs1 == 0)
        x86_mov_ri(b, X86_RAX, (uint64_t)(int64_t)d->imm);
    else if (!fused_address(t, d, idx))
        x86_lea(b, X86_RAX, X86_MEM(get(t, d->rs1), d->imm));
    x86_mov_rr(b, X86_RDX, X86_RAX);
    x86_alu_ri(b, X86_AND, X86_RDX, (int32_t)(~0xfffu | (size - 1)));
    /* only in loops: elsewhere a slot is mostly refilled (every TLB flush
     * makes them all stale) and costs more than the TLB lookup it saves */
    uint64_t slot = t->loop && t->nslots < BLOCK_MAX ? site_alloc(t->c) : 0;
    if (slot) {
        t->slots[t->nslots++] = slot;
        x86_alu_rm(b, X86_CMP, X86_RDX, X86_ABS(slot));
        size_t miss = x86_jcc32(b, X86_CC_NE);
        x86_alu_rm(b, X86_ADD, X86_RAX, X86_ABS(slot + 8));
        t->site.slot = slot;
        t->site.table = table;
        t->site.hit = b->len;
        return miss;
    }
    tlb_entry_addr(b);
    x86_alu_rm(b, X86_CMP, X86_RDX, X86_MEM(X86_RCX, table));
    size_t miss = x86_jcc32(b, X86_CC_NE);
    /* a load's host address from the addend it had last time, which the
     * entry's must equal: the load need not wait for the entry (a store's
     * address is seldom on a chain of dependent instructions) */
    uint64_t pred = table == 0 ? pred_alloc(t, d, idx) : 0;
    if (!pred) {
        x86_alu_rm(b, X86_ADD, X86_RAX, X86_MEM(X86_RCX, table + 8));
        return miss;
    }
    x86_ld(b, 8, 0, X86_RDX, X86_ABS(pred));
    x86_alu_rm(b, X86_CMP, X86_RDX, X86_MEM(X86_RCX, table + 8));
    t->site.other = x86_jcc32(b, X86_CC_NE);
    x86_alu_rr(b, X86_ADD, X86_RAX, X86_RDX);
    t->site.pred = pred;
    t->site.table = table;
    t->site.hit = b->len;
    return miss;
}

/* An access whose addend was not the one it expected (rcx = its TLB
 * entry): it expects this one from now on, and goes on. */
static void emit_pred_refill(struct x86buf *b, const struct site *st)
{
    x86_patch(b, st->other, b->len);
    x86_ld(b, 8, 0, X86_RDX, X86_MEM(X86_RCX, st->table + 8));
    x86_st(b, 8, X86_ABS(st->pred), X86_RDX);
    x86_alu_rr(b, X86_ADD, X86_RAX, X86_RDX);
    jmp_to(b, st->hit);
}

/* A slot miss (rax = guest address, rdx = its tag): the TLB; on a hit the
 * slot takes the page and the access goes on; on a miss the code after
 * this (the slow path) runs. When the page's addend is the one the slot
 * had (RAM mapped in one piece: no paging, or a linear map), the host
 * address is made from the slot's addend, not the TLB's, so that a chain
 * of dependent accesses over many pages waits for neither the TLB entry
 * nor these checks, which the host predicts. The slot's key is current
 * (validate_slots). */
static void emit_site_refill(struct x86buf *b, const struct site *st)
{
    tlb_entry_addr(b);
    x86_alu_rm(b, X86_CMP, X86_RDX, X86_MEM(X86_RCX, st->table));
    size_t slow = x86_jcc32(b, X86_CC_NE);
    x86_st(b, 8, X86_ABS(st->slot), X86_RDX);
    x86_ld(b, 8, 0, X86_RCX, X86_MEM(X86_RCX, st->table + 8));
    x86_alu_rm(b, X86_CMP, X86_RCX, X86_ABS(st->slot + 8));
    size_t other = x86_jcc32(b, X86_CC_NE);
    x86_alu_rm(b, X86_ADD, X86_RAX, X86_ABS(st->slot + 8));
    jmp_to(b, st->hit);
    x86_patch(b, other, b->len);
    x86_st(b, 8, X86_ABS(st->slot + 8), X86_RCX);
    x86_alu_rr(b, X86_ADD, X86_RAX, X86_RCX);
    jmp_to(b, st->hit);
    x86_patch(b, slow, b->len);
}

/* Would def(rd) take a host register without evicting another? */
static int def_is_free(const struct tctx *t, unsigned r)
{
    if (slot_of(t, r) >= 0) return 1;
    for (int i = 0; i < NHOST; i++)
        if (t->ra.guest[i] < 0 && !(t->locked & (1u << i))) return 1;
    return 0;
}

/* The value goes straight into rd's host register when that needs no
 * eviction (code the slow path would skip); its stub, whose state is the
 * one before rd's definition, moves the helper's result there. */
static void emit_load(struct tctx *t, const struct insn *d, unsigned idx)
{
    unsigned size = mem_size(d->op);
    int sx = d->op == OP_LB || d->op == OP_LH || d->op == OP_LW;
    size_t miss = tlb_lookup(t, d, idx, size, 0);
    struct stub *s = add_stub(t, STUB_LOAD, miss, idx);
    s->val = -1;
    if (writes_rd(d) && def_is_free(t, d->rd)) {
        s->val = def(t, d->rd);
        x86_ld(t->b, size, sx, s->val, X86_MEM(X86_RAX, 0));
        s->back = t->b->len;
        return;
    }
    x86_ld(t->b, size, sx, X86_RAX, X86_MEM(X86_RAX, 0));
    s->back = t->b->len;
    put_rax(t, d, 0);
}

static void emit_store(struct tctx *t, const struct insn *d, unsigned idx)
{
    unsigned size = mem_size(d->op);
    int val = d->rs2 ? get(t, d->rs2) : -1;
    size_t miss = tlb_lookup(t, d, idx, size, TLB_TABLE);
    if (val >= 0) {
        x86_st(t->b, size, X86_MEM(X86_RAX, 0), val);
    } else {
        x86_alu32_rr(t->b, X86_XOR, X86_RCX, X86_RCX);
        x86_st(t->b, size, X86_MEM(X86_RAX, 0), X86_RCX);
    }
    struct stub *s = add_stub(t, STUB_STORE, miss, idx);
    s->val = val;
    s->back = t->b->len;
}

static int is_fp_compute(unsigned op)
{
    return op >= OP_FMADD_S && op <= OP_FMV_D_X;
}

/* F/D instructions that write an integer register. */
static int fp_writes_x(unsigned op)
{
    switch (op) {
    case OP_FCVT_W_S:
    case OP_FCVT_WU_S:
    case OP_FCVT_L_S:
    case OP_FCVT_LU_S:
    case OP_FCVT_W_D:
    case OP_FCVT_WU_D:
    case OP_FCVT_L_D:
    case OP_FCVT_LU_D:
    case OP_FMV_X_W:
    case OP_FMV_X_D:
    case OP_FEQ_S:
    case OP_FLT_S:
    case OP_FLE_S:
    case OP_FEQ_D:
    case OP_FLT_D:
    case OP_FLE_D:
    case OP_FCLASS_S:
    case OP_FCLASS_D: return 1;
    }
    return 0;
}

/* F/D instructions that read an integer register (rs1). */
static int fp_reads_x(unsigned op)
{
    return (op >= OP_FCVT_S_W && op <= OP_FMV_W_X) || (op >= OP_FCVT_D_W && op <= OP_FMV_D_X);
}

/* FP registers are used only with the FPU on (mstatus.FS): otherwise the
 * interpreter runs the instruction (and raises illegal instruction). */
static void fp_check(struct tctx *t, unsigned idx)
{
    if (t->fast_copy) return; /* FS dirty: checked at the loop's entry */
    x86_test32_mi(t->b, X86_MEM(HP, OFF_MSTAT), (uint32_t)MSTATUS_FS);
    add_stub(t, STUB_BAIL, x86_jcc32(t->b, X86_CC_E), idx);
}

/* An F register was written: mstatus.FS becomes Dirty (already so in a
 * loop that checked it at its entry). */
static void fs_dirty(struct tctx *t)
{
    if (!t->fast_copy) x86_alu32_mi(t->b, X86_OR, X86_MEM(HP, OFF_MSTAT), (int32_t)MSTATUS_FS);
}

/* Where f[r] is: its xmm in a loop that keeps it there, else the hart. */
static struct x86mem fmem(const struct tctx *t, unsigned r)
{
    return t->fp.xmm[r] >= 0 ? X86_XMM(t->fp.xmm[r]) : X86_MEM(HP, OFF_F(r));
}

/* f[r]'s 64 bits are about to be read: a lazily boxed single gets its box. */
static void fp_full(struct tctx *t, unsigned r)
{
    if (!(t->ra.lazy >> r & 1)) return;
    x86_pcmpeqd(t->b, 1, 1);
    x86_punpckldq(t->b, t->fp.xmm[r], 1);
}

/* dst = f[r]'s 64 bits */
static void fp_to_gpr(struct tctx *t, int dst, unsigned r)
{
    fp_full(t, r);
    if (t->fp.xmm[r] >= 0)
        x86_sse_to_gpr(t->b, 1, dst, t->fp.xmm[r]);
    else
        x86_load(t->b, dst, HP, OFF_F(r));
}

/* f[r] = rax */
static void fp_from_rax(struct tctx *t, unsigned r)
{
    if (t->fp.xmm[r] >= 0)
        x86_gpr_to_sse(t->b, t->fp.xmm[r], X86_RAX);
    else
        x86_store(t->b, HP, OFF_F(r), X86_RAX);
}

/* An F/D computation: hart_fp_exec on the hart's state in memory (the
 * registers written back before, reloaded after). */
static void emit_fp_call(struct tctx *t, const struct insn *d, unsigned idx, const struct ra *ra)
{
    struct x86buf *b = t->b;
    writeback(b, ra);
    x86_mov_rr(b, X86_RDI, HP);
    x86_mov_ri(b, X86_RSI, (uint64_t)(uintptr_t)&t->blk->insn[idx].d);
    x86_mov_ri(b, X86_RAX, (uint64_t)(uintptr_t)jit_fp_slow);
    x86_call_r(b, X86_RAX);
    x86_alu32_ri(b, X86_CMP, X86_RAX, 0); /* an int: the upper half of rax is junk */
    struct stub *s = add_stub(t, STUB_BAIL, x86_jcc32(b, X86_CC_L), idx);
    s->ra = *ra;
    memset(s->ra.dirty, 0, sizeof(s->ra.dirty)); /* written back already; rsi, rdi are gone */
    s->ra.fp = NULL;                             /* and so are the xmm registers */
    s->ra.lazy = 0;
    reload_caller_saved(b, ra);
    if (fp_writes_x(d->op) && writes_rd(d)) {
        for (int sl = 0; sl < CALLER_SAVED_FROM; sl++)
            if (ra->guest[sl] == d->rd) x86_load(b, host_reg[sl], HP, OFF_X(d->rd));
    }
}

static int sse_op(unsigned op, enum x86_sse *sse, int *dbl)
{
    static const struct {
        uint16_t op;
        uint8_t sse, dbl;
    } map[] = {{OP_FADD_S, X86_FADD, 0}, {OP_FSUB_S, X86_FSUB, 0},  {OP_FMUL_S, X86_FMUL, 0},
               {OP_FDIV_S, X86_FDIV, 0}, {OP_FSQRT_S, X86_SQRT, 0}, {OP_FADD_D, X86_FADD, 1},
               {OP_FSUB_D, X86_FSUB, 1}, {OP_FMUL_D, X86_FMUL, 1},  {OP_FDIV_D, X86_FDIV, 1},
               {OP_FSQRT_D, X86_SQRT, 1}};
    for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].op == op) {
            *sse = (enum x86_sse)map[i].sse;
            *dbl = map[i].dbl;
            return 1;
        }
    return 0;
}

/* The checks of a fast path jump to one call of hart_fp_exec. */
#define FP_MAX_SLOW 8
struct fp_fast {
    size_t slow[FP_MAX_SLOW];
    unsigned n;
};

static void fp_slow_if(struct tctx *t, struct fp_fast *f, enum x86_cc cc)
{
    f->slow[f->n++] = x86_jcc32(t->b, cc);
}

/* FPU on; with nx (an operation that may be inexact: see fp_exact), also
 * rounding to nearest (rm 0, or dynamic with frm 0). */
static void fp_guard(struct tctx *t, struct fp_fast *f, const struct insn *d, int nx)
{
    struct x86buf *b = t->b;
    if (t->fast_copy) return; /* checked at the loop's entry */
    x86_test32_mi(b, X86_MEM(HP, OFF_MSTAT), (uint32_t)MSTATUS_FS);
    fp_slow_if(t, f, X86_CC_E);
    if (!nx) return;
    if (d->rm == 7) {
        x86_cmp32_mi(b, X86_MEM(HP, OFF_FRM), 0);
        fp_slow_if(t, f, X86_CC_NE);
    }
}

/* Flags: E when f[r] holds a NaN-boxed single. */
static void fp_box_test(struct tctx *t, unsigned r)
{
    if (t->fp.xmm[r] >= 0) {
        x86_sse_to_gpr(t->b, 1, X86_RCX, t->fp.xmm[r]);
        x86_shift_ri(t->b, X86_SHR, X86_RCX, 32);
        x86_alu32_ri(t->b, X86_CMP, X86_RCX, -1);
    } else {
        x86_cmp32_mi(t->b, X86_MEM(HP, OFF_F(r) + 4), -1);
    }
}

static void fp_boxed(struct tctx *t, struct fp_fast *f, unsigned r)
{
    if (t->fast_copy && (t->fp_boxed_ok >> r & 1)) return;
    fp_box_test(t, r);
    fp_slow_if(t, f, X86_CC_NE);
}

/* The host computed a result whose only flag can be NX (fp_normal): with
 * NX already set there is nothing to raise; otherwise the result must be
 * exact, which the host's own sticky inexact flag (MXCSR.PE) tells. It
 * may have been set before, by other code of this thread: then the slow
 * path runs, and clears it (jit_fp_slow). */
static void fp_exact(struct tctx *t, struct fp_fast *f)
{
    struct x86buf *b = t->b;
    if (t->fast_copy) return; /* NX set: checked at the loop's entry */
    x86_test32_mi(b, X86_MEM(HP, OFF_FFLAGS), 1);
    size_t nx_set = x86_jcc32(b, X86_CC_NE);
    x86_stmxcsr(b, X86_MEM(HP, OFF_MXCSR));
    x86_test32_mi(b, X86_MEM(HP, OFF_MXCSR), 0x20);
    fp_slow_if(t, f, X86_CC_NE);
    x86_patch(b, nx_set, b->len);
}

/* rax holds a result: slow unless its exponent is in [2, max - 1]. */
static void fp_normal(struct tctx *t, struct fp_fast *f, int dbl)
{
    struct x86buf *b = t->b;
    x86_mov_rr(b, X86_RCX, X86_RAX);
    x86_shift_ri(b, X86_SHR, X86_RCX, dbl ? 52 : 23);
    x86_alu32_ri(b, X86_AND, X86_RCX, dbl ? 0x7ff : 0xff);
    x86_alu32_ri(b, X86_SUB, X86_RCX, 2);
    x86_alu32_ri(b, X86_CMP, X86_RCX, dbl ? 0x7fc : 0xfc);
    fp_slow_if(t, f, X86_CC_A);
}

/* f[rd] = rax (boxed for single precision); FS dirty. */
static void fp_put(struct tctx *t, const struct insn *d, int dbl)
{
    struct x86buf *b = t->b;
    if (!dbl) {
        x86_mov_ri(b, X86_RCX, 0xffffffff00000000ull);
        x86_alu_rr(b, X86_OR, X86_RAX, X86_RCX);
    }
    fp_from_rax(t, d->rd);
    fs_dirty(t);
}

/* f[rd] = the result in xmm0 (and rax): in a loop that keeps rd in an
 * xmm register it goes there without leaving the SSE unit, a single boxed
 * by interleaving its low word with ones. */
static void fp_put_xmm0(struct tctx *t, const struct insn *d, int dbl)
{
    struct x86buf *b = t->b;
    if (t->fp.xmm[d->rd] < 0) {
        fp_put(t, d, dbl);
        return;
    }
    if (!dbl && !(t->ra.lazy >> d->rd & 1)) {
        x86_pcmpeqd(b, 1, 1);
        x86_punpckldq(b, 0, 1);
    }
    x86_sse_ld(b, 1, t->fp.xmm[d->rd], X86_XMM(0));
    fs_dirty(t);
}

/* The slow path's state: an integer rd the fast path defined holds no
 * value yet there (fp_def_x wrote its old value back). */
static void fp_done(struct tctx *t, struct fp_fast *f, unsigned idx, int rd)
{
    for (unsigned i = 0; i < f->n; i++) {
        struct stub *s = add_stub(t, STUB_FPCALL, f->slow[i], idx);
        s->back = t->b->len;
        for (int sl = 0; sl < NHOST; sl++)
            if (rd > 0 && s->ra.guest[sl] == rd) s->ra.dirty[sl] = 0;
    }
}

/* The host register for an integer result of a fast path that may fall
 * back to the helper: rd's current value goes to memory first, so that
 * the helper (or the interpreter, if the instruction traps) finds it. */
static int fp_def_x(struct tctx *t, unsigned rd)
{
    int sl = slot_of(t, rd);
    if (sl >= 0 && t->ra.dirty[sl]) {
        x86_store(t->b, HP, OFF_X(rd), host_reg[sl]);
        t->ra.dirty[sl] = 0;
    }
    return def(t, rd);
}

/* FADD FSUB FMUL FDIV FSQRT */
static void fp_arith(struct tctx *t, struct fp_fast *f, const struct insn *d, enum x86_sse op,
                     int dbl)
{
    struct x86buf *b = t->b;
    fp_guard(t, f, d, 1);
    if (!dbl) {
        fp_boxed(t, f, d->rs1);
        if (op != X86_SQRT) fp_boxed(t, f, d->rs2);
    } else {
        fp_full(t, d->rs1);
        fp_full(t, d->rs2);
    }
    if (op == X86_SQRT) {
        x86_xorps(b, 0, 0);
        x86_sse_op(b, dbl, op, 0, fmem(t, d->rs1));
    } else {
        x86_sse_ld(b, dbl, 0, fmem(t, d->rs1));
        x86_sse_op(b, dbl, op, 0, fmem(t, d->rs2));
    }
    x86_sse_to_gpr(b, dbl, X86_RAX, 0);
    fp_normal(t, f, dbl);
    fp_exact(t, f);
    fp_put_xmm0(t, d, dbl);
}

/* FMADD FMSUB FNMSUB FNMADD with the host's FMA3 (one rounding, as RISC-V) */
static void fp_fma(struct tctx *t, struct fp_fast *f, const struct insn *d)
{
    static const enum x86_fma kind[4] = {X86_VFMADD, X86_VFMSUB, X86_VFNMADD, X86_VFNMSUB};
    struct x86buf *b = t->b;
    int dbl = (d->op - OP_FMADD_S) >= 4;
    fp_guard(t, f, d, 1);
    if (!dbl) {
        fp_boxed(t, f, d->rs1);
        fp_boxed(t, f, d->rs2);
        fp_boxed(t, f, d->rs3);
    } else {
        fp_full(t, d->rs1);
        fp_full(t, d->rs2);
        fp_full(t, d->rs3);
    }
    x86_sse_ld(b, dbl, 0, fmem(t, d->rs1));
    x86_sse_ld(b, dbl, 1, fmem(t, d->rs2));
    x86_vfma213(b, dbl, kind[(d->op - OP_FMADD_S) & 3], fmem(t, d->rs3));
    x86_sse_to_gpr(b, dbl, X86_RAX, 0);
    fp_normal(t, f, dbl);
    fp_exact(t, f);
    fp_put_xmm0(t, d, dbl);
}

/* FCVT.S/D.W/WU/L from an integer register (LU stays in the helper) */
static void fp_from_int(struct tctx *t, struct fp_fast *f, const struct insn *d, int dbl)
{
    struct x86buf *b = t->b;
    unsigned k = dbl ? d->op - OP_FCVT_D_W : d->op - OP_FCVT_S_W; /* W WU L */
    int a = src(t, d->rs1, X86_RCX); /* before any check: the slow path sees this state */
    fp_guard(t, f, d, 1);
    if (k == 0)
        x86_movsxd(b, X86_RAX, a);
    else if (k == 1)
        x86_mov32_rr(b, X86_RAX, a);
    else
        x86_mov_rr(b, X86_RAX, a);
    x86_xorps(b, 0, 0);
    x86_cvt_i2f(b, dbl, 1, 0, X86_RAX);
    x86_sse_to_gpr(b, dbl, X86_RAX, 0);
    fp_normal(t, f, dbl);
    fp_exact(t, f);
    fp_put_xmm0(t, d, dbl);
}

/* FCVT.W/L.S/D to nearest or toward zero (the unsigned forms stay in the
 * helper); x86's "integer indefinite" (NaN, out of range) goes slow. */
static void fp_to_int(struct tctx *t, struct fp_fast *f, const struct insn *d, int dbl, int w64)
{
    struct x86buf *b = t->b;
    int hd = writes_rd(d) ? fp_def_x(t, d->rd) : -1; /* first: the slow path reloads it */
    fp_guard(t, f, d, 1);
    if (!dbl)
        fp_boxed(t, f, d->rs1);
    else
        fp_full(t, d->rs1);
    x86_cvt_f2i(b, dbl, w64, d->rm == 1, X86_RAX, fmem(t, d->rs1));
    if (w64) {
        x86_mov_ri(b, X86_RCX, 0x8000000000000000ull);
        x86_alu_rr(b, X86_CMP, X86_RAX, X86_RCX);
    } else {
        x86_alu32_ri(b, X86_CMP, X86_RAX, (int32_t)0x80000000u);
    }
    fp_slow_if(t, f, X86_CC_E);
    fp_exact(t, f);
    /* an inexact conversion raises NX again, which marks FS dirty: converted
     * back, the integer differs from the operand exactly then (in a loop
     * that checked FS dirty at its entry, nothing to mark) */
    if (!t->fast_copy) {
        x86_xorps(b, 1, 1);
        x86_cvt_i2f(b, dbl, w64, 1, X86_RAX);
        x86_ucomis(b, dbl, 1, fmem(t, d->rs1));
        size_t exact = x86_jcc32(b, X86_CC_E);
        x86_alu32_mi(b, X86_OR, X86_MEM(HP, OFF_MSTAT), (int32_t)MSTATUS_FS);
        x86_patch(b, exact, b->len);
    }
    if (hd >= 0) {
        if (w64)
            x86_mov_rr(b, hd, X86_RAX);
        else
            x86_movsxd(b, hd, X86_RAX);
    }
}

/* FSGNJ FSGNJN FSGNJX: sign bits only, no flags */
static void fp_sgnj(struct tctx *t, struct fp_fast *f, const struct insn *d, int dbl)
{
    struct x86buf *b = t->b;
    unsigned k = dbl ? d->op - OP_FSGNJ_D : d->op - OP_FSGNJ_S; /* J JN JX */
    fp_guard(t, f, d, 0);
    if (!dbl) {
        fp_boxed(t, f, d->rs1);
        fp_boxed(t, f, d->rs2);
    }
    fp_to_gpr(t, X86_RAX, d->rs1);
    fp_to_gpr(t, X86_RCX, d->rs2);
    if (k == 1) x86_alu_ri(b, X86_XOR, X86_RCX, -1);
    if (dbl) {
        x86_shift_ri(b, X86_SHR, X86_RCX, 63); /* the sign, moved to bit 63 below */
        x86_shift_ri(b, X86_SHL, X86_RCX, 63);
        if (k != 2) { /* clear rax's sign */
            x86_shift_ri(b, X86_SHL, X86_RAX, 1);
            x86_shift_ri(b, X86_SHR, X86_RAX, 1);
        }
    } else {
        x86_alu32_ri(b, X86_AND, X86_RCX, (int32_t)0x80000000u);
        if (k != 2) x86_alu32_ri(b, X86_AND, X86_RAX, 0x7fffffff);
    }
    x86_alu_rr(b, k == 2 ? X86_XOR : X86_OR, X86_RAX, X86_RCX);
    fp_put(t, d, dbl);
}

/* FMV.X.W FMV.X.D FMV.W.X FMV.D.X: bits moved, no flags */
static void fp_mv(struct tctx *t, struct fp_fast *f, const struct insn *d)
{
    struct x86buf *b = t->b;
    if (d->op == OP_FMV_X_W || d->op == OP_FMV_X_D) {
        int hd = writes_rd(d) ? fp_def_x(t, d->rd) : -1;
        fp_guard(t, f, d, 0);
        if (d->op == OP_FMV_X_D) fp_full(t, d->rs1);
        if (hd >= 0 && t->fp.xmm[d->rs1] >= 0) {
            x86_sse_to_gpr(b, d->op == OP_FMV_X_D, hd, t->fp.xmm[d->rs1]);
            if (d->op == OP_FMV_X_W) x86_movsxd(b, hd, hd);
        } else if (hd >= 0) {
            x86_ld(b, d->op == OP_FMV_X_W ? 4 : 8, 1, hd, X86_MEM(HP, OFF_F(d->rs1)));
        }
        return;
    }
    int a = src(t, d->rs1, X86_RCX); /* before any check: the slow path sees this state */
    fp_guard(t, f, d, 0);
    x86_mov_rr(b, X86_RAX, a);
    if (d->op == OP_FMV_W_X) x86_mov32_rr(b, X86_RAX, X86_RAX);
    fp_put(t, d, d->op == OP_FMV_D_X);
}

/* The host's FMA3 (the translator runs only on x86-64 hosts; the code
 * still compiles elsewhere, where the interpreter runs alone). */
static int host_has_fma(void)
{
#if defined(__x86_64__)
    return __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* F/D computations: inline where the host gives the same bits (and the
 * guard checks hold), otherwise hart_fp_exec. With NX already set and
 * rounding to nearest, the host's SSE arithmetic, FMA and conversions give
 * the RISC-V result bit for bit whenever the result is a normal number
 * away from the underflow boundary and no operand is NaN or infinite:
 * the only flag such an operation raises is NX, already set (QEMU's
 * hardfloat makes the same argument). Everything else takes the call. */
static void emit_fp(struct tctx *t, const struct insn *d, unsigned idx)
{
    struct fp_fast f = {.n = 0};
    enum x86_sse op;
    int dbl, rm_ok = d->rm == 0 || d->rm == 7;
    unsigned o = d->op;
    if (sse_op(o, &op, &dbl) && rm_ok)
        fp_arith(t, &f, d, op, dbl);
    else if (o >= OP_FMADD_S && o <= OP_FNMADD_D && rm_ok && host_has_fma())
        fp_fma(t, &f, d);
    else if (((o >= OP_FCVT_S_W && o <= OP_FCVT_S_L) || (o >= OP_FCVT_D_W && o <= OP_FCVT_D_L)) &&
             rm_ok)
        fp_from_int(t, &f, d, o >= OP_FCVT_D_W);
    else if ((o == OP_FCVT_W_S || o == OP_FCVT_L_S || o == OP_FCVT_W_D || o == OP_FCVT_L_D) &&
             (rm_ok || d->rm == 1))
        fp_to_int(t, &f, d, o >= OP_FCVT_W_D, o == OP_FCVT_L_S || o == OP_FCVT_L_D);
    else if ((o >= OP_FSGNJ_S && o <= OP_FSGNJX_S) || (o >= OP_FSGNJ_D && o <= OP_FSGNJX_D))
        fp_sgnj(t, &f, d, o >= OP_FSGNJ_D);
    else if (o == OP_FMV_X_W || o == OP_FMV_X_D || o == OP_FMV_W_X || o == OP_FMV_D_X)
        fp_mv(t, &f, d);
    else {
        emit_fp_call(t, d, idx, &t->ra);
        return;
    }
    fp_done(t, &f, idx, fp_writes_x(o) && writes_rd(d) ? d->rd : -1);
}

static void emit_fp_load(struct tctx *t, const struct insn *d, unsigned idx)
{
    struct x86buf *b = t->b;
    unsigned size = d->op == OP_FLW ? 4 : 8;
    fp_check(t, idx);
    size_t miss = tlb_lookup(t, d, idx, size, 0);
    x86_ld(b, size, 0, X86_RAX, X86_MEM(X86_RAX, 0));
    struct stub *s = add_stub(t, STUB_LOAD, miss, idx);
    s->back = b->len;
    if (size == 4) { /* NaN-boxed */
        x86_mov_ri(b, X86_RCX, 0xffffffff00000000ull);
        x86_alu_rr(b, X86_OR, X86_RAX, X86_RCX);
    }
    fp_from_rax(t, d->rd);
    fs_dirty(t);
}

static void emit_fp_store(struct tctx *t, const struct insn *d, unsigned idx)
{
    struct x86buf *b = t->b;
    unsigned size = d->op == OP_FSW ? 4 : 8;
    fp_check(t, idx);
    size_t miss = tlb_lookup(t, d, idx, size, TLB_TABLE);
    fp_to_gpr(t, X86_RCX, d->rs2);
    x86_st(b, size, X86_MEM(X86_RAX, 0), X86_RCX);
    struct stub *s = add_stub(t, STUB_STORE, miss, idx);
    s->val = -2;
    s->back = b->len;
}

/* LR, SC and AMOs: jit_amo_slow (hart_amo: host atomics) with the
 * address and rs2's value in registers. */
static void emit_amo(struct tctx *t, const struct insn *d, unsigned idx)
{
    struct x86buf *b = t->b;
    int a = d->rs1 ? get(t, d->rs1) : -1, c = d->rs2 ? get(t, d->rs2) : -1;
    writeback(b, &t->ra);
    if (c >= 0)
        x86_mov_rr(b, X86_RDX, c);
    else
        x86_alu32_rr(b, X86_XOR, X86_RDX, X86_RDX);
    if (a >= 0)
        x86_mov_rr(b, X86_RSI, a);
    else
        x86_alu32_rr(b, X86_XOR, X86_RSI, X86_RSI);
    x86_mov_rr(b, X86_RDI, HP);
    x86_lea(b, X86_RCX, X86_MEM(PC, pc_rel(ins(t, idx))));
    x86_mov_ri(b, X86_R8, (uint64_t)(uintptr_t)&ins(t, idx)->d);
    x86_mov_ri(b, X86_RAX, (uint64_t)(uintptr_t)jit_amo_slow);
    x86_call_r(b, X86_RAX);
    x86_cmp32_mi(b, X86_MEM(HP, OFF_FAULT), 0);
    add_stub(t, STUB_TRAPPED, x86_jcc32(b, X86_CC_NE), idx);
    reload_caller_saved(b, &t->ra);
    put_rax(t, d, 0);
}

static int is_csr(unsigned op)
{
    return op >= OP_CSRRW && op <= OP_CSRRCI;
}

/* A CSR instruction (always the last of its block): jit_csr_slow, then out
 * to the next instruction. A read goes on like any exit; anything that may
 * have written a CSR returns to the dispatcher, which looks again at
 * interrupts, the privilege, translation and the FPU state. */
static void emit_csr(struct tctx *t, const struct insn *d, unsigned idx)
{
    struct x86buf *b = t->b;
    int32_t off = pc_rel(ins(t, idx));
    int reg_src = d->op == OP_CSRRW || d->op == OP_CSRRS || d->op == OP_CSRRC;
    int a = reg_src && d->rs1 ? get(t, d->rs1) : -1;
    writeback(b, &t->ra);
    if (a >= 0)
        x86_mov_rr(b, X86_RSI, a);
    else
        x86_alu32_rr(b, X86_XOR, X86_RSI, X86_RSI);
    x86_mov_rr(b, X86_RDI, HP);
    x86_lea(b, X86_RDX, X86_MEM(PC, off));
    x86_lea(b, X86_RCX, X86_MEM(BUD, (int32_t)(t->charged - retired_before(t, idx))));
    x86_mov_ri(b, X86_R8, (uint64_t)(uintptr_t)&ins(t, idx)->d);
    x86_mov_ri(b, X86_RAX, (uint64_t)(uintptr_t)jit_csr_slow);
    x86_call_r(b, X86_RAX);
    x86_cmp32_mi(b, X86_MEM(HP, OFF_FAULT), 0);
    add_stub(t, STUB_TRAPPED, x86_jcc32(b, X86_CC_NE), idx);
    reload_caller_saved(b, &t->ra);
    put_rax(t, d, 0);
    writeback(b, &t->ra);
    int writes = d->op == OP_CSRRW || d->op == OP_CSRRWI || d->rs1 != 0;
    if (!writes) {
        exit_to(t, off + d->len, off);
        return;
    }
    x86_lea(b, PC, X86_MEM(PC, off + d->len));
    x86_store(b, HP, OFF_PC, PC);
    jmp_to(b, EPILOGUE_AT);
}

/* A branch or JAL at idx back to instruction k of a loop block, taken:
 * the next iteration starts at once, in the mainline, unless events are
 * pending or the budget cannot pay for instructions k..n-1 again; then a
 * stub writes the registers back and leaves for the target. The refund
 * for the instructions after idx, which this iteration charged and did
 * not run, is one subtraction with the next iteration's charge. */
static void emit_back_edge(struct tctx *t, unsigned idx, unsigned k, int64_t to)
{
    struct x86buf *b = t->b;
    int32_t r = (int32_t)((int64_t)t->charged - retired_before(t, idx) - 1);
    x86_cmp32_mi(b, X86_MEM(HP, OFF_EVENTS), 0);
    size_t ev = x86_jcc32(b, X86_CC_NE);
    x86_alu_ri(b, X86_SUB, BUD, (int32_t)(t->n - k) - r);
    x86_patch(b, x86_jcc32(b, X86_CC_GE), t->ins_off[k]);
    struct stub *s = add_stub(t, STUB_LOOP, x86_jmp32(b), idx);
    s->from_ev = ev;
    s->to = to;
    s->loop_k = k;
    s->loop_refund = r;
}

/* The host condition under which a branch op is taken (after cmp rs1, rs2). */
static enum x86_cc branch_cc(unsigned op)
{
    switch (op) {
    case OP_BEQ: return X86_CC_E;
    case OP_BNE: return X86_CC_NE;
    case OP_BLT: return X86_CC_L;
    case OP_BGE: return X86_CC_GE;
    case OP_BLTU: return X86_CC_B;
    default: return X86_CC_AE;
    }
}

/* The flags of a branch's comparison; returns the condition that holds
 * when it is taken. x0 operands are zero in the scratch registers s1, s2. */
static enum x86_cc branch_flags(struct tctx *t, const struct insn *d, int s1, int s2)
{
    enum x86_cc cc = branch_cc(d->op);
    if (d->rs2 == 0 && d->rs1 != 0) {
        int a = get(t, d->rs1);
        x86_test_rr(t->b, a, a); /* flags as cmp a, 0 for every condition used */
    } else {
        int a = src(t, d->rs1, s1);
        int c = src(t, d->rs2, s2);
        x86_alu_rr(t->b, X86_CMP, a, c);
    }
    return cc;
}

static void emit_tail_select(struct tctx *t, const struct insn *d, unsigned idx,
                             const struct tail *tl);
static int emit_hammock(struct tctx *t, const struct insn *d, unsigned idx);

static void emit_branch(struct tctx *t, const struct insn *d, unsigned idx)
{
    struct x86buf *b = t->b;
    for (unsigned i = 0; i < t->ntails; i++)
        if (t->tails[i].branch == idx && t->tails[i].select) {
            emit_tail_select(t, d, idx, &t->tails[i]);
            return;
        }
    if (idx < BLOCK_MAX && emit_hammock(t, d, idx)) return;
    enum x86_cc cc = branch_flags(t, d, X86_RAX, X86_RCX);
    int64_t to = (int64_t)pc_rel(ins(t, idx)) + d->imm;
    for (unsigned i = 0; i < t->ntails; i++)
        if (t->tails[i].branch == idx) { /* emitted after the loop (emit_tails) */
            t->tails[i].jmp = x86_jcc32(b, cc);
            t->tails[i].ra = t->ra;
            return;
        }
    int k = t->loop ? loop_target(t, idx) : -1;
    if (k >= 0) { /* not taken: over the back edge */
        size_t skip = x86_jcc32(b, (enum x86_cc)(cc ^ 1));
        emit_back_edge(t, idx, (unsigned)k, to);
        x86_patch(b, skip, b->len);
        return;
    }
    if (idx >= TAIL_BASE && (t->trace_taken >> (idx - TAIL_BASE) & 1)) {
        /* a trace goes on at the target: not taken is the exit */
        struct stub *s = add_stub(t, STUB_BRANCH, x86_jcc32(b, (enum x86_cc)(cc ^ 1)), idx);
        s->to = (int64_t)pc_rel(ins(t, idx)) + d->len;
        return;
    }
    struct stub *s = add_stub(t, STUB_BRANCH, x86_jcc32(b, cc), idx);
    s->to = to;
    unsigned j = ins(t, idx)->target;
    if (idx < TAIL_BASE && j != NO_TARGET && j > idx && j < t->n && t->nfwd < BLOCK_MAX)
        t->fwd[t->nfwd++] = (struct fwd){.stub = (unsigned)(s - t->stub), .to = j};
}

/* Does the JAL at idx go on into the trace (plan_trace), whose next
 * instruction is its target? */
static int jal_goes_on(const struct tctx *t, unsigned idx)
{
    unsigned next;
    if (idx + 1 == t->n)
        next = TAIL_BASE;
    else if (idx >= TAIL_BASE)
        next = idx + 1;
    else
        return 0;
    if (!t->ntrace || next >= TAIL_BASE + t->ntrace) return 0;
    return pc_rel(ins(t, next)) == pc_rel(ins(t, idx)) + ins(t, idx)->d.imm;
}

/* JAL or JALR: returns 1 when it ends the block (its exit emitted), 0 when
 * a JAL goes on into the trace. */
static int emit_jump(struct tctx *t, const struct insn *d, unsigned idx)
{
    struct x86buf *b = t->b;
    int32_t off = pc_rel(ins(t, idx));
    if (d->op == OP_JALR) { /* target first: rd may be rs1 */
        if (d->rs1 == 0)
            x86_mov_ri(b, X86_RAX, (uint64_t)(int64_t)d->imm & ~1ull);
        else {
            x86_lea(b, X86_RAX, X86_MEM(get(t, d->rs1), d->imm));
            x86_alu_ri(b, X86_AND, X86_RAX, -2);
        }
    }
    if (writes_rd(d)) x86_lea(b, def(t, d->rd), X86_MEM(PC, off + d->len));
    if (d->op == OP_JALR) {
        writeback(b, &t->ra);
        x86_mov_rr(b, PC, X86_RAX);
        jmp_lookup(t);
    } else if (t->loop && loop_target(t, idx) >= 0) {
        emit_back_edge(t, idx, (unsigned)loop_target(t, idx), (int64_t)off + d->imm);
    } else if (jal_goes_on(t, idx)) {
        return 0;
    } else {
        writeback(b, &t->ra);
        exit_to(t, (int64_t)off + d->imm, off);
    }
    return 1;
}

int jit_covers(unsigned op)
{
    if (op >= OP_LB && op <= OP_SD) return 1;
    if (op >= OP_FLW && op <= OP_FMV_D_X) return 1;    /* F and D */
    if (op >= OP_LR_W && op <= OP_AMOMAXU_D) return 1; /* A */
    if (op >= OP_CSRRW && op <= OP_CSRRCI) return 1;   /* Zicsr */
    if (op >= OP_ADDI && op <= OP_REMUW) return 1;
    switch (op) {
    case OP_NOP:
    case OP_FENCE:
    case OP_LUI:
    case OP_AUIPC:
    case OP_JAL:
    case OP_JALR:
    case OP_BEQ:
    case OP_BNE:
    case OP_BLT:
    case OP_BGE:
    case OP_BLTU:
    case OP_BGEU: return 1;
    }
    return 0;
}

/* The guest registers (bit r for xr, x0 left out) an instruction uses. */
/* The guest registers an instruction reads (*in) and writes (*out), x0
 * left out: bit r for xr. */
static void insn_use(const struct insn *d, uint32_t *in, uint32_t *out)
{
    unsigned op = d->op;
    uint32_t rd = d->rd < 32 ? 1u << d->rd : 0, r1 = 1u << d->rs1, r2 = 1u << d->rs2;
    *in = *out = 0;
    if (op == OP_NOP || op == OP_FENCE) return;
    if (op >= OP_CSRRW && op <= OP_CSRRCI) { /* imm holds the CSR number, rs2 nothing */
        *out = rd;
        *in = op <= OP_CSRRC ? r1 : 0;
    } else if (op >= OP_FLW && op <= OP_FSD) {
        *in = r1; /* the address */
    } else if (is_fp_compute(op)) {
        *out = fp_writes_x(op) ? rd : 0;
        *in = fp_reads_x(op) ? r1 : 0;
    } else if (op == OP_LUI || op == OP_AUIPC || op == OP_JAL) {
        *out = rd;
    } else if ((op >= OP_ADDI && op <= OP_SRAI) || (op >= OP_ADDIW && op <= OP_SRAIW) ||
               (op >= OP_LB && op <= OP_LWU) || op == OP_JALR) {
        *out = rd;
        *in = r1;
    } else if ((op >= OP_SB && op <= OP_SD) || (op >= OP_BEQ && op <= OP_BGEU)) {
        *in = r1 | r2;
    } else {
        *out = rd;
        *in = r1 | r2;
    }
    *in &= ~1u;
    *out &= ~1u;
}

static uint32_t insn_regs(const struct insn *d)
{
    uint32_t in, out;
    insn_use(d, &in, &out);
    return in | out;
}

/* A block that branches back to its own start (a loop) and uses no more
 * guest registers than there are host ones keeps them all in host
 * registers across iterations: they are loaded once, every exit writes
 * back those the loop writes, and the branch back goes to the loop head
 * after checking events and the budget. */
/* The instruction of the block a branch or JAL at idx jumps back to (at
 * or before itself: a loop inside the block), or -1. */
static int loop_target(const struct tctx *t, unsigned idx)
{
    const struct iinsn *ii = ins(t, idx);
    if (ii->d.op != OP_JAL && (ii->d.op < OP_BEQ || ii->d.op > OP_BGEU)) return -1;
    return ii->target != NO_TARGET && ii->target <= idx ? ii->target : -1;
}

/* Decide before the entry check: the block's first instructions up to a
 * branch back into them (to the start, or to a later instruction: a loop
 * after some set-up), or up to the last branch back around that loop (an
 * outer loop, with the other loops inside it), become the whole
 * translation (what follows is the next block), if their registers all
 * fit in host ones. A loop after the first is the next block's. */
static void plan_loop(struct tctx *t)
{
    uint32_t used = 0;
    unsigned end = 0;
    for (unsigned i = 0; i < t->n; i++) {
        used |= insn_regs(&t->blk->insn[i].d);
        if (__builtin_popcount(used) > NHOST) break;
        int k = loop_target(t, i);
        if (k >= 0 && (!end || (unsigned)k < end)) end = i + 1; /* the first, or one around it */
    }
    if (end) {
        t->loop = 1;
        t->n = end;
    }
}

/* May a tail hold this instruction? Integer work and memory accesses. */
static int tail_op(unsigned o)
{
    return (o >= OP_ADDI && o <= OP_REMUW) || (o >= OP_LB && o <= OP_SD) || o == OP_LUI ||
           o == OP_AUIPC || o == OP_NOP;
}

/* The instruction at offset `to` from the block's pc, decoded from its page
 * (host bytes at `page`) into ii, retired count through it `count`; 0 when
 * it does not lie wholly on the page. */
static int decode_at(const struct tctx *t, const uint8_t *page, int64_t to, unsigned count,
                     struct iinsn *ii)
{
    int64_t at = (int64_t)(t->blk->paddr & 0xfff) + to;
    if (at < 0 || at + 2 > 4096) return 0;
    uint32_t raw = (uint32_t)ram_load(page + at, 2);
    if ((raw & 3) == 3) {
        if (at + 4 > 4096) return 0;
        raw |= (uint32_t)ram_load(page + at + 2, 2) << 16;
    }
    memset(ii, 0, sizeof(*ii));
    insn_decode_any(raw, &ii->d);
    ii->pc_off = (uint16_t)(int16_t)to;
    ii->count = (uint16_t)count;
    ii->target = NO_TARGET;
    return 1;
}

/* Decode the code at offset `to` from the block's start (on its page,
 * whose bytes are at `page`) as a tail of the loop for its branch at idx:
 * at most TAIL_MAX instructions, the last a JAL x0 back to one of the
 * loop's, no more than the rest of the iteration the branch skips (which
 * the loop's entry charged already). Returns its length, or 0. */
static unsigned decode_tail(struct tctx *t, const uint8_t *page, unsigned idx, int64_t to,
                            struct iinsn *out)
{
    unsigned room = t->n - idx - 1;
    for (unsigned j = 0; j < TAIL_MAX && j < room; j++) {
        struct iinsn *ii = &out[j];
        if (to < 0 || !decode_at(t, page, to, idx + 2 + j, ii)) return 0;
        if (ii->d.op == OP_JAL && !writes_rd(&ii->d)) {
            int64_t back = to + ii->d.imm;
            for (unsigned k = 0; k < t->n; k++)
                if (t->blk->insn[k].pc_off == back) {
                    ii->target = (uint16_t)k;
                    return j + 1;
                }
            return 0;
        }
        if (!tail_op(ii->d.op)) return 0;
        to += ii->d.len;
    }
    return 0;
}

/* A loop's branches whose targets are tails (decode_tail) keep to the
 * loop's registers there, as far as they fit in host registers. */
static void plan_tails(struct tctx *t, const uint8_t *page)
{
    if (!t->loop || !page) return;
    const struct iinsn *last = &t->blk->insn[t->n - 1];
    int64_t end = (int64_t)last->pc_off + last->d.len;
    uint32_t used = 0;
    for (unsigned i = 0; i < t->n; i++)
        used |= insn_regs(&t->blk->insn[i].d);
    for (unsigned i = 0; i + 1 < t->n && t->ntails < MAX_TAILS; i++) {
        const struct insn *d = &t->blk->insn[i].d;
        if (d->op < OP_BEQ || d->op > OP_BGEU) continue;
        int64_t to = (int64_t)t->blk->insn[i].pc_off + d->imm;
        if (to < end) continue; /* into the loop or before it */
        struct iinsn *tail = &t->tail_ins[t->ntail_ins];
        unsigned m = decode_tail(t, page, i, to, tail);
        uint32_t regs = used;
        for (unsigned j = 0; j < m; j++)
            regs |= insn_regs(&tail[j].d);
        if (!m || __builtin_popcount(regs) > NHOST) continue;
        used = regs;
        t->tails[t->ntails++] = (struct tail){.branch = i, .first = t->ntail_ins, .n = m};
        t->ntail_ins += m;
    }
}

/* May a trace hold this instruction? Integer work, memory accesses,
 * branches (taken: an exit) and jumps; nothing that needs the block to
 * end (CSRs, system instructions) or that the FP state guards. */
static int trace_op(unsigned o)
{
    return tail_op(o) || (o >= OP_BEQ && o <= OP_BGEU) || o == OP_JAL || o == OP_JALR;
}

/* Is offset `to` (from the block's pc) one of its instructions' or of the
 * trace's so far? Then going there would repeat code: a loop. */
static int trace_seen(const struct tctx *t, int64_t to)
{
    for (unsigned i = 0; i < t->n; i++)
        if (pc_rel(&t->blk->insn[i]) == to) return 1;
    for (unsigned i = 0; i < t->ntrace; i++)
        if (pc_rel(&t->tail_ins[i]) == to) return 1;
    return 0;
}

/* A block (not a loop) that ends in a jump (JAL x0) to its own page goes
 * on at the target in the same translation, with its registers where they
 * are, rather than writing them back and leaving: the code there, decoded
 * from the page, up to a JALR, a call, an instruction a trace may not hold
 * or TRACE_MAX instructions, through further jumps and backward branches
 * (taken, as loops' are: not taken is the exit) to code not in it yet, at
 * most TRACE_HOPS. The page's code is watched for stores as the block's
 * own is. An interpreter's handlers that jump back to its dispatch each
 * get their own copy of the dispatch, whose indirect jump the host then
 * predicts apart. Calls are not followed: inlining callees made boot
 * translate more code than it gained. */
static void plan_trace(struct tctx *t, const uint8_t *page)
{
    if (t->loop || !page || t->n != t->blk->n) return;
    const struct iinsn *last = &t->blk->insn[t->n - 1];
    if (last->d.op != OP_JAL || writes_rd(&last->d)) return;
    int64_t to = (int64_t)pc_rel(last) + last->d.imm;
    unsigned hops = 1;
    t->trace_back = last->d.imm < 0;
    while (t->ntrace < TRACE_MAX && !trace_seen(t, to)) {
        struct iinsn *ii = &t->tail_ins[t->ntrace];
        if (!decode_at(t, page, to, t->n + t->ntrace + 1, ii)) break;
        if (!trace_op(ii->d.op) || !jit_covers(ii->d.op)) break;
        t->ntrace++;
        if (ii->d.op == OP_JALR) break;
        int branch = ii->d.op >= OP_BEQ && ii->d.op <= OP_BGEU;
        if (ii->d.op == OP_JAL) {
            if (writes_rd(&ii->d) || ++hops > TRACE_HOPS) break;
            t->trace_back |= ii->d.imm < 0;
            to += ii->d.imm;
        } else if (branch && ii->d.imm < 0 && hops < TRACE_HOPS && !trace_seen(t, to + ii->d.imm)) {
            hops++;
            t->trace_taken |= 1u << (t->ntrace - 1);
            t->trace_back = 1;
            to += ii->d.imm;
        } else {
            to += ii->d.len;
        }
    }
    /* ended after a branch it was to go on from taken: a plain branch */
    if (t->ntrace) t->trace_taken &= ~(1u << (t->ntrace - 1));
    if (!t->ntrace) t->trace_back = 0; /* no trace: the JAL is an exit like any */
}

/* ---- if-conversion ---- */

/* The block's instructions that a branch or jump of its own (or of a
 * tail's) goes to, and where if-conversions join: where what the code
 * before an instruction did need not hold. */
static void plan_targets(struct tctx *t)
{
    t->targets = 0;
    for (unsigned i = 0; i < t->blk->n; i++)
        if (t->blk->insn[i].target < BLOCK_MAX) t->targets |= 1ull << t->blk->insn[i].target;
    for (unsigned i = 0; i < t->ntail_ins; i++)
        if (t->tail_ins[i].target < BLOCK_MAX) t->targets |= 1ull << t->tail_ins[i].target;
    for (unsigned i = 0; i < t->ntails; i++)
        if (t->tails[i].select) t->targets |= 1ull << t->tails[i].select;
}

/* May an instruction's result be computed aside and then selected? Integer
 * work that cannot trap, on registers and immediates. */
static int select_op(const struct insn *d)
{
    switch (d->op) {
    case OP_ADDI:
    case OP_ADDIW:
    case OP_XORI:
    case OP_ORI:
    case OP_ANDI:
    case OP_ADD:
    case OP_ADDW:
    case OP_SUB:
    case OP_SUBW:
    case OP_XOR:
    case OP_OR:
    case OP_AND:
    case OP_LUI: return writes_rd(d);
    default: return 0;
    }
}

/* The value that select_op instruction d writes, from the registers as
 * they are, into scratch register dst (rax or rdx); rd unchanged. */
static void select_value(struct tctx *t, const struct insn *d, int dst)
{
    struct x86buf *b = t->b;
    unsigned op = d->op;
    if (op == OP_LUI) {
        x86_mov_ri(b, dst, (uint64_t)(int64_t)d->imm);
        return;
    }
    if (d->rs1 == 0 && d->rs2 && (op == OP_ADD || op == OP_OR || op == OP_XOR)) {
        x86_mov_rr(b, dst, get(t, d->rs2)); /* mv */
        return;
    }
    if (d->rs1)
        x86_mov_rr(b, dst, get(t, d->rs1));
    else
        x86_alu32_rr(b, X86_XOR, dst, dst);
    if (op == OP_ADDI || op == OP_ADDIW || op == OP_XORI || op == OP_ORI || op == OP_ANDI)
        x86_alu_ri(b, alu_of(op), dst, d->imm);
    else if (d->rs2)
        x86_alu_rr(b, alu_of(op), dst, get(t, d->rs2));
    else if (op == OP_AND)
        x86_alu32_rr(b, X86_XOR, dst, dst); /* the others leave it as it is */
    if (op == OP_ADDIW || op == OP_ADDW || op == OP_SUBW) x86_movsxd(b, dst, dst);
}

/* Branch instructions x and y decide alike: the same comparison of the same
 * registers goes to the same two places (or the opposite one, with the
 * two places swapped). */
static int branch_same(const struct iinsn *x, const struct iinsn *y)
{
    if (x->d.op < OP_BEQ || x->d.op > OP_BGEU || y->d.op < OP_BEQ || y->d.op > OP_BGEU) return 0;
    if (x->d.rs1 != y->d.rs1 || x->d.rs2 != y->d.rs2) return 0;
    int64_t xt = (int64_t)pc_rel(x) + x->d.imm, xf = (int64_t)pc_rel(x) + x->d.len;
    int64_t yt = (int64_t)pc_rel(y) + y->d.imm, yf = (int64_t)pc_rel(y) + y->d.len;
    if (x->d.op == y->d.op) return xt == yt && xf == yf;
    return branch_cc(x->d.op) == (branch_cc(y->d.op) ^ 1) && xt == yf && xf == yt;
}

/* A loop's branch to a tail of at most one such instruction and its jump
 * back, over at most one such instruction of its own, where both ways
 * meet again (the tail's jump goes to where the fall-through goes on, or
 * to a branch that decides as the one there does): both results are
 * computed and the branch's condition selects them (cmov), the host
 * predicting nothing. A binary search's step is one. */
static void plan_selects(struct tctx *t)
{
    uint64_t targets = t->targets;
    for (unsigned i = 0; i < t->ntails; i++) {
        struct tail *tl = &t->tails[i];
        const struct iinsn *br = ins(t, tl->branch),
                           *jmp = ins(t, TAIL_BASE + tl->first + tl->n - 1);
        if (tl->n > 2 || (tl->n == 2 && !select_op(&ins(t, TAIL_BASE + tl->first)->d))) continue;
        if (br->d.rs1 == 0 && br->d.rs2 == 0) continue;
        unsigned y = tl->branch + 1, x = jmp->target;
        if (y < t->n && select_op(&ins(t, y)->d) && !(targets >> y & 1)) y++;
        if (y >= t->n || x >= t->n) continue;
        if (x != y && !branch_same(ins(t, x), ins(t, y))) continue;
        tl->select = y;
    }
}

/* An if-converted branch at idx: vt, the instruction its taken way runs
 * (or none), and vf, its fall-through's (or none), both computed (into rax
 * and rdx), then the comparison, and each result moved to its register
 * when its way is the one taken. Taken costs `more` instructions more than
 * not (the budget pays alike; when it cannot, the interpreter runs the
 * branch). Both ways go on at instruction y. */
static void emit_select(struct tctx *t, const struct insn *d, unsigned idx, const struct insn *vt,
                        const struct insn *vf, int32_t more, unsigned y)
{
    struct x86buf *b = t->b;
    if (more > 0) {
        x86_alu_ri(b, X86_CMP, BUD, more);
        add_stub(t, STUB_BAIL, x86_jcc32(b, X86_CC_L), idx);
    }
    if (vt) select_value(t, vt, X86_RAX);
    if (vf) select_value(t, vf, X86_RDX);
    enum x86_cc cc = branch_flags(t, d, X86_RCX, X86_RCX);
    if (vt && vf && vt->rd == vf->rd) { /* one register either way */
        int h = def(t, vt->rd);
        x86_mov_rr(b, h, X86_RDX);
        x86_cmov(b, cc, h, X86_RAX);
    } else {
        if (vt) {
            get(t, vt->rd); /* its value stays when the branch is not taken */
            x86_cmov(b, cc, def(t, vt->rd), X86_RAX);
        }
        if (vf) {
            get(t, vf->rd);
            x86_cmov(b, (enum x86_cc)(cc ^ 1), def(t, vf->rd), X86_RDX);
        }
    }
    if (more) {
        x86_lea(b, X86_RCX, X86_MEM(BUD, -more));
        x86_cmov(b, cc, BUD, X86_RCX);
    }
    t->skip_to = y;
}

/* A loop's branch to a tail that plan_selects if-converts: taken, the
 * tail's instruction and its jump instead of the fall-through's. */
static void emit_tail_select(struct tctx *t, const struct insn *d, unsigned idx,
                             const struct tail *tl)
{
    const struct insn *vt = tl->n == 2 ? &ins(t, TAIL_BASE + tl->first)->d : NULL;
    const struct insn *vf = tl->select > idx + 1 ? &ins(t, idx + 1)->d : NULL;
    emit_select(t, d, idx, vt, vf, (int32_t)tl->n - (vf ? 1 : 0), tl->select);
}

/* A branch over one instruction that select_op allows, to the next (no
 * other jump to that one): it runs unless the branch is taken. */
static int emit_hammock(struct tctx *t, const struct insn *d, unsigned idx)
{
    if (idx + 2 >= t->n || ins(t, idx)->target != idx + 2 || (t->targets >> (idx + 1) & 1))
        return 0;
    const struct insn *vf = &ins(t, idx + 1)->d;
    if (!select_op(vf) || (d->rs1 == 0 && d->rs2 == 0)) return 0;
    emit_select(t, d, idx, NULL, vf, -1, idx + 2);
    return 1;
}

/* The loop's entry (cold code, reached from setup_loop's jump): every
 * slot filled under another key than this run's is emptied and given
 * this run's key, so that neither the accesses nor their refills need
 * compare or store keys at every iteration. */
static void validate_slots(struct tctx *t)
{
    struct x86buf *b = t->b;
    x86_patch(b, t->validate_jmp, b->len);
    x86_load(b, X86_RCX, HP, OFF_SKEY);
    x86_mov_ri(b, X86_RDX, ~0ull); /* no address's tag */
    for (unsigned i = 0; i < t->nslots; i++) {
        x86_alu_rm(b, X86_CMP, X86_RCX, X86_ABS(t->slots[i] + 16));
        size_t same = x86_jcc32(b, X86_CC_E);
        x86_st(b, 8, X86_ABS(t->slots[i]), X86_RDX);
        x86_st(b, 8, X86_ABS(t->slots[i] + 16), X86_RCX);
        x86_patch(b, same, b->len);
    }
    jmp_to(b, t->validate_jmp + 4);
}

/* The F register an instruction writes (a bit), and whether with a
 * single-precision result, which is always NaN-boxed. */
static uint32_t fp_written(const struct insn *d)
{
    unsigned o = d->op;
    if (o == OP_FLW || o == OP_FLD || (is_fp_compute(o) && !fp_writes_x(o))) return 1u << d->rd;
    return 0;
}

static int fp_single_result(unsigned o)
{
    return o == OP_FLW || (o >= OP_FMADD_S && o <= OP_FNMADD_S) ||
           (o >= OP_FADD_S && o <= OP_FMAX_S) || (o >= OP_FCVT_S_W && o <= OP_FMV_W_X) ||
           o == OP_FCVT_S_D;
}

static int fp_unary(unsigned o)
{
    return o == OP_FSQRT_S || o == OP_FSQRT_D || (o >= OP_FCVT_W_S && o <= OP_FMV_X_W) ||
           o == OP_FCLASS_S || (o >= OP_FCVT_S_D && o <= OP_FMV_X_D) || o == OP_FCLASS_D;
}

/* The F registers an instruction reads. */
static uint32_t fp_reads(const struct insn *d)
{
    unsigned o = d->op;
    if (o == OP_FSW || o == OP_FSD) return 1u << d->rs2;
    if (!is_fp_compute(o) || fp_reads_x(o)) return 0;
    uint32_t m = 1u << d->rs1;
    if (o <= OP_FNMADD_D) return m | 1u << d->rs2 | 1u << d->rs3;
    return fp_unary(o) ? m : m | 1u << d->rs2;
}

/* A loop's F registers go to xmm registers if they fit: loaded here, at
 * the loop's entry; every instruction then reads and writes them there. */
static void fp_plan(struct tctx *t)
{
    uint32_t used = 0;
    for (unsigned i = 0; i < t->n; i++)
        used |= fp_reads(&t->blk->insn[i].d) | fp_written(&t->blk->insn[i].d);
    if (!used || __builtin_popcount(used) > FP_XMM_N) return;
    for (unsigned r = 0; r < 32; r++) {
        if (!(used & (1u << r))) continue;
        t->fp.xmm[r] = (int8_t)(FP_XMM_FIRST + t->fp.n++);
        x86_sse_ld(t->b, 1, t->fp.xmm[r], X86_MEM(HP, OFF_F(r)));
    }
    t->ra.fp = &t->fp;
}

/* Does the loop access memory (through tlb_lookup, with slots)? */
static int loop_accesses(const struct tctx *t)
{
    for (unsigned i = 0; i < t->n + t->ntail_ins; i++) {
        unsigned o = loop_ins(t, i)->d.op;
        if ((o >= OP_LB && o <= OP_LWU) || (o >= OP_SB && o <= OP_SD) || o == OP_FLW ||
            o == OP_FLD || o == OP_FSW || o == OP_FSD)
            return 1;
    }
    return 0;
}

static void setup_loop(struct tctx *t)
{
    t->validate_jmp = loop_accesses(t) ? x86_jmp32(t->b) : 0; /* 0: no slots to check */
    fp_plan(t);
    uint32_t used = 0, written = 0;
    for (unsigned i = 0; i < t->n + t->ntail_ins; i++) {
        uint32_t in, out;
        insn_use(&loop_ins(t, i)->d, &in, &out);
        used |= in | out;
        written |= out;
    }
    int s = 0;
    for (unsigned r = 1; r < 32; r++) {
        if (!(used & (1u << r))) continue;
        t->ra.guest[s] = (int8_t)r;
        t->ra.dirty[s] = (written >> r) & 1; /* the same at every iteration's start */
        x86_load(t->b, host_reg[s], HP, OFF_X(r));
        s++;
    }
}

/* ---- FP checks hoisted to a loop's entry ---- */

/* What a loop's entry must check for its fast copy, if it gets one (F/D
 * instructions or a division by an invariant divisor, no CSR access,
 * which could change the FP state; small enough for two copies' stubs):
 * FS Dirty, NX set, frm 0 if used, the singles it reads before writing
 * them NaN-boxed, and its constant divisors (div_const). Nothing else in
 * the loop can change FS, NX or frm: the helpers only set flags and mark
 * FS dirty, and traps and interrupts leave the loop. */
struct fast_entry {
    int fp;         /* the loop has F/D instructions: FS must be Dirty */
    int nx, frm;    /* NX must be set; frm must be 0 */
    uint32_t boxed; /* these must hold NaN-boxed singles */
    uint32_t lazy;  /* ra.lazy of the fast copy */
};

/* The loop's divisions whose divisor it does not write and which holds a
 * value now that a division by it can use (div_magnitude; emit_divrem
 * asks again for each): the fast copy divides by that value (the entry
 * checks it still holds it). */
static void plan_div_const(struct tctx *t)
{
    uint32_t written = 0;
    for (unsigned i = 0; i < t->n + t->ntail_ins; i++) {
        uint32_t in, out;
        insn_use(&loop_ins(t, i)->d, &in, &out);
        written |= out;
    }
    for (unsigned i = 0; t->regs && i < t->n + t->ntail_ins; i++) {
        const struct insn *d = &loop_ins(t, i)->d;
        unsigned r = d->rs2;
        if (!is_divrem(d->op) || !r || (written >> r & 1)) continue;
        if (slot_of(t, r) < 0 || !div_magnitude(d->op, t->regs[r])) continue;
        t->div_const |= 1u << r;
        t->div_val[r] = t->regs[r];
    }
}

/* Divisions by a register that an earlier instruction of the block set to
 * a constant (li, lui, addi[w] of a constant), with no branch into the
 * block in between: they divide by that constant, with no check. */
static void plan_known_divisors(struct tctx *t)
{
    uint64_t targets = t->targets, val[32];
    uint32_t known = 0;
    for (unsigned i = 0; i < t->n; i++) {
        const struct insn *d = &t->blk->insn[i].d;
        if (targets >> i & 1) known = 0;
        if (is_divrem(d->op) && d->rs2 && (known >> d->rs2 & 1)) {
            t->kdiv_known |= 1ull << i;
            t->kdiv_val[i] = val[d->rs2];
        }
        uint32_t in, out;
        insn_use(d, &in, &out);
        unsigned r = d->rd;
        int from = d->rs1 == 0 || (known >> d->rs1 & 1);
        uint64_t base = d->rs1 ? val[d->rs1] : 0;
        known &= ~out;
        if (!out || r >= 32) continue;
        if (d->op == OP_LUI) {
            val[r] = (uint64_t)(int64_t)d->imm;
        } else if (d->op == OP_ADDI && from) {
            val[r] = base + (uint64_t)(int64_t)d->imm;
        } else if (d->op == OP_ADDIW && from) {
            val[r] = (uint64_t)(int64_t)(int32_t)(base + (uint64_t)(int64_t)d->imm);
        } else {
            continue;
        }
        known |= 1u << r;
    }
}

static int fast_copy_plan(struct tctx *t, struct fast_entry *h)
{
    if (!t->loop || t->n > BLOCK_MAX / 2) return 0;
    uint32_t written = 0, dbl = 0, entry = 0;
    int any = 0;
    *h = (struct fast_entry){0};
    for (unsigned i = 0; i < t->n; i++) {
        const struct insn *d = &t->blk->insn[i].d;
        unsigned o = d->op;
        if (is_csr(o)) return 0;
        if (o >= OP_FLW && o <= OP_FSD) any = 1;
        if (is_fp_compute(o)) {
            any = 1;
            int moves = (o >= OP_FSGNJ_S && o <= OP_FSGNJX_S) ||
                        (o >= OP_FSGNJ_D && o <= OP_FSGNJX_D) || o == OP_FMV_X_W ||
                        o == OP_FMV_W_X || o == OP_FMV_X_D || o == OP_FMV_D_X;
            h->nx |= !moves;
            h->frm |= !moves && d->rm == 7;
        }
        if ((o >= OP_FMADD_S && o <= OP_FNMADD_S) || (o >= OP_FADD_S && o <= OP_FCLASS_S))
            entry |= fp_reads(d) & ~written; /* read as a single before the loop writes it */
        uint32_t w = fp_written(d);
        written |= w;
        if (!fp_single_result(o)) dbl |= w;
    }
    t->fp_boxed_ok = ~dbl; /* every write boxes them; the entry checks the rest */
    h->boxed = entry & ~dbl;
    /* Singles the loop writes to xmm registers need not be boxed until
     * their 64 bits are read, if they hold boxed singles from the entry
     * on (an exit before the first write stores them back as they are). */
    for (unsigned r = 0; r < 32; r++)
        if ((written & ~dbl) >> r & 1 && t->fp.xmm[r] >= 0) h->lazy |= 1u << r;
    h->boxed |= h->lazy;
    h->fp = any;
    plan_div_const(t);
    return any || t->div_const;
}

/* The entry's checks (after setup_loop, registers loaded): a failed one
 * jumps to the loop's other copy, which checks at every instruction.
 * FS must be Dirty, so that the fast copy need not mark it. */
static unsigned fast_copy_guard(struct tctx *t, const struct fast_entry *h, size_t *to_checked)
{
    struct x86buf *b = t->b;
    unsigned n = 0;
    for (unsigned r = 0; r < 32; r++) {
        if (!(t->div_const >> r & 1)) continue;
        x86_mov_ri(b, X86_RAX, t->div_val[r]);
        x86_alu_rr(b, X86_CMP, host_reg[slot_of(t, r)], X86_RAX);
        to_checked[n++] = x86_jcc32(b, X86_CC_NE);
    }
    if (!h->fp) return n;
    x86_ld(b, 4, 0, X86_RAX, X86_MEM(HP, OFF_MSTAT));
    x86_alu32_ri(b, X86_AND, X86_RAX, (int32_t)MSTATUS_FS);
    x86_alu32_ri(b, X86_CMP, X86_RAX, (int32_t)MSTATUS_FS);
    to_checked[n++] = x86_jcc32(b, X86_CC_NE);
    if (h->nx) {
        x86_test32_mi(b, X86_MEM(HP, OFF_FFLAGS), 1);
        to_checked[n++] = x86_jcc32(b, X86_CC_E);
    }
    if (h->frm) {
        x86_cmp32_mi(b, X86_MEM(HP, OFF_FRM), 0);
        to_checked[n++] = x86_jcc32(b, X86_CC_NE);
    }
    for (unsigned r = 0; r < 32; r++) {
        if (!(h->boxed >> r & 1)) continue;
        fp_box_test(t, r);
        to_checked[n++] = x86_jcc32(b, X86_CC_NE);
    }
    return n;
}

/* A scaled_add pair at idx: r = b + x * 2^k in one lea, and emit_body
 * skips the add. An array's element address as RV64GC without Zba
 * computes it. */
static int emit_scaled_add(struct tctx *t, unsigned idx)
{
    struct scaled sa;
    if (!scaled_add(t, idx, &sa)) return 0;
    int hb = get(t, sa.b), hx = get(t, sa.x);
    x86_lea(t->b, def(t, sa.r), X86_MEMX(hb, hx, 1 << sa.k, 0));
    t->skip_to = idx + 2;
    return 1;
}

/* One instruction of the mainline; returns 1 if it ended the block. */
static int emit_insn(struct tctx *t, unsigned idx)
{
    const struct insn *d = &ins(t, idx)->d;
    int32_t off = pc_rel(ins(t, idx));
    struct x86buf *b = t->b;
    t->locked = 0;
    switch (d->op) {
    case OP_NOP: return 0;
    case OP_FENCE: /* x86 keeps every order RVWMO asks but store -> load */
        if ((d->imm & 0x10) && (d->imm & 0x02)) x86_mfence(b);
        return 0;
    case OP_LUI:
        if (writes_rd(d)) x86_mov_ri(b, def(t, d->rd), (uint64_t)(int64_t)d->imm);
        return 0;
    case OP_AUIPC:
        if (writes_rd(d)) {
            int64_t k = (int64_t)off + d->imm;
            if (k == (int32_t)k) {
                x86_lea(b, def(t, d->rd), X86_MEM(PC, (int32_t)k));
            } else {
                x86_mov_ri(b, X86_RAX, (uint64_t)k);
                x86_alu_rr(b, X86_ADD, X86_RAX, PC);
                put_rax(t, d, 0);
            }
        }
        return 0;
    case OP_JAL:
    case OP_JALR: return emit_jump(t, d, idx);
    }
    if (is_csr(d->op)) {
        emit_csr(t, d, idx);
        return 1;
    }
    if (d->op >= OP_LR_W && d->op <= OP_AMOMAXU_D)
        emit_amo(t, d, idx);
    else if (is_fp_compute(d->op))
        emit_fp(t, d, idx);
    else if (d->op == OP_FLW || d->op == OP_FLD)
        emit_fp_load(t, d, idx);
    else if (d->op == OP_FSW || d->op == OP_FSD)
        emit_fp_store(t, d, idx);
    else if (d->op >= OP_BEQ && d->op <= OP_BGEU)
        emit_branch(t, d, idx);
    else if (d->op >= OP_LB && d->op <= OP_LWU)
        emit_load(t, d, idx);
    else if (d->op >= OP_SB && d->op <= OP_SD)
        emit_store(t, d, idx);
    else if (d->op == OP_SLLI && idx < BLOCK_MAX && emit_scaled_add(t, idx))
        return 0;
    else if (d->op >= OP_ADDI && d->op <= OP_SRAI)
        emit_imm_alu(t, d);
    else if (d->op == OP_ADDIW || (d->op >= OP_SLLIW && d->op <= OP_SRAIW))
        emit_imm_alu(t, d);
    else
        emit_reg_alu(t, d, idx);
    return 0;
}

/* ---- stubs ---- */

static void call_helper(struct x86buf *b, const void *fn)
{
    x86_mov_ri(b, X86_RAX, (uint64_t)(uintptr_t)fn);
    x86_call_r(b, X86_RAX);
}

/* The slow path of a load or store: the helper takes the access (TLB
 * fill, MMIO, fault). After a fault the hart has taken the trap and only
 * the instructions before this one retired; after a store that needs the
 * VMM's attention (an interrupt raised, code modified) the block ends
 * after it. */
static void emit_mem_stub(struct tctx *t, const struct stub *s)
{
    struct x86buf *b = t->b;
    unsigned size = mem_size(s->d.op);
    if (s->site.slot) emit_site_refill(b, &s->site);
    if (s->site.pred) {
        emit_pred_refill(b, &s->site);
        x86_patch(b, s->from, b->len); /* a TLB miss: the slow path */
    }
    writeback(b, &s->ra);
    if (s->kind == STUB_STORE) {
        if (s->val >= 0)
            x86_mov_rr(b, X86_RDX, s->val);
        else if (s->val == -2)
            x86_load(b, X86_RDX, HP, OFF_F(s->d.rs2));
        else
            x86_alu32_rr(b, X86_XOR, X86_RDX, X86_RDX);
    }
    x86_lea(b, s->kind == STUB_STORE ? X86_RCX : X86_RDX, X86_MEM(PC, s->pc_off));
    if (s->kind == STUB_LOAD) {
        int sx = s->d.op == OP_LB || s->d.op == OP_LH || s->d.op == OP_LW;
        x86_mov_ri(b, X86_RCX, size | (sx ? JIT_LOAD_SX : 0));
        x86_patch(b, x86_call32(b), t->c->load_thunk);
    } else {
        x86_mov_ri(b, X86_R8, size);
        x86_patch(b, x86_call32(b), t->c->store_thunk);
    }
    size_t special = x86_jcc32(b, X86_CC_NE); /* the thunk's flags */
    reload_caller_saved(b, &s->ra);
    if (s->kind == STUB_LOAD && s->val >= 0) x86_mov_rr(b, s->val, X86_RAX);
    jmp_to(b, s->back);
    x86_patch(b, special, b->len);
    if (s->kind == STUB_STORE) { /* 2: go on after the store, outside */
        x86_alu32_ri(b, X86_CMP, X86_RAX, JIT_STORE_EXIT);
        size_t fault = x86_jcc32(b, X86_CC_NE);
        refund(b, (int64_t)t->charged - retired_before(t, s->idx) - 1);
        x86_lea(b, PC, X86_MEM(PC, s->pc_off + s->d.len));
        x86_store(b, HP, OFF_PC, PC);
        jmp_to(b, EPILOGUE_AT);
        x86_patch(b, fault, b->len);
    }
    refund(b,
           (int64_t)t->charged - retired_before(t, s->idx)); /* the trap handler's pc is in h->pc */
    jmp_to(b, EPILOGUE_AT);
}

static void emit_stubs(struct tctx *t)
{
    struct x86buf *b = t->b;
    for (unsigned i = 0; i < t->nstub; i++) {
        const struct stub *s = &t->stub[i];
        if (s->kind == STUB_NONE) continue;
        if (s->kind != STUB_LOOP) x86_patch(b, s->from, b->len);
        if (s->kind == STUB_BRANCH) {
            writeback(b, &s->ra);
            refund(b, (int64_t)t->charged - retired_before(t, s->idx) - 1);
            exit_to(t, s->to, s->pc_off);
        } else if (s->kind == STUB_TRAPPED) {
            refund(b, (int64_t)t->charged - retired_before(t, s->idx));
            jmp_to(b, EPILOGUE_AT);
        } else if (s->kind == STUB_FPCALL) {
            size_t at = b->len;
            emit_fp_call(t, &s->d, s->idx, &s->ra);
            jmp_to(b, s->back);
            /* the other failed checks of the same instruction come here too */
            while (i + 1 < t->nstub && t->stub[i + 1].kind == STUB_FPCALL &&
                   t->stub[i + 1].idx == s->idx)
                x86_patch(b, t->stub[++i].from, at);
        } else if (s->kind == STUB_BAIL) { /* the interpreter runs this instruction */
            writeback(b, &s->ra);
            refund(b, (int64_t)t->charged - retired_before(t, s->idx));
            x86_lea(b, PC, X86_MEM(PC, s->pc_off));
            x86_store(b, HP, OFF_PC, PC);
            x86_alu32_mi(b, X86_OR, X86_MEM(HP, OFF_BAIL), 1);
            jmp_to(b, EPILOGUE_AT);
        } else if (s->kind == STUB_LOOP) { /* leave at a back edge (emit_back_edge) */
            unsigned k = s->loop_k; /* events: the refund; budget short: k..n-1 not charged */
            x86_patch(b, s->from_ev, b->len);
            refund(b, s->loop_refund - (int64_t)(t->n - k));
            x86_patch(b, s->from, b->len);
            refund(b, t->n - k);
            writeback(b, &s->ra);
            if (k) x86_lea(b, PC, X86_MEM(PC, pc_rel(&t->blk->insn[k])));
            x86_store(b, HP, OFF_PC, PC);
            jmp_to(b, EPILOGUE_AT);
        } else {
            emit_mem_stub(t, s);
        }
    }
}

/* ---- blocks ---- */

/* The tails of the copy just emitted, each from its branch's state. */
static void emit_tails(struct tctx *t)
{
    for (unsigned i = 0; i < t->ntails; i++) {
        struct tail *tl = &t->tails[i];
        if (tl->select) continue;
        x86_patch(t->b, tl->jmp, t->b->len);
        t->ra = tl->ra;
        for (unsigned j = 0; j < tl->n; j++)
            emit_insn(t, TAIL_BASE + tl->first + j);
    }
}

static int ra_same(const struct ra *a, const struct ra *b)
{
    return !memcmp(a->guest, b->guest, sizeof(a->guest)) &&
           !memcmp(a->dirty, b->dirty, sizeof(a->dirty)) && a->fp == b->fp && a->lazy == b->lazy;
}

/* Instruction idx is next: the forward branches to it whose registers are
 * where they are here go on here instead of leaving the block. */
static void resolve_forward(struct tctx *t, unsigned idx)
{
    for (unsigned i = 0; i < t->nfwd; i++)
        if (t->fwd[i].to == idx && ra_same(&t->stub[t->fwd[i].stub].ra, &t->ra))
            t->fwd[i].at = t->b->len;
}

/* The resolved forward branches go to their target through a refund of
 * the instructions they skip (which the block's entry charged); their
 * stubs are not emitted. */
static void emit_forward(struct tctx *t)
{
    for (unsigned i = 0; i < t->nfwd; i++) {
        struct stub *s = &t->stub[t->fwd[i].stub];
        if (!t->fwd[i].at) continue;
        x86_patch(t->b, s->from, t->b->len);
        x86_lea(t->b, BUD, X86_MEM(BUD, (int32_t)(t->fwd[i].to - s->idx - 1))); /* flags kept */
        jmp_to(t->b, t->fwd[i].at);
        s->kind = STUB_NONE;
    }
    t->nfwd = 0;
}

/* The block's instructions, and its exit when the last falls through. */
static void emit_body(struct tctx *t)
{
    int ended = 0;
    unsigned at = 0;
    t->skip_to = 0;
    for (unsigned i = 0; i < t->n && !ended; i++) {
        resolve_forward(t, i);
        t->ins_off[i] = t->b->len;
        if (i < t->skip_to) { /* done with one before (emit_select, emit_scaled_add) */
            at = i;
            continue;
        }
        ended = emit_insn(t, at = i);
    }
    for (unsigned i = 0; i < t->ntrace && !ended; i++)
        ended = emit_insn(t, at = TAIL_BASE + i);
    if (!ended) {
        writeback(t->b, &t->ra);
        const struct iinsn *last = ins(t, at);
        exit_to(t, (int64_t)pc_rel(last) + last->d.len, pc_rel(last));
    }
    emit_tails(t);
    emit_forward(t);
}

uint32_t jit_translate_block(struct jit_cache *c, const struct block *blk, const uint8_t *page,
                             const uint64_t *regs, const struct tlb_entry *tlbd, unsigned *count)
{
    unsigned n = 0;
    while (n < blk->n && jit_covers(blk->insn[n].d.op))
        n++;
    if (n == 0) return 0;
    _Static_assert(BLOCK_MAX <= MAX_STUBS, "a stub per instruction");
    struct x86buf xb, cold; /* the block's code; its stubs and exits */
    x86_init(&xb, c->rw, c->size / 2);
    xb.len = c->used;
    xb.exec = (uint64_t)(uintptr_t)c->rx;
    x86_init(&cold, c->rw, c->size);
    cold.len = c->cold_used;
    cold.exec = xb.exec;
    /* ~90 KiB of state, kept by the cache: only its head is cleared */
    if (!c->scratch && !(c->scratch = malloc(sizeof(struct tctx)))) return 0;
    struct tctx *t = c->scratch;
    memset(t, 0, offsetof(struct tctx, stub));
    t->b = &xb;
    t->c = c;
    t->blk = blk;
    t->n = n;
    t->regs = regs;
    t->tlbd = tlbd;
    memset(t->ra.guest, -1, sizeof(t->ra.guest));
    memset(t->fp.xmm, -1, sizeof(t->fp.xmm));
    plan_loop(t);
    plan_tails(t, page);
    plan_targets(t);
    plan_selects(t);
    plan_targets(t); /* with the if-conversions' joins */
    plan_trace(t, page);
    plan_known_divisors(t);
    n = t->n;
    t->charged = n + t->ntrace;
    size_t entry = xb.len;
    /* entry: events pending or budget short: leave before the block */
    x86_cmp32_mi(&xb, X86_MEM(HP, OFF_EVENTS), 0);
    size_t ev = x86_jcc32(&xb, X86_CC_NE);
    c->ev_check = (uint32_t)(xb.len - entry); /* the same for every block */
    x86_alu_ri(&xb, X86_SUB, BUD, (int32_t)t->charged);
    size_t low = x86_jcc32(&xb, X86_CC_L);
    if (t->loop) setup_loop(t);
    struct fast_entry fh;
    if (fast_copy_plan(t, &fh)) { /* two copies: FP checks once, or at every use */
        size_t to_checked[3 + 32 + 32];
        unsigned nj = fast_copy_guard(t, &fh, to_checked);
        struct ra ra0 = t->ra;
        t->ra.lazy = fh.lazy;
        t->fast_copy = 1;
        emit_body(t);
        for (unsigned i = 0; i < nj; i++)
            x86_patch(&xb, to_checked[i], xb.len);
        t->fast_copy = 0;
        t->ra = ra0;
    }
    emit_body(t);
    size_t hot_end = xb.len;
    t->b = &cold;
    size_t cold_start = cold.len;
    emit_stubs(t);
    if (t->validate_jmp) validate_slots(t);
    x86_patch(&cold, low, cold.len);
    refund(&cold, t->charged);
    x86_patch(&cold, ev, cold.len);
    x86_store(&cold, HP, OFF_PC, PC);
    jmp_to(&cold, EPILOGUE_AT);
    if (xb.overflow || cold.overflow) return 0;
    *count = n;
    c->used = (hot_end + 15) & ~(size_t)15;
    c->cold_used = (cold.len + 15) & ~(size_t)15;
    c->bytes_total += (hot_end - entry) + (cold.len - cold_start);
    c->bytes_hot += hot_end - entry;
    c->blocks++;
    return (uint32_t)entry;
}

unsigned jit_last_trace(const struct jit_cache *c, const struct iinsn **ins)
{
    const struct tctx *t = c->scratch;
    *ins = t ? t->tail_ins : NULL;
    return t && !t->loop ? t->ntrace : 0;
}

/* rcx = the jump table's entry for the pc in r12 (rdx clobbered). */
static void jc_entry(struct x86buf *b, uint64_t jc)
{
    x86_mov32_rr(b, X86_RCX, PC);
    x86_shift32_ri(b, X86_SHL, X86_RCX, 4); /* (pc / 2) * 32 */
    x86_alu32_ri(b, X86_AND, X86_RCX, (JIT_JC_ENTRIES - 1) << 5);
    x86_lea(b, X86_RDX, X86_ABS(jc));
    x86_alu_rr(b, X86_ADD, X86_RCX, X86_RDX);
}

/* The target in r12, the exit's own cache (or 0) at [rsp]: first the
 * hart's jump table, then the fetch TLB and the block cache (a hit there
 * fills the table); a translation found also refills the exit's cache. */
static void emit_lookup(struct x86buf *b, uint64_t jc)
{
    size_t miss[4];
    jc_entry(b, jc);
    x86_alu_rm(b, X86_CMP, PC, X86_MEM(X86_RCX, 0));
    size_t slow = x86_jcc32(b, X86_CC_NE);
    x86_load(b, X86_RAX, HP, OFF_FKEY);
    x86_alu_rm(b, X86_CMP, X86_RAX, X86_MEM(X86_RCX, 16));
    size_t slow2 = x86_jcc32(b, X86_CC_NE);
    x86_load(b, X86_RAX, X86_RCX, 8);
    size_t found = x86_jmp32(b);
    x86_patch(b, slow, b->len);
    x86_patch(b, slow2, b->len);
    x86_mov_rr(b, X86_RAX, PC);
    x86_mov32_rr(b, X86_RCX, X86_RAX);
    x86_shift32_ri(b, X86_SHR, X86_RCX, 12 - 5);
    x86_alu32_ri(b, X86_AND, X86_RCX, (TLB_SIZE - 1) << 5);
    x86_alu_rm(b, X86_ADD, X86_RCX, X86_MEM(HP, OFF_TLBX));
    x86_mov_rr(b, X86_RDX, X86_RAX);
    x86_alu_ri(b, X86_AND, X86_RDX, -4096);
    x86_alu_rm(b, X86_CMP, X86_RDX, X86_MEM(X86_RCX, offsetof(struct tlb_entry, tag)));
    miss[0] = x86_jcc32(b, X86_CC_NE);
    x86_alu32_ri(b, X86_AND, X86_RAX, 0xfff); /* rax = physical address */
    x86_alu_rm(b, X86_OR, X86_RAX, X86_MEM(X86_RCX, offsetof(struct tlb_entry, paddr)));
    x86_mov32_rr(b, X86_RDX, X86_RAX);
    x86_shift32_ri(b, X86_SHR, X86_RDX, 1);
    x86_alu32_ri(b, X86_AND, X86_RDX, (1 << BCACHE_BITS) - 1);
    x86_load(b, X86_RCX, HP, OFF_SLOTS);
    x86_ld(b, 8, 0, X86_RDX, X86_MEMX(X86_RCX, X86_RDX, 8, 0));
    x86_test_rr(b, X86_RDX, X86_RDX);
    miss[1] = x86_jcc32(b, X86_CC_E);
    x86_alu_rm(b, X86_CMP, X86_RAX, X86_MEM(X86_RDX, offsetof(struct block, paddr)));
    miss[2] = x86_jcc32(b, X86_CC_NE);
    x86_ld(b, 4, 0, X86_RAX, X86_MEM(X86_RDX, offsetof(struct block, native)));
    x86_test_rr(b, X86_RAX, X86_RAX);
    miss[3] = x86_jcc32(b, X86_CC_E);
    x86_alu_rm(b, X86_ADD, X86_RAX, X86_MEM(HP, OFF_RX));
    jc_entry(b, jc);
    x86_store(b, X86_RCX, 0, PC);
    x86_store(b, X86_RCX, 8, X86_RAX);
    x86_load(b, X86_RDX, HP, OFF_FKEY);
    x86_store(b, X86_RCX, 16, X86_RDX);
    x86_patch(b, found, b->len);
    x86_load(b, X86_RDX, X86_RSP, 0); /* the exit's cache, or 0 */
    x86_test_rr(b, X86_RDX, X86_RDX);
    size_t none = x86_jcc32(b, X86_CC_E);
    x86_store(b, X86_RDX, 0, PC);
    x86_store(b, X86_RDX, 8, X86_RAX);
    x86_load(b, X86_RCX, HP, OFF_FKEY);
    x86_store(b, X86_RDX, 16, X86_RCX);
    x86_patch(b, none, b->len);
    x86_jmp_r(b, X86_RAX);
    for (unsigned i = 0; i < 4; i++)
        x86_patch(b, miss[i], b->len);
    x86_store(b, HP, OFF_PC, PC);
    jmp_to(b, EPILOGUE_AT);
}

/* The slow path shared by every load (rax = guest address, rdx = pc, rcx =
 * size and sign) or store (rax = address, rdx = value, rcx = pc, r8 =
 * size): the helper's call, aligned for the C ABI (the stub's call left
 * rsp 8 off), and flags set for the stub: ZF clear when the access
 * faulted (loads) or needs the VMM (stores); a load's value in rax. */
static uint32_t emit_thunk(struct x86buf *b, int store)
{
    while (b->len & 15)
        x86_int3(b);
    uint32_t at = (uint32_t)b->len;
    x86_alu_ri(b, X86_SUB, X86_RSP, 8);
    x86_mov_rr(b, X86_RSI, X86_RAX);
    x86_mov_rr(b, X86_RDI, HP);
    call_helper(b, store ? (const void *)jit_store_slow : (const void *)jit_load_slow);
    x86_alu_ri(b, X86_ADD, X86_RSP, 8);
    if (store)
        x86_alu32_ri(b, X86_CMP, X86_RAX, 0);
    else
        x86_cmp32_mi(b, X86_MEM(HP, OFF_FAULT), 0);
    x86_ret(b);
    return at;
}

void jit_cache_start(struct jit_cache *c)
{
    static const int saved[] = {X86_RBX, X86_RBP, X86_R12, X86_R13, X86_R14, X86_R15};
    struct x86buf xb;
    x86_init(&xb, c->rw, c->size);
    xb.exec = (uint64_t)(uintptr_t)c->rx; /* RIP-relative operands reach from there */
    /* enter(rdi = h, rsi = pc, rdx = budget, rcx = code) */
    for (unsigned i = 0; i < 6; i++)
        x86_push(&xb, saved[i]);
    x86_alu_ri(&xb, X86_SUB, X86_RSP, 8); /* 16-byte aligned for calls */
    x86_mov_rr(&xb, HP, X86_RDI);
    x86_mov_rr(&xb, PC, X86_RSI);
    x86_mov_rr(&xb, BUD, X86_RDX);
    x86_jmp_r(&xb, X86_RCX);
    while (xb.len < EPILOGUE_AT)
        x86_int3(&xb);
    x86_mov_rr(&xb, X86_RAX, BUD);
    x86_alu_ri(&xb, X86_ADD, X86_RSP, 8);
    for (int i = 5; i >= 0; i--)
        x86_pop(&xb, saved[i]);
    x86_ret(&xb);
    while (xb.len < LOOKUP_AT)
        x86_int3(&xb);
    emit_lookup(&xb, (uint64_t)(uintptr_t)c->data);
    c->load_thunk = emit_thunk(&xb, 0);
    c->store_thunk = emit_thunk(&xb, 1);
    c->start = c->used = (xb.len + 15) & ~(size_t)15;
}

int64_t jit_enter(struct hart *h, uint64_t pc, int64_t budget, uint32_t entry)
{
    int64_t (*fn)(struct hart *, uint64_t, int64_t, void *);
    uint8_t *tramp = h->jit.rx;
    memcpy(&fn, &tramp, sizeof(fn));
    h->jit_tlbd = h->tlb[tlb_mode(hart_data_priv(h))][TLB_R];
    h->jit_tlbx = h->tlb[tlb_mode(h->priv)][TLB_X];
    h->jit_instret_end = h->instret + (uint64_t)budget;
    h->jit_site_key = h->tlb_gen << 2 | tlb_mode(hart_data_priv(h));
    h->jit_fetch_key = (h->tlb_gen + h->code_gen) << 2 | tlb_mode(h->priv);
    return fn(h, pc, budget, h->jit.rx + entry);
}

void jit_link(struct jit_cache *c, uint64_t site, uint32_t entry, int forward)
{
    if (forward) entry += c->ev_check;
    uint8_t *at = (uint8_t *)(uintptr_t)site;
    int hot = at >= c->rx && at + 4 <= c->rx + c->used;
    int cold = at >= c->rx + c->size / 2 && at + 4 <= c->rx + c->cold_used;
    if (!hot && !cold) return;
    int32_t rel = x86_rel32(at, c->rx + entry);
    memcpy(c->rw + (at - c->rx), &rel, 4);
}
