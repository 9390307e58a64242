/* A VM definition: the settings `vmon run` takes, as one typed struct that
 * the command line (vmon run, vmon create) and the management API's JSON
 * both fill. Every setting is validated here, in one place, with the
 * messages `vmon run` gives ("invalid --mem '12Q' (want ...)"); the API
 * names the JSON field instead of the option. */
#ifndef VMON_VMDEF_H
#define VMON_VMDEF_H
#include <sched.h>
#include <stddef.h>
#include <stdint.h>

#define VMDEF_NAME_MAX 63
#define VMDEF_LIST_MAX 16   /* entries in disks, nets, shares, vconsoles */
#define VMDEF_STR_MAX  4096 /* bytes in one string setting */
#define VMDEF_MEM_MAX  (16ull << 30)
#define VMDEF_ADDR_MAX 240 /* a migration address: "migrate ADDR" fits a control line */

struct json_object;

struct vmdef_list {
    char *v[VMDEF_LIST_MAX];
    unsigned n;
};

struct vm_def {
    char name[VMDEF_NAME_MAX + 1];
    char *kernel, *initrd, *append, *bios, *console;
    char *restore; /* a snapshot to start from (vmon run --restore) instead of booting */
    /* Wait there for a live migration (vmon run --incoming ADDR) instead
     * of booting: "unix:PATH" or "tcp:[HOST]:PORT"; the machine is the
     * source's. The service gives the source incoming_timeout seconds to
     * come. */
    char *incoming;
    double incoming_timeout;
    uint64_t mem;
    uint64_t mem_limit; /* guest RAM kept in host memory (vmon run --mem-limit), 0 = all */
    unsigned cpus;
    int engine;   /* VM_ENGINE_* */
    int on_panic; /* VM_PANIC_* */
    double shutdown_timeout;
    int rng, balloon, autostart, share_pages;
    unsigned cpus_online; /* --cpus-online, 0: all */
    struct vmdef_list disks, nets, shares, vconsoles;
    /* The CPU scheduler's controls, changeable while the VM runs. */
    unsigned weight; /* share under contention, relative to other VMs' */
    unsigned cap;    /* percent of one host CPU across its vCPUs, 0 = none */
    char *pin;       /* host CPU list ("0-1,3"), NULL = any */
};

/* The settings a definition has: JSON key, `vmon run` option, argument. */
enum vmdef_type {
    VMDEF_STR,
    VMDEF_PATH,
    VMDEF_SIZE,
    VMDEF_UINT,
    VMDEF_CHOICE,
    VMDEF_SECONDS,
    VMDEF_FLAG,
    VMDEF_LIST,
    VMDEF_CPUS
};
struct vmdef_field {
    const char *key; /* "mem" */
    const char *opt; /* "--mem", NULL for a setting only the service has */
    const char *arg; /* "SIZE", NULL for a flag */
    const char *help;
    int type; /* enum vmdef_type */
};
extern const struct vmdef_field vmdef_fields[];
extern const unsigned vmdef_nfields;
const struct vmdef_field *vmdef_field_by_key(const char *key);
const struct vmdef_field *vmdef_field_by_opt(const char *opt);

/* Defaults: 256M, 1 vCPU, jit, exit on panic, 10 s shutdown grace,
 * weight 100, no cap, not pinned. */
void vmdef_init(struct vm_def *d);
void vmdef_free(struct vm_def *d);

/* Set one setting from its command-line text (a flag takes NULL). name is
 * how messages call it ("--mem" or "mem"). Lists append, once the entry
 * passes its device's parser (vmm/devcfg.h, the one `vmon run` uses):
 * "--disk SPEC: MESSAGE" ("disks SPEC: ..." from JSON). Returns 0, or -1
 * with the message in err. */
int vmdef_set(struct vm_def *d, const struct vmdef_field *f, const char *name, const char *value,
              char *err, size_t errlen);

/* The single-valued settings `vmon run` parses itself use these. */
int vmdef_parse_mem(const char *name, const char *v, uint64_t *out, char *err, size_t errlen);
/* A size as mem's, or 0 (or "none") for no limit. */
int vmdef_parse_mem_limit(const char *name, const char *v, uint64_t *out, char *err, size_t errlen);
int vmdef_parse_cpus(const char *name, const char *v, unsigned *out, char *err, size_t errlen);
int vmdef_parse_engine(const char *name, const char *v, int *out, char *err, size_t errlen);
int vmdef_parse_on_panic(const char *name, const char *v, int *out, char *err, size_t errlen);
/* weight 1..10000, cap 0..6400 (% of one host CPU), a host CPU list. */
int vmdef_parse_weight(const char *name, const char *v, unsigned *out, char *err, size_t errlen);
int vmdef_parse_cap(const char *name, const char *v, unsigned *out, char *err, size_t errlen);
int vmdef_parse_pin(const char *name, const char *v, cpu_set_t *out, char *err, size_t errlen);
int vmdef_parse_seconds(const char *name, const char *v, double lo, double hi, double *out,
                        char *err, size_t errlen);

/* A VM name: 1..63 of [A-Za-z0-9._-], not starting with '.' or '-'. */
int vmdef_check_name(const char *name, char *err, size_t errlen);

/* The whole definition, as `vmon run` checks it at the end of its options:
 * something to run, --initrd and --append only with --kernel; with restore
 * or incoming (only one of them), none of kernel, initrd, append and bios
 * (the snapshot's or the source's machine has its own); no mem_limit with
 * restore; a mem_limit less than mem. */
int vmdef_check(const struct vm_def *d, char *err, size_t errlen);

/* The machine settings a snapshot holds (its `vmon run` options) that a
 * definition has too: mem, cpus, engine and on_panic, set in m (which the
 * caller initialized). path must be absolute; 0, or -1 with err when it is
 * not, cannot be read, or is no sound snapshot. */
int vmdef_snapshot_machine(const char *path, struct vm_def *m, char *err, size_t errlen);

/* A migration address: "unix:PATH" (PATH absolute if absolute is set)
 * or "tcp:HOST:PORT" (HOST may be empty when listen is set), printable,
 * without spaces, at most VMDEF_ADDR_MAX bytes. what names it in err. */
int vmdef_check_addr(const char *what, const char *addr, int listen, int absolute, char *err,
                     size_t errlen);

/* What the service also wants: absolute paths (it runs elsewhere) that
 * exist, for the kernel, initrd, firmware, snapshot and the files of disks
 * and directories of shares; an incoming unix socket's absolute path. */
int vmdef_check_files(const struct vm_def *d, char *err, size_t errlen);

/* JSON: an object whose keys are the fields' keys (plus "name"). Unknown
 * keys and wrong types are refused with a message naming the field. */
int vmdef_from_json(struct vm_def *d, struct json_object *o, char *err, size_t errlen);
struct json_object *vmdef_to_json(const struct vm_def *d);

/* The `vmon run` arguments for this definition (without "vmon run"),
 * appended to argv from index *argc; strings point into d or into buf.
 * Returns -1 if max entries do not suffice. */
int vmdef_to_argv(const struct vm_def *d, char **argv, int *argc, int max, char *buf,
                  size_t bufsize);
#endif
