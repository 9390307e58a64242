/* VM definitions: see vmdef.h. */
#include "vmm/vmdef.h"
#include "vmm/cli.h"
#include "vmm/devcfg.h"
#include "vmm/vm.h"
#include "snap/vmsnap.h"
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct vmdef_field vmdef_fields[] = {
    {"kernel", "--kernel", "FILE", "Linux Image (plain, gzip, xz, zstd, EFI zboot), ELF or raw",
     VMDEF_PATH},
    {"initrd", "--initrd", "FILE", "initial ramdisk", VMDEF_PATH},
    {"append", "--append", "STRING", "kernel command line", VMDEF_STR},
    {"bios", "--bios", "FILE", "M-mode program or firmware", VMDEF_PATH},
    {"mem", "--mem", "SIZE", "guest RAM: 512 (MiB), 1.5G, 2048M... (default 256M)", VMDEF_SIZE},
    {"mem_limit", "--mem-limit", "SIZE",
     "keep at most SIZE of guest RAM in host memory, less than mem; the rest goes\n"
     "to a swap file (default 0: no limit)",
     VMDEF_SIZE},
    {"cpus", "--cpus", "N", "virtual CPUs, 1..64 (default 1)", VMDEF_UINT},
    {"cpus_online", "--cpus-online", "N",
     "of those, at most N run at once (SBI HSM starts no more; vmon resize --cpus\n"
     "changes it live; default: all)",
     VMDEF_UINT},
    {"engine", "--engine", "jit|interp", "how vCPUs run guest code (default jit)", VMDEF_CHOICE},
    {"on_panic", "--on-panic", "exit|pause|reboot", "what a guest panic does (default exit)",
     VMDEF_CHOICE},
    {"shutdown_timeout", "--shutdown-timeout", "SECONDS",
     "grace after the power-button press before a hard stop (default 10)", VMDEF_SECONDS},
    {"restore", "--restore", "FILE",
     "start from this snapshot (vmon run --restore) instead of booting, every time\n"
     "the VM starts; disks, nets... given replace the snapshot's in order",
     VMDEF_PATH},
    {"incoming", "--incoming", "unix:PATH|tcp:[HOST]:PORT",
     "wait there for a live migration (vmon run --incoming) instead of booting;\n"
     "the machine is the source's, disks, nets... given replace its devices",
     VMDEF_STR},
    {"incoming_timeout", "--incoming-timeout", "SECONDS",
     "how long the service waits for the source to come (default 300)", VMDEF_SECONDS},
    {"console", "--console", "log|none|FILE",
     "serial console: the VM's log (default, vmon logs), none, or a file", VMDEF_STR},
    {"disks", "--disk", "FILE[,ro][,format=raw|qcow2][,serial=STR]", "virtio-blk (repeatable)",
     VMDEF_LIST},
    {"nets", "--net", "user[,hostfwd=...][,mac=MAC] | tap,ifname=NAME[,mac=MAC]",
     "virtio-net (repeatable)", VMDEF_LIST},
    {"shares", "--share", "DIR,tag=TAG[,ro]", "host directory over virtio-9p (repeatable)",
     VMDEF_LIST},
    {"vconsoles", "--vconsole", "FILE|socket=PATH", "virtio-console port (repeatable)", VMDEF_LIST},
    {"rng", "--rng", NULL, "virtio-rng fed by the host's getrandom()", VMDEF_FLAG},
    {"balloon", "--balloon", NULL, "virtio-balloon: memory the guest can give back", VMDEF_FLAG},
    {"autostart", "--autostart", NULL, "start the VM whenever the service starts", VMDEF_FLAG},
    {"share_pages", "--share-pages", NULL,
     "share its pages with the same content as other VMs' (or its own) copy-on-write\n"
     "(opt-in: a guest can tell by timing its writes)",
     VMDEF_FLAG},
    {"weight", "--weight", "W",
     "its share of the host CPUs under contention, relative to other VMs'\n(1..10000, default 100)",
     VMDEF_UINT},
    {"cap", "--cap", "PCT", "at most this % of one host CPU across its vCPUs (0..6400, 0: none)",
     VMDEF_UINT},
    {"pin", "--pin", "CPUS", "run its vCPUs on these host CPUs only, e.g. 0-1,3 (\"\": any)",
     VMDEF_CPUS},
};
const unsigned vmdef_nfields = sizeof(vmdef_fields) / sizeof(vmdef_fields[0]);

const struct vmdef_field *vmdef_field_by_key(const char *key)
{
    for (unsigned i = 0; i < vmdef_nfields; i++)
        if (!strcmp(vmdef_fields[i].key, key)) return &vmdef_fields[i];
    return NULL;
}

const struct vmdef_field *vmdef_field_by_opt(const char *opt)
{
    for (unsigned i = 0; i < vmdef_nfields; i++)
        if (!strcmp(vmdef_fields[i].opt, opt)) return &vmdef_fields[i];
    return NULL;
}

void vmdef_init(struct vm_def *d)
{
    memset(d, 0, sizeof(*d));
    d->mem = 256ull << 20;
    d->cpus = 1;
    d->engine = VM_ENGINE_JIT;
    d->on_panic = VM_PANIC_EXIT;
    d->shutdown_timeout = 10;
    d->incoming_timeout = 300;
    d->weight = 100;
}

/* The int of a VMDEF_FLAG setting. */
static int *flag_slot(struct vm_def *d, const char *key)
{
    if (!strcmp(key, "rng")) return &d->rng;
    if (!strcmp(key, "balloon")) return &d->balloon;
    if (!strcmp(key, "share_pages")) return &d->share_pages;
    return &d->autostart;
}

static void list_free(struct vmdef_list *l)
{
    for (unsigned i = 0; i < l->n; i++)
        free(l->v[i]);
    l->n = 0;
}

void vmdef_free(struct vm_def *d)
{
    char **strs[] = {&d->kernel,  &d->initrd,  &d->append,   &d->bios,
                     &d->console, &d->restore, &d->incoming, &d->pin};
    for (unsigned i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    list_free(&d->disks);
    list_free(&d->nets);
    list_free(&d->shares);
    list_free(&d->vconsoles);
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

int vmdef_parse_mem(const char *name, const char *v, uint64_t *out, char *err, size_t errlen)
{
    unsigned long long m;
    if (cli_parse_size(v, 20, &m) < 0 || m < (16ull << 20) || m > (16ull << 30) || (m & 0xfff)) {
        snprintf(err, errlen, "invalid %s '%s' (want 16M..16G, e.g. 512, 1.5G)", name, v);
        return -1;
    }
    *out = m;
    return 0;
}

int vmdef_parse_mem_limit(const char *name, const char *v, uint64_t *out, char *err, size_t errlen)
{
    unsigned long long m;
    if (!strcmp(v, "0") || !strcmp(v, "none")) {
        *out = 0;
        return 0;
    }
    if (cli_parse_size(v, 20, &m) < 0 || m < (16ull << 20) || m > (16ull << 30) || (m & 0xfff)) {
        snprintf(err, errlen, "invalid %s '%s' (want 16M..16G, less than mem, e.g. 128M; 0: none)",
                 name, v);
        return -1;
    }
    *out = m;
    return 0;
}

int vmdef_parse_cpus(const char *name, const char *v, unsigned *out, char *err, size_t errlen)
{
    unsigned long long n;
    if (parse_uint(v, &n) < 0 || n < 1 || n > VM_MAX_CPUS) {
        snprintf(err, errlen, "invalid %s '%s' (want 1..%d)", name, v, VM_MAX_CPUS);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

int vmdef_parse_weight(const char *name, const char *v, unsigned *out, char *err, size_t errlen)
{
    unsigned long long n;
    if (parse_uint(v, &n) < 0 || n < 1 || n > 10000) {
        snprintf(err, errlen, "invalid %s '%s' (want 1..10000)", name, v);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

int vmdef_parse_cap(const char *name, const char *v, unsigned *out, char *err, size_t errlen)
{
    unsigned long long n;
    if (parse_uint(v, &n) < 0 || n > 100 * VM_MAX_CPUS) {
        snprintf(err, errlen, "invalid %s '%s' (want 0..%d percent of one host CPU; 0: no cap)",
                 name, v, 100 * VM_MAX_CPUS);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

/* One entry of a CPU list: N or N-M; the rest of s after it in *end. */
static int cpu_range(const char *s, char **end, long ncpus, cpu_set_t *set)
{
    errno = 0;
    long lo = strtol(s, end, 10), hi = lo;
    if (*end == s || errno || lo < 0) return -1;
    if (**end == '-') {
        s = *end + 1;
        hi = strtol(s, end, 10);
        if (*end == s || errno || hi < lo) return -1;
    }
    if (hi >= ncpus || hi >= CPU_SETSIZE) return -1;
    for (long c = lo; c <= hi; c++)
        CPU_SET((int)c, set);
    return 0;
}

int vmdef_parse_pin(const char *name, const char *v, cpu_set_t *out, char *err, size_t errlen)
{
    long ncpus = sysconf(_SC_NPROCESSORS_CONF);
    CPU_ZERO(out);
    for (const char *s = v; *v;) {
        char *end;
        if (cpu_range(s, &end, ncpus, out) < 0 || (*end && *end != ',') || (*end && !end[1])) {
            snprintf(err, errlen, "invalid %s '%s' (want host CPUs 0..%ld as a list: 0-1,3)", name,
                     v, ncpus - 1);
            return -1;
        }
        if (!*end) break;
        s = end + 1;
    }
    return 0;
}

/* v among names (NULL-terminated): its index, else a message listing them. */
static int parse_choice(const char *name, const char *v, const char *const *names, const char *want,
                        int *out, char *err, size_t errlen)
{
    for (int i = 0; names[i]; i++) {
        if (!strcmp(v, names[i])) {
            *out = i;
            return 0;
        }
    }
    snprintf(err, errlen, "invalid %s '%s' (want %s)", name, v, want);
    return -1;
}

static const char *const engine_names[] = {"jit", "interp", NULL}; /* VM_ENGINE_* order */
static const char *const panic_names[] = {"exit", "pause", "reboot", NULL};

int vmdef_parse_engine(const char *name, const char *v, int *out, char *err, size_t errlen)
{
    return parse_choice(name, v, engine_names, "jit or interp", out, err, errlen);
}

int vmdef_parse_on_panic(const char *name, const char *v, int *out, char *err, size_t errlen)
{
    return parse_choice(name, v, panic_names, "exit, pause or reboot", out, err, errlen);
}

int vmdef_parse_seconds(const char *name, const char *v, double lo, double hi, double *out,
                        char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || *end || end == v || !(d >= lo) || d > hi) {
        snprintf(err, errlen, "invalid %s '%s' (want %g..%g seconds)", name, v, lo, hi);
        return -1;
    }
    *out = d;
    return 0;
}

int vmdef_check_name(const char *name, char *err, size_t errlen)
{
    size_t n = strlen(name);
    int ok = n >= 1 && n <= VMDEF_NAME_MAX && name[0] != '.' && name[0] != '-';
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }
    if (ok) return 0;
    snprintf(err, errlen,
             "invalid VM name '%.80s' (want 1..%d letters, digits, '.', '_' or '-', not "
             "starting with '.' or '-')",
             name, VMDEF_NAME_MAX);
    return -1;
}

static int check_text(const char *name, const char *v, char *err, size_t errlen)
{
    size_t n = strlen(v);
    if (n > VMDEF_STR_MAX) {
        snprintf(err, errlen, "%s is too long (%zu bytes, at most %d)", name, n, VMDEF_STR_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
            snprintf(err, errlen, "%s holds a control character", name);
            return -1;
        }
    }
    return 0;
}

static char **str_slot(struct vm_def *d, const char *key)
{
    if (!strcmp(key, "kernel")) return &d->kernel;
    if (!strcmp(key, "initrd")) return &d->initrd;
    if (!strcmp(key, "append")) return &d->append;
    if (!strcmp(key, "bios")) return &d->bios;
    if (!strcmp(key, "console")) return &d->console;
    if (!strcmp(key, "restore")) return &d->restore;
    if (!strcmp(key, "incoming")) return &d->incoming;
    return NULL;
}

static struct vmdef_list *list_slot(struct vm_def *d, const char *key)
{
    if (!strcmp(key, "disks")) return &d->disks;
    if (!strcmp(key, "nets")) return &d->nets;
    if (!strcmp(key, "shares")) return &d->shares;
    if (!strcmp(key, "vconsoles")) return &d->vconsoles;
    return NULL;
}

static int set_string(char **slot, const char *name, const char *v, int path, char *err,
                      size_t errlen)
{
    if (check_text(name, v, err, errlen) < 0) return -1;
    if (path && !*v) {
        snprintf(err, errlen, "%s needs a file name", name);
        return -1;
    }
    char *s = strdup(v);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(*slot);
    *slot = s;
    return 0;
}

/* What kind of device a list's entries are. */
static enum devcfg_kind list_kind(const char *key)
{
    if (!strcmp(key, "disks")) return DEVCFG_DISK;
    if (!strcmp(key, "nets")) return DEVCFG_NET;
    if (!strcmp(key, "shares")) return DEVCFG_SHARE;
    return DEVCFG_VCONSOLE;
}

/* Append a device option to its list once its parser (the one `vmon run`
 * uses) takes it: "--net bogus: unknown network type 'bogus' (...)". */
static int list_add(struct vmdef_list *l, enum devcfg_kind kind, const char *name, const char *v,
                    char *err, size_t errlen)
{
    if (check_text(name, v, err, errlen) < 0) return -1;
    char why[512];
    if (devcfg_check(kind, v, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s %.80s%s: %s", name, v, strlen(v) > 80 ? "..." : "", why);
        return -1;
    }
    if (l->n >= VMDEF_LIST_MAX) {
        snprintf(err, errlen, "too many %s (at most %d)", name, VMDEF_LIST_MAX);
        return -1;
    }
    if (!(l->v[l->n] = strdup(v))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    l->n++;
    return 0;
}

static int set_choice(struct vm_def *d, const struct vmdef_field *f, const char *name,
                      const char *v, char *err, size_t errlen)
{
    if (!strcmp(f->key, "engine")) return vmdef_parse_engine(name, v, &d->engine, err, errlen);
    return vmdef_parse_on_panic(name, v, &d->on_panic, err, errlen);
}

int vmdef_set(struct vm_def *d, const struct vmdef_field *f, const char *name, const char *value,
              char *err, size_t errlen)
{
    switch (f->type) {
    case VMDEF_STR:
    case VMDEF_PATH:
        return set_string(str_slot(d, f->key), name, value, f->type == VMDEF_PATH, err, errlen);
    case VMDEF_SIZE:
        if (!strcmp(f->key, "mem_limit"))
            return vmdef_parse_mem_limit(name, value, &d->mem_limit, err, errlen);
        return vmdef_parse_mem(name, value, &d->mem, err, errlen);
    case VMDEF_UINT:
        if (!strcmp(f->key, "weight"))
            return vmdef_parse_weight(name, value, &d->weight, err, errlen);
        if (!strcmp(f->key, "cap")) return vmdef_parse_cap(name, value, &d->cap, err, errlen);
        if (!strcmp(f->key, "cpus_online"))
            return vmdef_parse_cpus(name, value, &d->cpus_online, err, errlen);
        return vmdef_parse_cpus(name, value, &d->cpus, err, errlen);
    case VMDEF_CPUS: {
        cpu_set_t set;
        if (vmdef_parse_pin(name, value, &set, err, errlen) < 0) return -1;
        free(d->pin);
        d->pin = NULL;
        return *value ? set_string(&d->pin, name, value, 0, err, errlen) : 0;
    }
    case VMDEF_CHOICE: return set_choice(d, f, name, value, err, errlen);
    case VMDEF_SECONDS:
        if (!strcmp(f->key, "incoming_timeout"))
            return vmdef_parse_seconds(name, value, 1, 86400, &d->incoming_timeout, err, errlen);
        return vmdef_parse_seconds(name, value, 0, 3600, &d->shutdown_timeout, err, errlen);
    case VMDEF_FLAG: *flag_slot(d, f->key) = 1; return 0;
    case VMDEF_LIST:
        return list_add(list_slot(d, f->key), list_kind(f->key), name, value, err, errlen);
    }
    snprintf(err, errlen, "%s: unknown setting", name);
    return -1;
}

static int check_mem_limit(const struct vm_def *d, char *err, size_t errlen)
{
    if (d->mem_limit && d->restore) {
        snprintf(err, errlen,
                 "mem_limit cannot be used with restore (the snapshot's RAM is mapped from it)");
        return -1;
    }
    if (d->cpus_online > d->cpus) {
        snprintf(err, errlen, "cpus_online (%u) must be at most cpus (%u)", d->cpus_online,
                 d->cpus);
        return -1;
    }
    if (d->mem_limit && d->share_pages) {
        snprintf(err, errlen, "share_pages cannot be combined with mem_limit yet");
        return -1;
    }
    if (d->mem_limit && d->mem_limit >= d->mem) {
        snprintf(err, errlen, "mem_limit (%llu MiB) must be less than mem (%llu MiB)",
                 (unsigned long long)(d->mem_limit >> 20), (unsigned long long)(d->mem >> 20));
        return -1;
    }
    return 0;
}

/* restore or incoming: the machine is not the definition's. */
static int check_foreign_machine(const struct vm_def *d, char *err, size_t errlen)
{
    const char *what = d->restore ? "restore" : "incoming";
    if (d->restore && d->incoming) {
        snprintf(err, errlen, "restore and incoming exclude each other");
        return -1;
    }
    if (d->kernel || d->initrd || d->append || d->bios) {
        snprintf(err, errlen,
                 "%s starts the %s machine, with its own kernel, initrd, append and bios: leave "
                 "them out",
                 what, d->restore ? "snapshot's" : "source's");
        return -1;
    }
    if (d->restore && check_mem_limit(d, err, errlen) < 0) return -1;
    return d->incoming ? vmdef_check_addr("incoming", d->incoming, 1, 0, err, errlen) : 0;
}

int vmdef_check(const struct vm_def *d, char *err, size_t errlen)
{
    if (d->restore || d->incoming) return check_foreign_machine(d, err, errlen);
    if (!d->bios && !d->kernel) {
        snprintf(err, errlen,
                 "nothing to run: give bios PROG and/or kernel IMAGE, restore SNAPSHOT or "
                 "incoming ADDR");
        return -1;
    }
    if (!d->kernel && (d->initrd || d->append)) {
        snprintf(err, errlen, "initrd and append need kernel");
        return -1;
    }
    return check_mem_limit(d, err, errlen);
}

static int bad_addr(const char *what, const char *addr, const char *want, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s '%.80s%s': want %s", what, addr, strlen(addr) > 80 ? "..." : "",
             want);
    return -1;
}

/* PORT: 1..65535. */
static int check_port(const char *p)
{
    unsigned long long n;
    return strspn(p, "0123456789") == strlen(p) && parse_uint(p, &n) == 0 && n >= 1 && n <= 65535
               ? 0
               : -1;
}

int vmdef_check_addr(const char *what, const char *addr, int listen, int absolute, char *err,
                     size_t errlen)
{
    size_t n = strlen(addr);
    int printable = n <= VMDEF_ADDR_MAX;
    for (size_t i = 0; i < n && printable; i++)
        printable = (unsigned char)addr[i] > 0x20 && addr[i] != 0x7f;
    if (!printable)
        return bad_addr(what, addr, "at most 240 bytes, no spaces or control characters", err,
                        errlen);
    if (!strncmp(addr, "unix:", 5)) {
        if (!addr[5] || n - 5 >= 108)
            return bad_addr(what, addr, "unix:PATH, PATH of 1..107 bytes", err, errlen);
        if (absolute && addr[5] != '/')
            return bad_addr(what, addr, "unix:/ABSOLUTE/PATH (the worker runs in /)", err, errlen);
        return 0;
    }
    const char *colon = strrchr(addr, ':');
    if (strncmp(addr, "tcp:", 4) || colon < addr + 4 || (!listen && colon == addr + 4) ||
        check_port(colon + 1) < 0)
        return bad_addr(what, addr,
                        listen ? "unix:PATH or tcp:[HOST]:PORT" : "unix:PATH or tcp:HOST:PORT", err,
                        errlen);
    return 0;
}

/* path must be absolute and readable (a directory when dir is set). */
static int check_file(const char *what, const char *path, char *err, size_t errlen)
{
    if (path[0] != '/') {
        snprintf(err, errlen, "%s '%s': want an absolute path", what, path);
        return -1;
    }
    if (access(path, R_OK) < 0) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The files the disks and the directories the shares name. */
static int check_device_files(const struct vm_def *d, char *err, size_t errlen)
{
    struct dev_cfg *c = malloc(sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int r = 0;
    for (unsigned i = 0; r == 0 && i < d->disks.n; i++) {
        r = devcfg_parse_disk(d->disks.v[i], &c->disk, err, errlen);
        if (r == 0) r = check_file("disk", c->disk.file, err, errlen);
    }
    for (unsigned i = 0; r == 0 && i < d->shares.n; i++) {
        r = devcfg_parse_share(d->shares.v[i], &c->share, err, errlen);
        if (r == 0) r = check_file("share", c->share.dir, err, errlen);
    }
    free(c);
    return r;
}

int vmdef_check_files(const struct vm_def *d, char *err, size_t errlen)
{
    if (d->kernel && check_file("kernel", d->kernel, err, errlen) < 0) return -1;
    if (d->initrd && check_file("initrd", d->initrd, err, errlen) < 0) return -1;
    if (d->bios && check_file("bios", d->bios, err, errlen) < 0) return -1;
    if (d->restore && check_file("restore", d->restore, err, errlen) < 0) return -1;
    if (d->incoming && vmdef_check_addr("incoming", d->incoming, 1, 1, err, errlen) < 0) return -1;
    if (check_device_files(d, err, errlen) < 0) return -1;
    if (d->console && strcmp(d->console, "log") && strcmp(d->console, "none") &&
        d->console[0] != '/') {
        snprintf(err, errlen, "console '%s': want log, none or an absolute path", d->console);
        return -1;
    }
    return 0;
}

/* One stored option ("--mem=256M") if it is one of the machine settings
 * vmdef_snapshot_machine takes: set in m. */
static int machine_setting(struct vm_def *m, const char *arg, char *err, size_t errlen)
{
    static const char *const keys[] = {"mem", "cpus", "engine", "on_panic"};
    const char *eq = strchr(arg, '=');
    for (unsigned i = 0; eq && i < sizeof(keys) / sizeof(keys[0]); i++) {
        const struct vmdef_field *f = vmdef_field_by_key(keys[i]);
        size_t n = strlen(f->opt);
        if ((size_t)(eq - arg) == n && !strncmp(arg, f->opt, n))
            return vmdef_set(m, f, f->opt, eq + 1, err, errlen);
    }
    return 0;
}

int vmdef_snapshot_machine(const char *path, struct vm_def *m, char *err, size_t errlen)
{
    if (check_file("restore", path, err, errlen) < 0) return -1;
    struct snap_file f = {.fd = -1};
    char **args = NULL, msg[400];
    unsigned n = 0;
    int r = snap_open(&f, path, msg, sizeof(msg));
    if (r < 0) snprintf(err, errlen, "restore: %s", msg);
    if (r == 0 && (r = vmsnap_args(&f, &args, &n, msg, sizeof(msg))) < 0)
        snprintf(err, errlen, "restore %s: %s", path, msg);
    snap_close(&f);
    for (unsigned i = 0; r == 0 && i < n; i++)
        if (machine_setting(m, args[i], msg, sizeof(msg)) < 0) {
            snprintf(err, errlen, "restore %s: the snapshot's machine: %s", path, msg);
            r = -1;
        }
    vmsnap_free_args(args, n);
    return r;
}

static const char *json_type_want(int type)
{
    switch (type) {
    case VMDEF_SIZE: return "a size string (\"512M\") or an integer (MiB)";
    case VMDEF_UINT: return "an integer";
    case VMDEF_SECONDS: return "a number of seconds";
    case VMDEF_FLAG: return "true or false";
    case VMDEF_LIST: return "an array of strings";
    }
    return "a string";
}

/* The text of a JSON scalar as vmdef_set reads it, or NULL if the type is
 * wrong for the field. */
static const char *json_text(const struct vmdef_field *f, json_object *v, char *buf, size_t size)
{
    enum json_type t = json_object_get_type(v);
    if (t == json_type_string) {
        if ((size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v)))
            return NULL; /* an embedded NUL */
        if (f->type != VMDEF_UINT && f->type != VMDEF_SECONDS) return json_object_get_string(v);
        return NULL;
    }
    if (t == json_type_int && (f->type == VMDEF_SIZE || f->type == VMDEF_UINT)) {
        snprintf(buf, size, "%lld", (long long)json_object_get_int64(v));
        return buf;
    }
    if ((t == json_type_int || t == json_type_double) && f->type == VMDEF_SECONDS) {
        snprintf(buf, size, "%.17g", json_object_get_double(v));
        return buf;
    }
    return NULL;
}

static int wrong_type(const struct vmdef_field *f, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: want %s", f->key, json_type_want(f->type));
    return -1;
}

static int field_from_json(struct vm_def *d, const struct vmdef_field *f, json_object *v, char *err,
                           size_t errlen)
{
    if (f->type == VMDEF_FLAG) {
        if (!json_object_is_type(v, json_type_boolean)) return wrong_type(f, err, errlen);
        *flag_slot(d, f->key) = json_object_get_boolean(v);
        return 0;
    }
    if (f->type == VMDEF_LIST) {
        if (!json_object_is_type(v, json_type_array)) return wrong_type(f, err, errlen);
        list_free(list_slot(d, f->key));
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            char buf[64];
            const char *s = e ? json_text(f, e, buf, sizeof(buf)) : NULL;
            if (!s || !json_object_is_type(e, json_type_string)) return wrong_type(f, err, errlen);
            if (vmdef_set(d, f, f->key, s, err, errlen) < 0) return -1;
        }
        return 0;
    }
    char buf[64];
    const char *s = v ? json_text(f, v, buf, sizeof(buf)) : NULL;
    if (!s) return wrong_type(f, err, errlen);
    return vmdef_set(d, f, f->key, s, err, errlen);
}

static int unknown_key(const char *key, char *err, size_t errlen)
{
    const char *cands[32];
    unsigned n = 0;
    for (unsigned i = 0; i < vmdef_nfields && n < 31; i++)
        cands[n++] = vmdef_fields[i].key;
    cands[n++] = "name";
    const char *s = cli_suggest(key, cands, n);
    if (s)
        snprintf(err, errlen, "unknown field '%.64s'; did you mean '%s'?", key, s);
    else
        snprintf(err, errlen, "unknown field '%.64s'", key);
    return -1;
}

int vmdef_from_json(struct vm_def *d, json_object *o, char *err, size_t errlen)
{
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "a VM definition is a JSON object");
        return -1;
    }
    json_object_object_foreach(o, key, val)
    {
        if (!strcmp(key, "name")) {
            if (!json_object_is_type(val, json_type_string)) {
                snprintf(err, errlen, "name: want a string");
                return -1;
            }
            if (vmdef_check_name(json_object_get_string(val), err, errlen) < 0) return -1;
            snprintf(d->name, sizeof(d->name), "%s", json_object_get_string(val));
            continue;
        }
        const struct vmdef_field *f = vmdef_field_by_key(key);
        if (!f) return unknown_key(key, err, errlen);
        if (field_from_json(d, f, val, err, errlen) < 0) return -1;
    }
    return 0;
}

/* "256M" when a whole number of MiB, else "N" KiB ("16388K"). */
static void format_mem(uint64_t mem, char *buf, size_t size)
{
    if (mem & ((1u << 20) - 1))
        snprintf(buf, size, "%lluK", (unsigned long long)(mem >> 10));
    else
        snprintf(buf, size, "%lluM", (unsigned long long)(mem >> 20));
}

static json_object *list_json(const struct vmdef_list *l)
{
    json_object *a = json_object_new_array();
    for (unsigned i = 0; i < l->n; i++)
        json_object_array_add(a, json_object_new_string(l->v[i]));
    return a;
}

static void add_str(json_object *o, const char *key, const char *v)
{
    if (v) json_object_object_add(o, key, json_object_new_string(v));
}

json_object *vmdef_to_json(const struct vm_def *d)
{
    json_object *o = json_object_new_object();
    char mem[32];
    format_mem(d->mem, mem, sizeof(mem));
    if (d->name[0]) add_str(o, "name", d->name);
    add_str(o, "kernel", d->kernel);
    add_str(o, "initrd", d->initrd);
    add_str(o, "append", d->append);
    add_str(o, "bios", d->bios);
    add_str(o, "restore", d->restore);
    add_str(o, "incoming", d->incoming);
    if (d->incoming)
        json_object_object_add(o, "incoming_timeout", json_object_new_double(d->incoming_timeout));
    add_str(o, "mem", mem);
    if (d->mem_limit) {
        format_mem(d->mem_limit, mem, sizeof(mem));
        add_str(o, "mem_limit", mem);
    }
    json_object_object_add(o, "cpus", json_object_new_int((int)d->cpus));
    if (d->cpus_online)
        json_object_object_add(o, "cpus_online", json_object_new_int((int)d->cpus_online));
    add_str(o, "engine", engine_names[d->engine]);
    add_str(o, "on_panic", panic_names[d->on_panic]);
    json_object_object_add(o, "shutdown_timeout", json_object_new_double(d->shutdown_timeout));
    add_str(o, "console", d->console ? d->console : "log");
    json_object_object_add(o, "disks", list_json(&d->disks));
    json_object_object_add(o, "nets", list_json(&d->nets));
    json_object_object_add(o, "shares", list_json(&d->shares));
    json_object_object_add(o, "vconsoles", list_json(&d->vconsoles));
    json_object_object_add(o, "rng", json_object_new_boolean(d->rng));
    json_object_object_add(o, "balloon", json_object_new_boolean(d->balloon));
    json_object_object_add(o, "autostart", json_object_new_boolean(d->autostart));
    json_object_object_add(o, "share_pages", json_object_new_boolean(d->share_pages));
    json_object_object_add(o, "weight", json_object_new_int((int)d->weight));
    json_object_object_add(o, "cap", json_object_new_int((int)d->cap));
    add_str(o, "pin", d->pin ? d->pin : "");
    return o;
}

static int push(char **argv, int *argc, int max, const char *a, const char *b)
{
    if (*argc + 2 > max) return -1;
    argv[(*argc)++] = (char *)a;
    if (b) argv[(*argc)++] = (char *)b;
    return 0;
}

int vmdef_to_argv(const struct vm_def *d, char **argv, int *argc, int max, char *buf,
                  size_t bufsize)
{
    int r = snprintf(buf, bufsize, "%lluB", (unsigned long long)d->mem);
    char *secs = buf + r + 1, *cpus = NULL;
    if (r < 0 || (size_t)r + 104 > bufsize) return -1;
    snprintf(secs, 24, "%.17g", d->shutdown_timeout);
    cpus = secs + 24;
    snprintf(cpus, 16, "%u", d->cpus);
    r = push(argv, argc, max, "--shutdown-timeout", secs);
    if (d->incoming) /* the source's machine: its memory, vCPUs, engine */
        r |= push(argv, argc, max, "--incoming", d->incoming);
    else
        r |= push(argv, argc, max, "--mem", buf) | push(argv, argc, max, "--cpus", cpus) |
             push(argv, argc, max, "--engine", engine_names[d->engine]) |
             push(argv, argc, max, "--on-panic", panic_names[d->on_panic]);
    if (d->name[0]) r |= push(argv, argc, max, "--name", d->name);
    if (d->bios) r |= push(argv, argc, max, "--bios", d->bios);
    if (d->kernel) r |= push(argv, argc, max, "--kernel", d->kernel);
    if (d->initrd) r |= push(argv, argc, max, "--initrd", d->initrd);
    if (d->append) r |= push(argv, argc, max, "--append", d->append);
    if (d->restore) r |= push(argv, argc, max, "--restore", d->restore);
    if (d->rng) r |= push(argv, argc, max, "--rng", NULL);
    if (d->balloon) r |= push(argv, argc, max, "--balloon", NULL);
    if (d->pin) r |= push(argv, argc, max, "--pin", d->pin);
    if (d->cap) {
        char *cap = cpus + 16;
        snprintf(cap, 16, "%u", d->cap);
        r |= push(argv, argc, max, "--cap", cap);
    }
    if (d->cpus_online && !d->incoming) {
        char *online = cpus + 56;
        snprintf(online, 16, "%u", d->cpus_online);
        r |= push(argv, argc, max, "--cpus-online", online);
    }
    if (d->mem_limit) {
        char *limit = cpus + 32;
        snprintf(limit, 24, "%lluB", (unsigned long long)d->mem_limit);
        r |= push(argv, argc, max, "--mem-limit", limit);
    }
    const struct vmdef_list *lists[] = {&d->disks, &d->nets, &d->shares, &d->vconsoles};
    const char *opts[] = {"--disk", "--net", "--share", "--vconsole"};
    for (unsigned k = 0; k < 4; k++)
        for (unsigned i = 0; i < lists[k]->n; i++)
            r |= push(argv, argc, max, opts[k], lists[k]->v[i]);
    return r ? -1 : 0;
}
