/* Decoder unit tests: encodings from the RISC-V unprivileged spec's opcode
 * tables, checked field by field. */
#include "check.h"
#include "cpu/decode.h"

static struct check_ctx c;

static void expect(uint32_t raw, unsigned op, int rd, int rs1, int rs2, int64_t imm)
{
    struct insn d;
    insn_decode_any(raw, &d);
    CHECK(&c, d.op == op, "0x%08x: op %s, want %s", raw, insn_name(d.op), insn_name(op));
    if (rd >= 0) CHECK(&c, d.rd == rd, "0x%08x: rd %u, want %d", raw, d.rd, rd);
    if (rs1 >= 0) CHECK(&c, d.rs1 == rs1, "0x%08x: rs1 %u, want %d", raw, d.rs1, rs1);
    if (rs2 >= 0) CHECK(&c, d.rs2 == rs2, "0x%08x: rs2 %u, want %d", raw, d.rs2, rs2);
    if (imm != INT64_MIN) CHECK(&c, d.imm == imm, "0x%08x: imm %d, want %lld", raw, d.imm, (long long)imm);
}

#define ANY INT64_MIN

int main(void)
{
    expect(0x00000013, OP_ADDI, REG_SINK, 0, -1, 0);        /* nop */
    expect(0xfff00093, OP_ADDI, 1, 0, -1, -1);              /* addi ra,zero,-1 */
    expect(0x800000b7, OP_LUI, 1, -1, -1, (int32_t)0x80000000);
    expect(0x00001097, OP_AUIPC, 1, -1, -1, 0x1000);
    expect(0x7ffff06f, OP_JAL, REG_SINK, -1, -1, 0xffffe);  /* j +0xffffe */
    expect(0x800000ef, OP_JAL, 1, -1, -1, -0x100000);       /* jal ra,-1M */
    expect(0x000080e7, OP_JALR, 1, 1, -1, 0);               /* jalr ra */
    expect(0xfe208ee3, OP_BEQ, -1, 1, 2, -4);               /* beq ra,sp,-4 */
    expect(0x7e20cfe3, OP_BLT, -1, 1, 2, 4094);
    expect(0x0020f463, OP_BGEU, -1, 1, 2, 8);
    expect(0xff813083, OP_LD, 1, 2, -1, -8);
    expect(0x00813023, OP_SD, -1, 2, 8, 0);
    expect(0xfe113c23, OP_SD, -1, 2, 1, -8);
    expect(0x03f09093, OP_SLLI, 1, 1, -1, 63);
    expect(0x43f0d093, OP_SRAI, 1, 1, -1, 63);
    expect(0x0010d09b, OP_SRLIW, 1, 1, -1, 1);
    expect(0x4010d09b, OP_SRAIW, 1, 1, -1, 1);
    expect(0x02209093, OP_SLLI, 1, 1, -1, 34);              /* RV64 shamt is 6 bits */
    expect(0x0200909b, OP_ILLEGAL, -1, -1, -1, ANY);        /* slliw shamt[5]=1 is reserved */
    expect(0x022080b3, OP_MUL, 1, 1, 2, ANY);
    expect(0x0220c0b3, OP_DIV, 1, 1, 2, ANY);
    expect(0x0220f0bb, OP_REMUW, 1, 1, 2, ANY);
    expect(0x40208033, OP_SUB, REG_SINK, 1, 2, ANY);
    expect(0x1000a0af, OP_LR_W, 1, 1, -1, ANY);
    expect(0x1020a0af, OP_ILLEGAL, -1, -1, -1, ANY);        /* lr.w with rs2 != 0 */
    expect(0x1820b0af, OP_SC_D, 1, 1, 2, ANY);
    expect(0xe020b0af, OP_AMOMAXU_D, 1, 1, 2, ANY);
    expect(0x00000073, OP_ECALL, -1, -1, -1, ANY);
    expect(0x00100073, OP_EBREAK, -1, -1, -1, ANY);
    expect(0x30200073, OP_MRET, -1, -1, -1, ANY);
    expect(0x10200073, OP_SRET, -1, -1, -1, ANY);
    expect(0x10500073, OP_WFI, -1, -1, -1, ANY);
    expect(0x12000073, OP_SFENCE_VMA, -1, 0, 0, ANY);
    expect(0x300110f3, OP_CSRRW, 1, 2, -1, 0x300);
    expect(0x3401e0f3, OP_CSRRSI, 1, 3, -1, 0x340);
    expect(0x0000100f, OP_FENCE_I, -1, -1, -1, ANY);
    expect(0x0ff0000f, OP_FENCE, -1, -1, -1, ANY);
    expect(0x0020f0d3, OP_FADD_S, 1, 1, 2, ANY);            /* fadd.s f1,f1,f2 (dyn) */
    expect(0x5a0080d3, OP_FSQRT_D, 1, 1, 0, ANY);
    expect(0x5a1080d3, OP_ILLEGAL, -1, -1, -1, ANY);        /* fsqrt with rs2 != 0 */
    expect(0xc020f0d3, OP_FCVT_L_S, 1, 1, 2, ANY);
    expect(0xe2008053, OP_FMV_X_D, 0 + REG_SINK, 1, 0, ANY); /* rd = x0 → sink */
    expect(0xf20000d3, OP_FMV_D_X, 1, 0, 0, ANY);
    expect(0x4010f0d3, OP_FCVT_S_D, 1, 1, 1, ANY);
    expect(0x420080d3, OP_FCVT_D_S, 1, 1, 0, ANY);
    expect(0x1820f0c3, OP_FMADD_S, 1, 1, 2, ANY);
    expect(0x1a20f0cf, OP_FNMADD_D, 1, 1, 2, ANY);
    expect(0x0000a087, OP_FLW, 1, 1, -1, 0);
    expect(0x0010b027, OP_FSD, -1, 1, 1, 0);
    expect(0x00000000, OP_ILLEGAL, -1, -1, -1, ANY);
    expect(0xffffffff, OP_ILLEGAL, -1, -1, -1, ANY);
    /* compressed: length and raw bits kept */
    struct insn d;
    insn_decode_any(0x4501, &d); /* c.li a0, 0 */
    CHECK(&c, d.op == OP_ADDI && d.len == 2 && d.rd == 10 && d.raw == 0x4501, "c.li");
    insn_decode_any(0x0000, &d);
    CHECK(&c, d.op == OP_ILLEGAL && d.len == 2 && d.raw == 0, "c.illegal");
    insn_decode_any(0x9002, &d); /* c.ebreak */
    CHECK(&c, d.op == OP_EBREAK && d.len == 2, "c.ebreak");
    /* block terminators */
    CHECK(&c, insn_ends_block(OP_JAL) && insn_ends_block(OP_CSRRW) && !insn_ends_block(OP_BEQ) &&
                  !insn_ends_block(OP_ADD),
          "block ends");
    return check_report(&c, "test_decode");
}
