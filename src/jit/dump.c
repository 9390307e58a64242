/* --jit-dump: each translated block's guest instructions and the x86-64
 * code made of them (disassembled with capstone), for developers. */
#include "jit/dump.h"
#include <capstone/capstone.h>
#include <inttypes.h>

static void dump_guest(FILE *f, const struct block *b, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        const struct insn *d = &b->insn[i].d;
        fprintf(f, "  +%03x  %08" PRIx32 "  %-10s rd=x%u rs1=x%u rs2=x%u imm=%" PRId32 "\n",
                b->insn[i].pc_off, d->raw, insn_name(d->op), d->rd == REG_SINK ? 0 : d->rd, d->rs1,
                d->rs2, d->imm);
    }
}

void jit_dump_block(FILE *f, const struct block *b, unsigned translated, const uint8_t *code,
                    size_t len, uint64_t host_addr)
{
    fprintf(f, "block pa %#" PRIx64 ": %u of %u instructions, %zu bytes of x86-64\n", b->paddr,
            translated, b->n, len);
    dump_guest(f, b, translated);
    csh cs;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
        fprintf(f, "  (capstone unavailable)\n");
        return;
    }
    cs_insn *ins;
    size_t n = cs_disasm(cs, code, len, host_addr, 0, &ins);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "    %" PRIx64 ":  %s %s\n", ins[i].address, ins[i].mnemonic, ins[i].op_str);
    if (n) cs_free(ins, n);
    cs_close(&cs);
    fflush(f);
}
