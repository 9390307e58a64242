/* RV64G decoder. Opcode map: RISC-V unprivileged ISA, chapter "RV32/64G
 * Instruction Set Listings"; system instructions: privileged spec ch. 2-3. */
#include "cpu/decode.h"
#include "cpu/rvc.h"
#include <string.h>

static const char *const insn_names[] = {
#define INSN_NAME(n) #n,
    INSN_OPS(INSN_NAME)
#undef INSN_NAME
};

const char *insn_name(unsigned op)
{
    return op < OP_COUNT ? insn_names[op] : "?";
}

static inline uint32_t bits(uint32_t v, int hi, int lo)
{
    return (v >> lo) & ((1u << (hi - lo + 1)) - 1);
}

static inline int32_t sext(uint32_t v, int width)
{
    return (int32_t)(v << (32 - width)) >> (32 - width);
}

static int32_t imm_i(uint32_t r)
{
    return (int32_t)r >> 20;
}
static int32_t imm_s(uint32_t r)
{
    return sext((bits(r, 31, 25) << 5) | bits(r, 11, 7), 12);
}
static int32_t imm_b(uint32_t r)
{
    uint32_t v = (bits(r, 31, 31) << 12) | (bits(r, 7, 7) << 11) | (bits(r, 30, 25) << 5) |
                 (bits(r, 11, 8) << 1);
    return sext(v, 13);
}
static int32_t imm_u(uint32_t r)
{
    return (int32_t)(r & 0xfffff000u);
}
static int32_t imm_j(uint32_t r)
{
    uint32_t v = (bits(r, 31, 31) << 20) | (bits(r, 19, 12) << 12) | (bits(r, 20, 20) << 11) |
                 (bits(r, 30, 21) << 1);
    return sext(v, 21);
}

/* Integer destination: x0 writes go to the sink slot. */
static uint8_t xrd(uint32_t r)
{
    uint8_t rd = (uint8_t)bits(r, 11, 7);
    return rd ? rd : REG_SINK;
}

static unsigned decode_op_imm(uint32_t r, int *imm)
{
    uint32_t f3 = bits(r, 14, 12), f6 = bits(r, 31, 26);
    switch (f3) {
    case 0: return OP_ADDI;
    case 2: return OP_SLTI;
    case 3: return OP_SLTIU;
    case 4: return OP_XORI;
    case 6: return OP_ORI;
    case 7: return OP_ANDI;
    case 1: *imm = (int)bits(r, 25, 20); return f6 == 0 ? OP_SLLI : OP_ILLEGAL;
    case 5:
        *imm = (int)bits(r, 25, 20);
        if (f6 == 0) return OP_SRLI;
        if (f6 == 0x10) return OP_SRAI;
        return OP_ILLEGAL;
    }
    return OP_ILLEGAL;
}

static unsigned decode_op_imm32(uint32_t r, int *imm)
{
    uint32_t f3 = bits(r, 14, 12), f7 = bits(r, 31, 25);
    switch (f3) {
    case 0: return OP_ADDIW;
    case 1: *imm = (int)bits(r, 24, 20); return f7 == 0 ? OP_SLLIW : OP_ILLEGAL;
    case 5:
        *imm = (int)bits(r, 24, 20);
        if (f7 == 0) return OP_SRLIW;
        if (f7 == 0x20) return OP_SRAIW;
        return OP_ILLEGAL;
    }
    return OP_ILLEGAL;
}

static unsigned decode_op(uint32_t r)
{
    uint32_t f3 = bits(r, 14, 12), f7 = bits(r, 31, 25);
    static const uint8_t base[8] = {OP_ADD, OP_SLL, OP_SLT, OP_SLTU, OP_XOR, OP_SRL, OP_OR, OP_AND};
    static const uint8_t mext[8] = {OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU,
                                    OP_DIV, OP_DIVU, OP_REM,    OP_REMU};
    if (f7 == 0) return base[f3];
    if (f7 == 1) return mext[f3];
    if (f7 == 0x20) {
        if (f3 == 0) return OP_SUB;
        if (f3 == 5) return OP_SRA;
    }
    return OP_ILLEGAL;
}

static unsigned decode_op32(uint32_t r)
{
    uint32_t f3 = bits(r, 14, 12), f7 = bits(r, 31, 25);
    if (f7 == 0) {
        switch (f3) {
        case 0: return OP_ADDW;
        case 1: return OP_SLLW;
        case 5: return OP_SRLW;
        }
    } else if (f7 == 1) {
        switch (f3) {
        case 0: return OP_MULW;
        case 4: return OP_DIVW;
        case 5: return OP_DIVUW;
        case 6: return OP_REMW;
        case 7: return OP_REMUW;
        }
    } else if (f7 == 0x20) {
        if (f3 == 0) return OP_SUBW;
        if (f3 == 5) return OP_SRAW;
    }
    return OP_ILLEGAL;
}

static unsigned decode_amo(uint32_t r)
{
    uint32_t f3 = bits(r, 14, 12), f5 = bits(r, 31, 27);
    static const uint8_t w[32] = {
        [0x00] = OP_AMOADD_W, [0x01] = OP_AMOSWAP_W, [0x02] = OP_LR_W,     [0x03] = OP_SC_W,
        [0x04] = OP_AMOXOR_W, [0x08] = OP_AMOOR_W,   [0x0c] = OP_AMOAND_W, [0x10] = OP_AMOMIN_W,
        [0x14] = OP_AMOMAX_W, [0x18] = OP_AMOMINU_W, [0x1c] = OP_AMOMAXU_W};
    static const uint8_t d[32] = {
        [0x00] = OP_AMOADD_D, [0x01] = OP_AMOSWAP_D, [0x02] = OP_LR_D,     [0x03] = OP_SC_D,
        [0x04] = OP_AMOXOR_D, [0x08] = OP_AMOOR_D,   [0x0c] = OP_AMOAND_D, [0x10] = OP_AMOMIN_D,
        [0x14] = OP_AMOMAX_D, [0x18] = OP_AMOMINU_D, [0x1c] = OP_AMOMAXU_D};
    unsigned op = OP_ILLEGAL;
    if (f3 == 2 && w[f5]) op = w[f5];
    if (f3 == 3 && d[f5]) op = d[f5];
    if ((op == OP_LR_W || op == OP_LR_D) && bits(r, 24, 20) != 0) return OP_ILLEGAL;
    return op;
}

/* OP-FP (opcode 0x53). fmt: 0 = S, 1 = D. Rounding mode validity (5, 6, or
 * dynamic with a bad frm) is checked at execution time. */
static unsigned decode_fp(uint32_t r)
{
    uint32_t f7 = bits(r, 31, 25), rm = bits(r, 14, 12), rs2 = bits(r, 24, 20);
    uint32_t fmt = f7 & 3, f5 = f7 >> 2;
    if (fmt > 1) return OP_ILLEGAL;
    int d = fmt == 1;
    switch (f5) {
    case 0x00: return d ? OP_FADD_D : OP_FADD_S;
    case 0x01: return d ? OP_FSUB_D : OP_FSUB_S;
    case 0x02: return d ? OP_FMUL_D : OP_FMUL_S;
    case 0x03: return d ? OP_FDIV_D : OP_FDIV_S;
    case 0x0b:
        if (rs2 != 0) return OP_ILLEGAL;
        return d ? OP_FSQRT_D : OP_FSQRT_S;
    case 0x04:
        if (rm == 0) return d ? OP_FSGNJ_D : OP_FSGNJ_S;
        if (rm == 1) return d ? OP_FSGNJN_D : OP_FSGNJN_S;
        if (rm == 2) return d ? OP_FSGNJX_D : OP_FSGNJX_S;
        return OP_ILLEGAL;
    case 0x05:
        if (rm == 0) return d ? OP_FMIN_D : OP_FMIN_S;
        if (rm == 1) return d ? OP_FMAX_D : OP_FMAX_S;
        return OP_ILLEGAL;
    case 0x08: /* FCVT.S.D (fmt S, rs2=1) / FCVT.D.S (fmt D, rs2=0) */
        if (!d && rs2 == 1) return OP_FCVT_S_D;
        if (d && rs2 == 0) return OP_FCVT_D_S;
        return OP_ILLEGAL;
    case 0x14:
        if (rm == 2) return d ? OP_FEQ_D : OP_FEQ_S;
        if (rm == 1) return d ? OP_FLT_D : OP_FLT_S;
        if (rm == 0) return d ? OP_FLE_D : OP_FLE_S;
        return OP_ILLEGAL;
    case 0x18: {
        static const uint8_t s[4] = {OP_FCVT_W_S, OP_FCVT_WU_S, OP_FCVT_L_S, OP_FCVT_LU_S};
        static const uint8_t dd[4] = {OP_FCVT_W_D, OP_FCVT_WU_D, OP_FCVT_L_D, OP_FCVT_LU_D};
        if (rs2 > 3) return OP_ILLEGAL;
        return d ? dd[rs2] : s[rs2];
    }
    case 0x1a: {
        static const uint8_t s[4] = {OP_FCVT_S_W, OP_FCVT_S_WU, OP_FCVT_S_L, OP_FCVT_S_LU};
        static const uint8_t dd[4] = {OP_FCVT_D_W, OP_FCVT_D_WU, OP_FCVT_D_L, OP_FCVT_D_LU};
        if (rs2 > 3) return OP_ILLEGAL;
        return d ? dd[rs2] : s[rs2];
    }
    case 0x1c:
        if (rs2 != 0) return OP_ILLEGAL;
        if (rm == 0) return d ? OP_FMV_X_D : OP_FMV_X_W;
        if (rm == 1) return d ? OP_FCLASS_D : OP_FCLASS_S;
        return OP_ILLEGAL;
    case 0x1e:
        if (rs2 != 0 || rm != 0) return OP_ILLEGAL;
        return d ? OP_FMV_D_X : OP_FMV_W_X;
    }
    return OP_ILLEGAL;
}

/* Ops whose rd is an integer register (others write f registers or none). */
static int fp_writes_xreg(unsigned op)
{
    switch (op) {
    case OP_FCVT_W_S:
    case OP_FCVT_WU_S:
    case OP_FCVT_L_S:
    case OP_FCVT_LU_S:
    case OP_FMV_X_W:
    case OP_FEQ_S:
    case OP_FLT_S:
    case OP_FLE_S:
    case OP_FCLASS_S:
    case OP_FCVT_W_D:
    case OP_FCVT_WU_D:
    case OP_FCVT_L_D:
    case OP_FCVT_LU_D:
    case OP_FMV_X_D:
    case OP_FEQ_D:
    case OP_FLT_D:
    case OP_FLE_D:
    case OP_FCLASS_D: return 1;
    }
    return 0;
}

static unsigned decode_system(uint32_t r, struct insn *d)
{
    uint32_t f3 = bits(r, 14, 12);
    if (f3 == 0) {
        uint32_t rd = bits(r, 11, 7), rs1 = bits(r, 19, 15), f7 = bits(r, 31, 25);
        if (f7 == 0x09 && rd == 0) return OP_SFENCE_VMA;
        if (rd != 0 || rs1 != 0) return OP_ILLEGAL;
        switch (bits(r, 31, 20)) {
        case 0x000: return OP_ECALL;
        case 0x001: return OP_EBREAK;
        case 0x102: return OP_SRET;
        case 0x302: return OP_MRET;
        case 0x105: return OP_WFI;
        }
        return OP_ILLEGAL;
    }
    d->imm = (int32_t)bits(r, 31, 20);
    switch (f3) {
    case 1: return OP_CSRRW;
    case 2: return OP_CSRRS;
    case 3: return OP_CSRRC;
    case 5: return OP_CSRRWI;
    case 6: return OP_CSRRSI;
    case 7: return OP_CSRRCI;
    }
    return OP_ILLEGAL;
}

void insn_decode(uint32_t r, struct insn *d)
{
    memset(d, 0, sizeof(*d));
    d->raw = r;
    d->len = 4;
    d->rd = xrd(r);
    d->rs1 = (uint8_t)bits(r, 19, 15);
    d->rs2 = (uint8_t)bits(r, 24, 20);
    d->rs3 = (uint8_t)bits(r, 31, 27);
    d->rm = (uint8_t)bits(r, 14, 12);
    unsigned op = OP_ILLEGAL;
    int imm = 0;
    uint32_t f3 = bits(r, 14, 12);
    if ((r & 3) != 3) {
        d->op = OP_ILLEGAL;
        return;
    }
    switch (bits(r, 6, 2)) {
    case 0x00: { /* LOAD */
        static const uint8_t ld[8] = {OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU, 0};
        op = ld[f3] ? ld[f3] : OP_ILLEGAL;
        imm = imm_i(r);
        break;
    }
    case 0x01: /* LOAD-FP */
        if (f3 == 2)
            op = OP_FLW;
        else if (f3 == 3)
            op = OP_FLD;
        imm = imm_i(r);
        d->rd = (uint8_t)bits(r, 11, 7);
        break;
    case 0x03: /* MISC-MEM */
        if (r == 0x0100000fu) {
            op = OP_PAUSE; /* Zihintpause: FENCE pred=W succ=0, a spin-wait hint */
        } else if (f3 == 0) {
            op = OP_FENCE;
            /* pred/succ sets; FENCE.TSO (fm=1000) never orders W before R */
            imm = (int32_t)bits(r, 27, 20);
            if (bits(r, 31, 28) == 8) imm &= ~0x12;
        } else if (f3 == 1) {
            op = OP_FENCE_I;
        }
        break;
    case 0x04:
        imm = imm_i(r);
        op = decode_op_imm(r, &imm);
        break;
    case 0x05:
        op = OP_AUIPC;
        imm = imm_u(r);
        break;
    case 0x06:
        imm = imm_i(r);
        op = decode_op_imm32(r, &imm);
        break;
    case 0x08: { /* STORE */
        static const uint8_t st[8] = {OP_SB, OP_SH, OP_SW, OP_SD, 0, 0, 0, 0};
        op = st[f3] ? st[f3] : OP_ILLEGAL;
        imm = imm_s(r);
        break;
    }
    case 0x09: /* STORE-FP */
        if (f3 == 2)
            op = OP_FSW;
        else if (f3 == 3)
            op = OP_FSD;
        imm = imm_s(r);
        break;
    case 0x0b:
        op = decode_amo(r);
        d->rm = (uint8_t)bits(r, 26, 25);
        break;
    case 0x0c: op = decode_op(r); break;
    case 0x0d:
        op = OP_LUI;
        imm = imm_u(r);
        break;
    case 0x0e: op = decode_op32(r); break;
    case 0x10:
    case 0x11:
    case 0x12:
    case 0x13: { /* FMADD..FNMADD */
        uint32_t fmt = bits(r, 26, 25), k = bits(r, 6, 2) - 0x10;
        static const uint8_t s[4] = {OP_FMADD_S, OP_FMSUB_S, OP_FNMSUB_S, OP_FNMADD_S};
        static const uint8_t dd[4] = {OP_FMADD_D, OP_FMSUB_D, OP_FNMSUB_D, OP_FNMADD_D};
        if (fmt == 0)
            op = s[k];
        else if (fmt == 1)
            op = dd[k];
        d->rd = (uint8_t)bits(r, 11, 7);
        break;
    }
    case 0x14:
        op = decode_fp(r);
        d->rd = fp_writes_xreg(op) ? xrd(r) : (uint8_t)bits(r, 11, 7);
        break;
    case 0x18: { /* BRANCH */
        static const uint8_t br[8] = {OP_BEQ, OP_BNE, 0, 0, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU};
        op = br[f3] ? br[f3] : OP_ILLEGAL;
        imm = imm_b(r);
        break;
    }
    case 0x19:
        if (f3 == 0) op = OP_JALR;
        imm = imm_i(r);
        break;
    case 0x1b:
        op = OP_JAL;
        imm = imm_j(r);
        break;
    case 0x1c:
        op = decode_system(r, d);
        imm = d->imm;
        break;
    }
    d->op = (uint16_t)op;
    d->imm = imm;
}

void insn_decode_any(uint32_t raw, struct insn *d)
{
    if ((raw & 3) == 3) {
        insn_decode(raw, d);
        return;
    }
    uint16_t c = (uint16_t)raw;
    uint32_t x = rvc_expand(c);
    if (x == 0) {
        memset(d, 0, sizeof(*d));
        d->op = OP_ILLEGAL;
    } else {
        insn_decode(x, d);
    }
    d->raw = c;
    d->len = 2;
}

int insn_ends_block(unsigned op)
{
    switch (op) {
    case OP_ILLEGAL:
    case OP_END:
    case OP_DEBUG:
    case OP_JAL:
    case OP_JALR:
    case OP_FENCE_I:
    case OP_ECALL:
    case OP_EBREAK:
    case OP_MRET:
    case OP_SRET:
    case OP_WFI:
    case OP_SFENCE_VMA:
    case OP_CSRRW:
    case OP_CSRRS:
    case OP_CSRRC:
    case OP_CSRRWI:
    case OP_CSRRSI:
    case OP_CSRRCI: return 1;
    }
    return 0;
}
