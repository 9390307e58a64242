/* RISC-V instruction decoder shared by the interpreter and (later) the
 * translator. decode() turns one 32-bit encoding (compressed ones are first
 * expanded by rvc_expand) into a struct insn: an operation number plus
 * operand fields. Decoding never depends on hart state. */
#ifndef VMON_DECODE_H
#define VMON_DECODE_H
#include <stdint.h>

/* X(name): every operation the interpreter implements. */
// clang-format off
#define INSN_OPS(X) \
    X(ILLEGAL) X(END) X(NOP) X(LUI) X(AUIPC) X(JAL) X(JALR) X(BEQ) X(BNE) X(BLT) X(BGE) \
    X(BLTU) X(BGEU) X(LB) X(LH) X(LW) X(LD) X(LBU) X(LHU) X(LWU) X(SB) X(SH) X(SW) X(SD) \
    X(ADDI) X(SLTI) X(SLTIU) X(XORI) X(ORI) X(ANDI) X(SLLI) X(SRLI) X(SRAI) X(ADD) X(SUB) \
    X(SLL) X(SLT) X(SLTU) X(XOR) X(SRL) X(SRA) X(OR) X(AND) X(ADDIW) X(SLLIW) X(SRLIW) \
    X(SRAIW) X(ADDW) X(SUBW) X(SLLW) X(SRLW) X(SRAW) X(MUL) X(MULH) X(MULHSU) X(MULHU) \
    X(DIV) X(DIVU) X(REM) X(REMU) X(MULW) X(DIVW) X(DIVUW) X(REMW) X(REMUW) X(FENCE) X(PAUSE) X(DEBUG) X(JIT) \
    X(FENCE_I) X(ECALL) X(EBREAK) X(MRET) X(SRET) X(WFI) X(SFENCE_VMA) X(CSRRW) X(CSRRS) \
    X(CSRRC) X(CSRRWI) X(CSRRSI) X(CSRRCI) X(LR_W) X(SC_W) X(AMOSWAP_W) X(AMOADD_W) \
    X(AMOXOR_W) X(AMOAND_W) X(AMOOR_W) X(AMOMIN_W) X(AMOMAX_W) X(AMOMINU_W) X(AMOMAXU_W) \
    X(LR_D) X(SC_D) X(AMOSWAP_D) X(AMOADD_D) X(AMOXOR_D) X(AMOAND_D) X(AMOOR_D) X(AMOMIN_D) \
    X(AMOMAX_D) X(AMOMINU_D) X(AMOMAXU_D) X(FLW) X(FSW) X(FLD) X(FSD) X(FMADD_S) X(FMSUB_S) \
    X(FNMSUB_S) X(FNMADD_S) X(FMADD_D) X(FMSUB_D) X(FNMSUB_D) X(FNMADD_D) X(FADD_S) \
    X(FSUB_S) X(FMUL_S) X(FDIV_S) X(FSQRT_S) X(FSGNJ_S) X(FSGNJN_S) X(FSGNJX_S) X(FMIN_S) \
    X(FMAX_S) X(FCVT_W_S) X(FCVT_WU_S) X(FCVT_L_S) X(FCVT_LU_S) X(FMV_X_W) X(FEQ_S) X(FLT_S) \
    X(FLE_S) X(FCLASS_S) X(FCVT_S_W) X(FCVT_S_WU) X(FCVT_S_L) X(FCVT_S_LU) X(FMV_W_X) \
    X(FADD_D) X(FSUB_D) X(FMUL_D) X(FDIV_D) X(FSQRT_D) X(FSGNJ_D) X(FSGNJN_D) X(FSGNJX_D) \
    X(FMIN_D) X(FMAX_D) X(FCVT_S_D) X(FCVT_D_S) X(FCVT_W_D) X(FCVT_WU_D) X(FCVT_L_D) \
    X(FCVT_LU_D) X(FMV_X_D) X(FEQ_D) X(FLT_D) X(FLE_D) X(FCLASS_D) X(FCVT_D_W) X(FCVT_D_WU) \
    X(FCVT_D_L) X(FCVT_D_LU) X(FMV_D_X)
// clang-format on

enum insn_op {
#define INSN_ENUM(n) OP_##n,
    INSN_OPS(INSN_ENUM)
#undef INSN_ENUM
        OP_COUNT
};

/* Register number used as rd when the architectural destination is x0: the
 * interpreter's register file has a 33rd slot that absorbs such writes, so
 * x[0] stays zero without a check per instruction. */
#define REG_SINK 32

/* One decoded instruction, the same for every engine. */
struct insn {
    uint16_t op;  /* enum insn_op */
    uint8_t rd;   /* destination (REG_SINK for integer x0) */
    uint8_t rs1;  /* source 1; CSR immediate forms: the 5-bit uimm */
    uint8_t rs2;  /* source 2 */
    uint8_t rs3;  /* FMA third source */
    uint8_t rm;   /* FP rounding mode field; AMO: aq/rl bits */
    uint8_t len;  /* 2 (compressed) or 4 */
    int32_t imm;  /* sign-extended immediate; CSR ops: CSR number */
    uint32_t raw; /* original encoding (16-bit value for compressed) */
};

/* Decode a 32-bit encoding. Unknown encodings become OP_ILLEGAL. */
void insn_decode(uint32_t raw, struct insn *out);
/* Decode raw bits (32-bit, or compressed when (raw & 3) != 3). */
void insn_decode_any(uint32_t raw, struct insn *out);
const char *insn_name(unsigned op);

/* Does this operation end a translation block (control transfer or an
 * instruction that may change privilege, translation or interrupt state)? */
int insn_ends_block(unsigned op);
#endif
