/* Decoder unit tests: encodings from the RISC-V unprivileged spec's opcode
 * tables, checked field by field. */
#include "check.h"
#include "cpu/decode.h"
#include "cpu/rvc.h"

static struct check_ctx c;

static void expect(uint32_t raw, unsigned op, int rd, int rs1, int rs2, int64_t imm)
{
    struct insn d;
    insn_decode_any(raw, &d);
    CHECK(&c, d.op == op, "0x%08x: op %s, want %s", raw, insn_name(d.op), insn_name(op));
    if (rd >= 0) CHECK(&c, d.rd == rd, "0x%08x: rd %u, want %d", raw, d.rd, rd);
    if (rs1 >= 0) CHECK(&c, d.rs1 == rs1, "0x%08x: rs1 %u, want %d", raw, d.rs1, rs1);
    if (rs2 >= 0) CHECK(&c, d.rs2 == rs2, "0x%08x: rs2 %u, want %d", raw, d.rs2, rs2);
    if (imm != INT64_MIN)
        CHECK(&c, d.imm == imm, "0x%08x: imm %d, want %lld", raw, d.imm, (long long)imm);
}

#define ANY INT64_MIN

/* RV64C expansions: each compressed encoding and its 32-bit equivalent, both
 * produced by GNU as from the same operands (explicit c.* mnemonic vs the base
 * instruction under .option norvc); the four branch/jump cases at the offset
 * extremes were computed by hand and checked against GNU as. */
static const struct {
    uint16_t c;
    uint32_t x;
} rvc_pairs[] = {
    {0x0048, 0x00410513}, /* c.addi4spn a0, sp, 4 */
    {0x1fe0, 0x3fc10413}, /* c.addi4spn s0, sp, 1020 */
    {0x003c, 0x00810793}, /* c.addi4spn a5, sp, 8 */
    {0x3dfc, 0x0f85b787}, /* c.fld fa5, 248(a1) */
    {0x2780, 0x0087b407}, /* c.fld fs0, 8(a5) */
    {0x5de8, 0x07c5a503}, /* c.lw a0, 124(a1) */
    {0x43c4, 0x0047a483}, /* c.lw s1, 4(a5) */
    {0x4030, 0x04042603}, /* c.lw a2, 64(s0) */
    {0x7c74, 0x0f843683}, /* c.ld a3, 248(s0) */
    {0x6588, 0x0085b503}, /* c.ld a0, 8(a1) */
    {0xa600, 0x00863427}, /* c.fsd fs0, 8(a2) */
    {0xbcfc, 0x0ef4bc27}, /* c.fsd fa5, 248(s1) */
    {0xdce8, 0x06a4ae23}, /* c.sw a0, 124(s1) */
    {0xc15c, 0x00f52223}, /* c.sw a5, 4(a0) */
    {0xff70, 0x0ec73c23}, /* c.sd a2, 248(a4) */
    {0xea80, 0x0086b823}, /* c.sd s0, 16(a3) */
    {0x0001, 0x00000013}, /* c.nop */
    {0x1501, 0xfe050513}, /* c.addi a0, -32 */
    {0x037d, 0x01f30313}, /* c.addi t1, 31 */
    {0x0105, 0x00110113}, /* c.addi sp, 1 */
    {0x2501, 0x0005051b}, /* c.addiw a0, 0 */
    {0x3dfd, 0xfffd8d9b}, /* c.addiw s11, -1 */
    {0x20fd, 0x01f0809b}, /* c.addiw ra, 31 */
    {0x5501, 0xfe000513}, /* c.li a0, -32 */
    {0x43fd, 0x01f00393}, /* c.li t2, 31 */
    {0x4081, 0x00000093}, /* c.li ra, 0 */
    {0x7101, 0xe0010113}, /* c.addi16sp sp, -512 */
    {0x617d, 0x1f010113}, /* c.addi16sp sp, 496 */
    {0x6141, 0x01010113}, /* c.addi16sp sp, 16 */
    {0x717d, 0xff010113}, /* c.addi16sp sp, -16 */
    {0x6115, 0x12010113}, /* c.addi16sp sp, 0x120 */
    {0x6505, 0x00001537}, /* c.lui a0, 1 */
    {0x7501, 0xfffe0537}, /* c.lui a0, 0xfffe0 */
    {0x6e7d, 0x0001fe37}, /* c.lui t3, 31 */
    {0x70fd, 0xfffff0b7}, /* c.lui ra, 0xfffff */
    {0x917d, 0x03f55513}, /* c.srli a0, 63 */
    {0x8005, 0x00145413}, /* c.srli s0, 1 */
    {0x9181, 0x0205d593}, /* c.srli a1, 32 */
    {0x9781, 0x4207d793}, /* c.srai a5, 32 */
    {0x8485, 0x4014d493}, /* c.srai s1, 1 */
    {0x957d, 0x43f55513}, /* c.srai a0, 63 */
    {0x9901, 0xfe057513}, /* c.andi a0, -32 */
    {0x8afd, 0x01f6f693}, /* c.andi a3, 31 */
    {0x8881, 0x0004f493}, /* c.andi s1, 0 */
    {0x8c9d, 0x40f484b3}, /* c.sub s1, a5 */
    {0x8d2d, 0x00b54533}, /* c.xor a0, a1 */
    {0x8e55, 0x00d66633}, /* c.or a2, a3 */
    {0x8f7d, 0x00f77733}, /* c.and a4, a5 */
    {0x9c05, 0x4094043b}, /* c.subw s0, s1 */
    {0x9d3d, 0x00f5053b}, /* c.addw a0, a5 */
    {0x157e, 0x03f51513}, /* c.slli a0, 63 */
    {0x0f86, 0x001f9f93}, /* c.slli t6, 1 */
    {0x1082, 0x02009093}, /* c.slli ra, 32 */
    {0x307e, 0x1f813007}, /* c.fldsp ft0, 504(sp) */
    {0x2d82, 0x00013d87}, /* c.fldsp fs11, 0(sp) */
    {0x2522, 0x00813507}, /* c.fldsp fa0, 8(sp) */
    {0x557e, 0x0fc12503}, /* c.lwsp a0, 252(sp) */
    {0x4082, 0x00012083}, /* c.lwsp ra, 0(sp) */
    {0x4f92, 0x00412f83}, /* c.lwsp t6, 4(sp) */
    {0x7ffe, 0x1f813f83}, /* c.ldsp t6, 504(sp) */
    {0x60a2, 0x00813083}, /* c.ldsp ra, 8(sp) */
    {0x6406, 0x04013403}, /* c.ldsp s0, 64(sp) */
    {0x8282, 0x00028067}, /* c.jr t0 */
    {0x8082, 0x00008067}, /* c.jr ra */
    {0x851a, 0x00600533}, /* c.mv a0, t1 */
    {0x8f86, 0x00100fb3}, /* c.mv t6, ra */
    {0x9002, 0x00100073}, /* c.ebreak */
    {0x9782, 0x000780e7}, /* c.jalr a5 */
    {0x9082, 0x000080e7}, /* c.jalr ra */
    {0x951a, 0x00650533}, /* c.add a0, t1 */
    {0x917e, 0x01f10133}, /* c.add sp, t6 */
    {0xbfaa, 0x1ea13c27}, /* c.fsdsp fa0, 504(sp) */
    {0xa07e, 0x01f13027}, /* c.fsdsp ft11, 0(sp) */
    {0xdfaa, 0x0ea12e23}, /* c.swsp a0, 252(sp) */
    {0xc27e, 0x01f12223}, /* c.swsp t6, 4(sp) */
    {0xff86, 0x1e113c23}, /* c.sdsp ra, 504(sp) */
    {0xe402, 0x00013423}, /* c.sdsp zero, 8(sp) */
    {0xaffd, 0x7fe0006f}, /* c.j +2046 */
    {0xb001, 0x801ff06f}, /* c.j -2048 */
    {0xcdfd, 0x0e058f63}, /* c.beqz a1, +254 */
    {0xf181, 0xf00590e3}, /* c.bnez a1, -256 */
};

/* Reserved compressed encodings (must decode as illegal) and HINTs (must not). */
static const uint16_t rvc_reserved[] = {
    0x0000, /* all zero */
    0x0008, /* c.addi4spn a0, sp, 0 */
    0x001c, /* c.addi4spn a5, sp, 0 */
    0x8000, /* Q0 funct3 100 */
    0x9fe0, /* Q0 funct3 100 */
    0x2001, /* c.addiw x0 */
    0x307d, /* c.addiw x0, -1 */
    0x6501, /* c.lui a0, 0 */
    0x6001, /* c.lui x0, 0 */
    0x6101, /* c.addi16sp 0 */
    0x9d4d, /* Q1 100 1 11 .. 10 */
    0x9d6d, /* Q1 100 1 11 .. 11 */
    0x4002, /* c.lwsp x0 */
    0x507e, /* c.lwsp x0, imm */
    0x6002, /* c.ldsp x0 */
    0x8002, /* c.jr x0 */
};
static const uint16_t rvc_hints[] = {
    0x0005, 0x107d, 0x0501, 0x4015, 0x6005, 0x802e, 0x902e, 0x0006, 0x0502, 0x8101, 0x8501,
};

static void test_rvc(void)
{
    for (unsigned i = 0; i < sizeof(rvc_pairs) / sizeof(rvc_pairs[0]); i++) {
        uint32_t got = rvc_expand(rvc_pairs[i].c);
        CHECK(&c, got == rvc_pairs[i].x, "rvc 0x%04x: expands to 0x%08x, want 0x%08x",
              rvc_pairs[i].c, got, rvc_pairs[i].x);
        struct insn dc, dx;
        insn_decode_any(rvc_pairs[i].c, &dc);
        insn_decode(rvc_pairs[i].x, &dx);
        CHECK(&c,
              dc.op == dx.op && dc.rd == dx.rd && dc.rs1 == dx.rs1 && dc.imm == dx.imm &&
                  dc.len == 2 && dc.raw == rvc_pairs[i].c && dc.op != OP_ILLEGAL,
              "rvc 0x%04x: decodes as %s rd %u rs1 %u imm %d, want %s rd %u rs1 %u imm %d",
              rvc_pairs[i].c, insn_name(dc.op), dc.rd, dc.rs1, dc.imm, insn_name(dx.op), dx.rd,
              dx.rs1, dx.imm);
    }
    for (unsigned i = 0; i < sizeof(rvc_reserved) / sizeof(rvc_reserved[0]); i++) {
        struct insn d;
        insn_decode_any(rvc_reserved[i], &d);
        CHECK(&c, rvc_expand(rvc_reserved[i]) == 0 && d.op == OP_ILLEGAL && d.len == 2,
              "rvc 0x%04x: reserved, decodes as %s", rvc_reserved[i], insn_name(d.op));
    }
    for (unsigned i = 0; i < sizeof(rvc_hints) / sizeof(rvc_hints[0]); i++) {
        struct insn d;
        insn_decode_any(rvc_hints[i], &d);
        /* x0 destination, or a zero immediate / shift of rd into itself */
        int nop_like = d.rd == REG_SINK || d.op == OP_ADDI || d.op == OP_SLLI || d.op == OP_SRLI ||
                       d.op == OP_SRAI;
        CHECK(&c, d.op != OP_ILLEGAL && d.len == 2 && nop_like,
              "rvc hint 0x%04x: decodes as %s rd %u", rvc_hints[i], insn_name(d.op), d.rd);
    }
    /* every 16-bit pattern: expansion is either 0 or a 32-bit encoding that
     * decodes to a real operation (never a compressed or illegal one) */
    unsigned bad = 0;
    for (uint32_t v = 0; v < 0x10000; v++) {
        if ((v & 3) == 3) continue;
        uint32_t x = rvc_expand((uint16_t)v);
        if (x == 0) continue;
        struct insn d;
        insn_decode(x, &d);
        if ((x & 3) != 3 || d.op == OP_ILLEGAL) {
            if (bad++ < 5) fprintf(stderr, "rvc 0x%04x expands to bad 0x%08x\n", v, x);
        }
    }
    CHECK(&c, bad == 0, "%u compressed encodings expand to illegal 32-bit ones", bad);
}

int main(void)
{
    expect(0x00000013, OP_ADDI, REG_SINK, 0, -1, 0); /* nop */
    expect(0xfff00093, OP_ADDI, 1, 0, -1, -1);       /* addi ra,zero,-1 */
    expect(0x800000b7, OP_LUI, 1, -1, -1, (int32_t)0x80000000);
    expect(0x00001097, OP_AUIPC, 1, -1, -1, 0x1000);
    expect(0x7ffff06f, OP_JAL, REG_SINK, -1, -1, 0xffffe); /* j +0xffffe */
    expect(0x800000ef, OP_JAL, 1, -1, -1, -0x100000);      /* jal ra,-1M */
    expect(0x000080e7, OP_JALR, 1, 1, -1, 0);              /* jalr ra */
    expect(0xfe208ee3, OP_BEQ, -1, 1, 2, -4);              /* beq ra,sp,-4 */
    expect(0x7e20cfe3, OP_BLT, -1, 1, 2, 4094);
    expect(0x0020f463, OP_BGEU, -1, 1, 2, 8);
    expect(0xff813083, OP_LD, 1, 2, -1, -8);
    expect(0x00813023, OP_SD, -1, 2, 8, 0);
    expect(0xfe113c23, OP_SD, -1, 2, 1, -8);
    expect(0x03f09093, OP_SLLI, 1, 1, -1, 63);
    expect(0x43f0d093, OP_SRAI, 1, 1, -1, 63);
    expect(0x0010d09b, OP_SRLIW, 1, 1, -1, 1);
    expect(0x4010d09b, OP_SRAIW, 1, 1, -1, 1);
    expect(0x02209093, OP_SLLI, 1, 1, -1, 34);       /* RV64 shamt is 6 bits */
    expect(0x0200909b, OP_ILLEGAL, -1, -1, -1, ANY); /* slliw shamt[5]=1 is reserved */
    expect(0x022080b3, OP_MUL, 1, 1, 2, ANY);
    expect(0x0220c0b3, OP_DIV, 1, 1, 2, ANY);
    expect(0x0220f0bb, OP_REMUW, 1, 1, 2, ANY);
    expect(0x40208033, OP_SUB, REG_SINK, 1, 2, ANY);
    expect(0x1000a0af, OP_LR_W, 1, 1, -1, ANY);
    expect(0x1020a0af, OP_ILLEGAL, -1, -1, -1, ANY); /* lr.w with rs2 != 0 */
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
    expect(0x0020f0d3, OP_FADD_S, 1, 1, 2, ANY); /* fadd.s f1,f1,f2 (dyn) */
    expect(0x5a0080d3, OP_FSQRT_D, 1, 1, 0, ANY);
    expect(0x5a1080d3, OP_ILLEGAL, -1, -1, -1, ANY); /* fsqrt with rs2 != 0 */
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
    CHECK(&c,
          insn_ends_block(OP_JAL) && insn_ends_block(OP_CSRRW) && !insn_ends_block(OP_BEQ) &&
              !insn_ends_block(OP_ADD),
          "block ends");
    test_rvc();
    return check_report(&c, "test_decode");
}
