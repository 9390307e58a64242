/* gdb remote serial protocol stub (GDB manual, appendix E "Remote
 * Protocol"): one client at a time on TCP or a unix socket; every hart is a
 * thread; all-stop mode built on vm_pause/vm_resume. Registers follow the
 * target description sent in qXfer:features (GPRs, pc, FPRs, fflags/frm/fcsr,
 * CSRs at 65 + number, priv); memory is read by guest-virtual address
 * through the selected hart's translation, or physical after
 * "maint packet Qqemu.PhyMemMode:1". Breakpoints (Z0/Z1) and watchpoints
 * (Z2..Z4) are checked by the harts themselves (struct hart_debug), so
 * guest memory is never patched. */
#include "vmm/gdbstub.h"
#include "vmm/vm.h"
#include "vmm/sbi.h"
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#define PKT_MAX 16384

struct gdbstub {
    struct vm *vm;
    int listen_fd, fd, quit[2], notify[2];
    char unix_path[108];
    pthread_t thread;
    struct hart_debug dbg;
    _Atomic int stop_hart; /* hart that stopped for the debugger, -1 none */
    unsigned g_hart, c_hart;
    int phys;
    char in[PKT_MAX + 1], out[PKT_MAX + 64];
};

/* ---- sockets ---- */

static int listen_on(struct gdbstub *g, const char *spec, char *err, size_t errlen)
{
    int fd;
    if (!strncmp(spec, "unix:", 5)) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (strlen(spec + 5) >= sizeof(a.sun_path) || !spec[5]) {
            snprintf(err, errlen, "--gdb %s: bad socket path", spec);
            return -1;
        }
        strcpy(a.sun_path, spec + 5);
        unlink(a.sun_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0) {
            snprintf(err, errlen, "--gdb %s: %s", spec, strerror(errno));
            if (fd >= 0) close(fd);
            return -1;
        }
        snprintf(g->unix_path, sizeof(g->unix_path), "%s", a.sun_path);
        return fd;
    }
    if (strncmp(spec, "tcp:", 4)) {
        snprintf(err, errlen, "--gdb %s: want tcp:[HOST]:PORT or unix:PATH", spec);
        return -1;
    }
    char host[256];
    const char *colon = strrchr(spec + 4, ':');
    if (!colon || !colon[1] || (size_t)(colon - (spec + 4)) >= sizeof(host)) {
        snprintf(err, errlen, "--gdb %s: want tcp:[HOST]:PORT", spec);
        return -1;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - (spec + 4)), spec + 4);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int r = getaddrinfo(host[0] ? host : "127.0.0.1", colon + 1, &hints, &res);
    if (r) {
        snprintf(err, errlen, "--gdb %s: %s", spec, gai_strerror(r));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1) < 0) {
        snprintf(err, errlen, "--gdb %s: %s", spec, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int put_packet(struct gdbstub *g, const char *body)
{
    size_t n = strlen(body);
    if (n > PKT_MAX) n = PKT_MAX;
    unsigned sum = 0;
    g->out[0] = '$';
    for (size_t i = 0; i < n; i++) {
        g->out[1 + i] = body[i];
        sum += (unsigned char)body[i];
    }
    snprintf(g->out + 1 + n, 4, "#%02x", sum & 0xff);
    return send_all(g->fd, g->out, n + 4);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_byte(int fd)
{
    unsigned char c;
    for (;;) {
        ssize_t r = recv(fd, &c, 1, 0);
        if (r == 1) return c;
        if (r < 0 && errno == EINTR) continue;
        return -1;
    }
}

/* Next packet into g->in (NUL-terminated); 0x03 alone gives "\x03".
 * Returns the length, or -1 when the client is gone. */
static int get_packet(struct gdbstub *g)
{
    for (;;) {
        int c = read_byte(g->fd);
        if (c < 0) return -1;
        if (c == 0x03) {
            g->in[0] = 3;
            g->in[1] = 0;
            return 1;
        }
        if (c != '$') continue; /* acks and noise */
        size_t n = 0;
        unsigned sum = 0;
        int overflow = 0;
        while ((c = read_byte(g->fd)) >= 0 && c != '#') {
            if (n < PKT_MAX)
                g->in[n++] = (char)c;
            else
                overflow = 1;
            sum += (unsigned)c;
        }
        if (c < 0) return -1;
        int h1 = hexval(read_byte(g->fd)), h2 = hexval(read_byte(g->fd));
        if (h1 < 0 || h2 < 0 || overflow || (unsigned)(h1 * 16 + h2) != (sum & 0xff)) {
            if (send_all(g->fd, "-", 1) < 0) return -1;
            continue;
        }
        if (send_all(g->fd, "+", 1) < 0) return -1;
        g->in[n] = 0;
        return (int)n;
    }
}

/* ---- registers ---- */

#define REG_PC   32
#define REG_F0   33
#define REG_CSR0 65
#define REG_PRIV (REG_CSR0 + 4096)

static int reg_get(struct hart *h, unsigned n, uint64_t *v)
{
    if (n < 32) {
        *v = h->x[n];
        return 0;
    }
    if (n == REG_PC) {
        *v = h->pc;
        return 0;
    }
    if (n >= REG_F0 && n < REG_F0 + 32) {
        *v = h->f[n - REG_F0];
        return 0;
    }
    if (n == REG_PRIV) {
        *v = h->priv;
        return 0;
    }
    if (n >= REG_CSR0 && n < REG_PRIV) {
        unsigned priv = h->priv;
        uint64_t ms = h->mstatus;
        h->priv = PRV_M;
        h->mstatus |= MSTATUS_FS; /* fflags/frm readable even with FP off */
        int r = csr_read(h, n - REG_CSR0, v);
        h->priv = priv;
        h->mstatus = ms;
        return r;
    }
    return -1;
}

static int reg_set(struct hart *h, unsigned n, uint64_t v)
{
    if (n < 32) {
        if (n) h->x[n] = v;
        return 0;
    }
    if (n == REG_PC) {
        h->pc = v;
        return 0;
    }
    if (n >= REG_F0 && n < REG_F0 + 32) {
        h->f[n - REG_F0] = v;
        return 0;
    }
    if (n == REG_PRIV) {
        if (v != PRV_U && v != PRV_S && v != PRV_M) return -1;
        h->priv = (unsigned)v;
        mmu_flush_tlb(h);
        return 0;
    }
    if (n >= REG_CSR0 && n < REG_PRIV) {
        unsigned priv = h->priv;
        h->priv = PRV_M;
        int r = csr_write(h, n - REG_CSR0, v);
        h->priv = priv;
        return r;
    }
    return -1;
}

static char *put_hex64(char *p, uint64_t v) /* little-endian byte order */
{
    for (int i = 0; i < 8; i++)
        p += sprintf(p, "%02x", (unsigned)(v >> (8 * i)) & 0xff);
    return p;
}

static int get_hex64(const char *p, uint64_t *v)
{
    uint64_t r = 0;
    for (int i = 0; i < 8; i++) {
        int a = hexval(p[2 * i]), b = hexval(p[2 * i + 1]);
        if (a < 0 || b < 0) return -1;
        r |= (uint64_t)(a * 16 + b) << (8 * i);
    }
    *v = r;
    return 0;
}

static const char *target_xml(struct gdbstub *g, char *buf, size_t len)
{
    static const char *const xn[32] = {"zero", "ra", "sp",  "gp",  "tp", "t0", "t1", "t2",
                                       "fp",   "s1", "a0",  "a1",  "a2", "a3", "a4", "a5",
                                       "a6",   "a7", "s2",  "s3",  "s4", "s5", "s6", "s7",
                                       "s8",   "s9", "s10", "s11", "t3", "t4", "t5", "t6"};
    static const char *const fn[32] = {"ft0", "ft1", "ft2",  "ft3",  "ft4", "ft5", "ft6",  "ft7",
                                       "fs0", "fs1", "fa0",  "fa1",  "fa2", "fa3", "fa4",  "fa5",
                                       "fa6", "fa7", "fs2",  "fs3",  "fs4", "fs5", "fs6",  "fs7",
                                       "fs8", "fs9", "fs10", "fs11", "ft8", "ft9", "ft10", "ft11"};
    static const struct {
        unsigned n;
        const char *name;
    } cn[] = {
        {0x100, "sstatus"},    {0x104, "sie"},       {0x105, "stvec"},   {0x106, "scounteren"},
        {0x140, "sscratch"},   {0x141, "sepc"},      {0x142, "scause"},  {0x143, "stval"},
        {0x144, "sip"},        {0x180, "satp"},      {0x300, "mstatus"}, {0x301, "misa"},
        {0x302, "medeleg"},    {0x303, "mideleg"},   {0x304, "mie"},     {0x305, "mtvec"},
        {0x306, "mcounteren"}, {0x340, "mscratch"},  {0x341, "mepc"},    {0x342, "mcause"},
        {0x343, "mtval"},      {0x344, "mip"},       {0xc00, "cycle"},   {0xc01, "time"},
        {0xc02, "instret"},    {0xf11, "mvendorid"}, {0xf12, "marchid"}, {0xf13, "mimpid"},
        {0xf14, "mhartid"}};
    (void)g;
    size_t o = 0;
#define ADD(...) o += (size_t)snprintf(buf + o, o < len ? len - o : 0, __VA_ARGS__)
    ADD("<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\"><target>"
        "<architecture>riscv:rv64</architecture>"
        "<feature name=\"org.gnu.gdb.riscv.cpu\">");
    for (unsigned i = 0; i < 32; i++)
        ADD("<reg name=\"%s\" bitsize=\"64\" regnum=\"%u\" type=\"%s\"/>", xn[i], i,
            i == 1             ? "code_ptr"
            : i == 2 || i == 8 ? "data_ptr"
                               : "int");
    ADD("<reg name=\"pc\" bitsize=\"64\" regnum=\"32\" type=\"code_ptr\"/></feature>"
        "<feature name=\"org.gnu.gdb.riscv.fpu\">");
    for (unsigned i = 0; i < 32; i++)
        ADD("<reg name=\"%s\" bitsize=\"64\" regnum=\"%u\" type=\"ieee_double\"/>", fn[i],
            REG_F0 + i);
    ADD("<reg name=\"fflags\" bitsize=\"64\" regnum=\"%u\" group=\"float\"/>"
        "<reg name=\"frm\" bitsize=\"64\" regnum=\"%u\" group=\"float\"/>"
        "<reg name=\"fcsr\" bitsize=\"64\" regnum=\"%u\" group=\"float\"/></feature>"
        "<feature name=\"org.gnu.gdb.riscv.csr\">",
        REG_CSR0 + 1, REG_CSR0 + 2, REG_CSR0 + 3);
    for (unsigned i = 0; i < sizeof(cn) / sizeof(cn[0]); i++)
        ADD("<reg name=\"%s\" bitsize=\"64\" regnum=\"%u\" group=\"system\"/>", cn[i].name,
            REG_CSR0 + cn[i].n);
    ADD("</feature><feature name=\"org.gnu.gdb.riscv.virtual\">"
        "<reg name=\"priv\" bitsize=\"64\" regnum=\"%u\" group=\"system\"/></feature></target>",
        REG_PRIV);
#undef ADD
    return o < len ? buf : NULL;
}

/* ---- memory ---- */

/* Host pointer for up to n bytes at addr (virtual through hart h unless in
 * physical mode), clipped to the page and the RAM region; NULL if none. */
static uint8_t *mem_ptr(struct gdbstub *g, struct hart *h, uint64_t addr, size_t *n)
{
    uint64_t pa = addr;
    if (!g->phys && mmu_debug_translate(h, addr, &pa) < 0) return NULL;
    size_t room = 4096 - (addr & 0xfff);
    if (*n > room) *n = room;
    const struct mem_region *m = bus_find_mem(&g->vm->bus, pa, 1);
    if (!m) return NULL;
    if (*n > m->base + m->size - pa) *n = (size_t)(m->base + m->size - pa);
    return m->host + (pa - m->base);
}

static void flush_all(struct vm *vm)
{
    for (unsigned i = 0; i < vm->ncpus; i++)
        atomic_fetch_or(&vm->harts[i]->events, HART_EV_TLB | HART_EV_FENCEI);
}

static int mem_read(struct gdbstub *g, struct hart *h, uint64_t addr, size_t len, char *out)
{
    char *p = out;
    while (len) {
        size_t n = len;
        uint8_t *src = mem_ptr(g, h, addr, &n);
        if (!src) break;
        for (size_t i = 0; i < n; i++)
            p += sprintf(p, "%02x", __atomic_load_n(src + i, __ATOMIC_RELAXED));
        addr += n;
        len -= n;
    }
    return p == out ? -1 : 0;
}

static int mem_write(struct gdbstub *g, struct hart *h, uint64_t addr, size_t len, const char *hex)
{
    for (size_t i = 0; i < 2 * len; i++) /* all or nothing */
        if (hexval(hex[i]) < 0) return -1;
    while (len) {
        size_t n = len;
        uint8_t *dst = mem_ptr(g, h, addr, &n);
        if (!dst) return -1;
        for (size_t i = 0; i < n; i++) {
            int a = hexval(hex[0]), b = hexval(hex[1]);
            if (a < 0 || b < 0) return -1;
            hex += 2;
            __atomic_store_n(dst + i, (uint8_t)(a * 16 + b), __ATOMIC_RELAXED);
        }
        addr += n;
        len -= n;
    }
    flush_all(g->vm); /* the bytes may be code */
    return 0;
}

/* ---- stops and resumption ---- */

static void stop_reply(struct gdbstub *g, unsigned hart, int sig)
{
    char buf[96];
    struct hart *h = g->vm->harts[hart];
    if (sig == 5 && h->dbg_watch_type) {
        const char *kind = h->dbg_watch_type == DBG_WATCH_W ? "watch" : "rwatch";
        snprintf(buf, sizeof(buf), "T%02xthread:%x;%s:%llx;", sig, hart + 1, kind,
                 (unsigned long long)h->dbg_watch_va);
        h->dbg_watch_type = 0;
    } else {
        snprintf(buf, sizeof(buf), "T%02xthread:%x;%s", sig, hart + 1, sig == 5 ? "swbreak:;" : "");
    }
    g->g_hart = g->c_hart = hart;
    put_packet(g, buf);
}

/* Run the selected hart alone for one instruction (the VM is paused). */
static void step_one(struct gdbstub *g, unsigned hart)
{
    struct vcpu *v = &g->vm->vcpu[hart];
    v->h->dbg_ignore = 1;
    vcpu_step(g->vm, v);
    v->h->dbg_ignore = 0;
}

/* Wait (the VM running) for a hart to stop, Ctrl-C, or the VM to end.
 * Returns -1 when the client is gone. */
static int wait_stop(struct gdbstub *g)
{
    struct vm *vm = g->vm;
    for (;;) {
        struct pollfd p[2] = {{g->fd, POLLIN, 0}, {g->notify[0], POLLIN, 0}};
        int r = poll(p, 2, 100);
        if (r < 0 && errno != EINTR) return -1;
        if (atomic_load(&vm->exit_reason)) {
            char buf[16];
            snprintf(buf, sizeof(buf), "W%02x", vm->exit_code & 0xff);
            put_packet(g, buf);
            return -1;
        }
        if (p[1].revents & POLLIN) {
            char c;
            while (read(g->notify[0], &c, 1) < 0 && errno == EINTR) {
            }
            if (vm_pause(vm) < 0) continue;
            int hart = atomic_exchange(&g->stop_hart, -1);
            if (hart < 0) continue;
            /* A watchpoint stops before the access, which is what gdb's
             * RISC-V target expects (non-steppable watchpoints): gdb steps
             * the access itself and compares the values. */
            stop_reply(g, (unsigned)hart, 5);
            return 0;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char c;
            ssize_t n = recv(g->fd, &c, 1, MSG_PEEK);
            if (n <= 0) return -1;
            if (c == 0x03) {
                recv(g->fd, &c, 1, 0);
                if (vm_pause(vm) < 0) continue;
                stop_reply(g, g->c_hart, 2);
                return 0;
            }
            recv(g->fd, &c, 1, 0); /* acks while running */
        }
    }
}

void gdb_vcpu_stopped(struct gdbstub *g, unsigned hart)
{
    int none = -1;
    if (atomic_compare_exchange_strong(&g->stop_hart, &none, (int)hart)) {
        ssize_t w = write(g->notify[1], "s", 1);
        (void)w;
    }
}

/* ---- breakpoints ---- */

static int bp_change(struct gdbstub *g, int insert, int type, uint64_t addr, uint64_t len)
{
    struct hart_debug *d = &g->dbg;
    if (type == 0 || type == 1) {
        for (unsigned i = 0; i < d->nbp; i++) {
            if (d->bp[i] != addr) continue;
            if (insert) return 0;
            d->bp[i] = d->bp[--d->nbp];
            flush_all(g->vm);
            return 0;
        }
        if (!insert) return 0;
        if (d->nbp >= DBG_MAX_BP) return -1;
        d->bp[d->nbp++] = addr;
        flush_all(g->vm);
        return 0;
    }
    if (type < 2 || type > 4 || len == 0 || len > 4096) return -1;
    unsigned t = type == 2 ? DBG_WATCH_W : type == 3 ? DBG_WATCH_R : DBG_WATCH_R | DBG_WATCH_W;
    for (unsigned i = 0; i < d->nwatch; i++) {
        if (d->watch[i].addr != addr || d->watch[i].len != len || d->watch[i].type != t) continue;
        if (insert) return 0;
        d->watch[i] = d->watch[--d->nwatch];
        flush_all(g->vm);
        return 0;
    }
    if (!insert) return 0;
    if (d->nwatch >= DBG_MAX_WATCH) return -1;
    d->watch[d->nwatch].addr = addr;
    d->watch[d->nwatch].len = len;
    d->watch[d->nwatch].type = t;
    d->nwatch++;
    flush_all(g->vm);
    return 0;
}

/* ---- packets ---- */

static int parse_hex(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t r = 0;
    int n = 0;
    while (hexval(*s) >= 0 && n < 17) {
        r = r * 16 + (uint64_t)hexval(*s++);
        n++;
    }
    if (!n || n > 16) return -1;
    *v = r;
    *p = s;
    return 0;
}

static int thread_arg(struct gdbstub *g, const char *p, unsigned *hart)
{
    if (!strcmp(p, "-1") || !strcmp(p, "0")) return 0; /* any / all: keep */
    uint64_t t;
    if (parse_hex(&p, &t) < 0 || *p || t < 1 || t > g->vm->ncpus) return -1;
    *hart = (unsigned)(t - 1);
    return 0;
}

static void reply_regs(struct gdbstub *g, struct hart *h)
{
    char buf[(REG_PC + 1) * 16 + 1], *s = buf;
    for (unsigned i = 0; i <= REG_PC; i++)
        s = put_hex64(s, i < 32 ? h->x[i] : h->pc);
    *s = 0;
    put_packet(g, buf);
}

static void handle_query(struct gdbstub *g, const char *q)
{
    char buf[PKT_MAX];
    if (!strncmp(q, "qSupported", 10)) {
        put_packet(g, "PacketSize=3fff;qXfer:features:read+;swbreak+;hwbreak+;vContSupported+");
    } else if (!strncmp(q, "qXfer:features:read:target.xml:", 31)) {
        const char *p = q + 31;
        uint64_t off, len;
        static char xml[16384];
        if (parse_hex(&p, &off) < 0 || *p++ != ',' || parse_hex(&p, &len) < 0 ||
            !target_xml(g, xml, sizeof(xml))) {
            put_packet(g, "E01");
            return;
        }
        size_t total = strlen(xml);
        if (len > sizeof(buf) - 2) len = sizeof(buf) - 2;
        if (off >= total) {
            put_packet(g, "l");
            return;
        }
        size_t n = total - off < len ? total - off : len;
        buf[0] = off + n < total ? 'm' : 'l';
        memcpy(buf + 1, xml + off, n);
        buf[1 + n] = 0;
        put_packet(g, buf);
    } else if (!strcmp(q, "qfThreadInfo")) {
        size_t o = (size_t)snprintf(buf, sizeof(buf), "m");
        for (unsigned i = 0; i < g->vm->ncpus; i++)
            o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%x", i ? "," : "", i + 1);
        put_packet(g, buf);
    } else if (!strcmp(q, "qsThreadInfo")) {
        put_packet(g, "l");
    } else if (!strcmp(q, "qC")) {
        snprintf(buf, sizeof(buf), "QC%x", g->g_hart + 1);
        put_packet(g, buf);
    } else if (!strcmp(q, "qAttached")) {
        put_packet(g, "1");
    } else if (!strncmp(q, "qThreadExtraInfo,", 17)) {
        const char *p = q + 17;
        uint64_t t;
        if (parse_hex(&p, &t) < 0 || t < 1 || t > g->vm->ncpus) {
            put_packet(g, "E01");
            return;
        }
        struct hart *h = g->vm->harts[t - 1];
        char txt[64];
        static const char *const pn[4] = {"U", "S", "?", "M"};
        snprintf(txt, sizeof(txt), "hart %u, %s-mode", (unsigned)(t - 1), pn[h->priv & 3]);
        char *o = buf;
        for (const char *c = txt; *c; c++)
            o += sprintf(o, "%02x", (unsigned char)*c);
        put_packet(g, buf);
    } else if (!strncmp(q, "Qqemu.PhyMemMode:", 17)) {
        g->phys = q[17] == '1';
        put_packet(g, "OK");
    } else if (!strcmp(q, "qqemu.PhyMemMode")) {
        put_packet(g, g->phys ? "1" : "0");
    } else {
        put_packet(g, "");
    }
}

/* Resume: optionally step hart `step` first (then stop if so asked).
 * Returns -1 when the client is gone. */
static int resume(struct gdbstub *g, int step_hart, int only_step)
{
    struct vm *vm = g->vm;
    /* Leave a breakpoint or watchpoint at the current pc without stopping. */
    unsigned first = step_hart >= 0 ? (unsigned)step_hart : g->c_hart;
    step_one(g, first);
    if (only_step) {
        stop_reply(g, first, 5);
        return 0;
    }
    atomic_store(&g->stop_hart, -1);
    vm_resume(vm);
    return wait_stop(g);
}

static int handle_vcont(struct gdbstub *g, const char *p)
{
    if (!strcmp(p, "vCont?")) return put_packet(g, "vCont;c;C;s;S"), 0;
    p += 5; /* "vCont" */
    int step = -1, cont = 0;
    while (*p == ';') {
        p++;
        char action = *p++;
        if (action == 'C' || action == 'S') { /* signal numbers are ignored */
            uint64_t sig;
            if (parse_hex(&p, &sig) < 0) return put_packet(g, "E01"), 0;
            action = action == 'C' ? 'c' : 's';
        }
        unsigned hart = g->c_hart;
        if (*p == ':') {
            p++;
            uint64_t t;
            if (!strncmp(p, "-1", 2)) {
                p += 2;
            } else if (parse_hex(&p, &t) < 0 || t < 1 || t > g->vm->ncpus) {
                return put_packet(g, "E01"), 0;
            } else {
                hart = (unsigned)(t - 1);
            }
        }
        if (action == 's' && step < 0) step = (int)hart;
        if (action == 'c') cont = 1;
    }
    if (step >= 0 && !cont) return resume(g, step, 1);
    return resume(g, step, 0);
}

/* One packet; returns -1 to end the session (client gone or detached). */
static int handle_packet(struct gdbstub *g, const char *p)
{
    struct vm *vm = g->vm;
    struct hart *h = vm->harts[g->g_hart];
    char buf[PKT_MAX];
    uint64_t a, n, v;
    switch (p[0]) {
    case 3: stop_reply(g, g->c_hart, 2); return 0; /* already stopped */
    case '?': stop_reply(g, g->c_hart, 5); return 0;
    case 'q':
    case 'Q': handle_query(g, p); return 0;
    case 'H':
        if ((p[1] == 'g' || p[1] == 'c') &&
            !thread_arg(g, p + 2, p[1] == 'g' ? &g->g_hart : &g->c_hart))
            return put_packet(g, "OK");
        return put_packet(g, "E01");
    case 'T': {
        unsigned t;
        return put_packet(g, !thread_arg(g, p + 1, &t) ? "OK" : "E01");
    }
    case 'g': reply_regs(g, h); return 0;
    case 'G': {
        size_t len = strlen(p + 1);
        if (len < 33 * 16) return put_packet(g, "E01");
        for (unsigned i = 0; i <= REG_PC; i++) {
            if (get_hex64(p + 1 + 16 * i, &v) < 0) return put_packet(g, "E01");
            reg_set(h, i, v);
        }
        return put_packet(g, "OK");
    }
    case 'p': {
        const char *s = p + 1;
        if (parse_hex(&s, &n) < 0 || *s || reg_get(h, (unsigned)n, &v) < 0)
            return put_packet(g, "E01");
        put_hex64(buf, v);
        return put_packet(g, buf);
    }
    case 'P': {
        const char *s = p + 1;
        if (parse_hex(&s, &n) < 0 || *s++ != '=' || strlen(s) != 16 || get_hex64(s, &v) < 0 ||
            reg_set(h, (unsigned)n, v) < 0)
            return put_packet(g, "E01");
        return put_packet(g, "OK");
    }
    case 'm': {
        const char *s = p + 1;
        if (parse_hex(&s, &a) < 0 || *s++ != ',' || parse_hex(&s, &n) < 0 || *s)
            return put_packet(g, "E01");
        if (n > (sizeof(buf) - 1) / 2) n = (sizeof(buf) - 1) / 2;
        if (mem_read(g, h, a, (size_t)n, buf) < 0) return put_packet(g, "E14");
        return put_packet(g, buf);
    }
    case 'M': { /* (binary 'X' is not offered: gdb then uses M) */
        const char *s = p + 1;
        if (parse_hex(&s, &a) < 0 || *s++ != ',' || parse_hex(&s, &n) < 0 || *s++ != ':' ||
            strlen(s) != 2 * n)
            return put_packet(g, "E01");
        return put_packet(g, mem_write(g, h, a, (size_t)n, s) < 0 ? "E14" : "OK");
    }
    case 'X': return put_packet(g, "");
    case 'Z':
    case 'z': {
        const char *s = p + 1;
        uint64_t type;
        if (parse_hex(&s, &type) < 0 || *s++ != ',' || parse_hex(&s, &a) < 0 || *s++ != ',' ||
            parse_hex(&s, &n) < 0)
            return put_packet(g, "E01");
        if (type > 4) return put_packet(g, "");
        return put_packet(g, bp_change(g, p[0] == 'Z', (int)type, a, n) < 0 ? "E0e" : "OK");
    }
    case 'c':
    case 's': {
        if (p[1]) {
            const char *s = p + 1;
            if (parse_hex(&s, &a) < 0 || *s) return put_packet(g, "E01");
            vm->harts[g->c_hart]->pc = a;
        }
        return resume(g, (int)g->c_hart, p[0] == 's');
    }
    case 'v':
        if (!strncmp(p, "vCont", 5)) return handle_vcont(g, p);
        if (!strcmp(p, "vMustReplyEmpty")) return put_packet(g, "");
        if (!strncmp(p, "vKill", 5)) {
            put_packet(g, "OK");
            vm_request_exit(vm, VM_EXIT_USER, 0, "killed by the debugger");
            return -1;
        }
        return put_packet(g, "");
    case 'D': put_packet(g, "OK"); return -1;
    case 'k': vm_request_exit(vm, VM_EXIT_USER, 0, "killed by the debugger"); return -1;
    default: return put_packet(g, "");
    }
}

/* ---- sessions ---- */

static void attach(struct gdbstub *g, int on)
{
    struct vm *vm = g->vm;
    if (!on) memset(&g->dbg, 0, sizeof(g->dbg));
    for (unsigned i = 0; i < vm->ncpus; i++) {
        vm->harts[i]->dbg = on ? &g->dbg : NULL;
        vm->harts[i]->dbg_watch_type = 0;
    }
    flush_all(vm);
}

static void session(struct gdbstub *g)
{
    struct vm *vm = g->vm;
    if (vm_pause(vm) < 0) return;
    attach(g, 1);
    g->g_hart = g->c_hart = 0;
    g->phys = 0;
    while (get_packet(g) >= 0)
        if (handle_packet(g, g->in) < 0) break;
    attach(g, 0);
    if (!atomic_load(&vm->exit_reason)) {
        vm_pause(vm); /* the client may have left while the VM ran */
        vm_resume(vm);
    }
}

static void *gdb_thread(void *arg)
{
    struct gdbstub *g = arg;
    for (;;) {
        struct pollfd p[2] = {{g->listen_fd, POLLIN, 0}, {g->quit[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[1].revents) break;
        int fd = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        g->fd = fd;
        session(g);
        close(fd);
        g->fd = -1;
    }
    return NULL;
}

struct gdbstub *gdb_start(struct vm *vm, const char *spec, char *err, size_t errlen)
{
    struct gdbstub *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->vm = vm;
    g->fd = -1;
    atomic_store(&g->stop_hart, -1);
    g->listen_fd = listen_on(g, spec, err, errlen);
    if (g->listen_fd < 0) {
        free(g);
        return NULL;
    }
    if (pipe2(g->quit, O_CLOEXEC) < 0 || pipe2(g->notify, O_CLOEXEC) < 0 ||
        pthread_create(&g->thread, NULL, gdb_thread, g) != 0) {
        snprintf(err, errlen, "cannot start the gdb stub: %s", strerror(errno));
        close(g->listen_fd);
        free(g);
        return NULL;
    }
    vm->gdb = g;
    return g;
}

void gdb_stop(struct gdbstub *g)
{
    if (!g) return;
    ssize_t w = write(g->quit[1], "q", 1);
    (void)w;
    if (g->fd >= 0) shutdown(g->fd, SHUT_RDWR);
    pthread_join(g->thread, NULL);
    close(g->listen_fd);
    close(g->quit[0]);
    close(g->quit[1]);
    close(g->notify[0]);
    close(g->notify[1]);
    if (g->unix_path[0]) unlink(g->unix_path);
    g->vm->gdb = NULL;
    free(g);
}
