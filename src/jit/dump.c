/* --jit-dump: each translated block's guest instructions and the x86-64
 * code made of them (disassembled with capstone), for developers.
 * capstone is loaded when a dump is first asked for, not linked: loading
 * and relocating it costs every vmon process about 5 ms at start, which a
 * snapshot restore or a worker start would pay for nothing. */
#include "jit/dump.h"
#include <capstone/capstone.h>
#include <dlfcn.h>
#include <inttypes.h>

struct cs_api {
    void *lib;
    cs_err (*open)(cs_arch, cs_mode, csh *);
    size_t (*disasm)(csh, const uint8_t *, size_t, uint64_t, size_t, cs_insn **);
    void (*free)(cs_insn *, size_t);
    cs_err (*close)(csh *);
};

/* The library stays loaded once found (RTLD_NODELETE): later calls only
 * take a reference. */
static int cs_load(struct cs_api *a)
{
    static const char *const names[] = {"libcapstone.so.5", "libcapstone.so.4", "libcapstone.so"};
    a->lib = NULL;
    for (unsigned i = 0; i < 3 && !a->lib; i++)
        a->lib = dlopen(names[i], RTLD_NOW | RTLD_NODELETE);
    if (!a->lib) return -1;
    *(void **)&a->open = dlsym(a->lib, "cs_open");
    *(void **)&a->disasm = dlsym(a->lib, "cs_disasm");
    *(void **)&a->free = dlsym(a->lib, "cs_free");
    *(void **)&a->close = dlsym(a->lib, "cs_close");
    if (a->open && a->disasm && a->free && a->close) return 0;
    dlclose(a->lib);
    return -1;
}

static void dump_guest(FILE *f, const struct iinsn *ins, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        const struct insn *d = &ins[i].d;
        int off = (int16_t)ins[i].pc_off; /* a trace's may be below the block */
        fprintf(f, "  %c%03x  %08" PRIx32 "  %-10s rd=x%u rs1=x%u rs2=x%u imm=%" PRId32 "\n",
                off < 0 ? '-' : '+', (unsigned)(off < 0 ? -off : off), d->raw, insn_name(d->op),
                d->rd == REG_SINK ? 0 : d->rd, d->rs1, d->rs2, d->imm);
    }
}

void jit_dump_block(FILE *f, const struct block *b, unsigned translated, const struct iinsn *trace,
                    unsigned ntrace, const uint8_t *code, size_t len, uint64_t host_addr)
{
    fprintf(f, "block pa %#" PRIx64 ": %u of %u instructions", b->paddr, translated, b->n);
    if (ntrace) fprintf(f, " and a trace of %u", ntrace);
    fprintf(f, ", %zu bytes of x86-64\n", len);
    dump_guest(f, b->insn, translated);
    if (ntrace) fprintf(f, "  trace:\n");
    dump_guest(f, trace, ntrace);
    struct cs_api cs_api;
    csh cs;
    if (cs_load(&cs_api) < 0) {
        fprintf(f, "  (capstone unavailable: install libcapstone)\n");
        return;
    }
    if (cs_api.open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
        fprintf(f, "  (capstone unavailable)\n");
        dlclose(cs_api.lib);
        return;
    }
    cs_insn *ins;
    size_t n = cs_api.disasm(cs, code, len, host_addr, 0, &ins);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "    %" PRIx64 ":  %s %s\n", ins[i].address, ins[i].mnemonic, ins[i].op_str);
    if (n) cs_api.free(ins, n);
    cs_api.close(&cs);
    dlclose(cs_api.lib);
    fflush(f);
}
