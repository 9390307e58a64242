/* Integer RV64 instructions to x86-64: rax and rcx hold the operands, rdx
 * comparison results; rdi points at the register file (x[i] at 8*i). */
#include "jit/translate.h"

#define RX X86_RDI /* the register file */

static void get(struct x86buf *b, int dst, unsigned r)
{
    if (r == 0 || r == REG_SINK)
        x86_mov_ri(b, dst, 0);
    else
        x86_load(b, dst, RX, (int32_t)(8 * r));
}

static void put(struct x86buf *b, unsigned rd, int src)
{
    x86_store(b, RX, (int32_t)(8 * rd), src);
}

int jit_covers(unsigned op)
{
    switch (op) {
    case OP_LUI:
    case OP_AUIPC:
    case OP_ADDI:
    case OP_SLTI:
    case OP_SLTIU:
    case OP_XORI:
    case OP_ORI:
    case OP_ANDI:
    case OP_SLLI:
    case OP_SRLI:
    case OP_SRAI:
    case OP_ADD:
    case OP_SUB:
    case OP_SLL:
    case OP_SLT:
    case OP_SLTU:
    case OP_XOR:
    case OP_SRL:
    case OP_SRA:
    case OP_OR:
    case OP_AND:
    case OP_ADDIW:
    case OP_SLLIW:
    case OP_SRLIW:
    case OP_SRAIW:
    case OP_ADDW:
    case OP_SUBW:
    case OP_SLLW:
    case OP_SRLW:
    case OP_SRAW:
    case OP_MUL:
    case OP_NOP: return 1;
    }
    return 0;
}

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

/* One instruction whose rd is a real register. */
static void emit_one(const struct insn *d, uint64_t pc, struct x86buf *b)
{
    int64_t imm = d->imm;
    switch (d->op) {
    case OP_LUI: x86_mov_ri(b, X86_RAX, (uint64_t)imm); break;
    case OP_AUIPC: x86_mov_ri(b, X86_RAX, pc + (uint64_t)imm); break;
    case OP_ADDI:
    case OP_XORI:
    case OP_ORI:
    case OP_ANDI:
        get(b, X86_RAX, d->rs1);
        x86_alu_ri(b, alu_of(d->op), X86_RAX, (int32_t)imm);
        break;
    case OP_SLTI:
    case OP_SLTIU:
    case OP_SLT:
    case OP_SLTU:
        get(b, X86_RAX, d->rs1);
        if (d->op == OP_SLTI || d->op == OP_SLTIU)
            x86_mov_ri(b, X86_RCX, (uint64_t)imm);
        else
            get(b, X86_RCX, d->rs2);
        x86_alu_rr(b, X86_CMP, X86_RAX, X86_RCX);
        x86_setcc(b, d->op == OP_SLT || d->op == OP_SLTI ? X86_CC_L : X86_CC_B, X86_RAX);
        break;
    case OP_SLLI:
    case OP_SRLI:
    case OP_SRAI:
        get(b, X86_RAX, d->rs1);
        x86_shift_ri(b, shift_of(d->op), X86_RAX, (uint8_t)imm);
        break;
    case OP_SLLIW:
    case OP_SRLIW:
    case OP_SRAIW:
        get(b, X86_RAX, d->rs1);
        x86_shift32_ri(b, shift_of(d->op), X86_RAX, (uint8_t)imm);
        x86_movsxd(b, X86_RAX, X86_RAX);
        break;
    case OP_SLL:
    case OP_SRL:
    case OP_SRA:
    case OP_SLLW:
    case OP_SRLW:
    case OP_SRAW: /* x86 masks the count as RISC-V does: 6 bits, or 5 for W */
        get(b, X86_RAX, d->rs1);
        get(b, X86_RCX, d->rs2);
        if (d->op == OP_SLL || d->op == OP_SRL || d->op == OP_SRA) {
            x86_shift_cl(b, shift_of(d->op), X86_RAX);
        } else {
            x86_shift32_cl(b, shift_of(d->op), X86_RAX);
            x86_movsxd(b, X86_RAX, X86_RAX);
        }
        break;
    case OP_ADDIW:
        get(b, X86_RAX, d->rs1);
        x86_mov_ri(b, X86_RCX, (uint64_t)imm);
        x86_alu32_rr(b, X86_ADD, X86_RAX, X86_RCX);
        x86_movsxd(b, X86_RAX, X86_RAX);
        break;
    case OP_ADDW:
    case OP_SUBW:
        get(b, X86_RAX, d->rs1);
        get(b, X86_RCX, d->rs2);
        x86_alu32_rr(b, alu_of(d->op), X86_RAX, X86_RCX);
        x86_movsxd(b, X86_RAX, X86_RAX);
        break;
    case OP_MUL:
        get(b, X86_RAX, d->rs1);
        get(b, X86_RCX, d->rs2);
        x86_imul_rr(b, X86_RAX, X86_RCX);
        break;
    default: /* ADD SUB XOR OR AND */
        get(b, X86_RAX, d->rs1);
        get(b, X86_RCX, d->rs2);
        x86_alu_rr(b, alu_of(d->op), X86_RAX, X86_RCX);
        break;
    }
    put(b, d->rd, X86_RAX);
}

int jit_translate(const struct insn *ins, unsigned n, uint64_t pc, struct x86buf *b)
{
    unsigned i = 0;
    for (; i < n && jit_covers(ins[i].op); i++) {
        if (ins[i].op != OP_NOP && ins[i].rd != REG_SINK && ins[i].rd != 0)
            emit_one(&ins[i], pc, b);
        pc += ins[i].len;
    }
    x86_ret(b);
    return b->overflow ? -1 : (int)i;
}
