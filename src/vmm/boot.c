/* `vmon run`: option parsing, machine assembly, image loading and the run
 * loop (including guest-requested reboots). */
#include "mem/guest.h"
#include "vmm/boot.h"
#include "mem/bytes.h"
#include "backend/console.h"
#include "board/fdt.h"
#include "board/virt.h"
#include "vmm/kimage.h"
#include "vmm/loader.h"
#include "vmm/cli.h"
#include "vmm/opts.h"
#include "vmm/gdbstub.h"
#include "vmm/sbi.h"
#include "vmm/signals.h"
#include "vmm/vm.h"
#include "vmm/vmdef.h"
#include "vmm/control.h"
#include "vmm/sandbox.h"
#include "vmm/devices.h"
#include "snap/vmsnap.h"
#include "snap/migrate.h"
#include "mem/swap.h"
#include "mem/share.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

/* Device options: each creates one virtio device from its option string
 * (vmm/devices.c parses it, opens the backend and takes a board slot). */
struct dev_opt {
    const char *name;
    enum devcfg_kind kind;
};
static const struct dev_opt dev_opts[] = {
    {"--rng", DEVCFG_RNG},     {"--disk", DEVCFG_DISK},         {"--net", DEVCFG_NET},
    {"--share", DEVCFG_SHARE}, {"--vconsole", DEVCFG_VCONSOLE}, {"--balloon", DEVCFG_BALLOON},
};
#define MAX_DEVICES 16

struct dev_req {
    const struct dev_opt *opt;
    const char *spec;
};

struct boot_opts {
    struct dev_req devs[MAX_DEVICES];
    unsigned ndevs;
    const char *bios, *kernel, *initrd, *append, *console, *dump_dtb, *name, *pidfile, *gdb;
    const char *jit_dump, *control, *restore, *snap_on_exit, *incoming, *swap_dir;
    uint64_t mem_limit;
    int sandbox, share_pages;
    unsigned share_rate, cpus_online;
    int share_pool_fd, share_inbox_fd; /* --share-fds: the service's pool */
    unsigned cap;
    cpu_set_t pin; /* empty: not pinned */
    uint64_t mem;
    unsigned long long max_insns;
    unsigned cpus;
    double timeout, shutdown_timeout;
    int stats, paused, on_panic, log_level, engine;
    unsigned jit_hot;
};

enum {
    RUN_BIOS,
    RUN_KERNEL,
    RUN_INITRD,
    RUN_APPEND,
    RUN_MEM,
    RUN_CPUS,
    RUN_MAX_INSNS,
    RUN_TIMEOUT,
    RUN_CONSOLE,
    RUN_NAME,
    RUN_PIDFILE,
    RUN_GDB,
    RUN_CONTROL,
    RUN_SANDBOX,
    RUN_CAP,
    RUN_PIN,
    RUN_PAUSED,
    RUN_ON_PANIC,
    RUN_ENGINE,
    RUN_SHUTDOWN_TIMEOUT,
    RUN_VERBOSE,
    RUN_DEBUG,
    RUN_QUIET,
    RUN_DUMP_DTB,
    RUN_STATS,
    RUN_JIT_DUMP,
    RUN_JIT_HOT,
    RUN_RESTORE,
    RUN_SNAP_ON_EXIT,
    RUN_INCOMING,
    RUN_MEM_LIMIT,
    RUN_SWAP_DIR,
    RUN_SHARE_PAGES,
    RUN_SHARE_RATE,
    RUN_SHARE_FDS,
    RUN_CPUS_ONLINE,
    RUN_DEV /* + index into dev_opts */
};

/* --stats: what the translator did for one hart. */
static void print_jit_stats(const struct hart *h, FILE *out)
{
    const struct hart_stats *st = &h->stats;
    double secs = (double)st->jit_ns * 1e-9;
    fprintf(out,
            "hart%u: jit blocks %llu (%.0f per second of translation, %.1f ms in all), %llu "
            "bytes of x86-64 (%.1f per guest instruction, %.1f on the blocks' own paths), %llu "
            "cache flushes, %llu entries, %llu links, %llu stores into code\n",
            h->id, (unsigned long long)h->jit.blocks, secs > 0 ? (double)h->jit.blocks / secs : 0,
            secs * 1e3, (unsigned long long)h->jit.bytes_total,
            st->jit_insns ? (double)h->jit.bytes_total / (double)st->jit_insns : 0,
            st->jit_insns ? (double)h->jit.bytes_hot / (double)st->jit_insns : 0,
            (unsigned long long)h->jit.flushes, (unsigned long long)st->jit_entries,
            (unsigned long long)st->jit_links, (unsigned long long)st->code_writes);
}

static const struct cli_opt run_opts[] = {
    {"--bios", "FILE", "M-mode program or firmware (ELF, or flat binary at 0x80000000)", RUN_BIOS},
    {"--kernel", "FILE", "Linux Image (plain, gzip, xz, zstd, EFI zboot), ELF, or raw binary",
     RUN_KERNEL},
    {"--initrd", "FILE", "initial ramdisk", RUN_INITRD},
    {"--append", "STRING", "kernel command line", RUN_APPEND},
    {"--mem", "SIZE", "guest RAM: 512 (MiB), 1.5G, 2048M... (default 256M)", RUN_MEM},
    {"--cpus", "N", "virtual CPUs, 1..64 (default 1)", RUN_CPUS},
    {"--max-insns", "N", "stop after N instructions per vCPU (exit status 1)", RUN_MAX_INSNS},
    {"--timeout", "SECONDS", "stop after this much wall-clock time (exit status 124)", RUN_TIMEOUT},
    {"--console", "MODE",
     "stdio (default), none, a file for serial output, or fd:N (a connected\n"
     "socket for output and input, as vmon serve gives its workers)",
     RUN_CONSOLE},
    {"--name", "NAME", "name of the VM in messages", RUN_NAME},
    {"--pidfile", "FILE", "write vmon's process id here while it runs", RUN_PIDFILE},
    {"--dump-dtb", "FILE", "write the generated device tree and exit", RUN_DUMP_DTB},
    {"--engine", "jit|interp",
     "jit (default): guest code is translated to x86-64 (xRET, WFI, ECALL,\n"
     "SFENCE.VMA and FENCE.I are interpreted);\n"
     "interp: the interpreter alone (the reference)",
     RUN_ENGINE},
    {"--on-panic", "exit|pause|reboot",
     "when the guest panics (pvpanic or SBI system failure): exit with status 3\n"
     "(default), keep the VM paused for a debugger, or reboot it",
     RUN_ON_PANIC},
    {"--shutdown-timeout", "SECONDS",
     "SIGTERM/SIGINT/SIGHUP press the guest's power button (virtio-input) and stop\n"
     "the VM if it has not powered off after this long (default 10; 0: at once)",
     RUN_SHUTDOWN_TIMEOUT},
    {"--gdb", "tcp:[HOST]:PORT|unix:PATH",
     "serve gdb there (target remote HOST:PORT); every hart is a thread", RUN_GDB},
    {"--control", "PATH|fd:N",
     "control channel: line commands pause, resume, status, powerdown, reset,\n"
     "sched, stats, vcpus, balloon [SIZE], disk-resize N SIZE, snapshot PATH,\n"
     "migrate ADDR\n"
     "on a unix socket vmon listens on (or an inherited one, as vmon serve does)",
     RUN_CONTROL},
    {"--sandbox", NULL,
     "once the machine is built, allow only the system calls a running VM needs\n"
     "(seccomp) and, with Landlock, only its own paths (vmon serve's workers run so)",
     RUN_SANDBOX},
    {"--cap", "PCT", "its vCPUs use at most this % of one host CPU (0..6400; 0: no cap)", RUN_CAP},
    {"--pin", "CPUS", "run the vCPUs on these host CPUs only, e.g. 0-1,3", RUN_PIN},
    {"--paused", NULL, "start with every vCPU stopped, for the debugger (also -S)", RUN_PAUSED},
    {"-S", NULL, "same as --paused", RUN_PAUSED},
    {"-v", NULL, "more messages (device and VM information)", RUN_VERBOSE},
    {"-vv", NULL, "debug messages too", RUN_DEBUG},
    {"-q", NULL, "only errors (no banner, no device warnings)", RUN_QUIET},
    {"--stats", NULL, "print instruction, exit, trap and hypercall counts at exit", RUN_STATS},
    {"--jit-dump", "FILE", "write each translated block's guest and x86-64 code to FILE",
     RUN_JIT_DUMP},
    {"--jit-hot", "N", "translate a block once it has run N times (default 64; 1: at once)",
     RUN_JIT_HOT},
    {"--restore", "FILE",
     "start from a snapshot instead of booting: the machine is the snapshot's (its\n"
     "options are stored in it); --disk, --net... given here replace the snapshot's\n"
     "of the same kind in order (a clone's own disk and MAC)",
     RUN_RESTORE},
    {"--snapshot-on-exit", "FILE",
     "when vmon is stopped (SIGTERM/SIGINT/SIGHUP, Ctrl-A x, --timeout, --max-insns)\n"
     "save the whole VM to FILE (run it again with --restore FILE)",
     RUN_SNAP_ON_EXIT},
    {"--incoming", "unix:PATH|tcp:[HOST]:PORT",
     "wait there for a live migration (the control channel's migrate ADDR on\n"
     "the source) and run the VM it brings; its machine options come with it,\n"
     "device options given here replace them as with --restore",
     RUN_INCOMING},
    {"--mem-limit", "SIZE",
     "keep at most SIZE of guest RAM in host memory: colder pages go to a swap\n"
     "file of vmon's own and come back when touched (needs userfaultfd; 0: no limit)",
     RUN_MEM_LIMIT},
    {"--swap-dir", "DIR", "where --mem-limit's swap file is made (default $TMPDIR or /var/tmp)",
     RUN_SWAP_DIR},
    {"--cpus-online", "N",
     "at most N of the --cpus vCPUs run at once: SBI HSM starts no more (the\n"
     "guest sees the others fail to come online); changed live by the control\n"
     "channel's cpus-online N (default: all)",
     RUN_CPUS_ONLINE},
    {"--share-pages", NULL,
     "share guest pages with the same content (zero pages, and pages equal to\n"
     "others of this VM or, under vmon serve, of other VMs) copy-on-write; a\n"
     "guest can tell by timing its writes, so it is opt-in",
     RUN_SHARE_PAGES},
    {"--share-rate", "PAGES", "pages --share-pages looks at per second (default 25600)",
     RUN_SHARE_RATE},
    {"--share-fds", "POOL,BUF", "(used by vmon serve) the service's page pool and exchange buffer",
     RUN_SHARE_FDS},
    {"--disk", "FILE[,ro][,format=raw|qcow2][,serial=STR]", "virtio-blk disk (repeatable)",
     RUN_DEV + 1},
    {"--net", "user[,hostfwd=tcp::HOSTPORT-:GUESTPORT...][,mac=MAC] | tap,ifname=NAME[,mac=MAC]",
     "virtio-net on user networking (10.0.2.0/24, DHCP, NAT) or a host tap", RUN_DEV + 2},
    {"--share", "DIR,tag=TAG[,ro]",
     "host directory over virtio-9p\n(in the guest: mount -t 9p -o trans=virtio TAG /mnt)",
     RUN_DEV + 3},
    {"--vconsole", "FILE|socket=PATH", "virtio-console port (/dev/hvc1)", RUN_DEV + 4},
    {"--balloon", NULL,
     "virtio-balloon: memory the guest gives back (the control channel's balloon SIZE)",
     RUN_DEV + 5},
    {"--rng", NULL, "virtio-rng fed by the host's getrandom()", RUN_DEV},
};
#define N_RUN_OPTS (sizeof(run_opts) / sizeof(run_opts[0]))

void boot_usage(FILE *out)
{
    fprintf(out, "usage: vmon run [options]\n"
                 "Boot a RISC-V virtual machine in the foreground; Ctrl-A h on its console\n"
                 "lists the console's escapes (Ctrl-A x quits).\n\n");
    cli_print_opts(run_opts, N_RUN_OPTS, out);
    fprintf(out, "\nExit status: 0 the guest powered off (or a test program passed); 1 runtime\n"
                 "error, unhandled guest exception or --max-insns; 2 usage error; 3 the guest\n"
                 "panicked; N a test program failed with code N; 124 --timeout; 128+N signal N.\n");
}

static int parse_uint(const char *s, unsigned long long *out)
{
    if (!s || !*s || *s == '-') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end || end == s) return -1;
    *out = v;
    return 0;
}

/* The settings a VM definition shares with the service are validated by
 * vmdef (one place, one set of messages). */
static int parse_shared(const struct cli_opt *opt, const char *v, struct boot_opts *o)
{
    char err[256];
    int r = 0;
    switch (opt->id) {
    case RUN_ENGINE: r = vmdef_parse_engine(opt->name, v, &o->engine, err, sizeof(err)); break;
    case RUN_ON_PANIC:
        r = vmdef_parse_on_panic(opt->name, v, &o->on_panic, err, sizeof(err));
        break;
    case RUN_MEM: r = vmdef_parse_mem(opt->name, v, &o->mem, err, sizeof(err)); break;
    case RUN_CPUS: r = vmdef_parse_cpus(opt->name, v, &o->cpus, err, sizeof(err)); break;
    case RUN_CAP: r = vmdef_parse_cap(opt->name, v, &o->cap, err, sizeof(err)); break;
    case RUN_PIN: r = vmdef_parse_pin(opt->name, v, &o->pin, err, sizeof(err)); break;
    case RUN_SHUTDOWN_TIMEOUT:
        r = vmdef_parse_seconds(opt->name, v, 0, 3600, &o->shutdown_timeout, err, sizeof(err));
        break;
    case RUN_TIMEOUT:
        r = vmdef_parse_seconds(opt->name, v, 1e-3, 1e7, &o->timeout, err, sizeof(err));
        break;
    default: return 1;
    }
    if (r < 0) fprintf(stderr, "vmon run: %s\n", err);
    return r;
}

static int parse_value(const struct cli_opt *opt, const char *v, struct boot_opts *o)
{
    int shared = parse_shared(opt, v, o);
    if (shared <= 0) return shared;
    switch (opt->id) {
    case RUN_BIOS: o->bios = v; return 0;
    case RUN_KERNEL: o->kernel = v; return 0;
    case RUN_INITRD: o->initrd = v; return 0;
    case RUN_APPEND: o->append = v; return 0;
    case RUN_CONSOLE: o->console = v; return 0;
    case RUN_NAME: o->name = v; return 0;
    case RUN_PIDFILE: o->pidfile = v; return 0;
    case RUN_DUMP_DTB: o->dump_dtb = v; return 0;
    case RUN_STATS: o->stats = 1; return 0;
    case RUN_JIT_DUMP: o->jit_dump = v; return 0;
    case RUN_RESTORE: o->restore = v; return 0;
    case RUN_SNAP_ON_EXIT: o->snap_on_exit = v; return 0;
    case RUN_INCOMING: o->incoming = v; return 0;
    case RUN_SWAP_DIR: o->swap_dir = v; return 0;
    case RUN_SHARE_PAGES: o->share_pages = 1; return 0;
    case RUN_CPUS_ONLINE: {
        unsigned long long n;
        if (parse_uint(v, &n) < 0 || n == 0 || n > VM_MAX_CPUS) {
            fprintf(stderr, "vmon run: invalid --cpus-online '%s' (want 1..%u)\n", v, VM_MAX_CPUS);
            return -1;
        }
        o->cpus_online = (unsigned)n;
        return 0;
    }
    case RUN_SHARE_RATE: {
        unsigned long long n;
        if (parse_uint(v, &n) < 0 || n == 0 || n > (1u << 24)) {
            fprintf(stderr, "vmon run: invalid --share-rate '%s' (want 1..16777216 pages)\n", v);
            return -1;
        }
        o->share_rate = (unsigned)n;
        return 0;
    }
    case RUN_SHARE_FDS:
        if (sscanf(v, "%d,%d", &o->share_pool_fd, &o->share_inbox_fd) != 2 ||
            o->share_pool_fd < 3 || o->share_inbox_fd < 3) {
            fprintf(stderr, "vmon run: invalid --share-fds '%s' (want POOL,BUF descriptors)\n", v);
            return -1;
        }
        o->share_pages = 1;
        return 0;
    case RUN_MEM_LIMIT: {
        char err[256];
        if (vmdef_parse_mem_limit(opt->name, v, &o->mem_limit, err, sizeof(err)) < 0) {
            fprintf(stderr, "vmon run: %s\n", err);
            return -1;
        }
        return 0;
    }
    case RUN_GDB: o->gdb = v; return 0;
    case RUN_CONTROL: o->control = v; return 0;
    case RUN_SANDBOX: o->sandbox = 1; return 0;
    case RUN_PAUSED: o->paused = 1; return 0;
    case RUN_VERBOSE: o->log_level = VM_LOG_INFO; return 0;
    case RUN_DEBUG: o->log_level = VM_LOG_DEBUG; return 0;
    case RUN_QUIET: o->log_level = VM_LOG_ERROR; return 0;
    case RUN_JIT_HOT: {
        unsigned long long n;
        if (parse_uint(v, &n) < 0 || n == 0 || n > 1000000) {
            fprintf(stderr, "vmon run: invalid --jit-hot '%s' (want 1..1000000)\n", v);
            return -1;
        }
        o->jit_hot = (unsigned)n;
        return 0;
    }
    case RUN_MAX_INSNS:
        if (parse_uint(v, &o->max_insns) < 0 || o->max_insns == 0) {
            fprintf(stderr, "vmon run: invalid --max-insns '%s' (want a positive count)\n", v);
            return -1;
        }
        return 0;
    }
    if (o->ndevs >= MAX_DEVICES) {
        fprintf(stderr, "vmon run: too many devices (at most %d)\n", MAX_DEVICES);
        return -1;
    }
    o->devs[o->ndevs++] = (struct dev_req){&dev_opts[opt->id - RUN_DEV], v ? v : ""};
    return 0;
}

/* Returns CLI_OK to run, CLI_USAGE on a usage error, -1 after --help. */
static int parse_opts(int argc, char **argv, struct boot_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->mem = 256ull << 20;
    o->cpus = 1;
    o->log_level = VM_LOG_WARN;
    o->shutdown_timeout = 10;
    struct cli c;
    cli_init(&c, "vmon run", run_opts, N_RUN_OPTS, argc, argv);
    for (;;) {
        switch (cli_next(&c)) {
        case CLI_END:
            if (!o->bios && !o->kernel && !o->restore && !o->incoming) {
                fprintf(stderr, "vmon run: nothing to run: give --bios PROG and/or --kernel "
                                "IMAGE, or --restore SNAPSHOT (see vmon run --help)\n");
                return CLI_USAGE;
            }
            if (o->paused && !o->gdb && !o->control) {
                fprintf(stderr, "vmon run: --paused needs --gdb or --control (nothing could "
                                "resume the VM)\n");
                return CLI_USAGE;
            }
            return CLI_OK;
        case CLI_HELP: boot_usage(stdout); return -1;
        case CLI_BAD: return CLI_USAGE;
        }
        if (c.positional) {
            fprintf(stderr, "vmon run: unexpected argument '%s' (options start with --)\n",
                    c.positional);
            return CLI_USAGE;
        }
        if (parse_value(c.opt, c.value, o) < 0) return CLI_USAGE;
    }
}

/* ---- the machine's options, for snapshots ---- */

/* Options that shape the machine (and so belong in a snapshot), as opposed
 * to how this vmon runs it (console, control, limits, debugging). */
static int machine_opt(int id)
{
    switch (id) {
    case RUN_BIOS:
    case RUN_KERNEL:
    case RUN_INITRD:
    case RUN_APPEND:
    case RUN_MEM:
    case RUN_CPUS:
    case RUN_ENGINE:
    case RUN_ON_PANIC:
    case RUN_JIT_HOT: return 1;
    }
    return id >= RUN_DEV;
}

/* One option as a single argument: "--opt=value", or "--flag". */
static char *opt_arg(const struct cli_opt *opt, const char *value)
{
    size_t n = strlen(opt->name) + (value ? strlen(value) + 2 : 1);
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s", opt->name, value ? "=" : "", value ? value : "");
    return s;
}

struct argvec {
    char **v;
    unsigned n, cap;
    int oom;
};

static void argvec_add(struct argvec *a, char *s)
{
    if (!s || a->oom) {
        a->oom = 1;
        free(s);
        return;
    }
    if (a->n + 2 > a->cap) {
        unsigned cap = a->cap ? 2 * a->cap : 32;
        char **v = realloc(a->v, cap * sizeof(*v));
        if (!v) {
            a->oom = 1;
            free(s);
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static void argvec_free(struct argvec *a)
{
    vmsnap_free_args(a->v, a->n);
    memset(a, 0, sizeof(*a));
}

/* The machine options of an (already checked) command line. */
static void machine_args(int argc, char **argv, struct argvec *out)
{
    struct cli c;
    cli_init(&c, "vmon run", run_opts, N_RUN_OPTS, argc, argv);
    while (cli_next(&c) == CLI_OPTION)
        if (c.opt && machine_opt(c.opt->id)) argvec_add(out, opt_arg(c.opt, c.value));
}

/* One stored option, parsed. */
static const struct cli_opt *parse_one(char *arg, const char **value)
{
    char *v[2] = {"run", arg};
    struct cli c;
    cli_init(&c, "vmon run", run_opts, N_RUN_OPTS, 2, v);
    if (cli_next(&c) != CLI_OPTION || !c.opt || !machine_opt(c.opt->id) || c.i != 2) return NULL;
    *value = c.value;
    return c.opt;
}

/* --restore: "run", the snapshot's machine options (a device option given
 * on this command line replaces the snapshot's next one of its kind), then
 * this command line's other options (later values win). */
static int restore_argv(int argc, char **argv, char **stored, unsigned nstored, struct argvec *out)
{
    int used[256] = {0}; /* argv entries that replaced a stored device */
    if (argc > 256) return -1;
    argvec_add(out, strdup("run"));
    for (unsigned i = 0; i < nstored; i++) {
        const char *value;
        const struct cli_opt *opt = parse_one(stored[i], &value);
        if (!opt) {
            fprintf(stderr, "vmon run: --restore: the snapshot holds an unknown option '%s'\n",
                    stored[i]);
            return -1;
        }
        struct cli c;
        cli_init(&c, "vmon run", run_opts, N_RUN_OPTS, argc, argv);
        int at = c.i;
        while (opt->id >= RUN_DEV && cli_next(&c) == CLI_OPTION) {
            if (c.opt && c.opt->id == opt->id && !used[at]) {
                used[at] = 1;
                value = c.value;
                break;
            }
            at = c.i;
        }
        argvec_add(out, opt_arg(opt, value));
    }
    struct cli c;
    cli_init(&c, "vmon run", run_opts, N_RUN_OPTS, argc, argv);
    for (int at = c.i; cli_next(&c) == CLI_OPTION; at = c.i)
        for (int k = at; k < c.i; k++)
            if (!used[at]) argvec_add(out, strdup(argv[k]));
    return out->oom ? -1 : 0;
}

static const char *exit_name(int reason)
{
    switch (reason) {
    case VM_EXIT_FINISHER: return "finisher";
    case VM_EXIT_POWEROFF: return "poweroff";
    case VM_EXIT_RESET: return "reset";
    case VM_EXIT_MAX_INSNS: return "max-insns";
    case VM_EXIT_TIMEOUT: return "timeout";
    case VM_EXIT_ERROR: return "error";
    case VM_EXIT_USER: return "user";
    case VM_EXIT_SIGNAL: return "signal";
    case VM_EXIT_PANIC: return "panic";
    case VM_EXIT_MIGRATED: return "migrated";
    }
    return "none";
}

#define FDT_MAX      (256u << 10)
#define KERNEL_ALIGN (2u << 20)

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Where an Image with text_offset 2 MiB goes, and where QEMU's -kernel puts
 * a raw binary (an S-mode U-Boot, say). */
#define RAW_KERNEL_OFFSET 0x200000u

/* Load a kernel at base + its offset: a Linux RISC-V Image
 * (Documentation/riscv/boot-image-header.rst; an EFI-stub Image is one),
 * gzip/xz/zstd-compressed or in an EFI zboot wrapper, an ELF vmlinux by its
 * program headers, or a raw binary; files that are clearly something else
 * are refused with a description. */
static int load_kernel(struct vm *vm, const char *path, uint64_t base, uint64_t *entry,
                       uint64_t *end, char *err, size_t errlen)
{
    size_t n;
    uint8_t *f = loader_read_file(path, vm->ram_size, &n, err, errlen);
    if (!f) return -1;
    f = kimage_unpack(f, &n, vm->ram_size, path, err, errlen);
    if (!f) return -1;
    int r = -1;
    if (n >= 4 && !memcmp(f, "\177ELF", 4)) {
        r = loader_load_elf(vm, path, f, n, entry, end, err, errlen);
        goto out;
    }
    if (n < 64 || memcmp(f + 56, "RSC\x05", 4)) {
        const char *what = n ? kimage_describe(f, n) : "an empty file";
        if (what) {
            snprintf(err, errlen,
                     "%s: not a kernel: it looks like %s (want a RISC-V Linux Image, "
                     "compressed or not, an ELF vmlinux or a raw binary)",
                     path, what);
            goto out;
        }
        /* A raw binary, loaded and entered where an Image would be. */
        uint64_t load = base + RAW_KERNEL_OFFSET;
        if (loader_put(vm, load, f, n) < 0) {
            snprintf(err, errlen, "%s: %zu bytes do not fit in guest RAM at 0x%llx", path, n,
                     (unsigned long long)load);
            goto out;
        }
        *entry = load;
        *end = load + n;
        r = 0;
        goto out;
    }
    uint64_t text_offset = get_le64(f + 8), image_size = get_le64(f + 16);
    if (image_size < n) image_size = n;
    if (text_offset >= vm->ram_size || (text_offset & 0xfff)) {
        snprintf(err, errlen, "%s: bad text_offset 0x%llx in Image header", path,
                 (unsigned long long)text_offset);
        goto out;
    }
    uint64_t load = base + text_offset;
    if (load - vm->ram_base > vm->ram_size || image_size > vm->ram_size - (load - vm->ram_base)) {
        snprintf(err, errlen, "%s: kernel (%llu bytes at 0x%llx) does not fit in %llu MiB of RAM",
                 path, (unsigned long long)image_size, (unsigned long long)load,
                 (unsigned long long)(vm->ram_size >> 20));
        goto out;
    }
    mem_write_bytes(vm, load, f, n); /* in RAM: checked above */
    *entry = load;
    *end = load + image_size;
    r = 0;
out:
    free(f);
    return r;
}

static void rom_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Reset vector (like QEMU virt's): a0 = mhartid, a1 = FDT, a2 = fw_dynamic
 * info, then jump to the firmware. */
static void rom_setup(struct vm *vm, uint64_t start, uint64_t fdt, uint64_t next)
{
    static const uint32_t code[6] = {
        0x00000297, /* auipc t0, 0 */
        0x02828613, /* addi a2, t0, 40 */
        0xf1402573, /* csrr a0, mhartid */
        0x0202b583, /* ld a1, 32(t0) */
        0x0182b283, /* ld t0, 24(t0) */
        0x00028067, /* jr t0 */
    };
    uint8_t *rom = vm->rom;
    memset(rom, 0, VIRT_MROM_SIZE);
    for (int i = 0; i < 6; i++)
        for (int b = 0; b < 4; b++)
            rom[4 * i + b] = (uint8_t)(code[i] >> (8 * b));
    rom_put64(rom + 24, start);
    rom_put64(rom + 32, fdt);
    /* struct fw_dynamic_info (OpenSBI docs/firmware/fw_dynamic.md), version 2 */
    rom_put64(rom + 40, 0x4942534f); /* magic "OSBI" */
    rom_put64(rom + 48, 2);          /* version */
    rom_put64(rom + 56, next);       /* next_addr */
    rom_put64(rom + 64, 1);          /* next_mode: S */
    rom_put64(rom + 72, 0);          /* options */
    rom_put64(rom + 80, 0);          /* boot_hart */
}

/* Hypervisor SBI mode: vmon plays the M-mode firmware's part. */
static void hyp_hart_setup(struct hart *h)
{
    h->medeleg = 0xb1ff & ~(1u << EXC_ECALL_S); /* everything S can handle */
    h->mideleg = MIP_SSIP | MIP_STIP | MIP_SEIP;
    h->mcounteren = 7;
    h->scounteren = 7; /* as OpenSBI does: U-mode rdtime (vDSO) works */
    h->pmpaddr[0] = (1ull << 54) - 1;
    h->pmpcfg[0] = 0x1f; /* NAPOT, RWX: S and U may access everything */
    h->pmp_active = 1;
    h->priv = PRV_S;
}

/* Load the images and point the harts at the entry. */
static int boot_load(struct vm *vm, const struct boot_opts *o, char *err, size_t errlen)
{
    uint64_t bios_entry = 0, bios_end = vm->ram_base, kentry = 0, kend = 0;
    vm_reset(vm, VIRT_MROM_BASE);
    if (o->bios &&
        loader_load_program(vm, o->bios, VM_RAM_BASE, &bios_entry, &bios_end, err, errlen) < 0)
        return -1;
    uint64_t kbase = vm->ram_base;
    if (o->bios) kbase = align_up(bios_end, KERNEL_ALIGN);
    if (o->kernel) {
        /* An Image's text_offset is relative to a 2 MiB-aligned base. */
        uint64_t base = o->bios ? kbase - 0x200000 : vm->ram_base;
        if (o->bios && kbase - vm->ram_base < 0x200000) base = vm->ram_base;
        if (load_kernel(vm, o->kernel, base, &kentry, &kend, err, errlen) < 0) return -1;
        if (o->bios && kentry < bios_end) {
            snprintf(err, errlen, "kernel at 0x%llx overlaps the firmware (ends at 0x%llx)",
                     (unsigned long long)kentry, (unsigned long long)bios_end);
            return -1;
        }
    } else if (o->initrd || o->append) {
        snprintf(err, errlen, "--initrd and --append need --kernel");
        return -1;
    }
    uint64_t ram_end = vm->ram_base + vm->ram_size;
    uint64_t used_end = kend > bios_end ? kend : bios_end;
    /* FDT near the top of RAM with room after it for firmware fix-ups. */
    uint64_t fdt_addr = (ram_end - 2 * FDT_MAX) & ~0xfffull;
    struct fdt_boot fb = {.bootargs = o->append};
    uint64_t initrd_size = 0;
    if (o->initrd) {
        size_t n;
        uint8_t *data = loader_read_file(o->initrd, vm->ram_size, &n, err, errlen);
        if (!data) return -1;
        initrd_size = n;
        uint64_t start = (fdt_addr - n) & ~0xfffull;
        if (n == 0 || n > fdt_addr - vm->ram_base || start < used_end) {
            snprintf(err, errlen,
                     "initrd %s (%zu bytes) does not fit in RAM between the kernel (ends "
                     "0x%llx) and the device tree (0x%llx); use a larger --mem",
                     o->initrd, n, (unsigned long long)used_end, (unsigned long long)fdt_addr);
            free(data);
            return -1;
        }
        loader_put(vm, start, data, n);
        free(data);
        fb.initrd_start = start;
        fb.initrd_end = start + initrd_size;
    }
    if (used_end > fdt_addr) {
        snprintf(err, errlen, "images do not fit in %llu MiB of RAM; use a larger --mem",
                 (unsigned long long)(vm->ram_size >> 20));
        return -1;
    }
    uint8_t *fdt = calloc(1, FDT_MAX);
    if (!fdt) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int fsz = fdt_build(vm, &fb, fdt, FDT_MAX);
    if (fsz < 0) {
        snprintf(err, errlen, "device tree construction failed");
        free(fdt);
        return -1;
    }
    loader_put(vm, fdt_addr, fdt, (size_t)fsz);
    if (o->dump_dtb) {
        FILE *fp = fopen(o->dump_dtb, "wb");
        if (!fp || fwrite(fdt, 1, (size_t)fsz, fp) != (size_t)fsz) {
            snprintf(err, errlen, "--dump-dtb %s: %s", o->dump_dtb, strerror(errno));
            if (fp) fclose(fp);
            free(fdt);
            return -1;
        }
        fclose(fp);
    }
    free(fdt);

    if (o->bios) {
        rom_setup(vm, bios_entry, fdt_addr, kentry);
        for (unsigned i = 0; i < vm->ncpus; i++)
            vm->harts[i]->pc = VIRT_MROM_BASE;
        return 0;
    }
    for (unsigned i = 0; i < vm->ncpus; i++) {
        struct hart *h = vm->harts[i];
        hyp_hart_setup(h);
        h->pc = kentry;
        h->x[10] = i;
        h->x[11] = fdt_addr;
        atomic_store(&vm->vcpu[i].hsm_state, i == 0 ? HSM_STARTED : HSM_STOPPED);
    }
    return 0;
}

/* --restore FILE: open the snapshot (--incoming ADDR: wait for the
 * migration) and make the command line the machine it holds plus this
 * one's options. */
static int restore_prepare(int argc, char **argv, struct boot_opts *o, struct snap_file *snap,
                           struct migrate_in **mi, struct argvec *merged)
{
    char err[512];
    char **stored = NULL;
    unsigned nstored = 0;
    if (o->incoming) {
        int lfd = migrate_listen(o->incoming, err, sizeof(err));
        if (lfd >= 0) {
            fprintf(stderr, "vmon: waiting for a migration on %s\n", o->incoming);
            vm_control_note(o->control, "incoming %s", o->incoming);
            *mi = migrate_accept(lfd, o->incoming, vm_control_fd(o->control), &stored, &nstored,
                                 err, sizeof(err));
        }
        if (!*mi) {
            fprintf(stderr, "vmon run: --incoming: %s\n", err);
            return CLI_ERROR;
        }
    } else if (snap_open(snap, o->restore, err, sizeof(err)) < 0 ||
               vmsnap_args(snap, &stored, &nstored, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmon run: --restore: %s\n", err);
        return CLI_ERROR;
    }
    int r = restore_argv(argc, argv, stored, nstored, merged);
    vmsnap_free_args(stored, nstored);
    if (r < 0) return CLI_ERROR;
    if (parse_opts((int)merged->n, merged->v, o)) return CLI_USAGE;
    return 0;
}

/* --incoming under a supervisor: the machine the source sent, as its
 * options (all, or none if one cannot go on a line), then "receiving". */
static void note_machine(const char *control, const struct argvec *mach)
{
    int sendable = 1;
    for (unsigned i = 0; i < mach->n; i++)
        for (const char *c = mach->v[i]; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) sendable = 0;
    for (unsigned i = 0; sendable && i < mach->n; i++)
        vm_control_note(control, "machine %s", mach->v[i]);
    vm_control_note(control, "receiving");
}

/* Instead of loading images: the snapshot's state, RAM mapped from it. */
static int restore_load(struct vm *vm, struct snap_file *snap, char *err, size_t errlen)
{
    vm_reset(vm, VIRT_MROM_BASE);
    int r = vmsnap_load(vm, snap, err, errlen);
    snap_close(snap);
    return r;
}

/* --mem-limit: hypervisor swap, before anything touches guest RAM. */
static int swap_setup(struct vm *vm, const struct boot_opts *o)
{
    char err[512];
    const char *dir = o->swap_dir ? o->swap_dir : getenv("TMPDIR");
    if (!dir || !*dir) dir = "/var/tmp";
    if (o->restore) {
        fprintf(stderr, "vmon run: --mem-limit cannot be used with --restore (RAM mapped from the "
                        "snapshot)\n");
        return -1;
    }
    if (mem_swap_start(vm, o->mem_limit, dir, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmon run: %s\n", err);
        return -1;
    }
    return 0;
}

/* --share-pages: page sharing, once guest RAM holds what it boots from. */
static int share_setup(struct vm *vm, const struct boot_opts *o)
{
    char err[256];
    int pool = o->share_pool_fd ? o->share_pool_fd : -1;
    int inbox = o->share_inbox_fd ? o->share_inbox_fd : -1;
    if (mem_share_start(vm, o->share_rate, pool, inbox, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmon run: --share-pages: %s\n", err);
        return -1;
    }
    if (inbox >= 0) close(inbox); /* mapped now */
    return 0;
}

/* --snapshot-on-exit FILE: its directory must take files now, not only
 * when the VM ends (and a run is lost to a typo). */
static int snap_dir_check(const char *path)
{
    char dir[4096];
    opt_path_dir(path, dir, sizeof(dir));
    if (access(dir, W_OK | X_OK) < 0) {
        fprintf(stderr, "vmon run: --snapshot-on-exit %s: cannot write in %s: %s\n", path, dir,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* --snapshot-on-exit: a VM stopped from outside is saved, not lost. */
static int save_on_exit(struct vm *vm, const char *path, int reason, int status)
{
    if (reason != VM_EXIT_SIGNAL && reason != VM_EXIT_USER && reason != VM_EXIT_TIMEOUT &&
        reason != VM_EXIT_MAX_INSNS)
        return status;
    char err[512];
    if (vmsnap_save(vm, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmon: --snapshot-on-exit: %s\n", err);
        return CLI_ERROR;
    }
    fprintf(stderr, "vmon: saved the VM to %s (vmon run --restore %s)\n", path, path);
    return 0;
}

/* --sandbox: what the VM still reaches by path once it runs (sandbox.h). */
struct sandbox_plan {
    struct sandbox_path paths[8];
    char dirs[4][PATH_MAX];
    unsigned n, ndirs;
};

static void plan_path(struct sandbox_plan *p, const char *path, int access)
{
    if (path && p->n < sizeof(p->paths) / sizeof(p->paths[0]))
        p->paths[p->n++] = (struct sandbox_path){path, access};
}

static void plan_dir_of(struct sandbox_plan *p, const char *path, int access)
{
    if (p->ndirs == sizeof(p->dirs) / sizeof(p->dirs[0])) return;
    opt_path_dir(path, p->dirs[p->ndirs], sizeof(p->dirs[0]));
    plan_path(p, p->dirs[p->ndirs++], access);
}

/* Its images again at a reboot, --snapshot-on-exit's directory, and the
 * directories of the sockets and pidfile it makes and removes; the
 * devices add their own (vm->dirs). A supervisor is told what is in force. */
static int enter_sandbox(struct vm *vm, const struct boot_opts *o, char *err, size_t errlen)
{
    struct sandbox_plan p = {.n = 0};
    plan_path(&p, o->kernel, SANDBOX_READ);
    plan_path(&p, o->initrd, SANDBOX_READ);
    plan_path(&p, o->bios, SANDBOX_READ);
    if (o->snap_on_exit) plan_dir_of(&p, o->snap_on_exit, SANDBOX_FILES_IN);
    if (o->control && strncmp(o->control, "fd:", 3))
        plan_dir_of(&p, o->control, SANDBOX_SOCKETS_IN);
    if (o->gdb && !strncmp(o->gdb, "unix:", 5)) plan_dir_of(&p, o->gdb + 5, SANDBOX_SOCKETS_IN);
    if (o->pidfile) plan_dir_of(&p, o->pidfile, SANDBOX_SOCKETS_IN);
    if (sandbox_apply(vm, p.paths, p.n, err, errlen) < 0) return -1;
    const struct vm_isolation *iso = &vm->isolation;
    if (iso->landlock_abi)
        vm_log(vm, VM_LOG_INFO, NULL, "sandbox: seccomp, and the file system confined (%s)",
               iso->detail);
    else
        vm_log(vm, VM_LOG_WARN, NULL, "sandbox: seccomp only; the file system is not confined: %s",
               iso->detail);
    vm_control_note(o->control, "isolation seccomp=1 filesystem=%s detail=%s",
                    iso->landlock_abi ? "landlock" : "none", iso->detail);
    return 0;
}

/* --console fd:N: an inherited connected socket (vmon serve's) that takes
 * the serial output and gives its input. */
static int console_socket(const char *num)
{
    char *end;
    long fd = strtol(num, &end, 10);
    int type = 0;
    socklen_t len = sizeof(type);
    if (*end || end == num || fd < 0 || fd > 65535 ||
        getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) {
        fprintf(stderr, "vmon run: --console fd:%s: not a connected stream socket\n", num);
        return -1;
    }
    signal(SIGPIPE, SIG_IGN); /* a supervisor that goes away is seen on the control channel */
    return (int)fd;
}

static int write_pidfile(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (fd < 0 || write(fd, buf, (size_t)n) != n) {
        fprintf(stderr, "vmon run: --pidfile %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int boot_main(int argc, char **argv)
{
    uint64_t t_start = host_time_ns();
    struct boot_opts o;
    int pr = parse_opts(argc, argv, &o);
    if (pr) return pr < 0 ? CLI_OK : pr;
    struct argvec merged = {0}, mach = {0};
    struct snap_file snap = {.fd = -1};
    struct migrate_in *mi = NULL;
    if (o.restore || o.incoming) {
        if ((pr = restore_prepare(argc, argv, &o, &snap, &mi, &merged))) {
            snap_close(&snap);
            migrate_close(mi);
            argvec_free(&merged);
            return pr;
        }
        argc = (int)merged.n;
        argv = merged.v;
    }
    /* Stopping from outside saves the VM, instead of a guest shutdown. */
    if (o.snap_on_exit) {
        o.shutdown_timeout = 0;
        if (snap_dir_check(o.snap_on_exit) < 0) {
            snap_close(&snap);
            migrate_close(mi);
            argvec_free(&merged);
            return CLI_ERROR;
        }
    }
    machine_args(argc, argv, &mach);
    if (mi && !mach.oom) note_machine(o.control, &mach);
    struct vm_config cfg = {
        .ram_size = o.mem,
        .ncpus = o.cpus,
        .max_insns = o.max_insns,
        .timeout = o.timeout,
        .hyp_sbi = o.bios == NULL,
        .on_panic = o.on_panic,
        .engine = o.engine,
        .jit_hot = o.jit_hot,
    };
    char err[512] = "";
    struct vm *vm = mach.oom ? NULL : vm_create(&cfg, err, sizeof(err));
    if (!vm) {
        fprintf(stderr, "vmon: %s\n", mach.oom ? "out of memory" : err);
        if (mi) migrate_reply(mi, mach.oom ? "out of memory" : err);
        migrate_close(mi);
        snap_close(&snap);
        argvec_free(&merged);
        argvec_free(&mach);
        return 1;
    }
    vm->machine_args = mach.v;
    vm->n_machine_args = mach.n;
    if (o.mem_limit && swap_setup(vm, &o) < 0) {
        if (mi) migrate_reply(mi, "the target cannot set up --mem-limit");
        migrate_close(mi);
        snap_close(&snap);
        vm_destroy(vm);
        argvec_free(&merged);
        argvec_free(&mach);
        return CLI_ERROR;
    }
    struct vm_signals *sigs = vm_signals_start(vm, o.shutdown_timeout);
    if (o.name) snprintf(vm->name, sizeof(vm->name), "%s", o.name);
    if (o.cap) vm_set_cap(vm, o.cap);
    if (o.cpus_online && vm_set_cpus_online(vm, o.cpus_online) < 0) {
        fprintf(stderr, "vmon run: --cpus-online %u is more than the %u vCPUs\n", o.cpus_online,
                vm->ncpus);
        vm_signals_stop(sigs);
        vm_destroy(vm);
        return CLI_ERROR;
    }
    if (CPU_COUNT(&o.pin)) vm_set_pin(vm, &o.pin);
    vm->log_level = o.log_level;
    if (o.jit_dump && !(vm->jit_dump = fopen(o.jit_dump, "we"))) {
        fprintf(stderr, "vmon: --jit-dump %s: %s\n", o.jit_dump, strerror(errno));
        vm_signals_stop(sigs);
        vm_destroy(vm);
        return CLI_ERROR;
    }
    if (o.pidfile && write_pidfile(o.pidfile) < 0) {
        vm_signals_stop(sigs);
        vm_destroy(vm);
        return CLI_ERROR;
    }
    int out_fd = -1, con_sock = -1;
    if (!o.console || !strcmp(o.console, "stdio")) {
        vm->console_out_fd = 1;
    } else if (!strcmp(o.console, "none")) {
        vm->console_out_fd = -1;
    } else if (!strncmp(o.console, "fd:", 3)) {
        if ((con_sock = console_socket(o.console + 3)) < 0) {
            vm_signals_stop(sigs);
            vm_destroy(vm);
            return CLI_ERROR;
        }
        vm->console_out_fd = con_sock;
    } else {
        out_fd = open(o.console, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out_fd < 0) {
            fprintf(stderr, "vmon: --console %s: %s\n", o.console, strerror(errno));
            vm_signals_stop(sigs);
            vm_destroy(vm);
            return 1;
        }
        vm->console_out_fd = out_fd;
    }
    int status = 1, replied = 0;
    /* A migration's RAM comes first; the devices (their disks) are made
     * once the source has paused and flushed them. */
    char *disk_specs[VM_MAX_DISKS];
    unsigned ndisk_specs = 0;
    for (unsigned i = 0; i < o.ndevs && ndisk_specs < VM_MAX_DISKS; i++)
        if (!strcmp(o.devs[i].opt->name, "--disk"))
            disk_specs[ndisk_specs++] = (char *)o.devs[i].spec;
    if (mi) migrate_set_disks(mi, disk_specs, ndisk_specs); /* where copied disks go */
    if (mi && migrate_receive(mi, vm, &snap, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmon: --incoming: %s\n", err);
        goto out;
    }
    if (virt_board_create(vm, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmon: %s\n", err);
        goto out;
    }
    for (unsigned i = 0; i < o.ndevs; i++) {
        if (vmdev_add_spec(vm, o.devs[i].opt->kind, o.devs[i].spec, err, sizeof(err)) < 0) {
            fprintf(stderr, "vmon: %s %s: %s\n", o.devs[i].opt->name, o.devs[i].spec, err);
            goto out;
        }
        vm_log(vm, VM_LOG_INFO, o.devs[i].opt->name + 2, "%s", o.devs[i].spec);
    }
    /* The power button SIGTERM presses; without a free slot, signals stop
     * the VM at once. */
    if (vmdev_add_power_key(vm, err, sizeof(err)) < 0)
        vm_log(vm, VM_LOG_INFO, NULL, "no power button: %s", err);
    int loaded = o.restore || mi ? restore_load(vm, &snap, err, sizeof(err))
                                 : boot_load(vm, &o, err, sizeof(err));
    if (mi) {
        migrate_reply(mi, loaded < 0 ? err : NULL);
        replied = 1;
    }
    if (loaded < 0) {
        fprintf(stderr, "vmon: %s\n", err);
        goto out;
    }
    if (o.dump_dtb) {
        status = 0;
        goto out;
    }
    if (o.share_pages && share_setup(vm, &o) < 0) goto out;
    struct console *con = NULL;
    if (vm->console_out_fd == 1 && (!o.console || !strcmp(o.console, "stdio")))
        con = console_start(vm, 0);
    else if (con_sock >= 0)
        con = console_start(vm, con_sock); /* the supervisor's typing */
    struct gdbstub *gdb = NULL;
    if (o.gdb) {
        gdb = gdb_start(vm, o.gdb, err, sizeof(err));
        if (!gdb) {
            fprintf(stderr, "vmon: %s\n", err);
            console_stop(con);
            goto out;
        }
        fprintf(stderr, "vmon: gdb stub on %s%s\n", o.gdb,
                o.paused ? "; the VM waits for the debugger" : "");
    }
    /* Every file the VM uses is open now (the control channel's socket
     * is made in a directory the sandbox leaves it), and a supervisor
     * hears what confines the VM before it is ready. */
    if (o.sandbox && enter_sandbox(vm, &o, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmon: %s\n", err);
        gdb_stop(gdb);
        console_stop(con);
        goto out;
    }
    struct vm_control *ctl = NULL;
    if (o.control && !(ctl = vm_control_start(vm, o.control, err, sizeof(err)))) {
        fprintf(stderr, "vmon: %s\n", err);
        gdb_stop(gdb);
        console_stop(con);
        goto out;
    }
    if (o.paused) atomic_store(&vm->pause_req, 1);
    uint64_t t0 = host_time_ns();
    if (o.restore || o.incoming)
        vm_log(vm, VM_LOG_INFO, NULL, "restored from %s in %.2f ms",
               o.restore ? o.restore : o.incoming, (double)(t0 - t_start) / 1e6);
    for (;;) {
        int reason = vm_run(vm);
        if (reason == VM_EXIT_RESET) {
            if (boot_load(vm, &o, err, sizeof(err)) < 0) {
                fprintf(stderr, "vmon: reboot failed: %s\n", err);
                break;
            }
            continue;
        }
        double secs = (double)(host_time_ns() - t0) / 1e9;
        switch (reason) {
        case VM_EXIT_FINISHER:
        case VM_EXIT_POWEROFF:
            status = vm->exit_code;
            if (status) fprintf(stderr, "vmon: %s\n", vm->exit_msg);
            break;
        case VM_EXIT_USER: status = 0; break;
        case VM_EXIT_MIGRATED:
            status = 0;
            fprintf(stderr, "vmon: %s\n", vm->exit_msg);
            break;
        case VM_EXIT_PANIC:
        case VM_EXIT_SIGNAL:
            status = vm->exit_code;
            fprintf(stderr, "vmon: %s\n", vm->exit_msg);
            break;
        default:
            fprintf(stderr, "vmon: %s\n", vm->exit_msg);
            status = reason == VM_EXIT_TIMEOUT ? 124 : 1;
        }
        if (o.snap_on_exit) status = save_on_exit(vm, o.snap_on_exit, reason, status);
        if (o.stats) {
            fprintf(stderr, "exit: %s (status %d)\n", exit_name(reason), status);
            fprintf(stderr, "insns: %llu\n", (unsigned long long)vm->insns_total);
            fprintf(stderr, "seconds: %.3f\n", secs);
            fprintf(stderr, "mips: %.1f\n", secs > 0 ? (double)vm->insns_total / secs / 1e6 : 0);
            for (unsigned i = 0; i < vm->ncpus; i++) {
                struct hart *h = vm->harts[i];
                fprintf(stderr,
                        "hart%u: insns %llu traps %llu interrupts %llu blocks %llu "
                        "tlb-flushes %llu\n",
                        i, (unsigned long long)h->instret, (unsigned long long)h->stats.traps,
                        (unsigned long long)h->stats.interrupts,
                        (unsigned long long)h->stats.blocks_built,
                        (unsigned long long)h->stats.tlb_flushes);
                vcpu_print_stats(&vm->vcpu[i], stderr);
                if (h->jit.rw) print_jit_stats(h, stderr);
            }
            if (cfg.hyp_sbi) sbi_print_stats(vm, stderr);
            if (vm->swap) {
                struct mem_swap_stats ss;
                mem_swap_get_stats(vm, &ss);
                fprintf(stderr,
                        "swap: limit %llu MiB, resident %llu MiB, out %llu in %llu zero-out %llu "
                        "zero-in %llu pages\n",
                        (unsigned long long)(ss.limit_pages >> 8),
                        (unsigned long long)(ss.resident_pages >> 8), (unsigned long long)ss.out,
                        (unsigned long long)ss.in, (unsigned long long)ss.zero_out,
                        (unsigned long long)ss.zero_in);
            }
        }
        break;
    }
    vm_control_stop(ctl);
    gdb_stop(gdb);
    console_stop(con);
out:
    if (mi && !replied) migrate_reply(mi, err[0] ? err : "the target could not build the machine");
    migrate_close(mi);
    vm_signals_stop(sigs);
    vm_destroy(vm);
    if (o.pidfile) unlink(o.pidfile);
    if (out_fd >= 0) close(out_fd);
    snap_close(&snap);
    argvec_free(&merged);
    argvec_free(&mach);
    return status;
}
