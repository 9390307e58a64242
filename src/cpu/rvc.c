/* RV64C expansion. Field layouts follow the tables of the unprivileged spec,
 * section 16.8 ("RVC instruction set listings"). */
#include "cpu/rvc.h"

/* bits [hi:lo] of c */
static inline uint32_t bits(uint32_t c, unsigned hi, unsigned lo)
{
    return (c >> lo) & ((1u << (hi - lo + 1)) - 1);
}

/* sign-extend the low n bits of v */
static inline int32_t sext(uint32_t v, unsigned n)
{
    return (int32_t)(v << (32 - n)) >> (32 - n);
}

enum {
    OPC_LOAD = 0x03,
    OPC_LOAD_FP = 0x07,
    OPC_OP_IMM = 0x13,
    OPC_OP_IMM_32 = 0x1b,
    OPC_STORE = 0x23,
    OPC_STORE_FP = 0x27,
    OPC_OP = 0x33,
    OPC_LUI = 0x37,
    OPC_OP_32 = 0x3b,
    OPC_BRANCH = 0x63,
    OPC_JALR = 0x67,
    OPC_JAL = 0x6f,
    OPC_SYSTEM = 0x73,
};

static uint32_t enc_i(unsigned op, unsigned f3, unsigned rd, unsigned rs1, int32_t imm)
{
    return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}

static uint32_t enc_s(unsigned op, unsigned f3, unsigned rs1, unsigned rs2, int32_t imm)
{
    uint32_t u = (uint32_t)imm;
    return bits(u, 11, 5) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | bits(u, 4, 0) << 7 | op;
}

static uint32_t enc_r(unsigned op, unsigned f3, unsigned f7, unsigned rd, unsigned rs1,
                      unsigned rs2)
{
    return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}

static uint32_t enc_b(unsigned f3, unsigned rs1, unsigned rs2, int32_t imm)
{
    uint32_t u = (uint32_t)imm;
    return bits(u, 12, 12) << 31 | bits(u, 10, 5) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
           bits(u, 4, 1) << 8 | bits(u, 11, 11) << 7 | OPC_BRANCH;
}

static uint32_t enc_j(unsigned rd, int32_t imm)
{
    uint32_t u = (uint32_t)imm;
    return bits(u, 20, 20) << 31 | bits(u, 10, 1) << 21 | bits(u, 11, 11) << 20 |
           bits(u, 19, 12) << 12 | rd << 7 | OPC_JAL;
}

/* Offsets of the scaled load/store forms. */
static uint32_t uimm_w(uint32_t c) /* C.LW/C.SW: [5:3]=12:10, [2]=6, [6]=5 */
{
    return bits(c, 12, 10) << 3 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 6;
}

static uint32_t uimm_d(uint32_t c) /* C.LD/C.SD/C.FLD/C.FSD: [5:3]=12:10, [7:6]=6:5 */
{
    return bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6;
}

static uint32_t expand_q0(uint32_t c)
{
    unsigned rdp = 8 + bits(c, 4, 2), rs1p = 8 + bits(c, 9, 7);
    switch (bits(c, 15, 13)) {
    case 0: { /* C.ADDI4SPN: nzuimm[5:4|9:6|2|3] */
        uint32_t imm =
            bits(c, 12, 11) << 4 | bits(c, 10, 7) << 6 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 3;
        if (imm == 0) return 0;
        return enc_i(OPC_OP_IMM, 0, rdp, 2, (int32_t)imm);
    }
    case 1: return enc_i(OPC_LOAD_FP, 3, rdp, rs1p, (int32_t)uimm_d(c));  /* C.FLD */
    case 2: return enc_i(OPC_LOAD, 2, rdp, rs1p, (int32_t)uimm_w(c));     /* C.LW */
    case 3: return enc_i(OPC_LOAD, 3, rdp, rs1p, (int32_t)uimm_d(c));     /* C.LD */
    case 5: return enc_s(OPC_STORE_FP, 3, rs1p, rdp, (int32_t)uimm_d(c)); /* C.FSD */
    case 6: return enc_s(OPC_STORE, 2, rs1p, rdp, (int32_t)uimm_w(c));    /* C.SW */
    case 7: return enc_s(OPC_STORE, 3, rs1p, rdp, (int32_t)uimm_d(c));    /* C.SD */
    }
    return 0; /* funct3 4 is reserved */
}

static uint32_t expand_q1(uint32_t c)
{
    unsigned rd = bits(c, 11, 7);
    unsigned rdp = 8 + bits(c, 9, 7), rs2p = 8 + bits(c, 4, 2);
    int32_t imm6 = sext(bits(c, 12, 12) << 5 | bits(c, 6, 2), 6);
    switch (bits(c, 15, 13)) {
    case 0: return enc_i(OPC_OP_IMM, 0, rd, rd, imm6); /* C.ADDI / C.NOP */
    case 1:                                            /* C.ADDIW */
        if (rd == 0) return 0;
        return enc_i(OPC_OP_IMM_32, 0, rd, rd, imm6);
    case 2: return enc_i(OPC_OP_IMM, 0, rd, 0, imm6); /* C.LI */
    case 3:
        if (rd == 2) { /* C.ADDI16SP: nzimm[9|4|6|8:7|5] */
            uint32_t u = bits(c, 12, 12) << 9 | bits(c, 6, 6) << 4 | bits(c, 5, 5) << 6 |
                         bits(c, 4, 3) << 7 | bits(c, 2, 2) << 5;
            if (u == 0) return 0;
            return enc_i(OPC_OP_IMM, 0, 2, 2, sext(u, 10));
        }
        /* C.LUI: nzimm[17|16:12] */
        if (imm6 == 0) return 0;
        return ((uint32_t)imm6 << 12) | rd << 7 | OPC_LUI;
    case 4: {
        unsigned shamt = bits(c, 12, 12) << 5 | bits(c, 6, 2);
        switch (bits(c, 11, 10)) {
        case 0: return enc_i(OPC_OP_IMM, 5, rdp, rdp, (int32_t)shamt);           /* C.SRLI */
        case 1: return enc_i(OPC_OP_IMM, 5, rdp, rdp, (int32_t)(shamt | 0x400)); /* C.SRAI */
        case 2: return enc_i(OPC_OP_IMM, 7, rdp, rdp, imm6);                     /* C.ANDI */
        }
        unsigned f2 = bits(c, 6, 5);
        if (!bits(c, 12, 12)) {
            static const unsigned f3[4] = {0, 4, 6, 7}; /* SUB XOR OR AND */
            return enc_r(OPC_OP, f3[f2], f2 == 0 ? 0x20 : 0, rdp, rdp, rs2p);
        }
        if (f2 == 0) return enc_r(OPC_OP_32, 0, 0x20, rdp, rdp, rs2p); /* C.SUBW */
        if (f2 == 1) return enc_r(OPC_OP_32, 0, 0, rdp, rdp, rs2p);    /* C.ADDW */
        return 0;
    }
    case 5: { /* C.J: offset[11|4|9:8|10|6|7|3:1|5] */
        uint32_t u = bits(c, 12, 12) << 11 | bits(c, 11, 11) << 4 | bits(c, 10, 9) << 8 |
                     bits(c, 8, 8) << 10 | bits(c, 7, 7) << 6 | bits(c, 6, 6) << 7 |
                     bits(c, 5, 3) << 1 | bits(c, 2, 2) << 5;
        return enc_j(0, sext(u, 12));
    }
    default: { /* C.BEQZ / C.BNEZ: offset[8|4:3] [7:6|2:1|5] */
        uint32_t u = bits(c, 12, 12) << 8 | bits(c, 11, 10) << 3 | bits(c, 6, 5) << 6 |
                     bits(c, 4, 3) << 1 | bits(c, 2, 2) << 5;
        return enc_b(bits(c, 13, 13) ? 1 : 0, rdp, 0, sext(u, 9));
    }
    }
}

static uint32_t expand_q2(uint32_t c)
{
    unsigned rd = bits(c, 11, 7), rs2 = bits(c, 6, 2);
    switch (bits(c, 15, 13)) {
    case 0: /* C.SLLI */
        return enc_i(OPC_OP_IMM, 1, rd, rd, (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 2)));
    case 1: /* C.FLDSP: uimm[5|4:3|8:6] */
        return enc_i(OPC_LOAD_FP, 3, rd, 2,
                     (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 5) << 3 | bits(c, 4, 2) << 6));
    case 2: /* C.LWSP: uimm[5|4:2|7:6] */
        if (rd == 0) return 0;
        return enc_i(OPC_LOAD, 2, rd, 2,
                     (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 4) << 2 | bits(c, 3, 2) << 6));
    case 3: /* C.LDSP: uimm[5|4:3|8:6] */
        if (rd == 0) return 0;
        return enc_i(OPC_LOAD, 3, rd, 2,
                     (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 5) << 3 | bits(c, 4, 2) << 6));
    case 4:
        if (!bits(c, 12, 12)) {
            if (rs2 == 0) { /* C.JR */
                if (rd == 0) return 0;
                return enc_i(OPC_JALR, 0, 0, rd, 0);
            }
            return enc_r(OPC_OP, 0, 0, rd, 0, rs2); /* C.MV */
        }
        if (rs2 == 0) {
            if (rd == 0) return 0x00100073;      /* C.EBREAK */
            return enc_i(OPC_JALR, 0, 1, rd, 0); /* C.JALR */
        }
        return enc_r(OPC_OP, 0, 0, rd, rd, rs2); /* C.ADD */
    case 5:                                      /* C.FSDSP: uimm[5:3|8:6] */
        return enc_s(OPC_STORE_FP, 3, 2, rs2, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 9, 7) << 6));
    case 6: /* C.SWSP: uimm[5:2|7:6] */
        return enc_s(OPC_STORE, 2, 2, rs2, (int32_t)(bits(c, 12, 9) << 2 | bits(c, 8, 7) << 6));
    default: /* C.SDSP */
        return enc_s(OPC_STORE, 3, 2, rs2, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 9, 7) << 6));
    }
}

uint32_t rvc_expand(uint16_t c)
{
    switch (c & 3) {
    case 0: return expand_q0(c);
    case 1: return expand_q1(c);
    case 2: return expand_q2(c);
    }
    return 0;
}
