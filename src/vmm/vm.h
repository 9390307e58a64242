/* The VM object: everything one virtual machine owns hangs off struct vm,
 * so one process can run several machines and tests can build one in a few
 * lines. */
#ifndef VMON_VM_H
#define VMON_VM_H
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include "mem/bus.h"
#include "cpu/hart.h"
#include "vmm/log.h"

#define VM_MAX_CPUS    64
#define VM_MAX_DISKS   16
#define VM_RAM_BASE    0x80000000ull
#define VM_TIMEBASE_HZ 10000000ull

enum vm_exit_reason {
    VM_EXIT_NONE = 0,
    VM_EXIT_FINISHER,  /* test finisher pass/fail: exit_code */
    VM_EXIT_POWEROFF,  /* guest asked for poweroff */
    VM_EXIT_RESET,     /* guest asked for a reboot */
    VM_EXIT_MAX_INSNS, /* --max-insns reached */
    VM_EXIT_TIMEOUT,   /* --timeout reached */
    VM_EXIT_ERROR,     /* unrecoverable guest state (e.g. trap with no handler) */
    VM_EXIT_USER,      /* the user quit from the console */
    VM_EXIT_SIGNAL,    /* vmon got SIGTERM/SIGINT/SIGHUP/SIGQUIT: exit_code 128 + signal */
    VM_EXIT_PANIC,     /* the guest reported a panic (pvpanic, SBI SRST system failure) */
    VM_EXIT_MIGRATED,  /* it runs on elsewhere now (live migration) */
};

struct uart16550;
struct mem_swap;
struct gdbstub;
struct virtio_dev;
struct clint;
struct plic;

/* SBI HSM hart states (SBI spec 9.1). */
enum { HSM_STARTED = 0, HSM_STOPPED = 1, HSM_SUSPENDED = 4 };

/* What a vCPU's loop is doing, for reporting (vm_vcpu_state). */
enum vcpu_state { VCPU_RUNNING, VCPU_IDLE, VCPU_OFF, VCPU_PAUSED, VCPU_EXITED };

/* One vCPU: a hart plus the loop that runs it on a host thread (vcpu.c). */
struct vcpu {
    struct hart *h;
    _Atomic int state;     /* enum vcpu_state */
    _Atomic int in_guest;  /* inside hart_run: remote fences wait for it */
    _Atomic int hsm_state; /* HSM_*: a stopped hart's loop parks */
    int idle;              /* WFI or retentive suspend: wait for an interrupt */
    pthread_cond_t cond;   /* wakes the loop (with vm->lock) */
    pthread_t thread;
    uint64_t exits[HART_EXIT_COUNT]; /* hart_run returns by reason */
    uint64_t waits;                  /* times the loop slept */
    unsigned pin_gen;                /* the vm->sched.pin_gen its thread applied */
    _Atomic uint64_t insns;          /* instret after its last run, for other threads */
    /* Steal time: how long it was runnable but did not run (waiting for a
     * host CPU, from its thread's schedstat run_delay, or for the VM's
     * cap), and the SBI STA shared memory it is reported in (0: none). */
    _Atomic uint64_t steal_ns;
    uint64_t steal_base, throttled_ns, steal_at;
    int schedstat_fd;
    uint64_t sta_addr;
    uint32_t sta_seq;
    /* Host CPU time of its threads (vcpu_get_figures): the running one's
     * own clock, plus what the earlier ones used (vm->lock). */
    clockid_t cpu_clock;
    int cpu_clock_live;
    uint64_t cpu_base_ns;
};

/* One vCPU's figures, as the control channel's "vcpus" reports them. */
struct vcpu_figures {
    int state;         /* enum vcpu_state */
    uint64_t cpu_ns;   /* host CPU time of its thread(s) */
    uint64_t insns;    /* guest instructions retired */
    uint64_t steal_ns; /* runnable but not running */
};

/* --engine: the interpreter alone, or with translated integer runs. */
enum { VM_ENGINE_JIT = 0, VM_ENGINE_INTERP = 1 };

/* What a guest panic does (--on-panic). */
enum vm_panic_action { VM_PANIC_EXIT, VM_PANIC_PAUSE, VM_PANIC_REBOOT };

/* The CPU scheduler's controls and accounting for one VM (vcpu.c). A cap
 * is a bucket of host CPU time, cap_pct% of one CPU per period, that every
 * vCPU charges what it used in guest code to; a vCPU finding it empty
 * sleeps until the next period. Pinning is applied by each vCPU itself
 * when pin_gen changes. */
#define VM_SCHED_PERIOD_NS 10000000ull
struct vm_sched {
    pthread_mutex_t lock;     /* budget_ns, period_ns, pin */
    _Atomic unsigned cap_pct; /* percent of one host CPU, 0 = no cap */
    int64_t budget_ns;        /* CPU time left in this period (may run negative) */
    uint64_t period_ns;       /* host time this period began */
    cpu_set_t pin;            /* empty: the CPUs the process started with */
    cpu_set_t all;
    _Atomic unsigned pin_gen;
    _Atomic uint64_t cpu_ns;       /* host CPU time every vCPU spent running the guest */
    _Atomic uint64_t throttled_ns; /* time vCPUs waited for the cap */
};

struct vm_config {
    uint64_t ram_size;
    int on_panic; /* enum vm_panic_action */
    unsigned ncpus;
    uint64_t max_insns; /* 0 = unlimited */
    double timeout;     /* seconds, 0 = none */
    int hyp_sbi;        /* serve SBI from vmon (no M-mode firmware) */
    int engine;         /* VM_ENGINE_*: how vCPUs run guest code */
    unsigned jit_hot;   /* runs of a block before it is translated (0: the default) */
};

/* --sandbox: what confines this VM's process (vmm/sandbox.c). */
struct vm_isolation {
    int seccomp;      /* the system-call allow-list is in force */
    int landlock_abi; /* the file system is confined by Landlock of this ABI; 0: not */
    char detail[200]; /* "Landlock ABI N", or why the file system is not confined */
    int proc_fd;      /* /proc/self held open while its Landlock rule is in force, or -1 */
};

/* Host directories the VM's devices use by path once it runs (a 9p
 * share; where a console socket is removed at exit), for the sandbox to
 * leave reachable. The devices own the descriptors (O_PATH is enough). */
enum vm_dir_use { VM_DIR_READ, VM_DIR_WRITE, VM_DIR_REMOVE };
#define VM_MAX_DIRS 16
struct vm_dir {
    int fd;
    int use; /* enum vm_dir_use */
};

struct vm {
    struct vm_config cfg;
    char name[64];  /* for messages; may be empty */
    int log_level;  /* VM_LOG_*: what vm_log prints */
    FILE *jit_dump; /* --jit-dump: translated blocks are listed here */
    FILE *jit_map;  /* VMON_JIT_MAP=FILE: where each translation lies in the cache */
    uint8_t *ram;
    uint64_t ram_base, ram_size;
    int ram_file;            /* RAM is mapped from a snapshot file (not anonymous memory) */
    struct mem_swap *swap;   /* --mem-limit: hypervisor swap (mem/swap.c), or NULL */
    struct mem_share *share; /* --share-pages: page sharing (mem/share.c), or NULL */
    /* Held by whoever pauses the VM to work on it (control commands,
     * page-sharing merges), so one does not resume it under another. */
    pthread_mutex_t admin;
    /* One bit per RAM page that some hart has decoded or translated code
     * from: no hart keeps a write TLB entry for such a page, so a store to
     * it is seen and drops every hart's translations (mmu.c). */
    _Atomic uint64_t *code_bits;
    _Atomic uint16_t *pins;                 /* mem/guest.c: per RAM page, vmon's pins of it */
    _Atomic(_Atomic uint64_t *) dirty_bits; /* mem/dirty.c: the dirty log, kept once made */
    _Atomic int dirty_on;                   /* logging */
    struct bus bus;
    unsigned ncpus;
    struct hart *harts[VM_MAX_CPUS];
    /* SBI HSM starts harts only while fewer than this many run (0: all):
     * the vCPUs online, within ncpus (--cpus-online, live). */
    _Atomic unsigned cpus_online;

    _Atomic uint64_t time_base_ns;   /* host monotonic time at mtime == 0 */
    _Atomic uint64_t pause_start_ns; /* paused since (host ns): guest time stands still */
    uint64_t run_start_ns;           /* host time of the first boot (for --timeout) */

    _Atomic int exit_reason;
    int exit_code;
    char exit_msg[256];

    struct uart16550 *uart;
    struct clint *clint;
    struct plic *plic;
    uint8_t *rom;          /* boot ROM (reset vector) contents */
    unsigned virtio_slots; /* virtio-mmio slots in use */
    int console_out_fd;    /* where the UART writes; -1 = discard */

    uint64_t insns_total;
    _Atomic uint64_t sbi_calls[16]; /* per SBI extension (enum sbi_ext_index) */
    /* Bytes through its disks and network cards ("stats", vmon top's rates). */
    struct {
        _Atomic uint64_t disk_read, disk_written, net_rx, net_tx;
    } io;

    struct vcpu vcpu[VM_MAX_CPUS];
    struct gdbstub *gdb;                    /* attached debugger stub, or NULL */
    struct virtio_dev *_Atomic power_key;   /* virtio-input power button, or NULL; set last */
    struct virtio_dev *balloon;             /* virtio-balloon (--balloon), or NULL */
    struct virtio_dev *disks[VM_MAX_DISKS]; /* virtio-blk devices in --disk order */
    unsigned ndisks;
    int (*power_key_press)(struct virtio_dev *d);
    pthread_mutex_t lock; /* guards the wait/wake handshakes and pausing */
    pthread_cond_t exit_cond;
    pthread_cond_t pause_cond; /* a vCPU parked or left */
    _Atomic int pause_req;     /* vCPUs park at their next instruction boundary */
    unsigned vcpus_live;       /* vCPU threads running their loop */
    unsigned vcpus_parked;     /* of those, parked for a pause */
    struct vm_sched sched;
    /* The `vmon run` options that build this machine (not host-side ones
     * such as --console or --control): a snapshot stores them. Owned by
     * whoever built the VM. */
    char **machine_args;
    unsigned n_machine_args;
    struct vm_isolation isolation;
    struct vm_dir dirs[VM_MAX_DIRS];
    unsigned ndirs;
};

struct vm *vm_create(const struct vm_config *cfg, char *err, size_t errlen);
void vm_destroy(struct vm *vm);
/* Reset every hart and device; harts start at pc. */
void vm_reset(struct vm *vm, uint64_t pc);
/* Run until the VM exits; returns the exit reason. */
int vm_run(struct vm *vm);
/* The one logging function for the VM and its devices: "vmon: [VM: ]DEV: msg"
 * on stderr when level is at or below the VM's log level. */
void vm_log(const struct vm *vm, int level, const char *dev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The guest reported a panic: exit, pause or reboot as cfg.on_panic says. */
void vm_guest_panicked(struct vm *vm, const char *why);
/* Press the guest's power button: 0 if a driver took the key press (the
 * guest may now shut down), -1 if the guest has no driver for it. */
int vm_power_button(struct vm *vm);
/* A device uses the directory fd by path after start (use: enum
 * vm_dir_use): 0, or -1 with err set when there are too many. */
int vm_use_dir(struct vm *vm, int fd, int use, char *err, size_t errlen);
/* Request an exit (first request wins); wakes every hart. */
void vm_request_exit(struct vm *vm, int reason, int code, const char *msg);
uint64_t vm_time(const struct vm *vm);
uint64_t host_time_ns(void);
/* Post events to a hart; IRQ and VMM also wake its loop if it sleeps. */
void vm_kick_hart(struct vm *vm, unsigned id, unsigned ev);
/* Post a remote fence (HART_EV_TLB/FENCEI) to t and return once t will not
 * run another instruction without it. self's own events are applied while
 * waiting, so harts fencing each other cannot deadlock; a hart that is not
 * in guest code is never waited for. */
/* Post event ev (HART_EV_TLB, HART_EV_FENCEI) to hart t and wait until it
 * is applied or t is outside guest code (it applies it before it runs
 * again). self: the calling hart, or NULL for another thread. */
void vm_remote_fence(struct hart *self, struct hart *t, unsigned ev);

/* vcpu.c: the vCPU loops. */
int vcpu_start(struct vm *vm, unsigned id);
void vcpu_join(struct vm *vm, unsigned id);
/* One line: hart_run exits by reason and sleeps. */
void vcpu_print_stats(const struct vcpu *v, FILE *out);
/* Stop every vCPU at an instruction boundary and keep it there; returns 0
 * once all are parked (their state exact and stable), -1 if the VM exited. */
int vm_pause(struct vm *vm);
/* Ask every vCPU to park without waiting for it (callable from a vCPU). */
void vm_pause_request(struct vm *vm);
/* Run one instruction of a paused vCPU on the calling thread (a debugger's
 * single step), serving what it needs (a hypercall, WFI). */
void vcpu_step(struct vm *vm, struct vcpu *v);
void vm_resume(struct vm *vm);
int vm_paused(struct vm *vm);
/* The scheduler's controls, live: cap in percent of one host CPU (0 =
 * none); pin the vCPUs to set (NULL: unpinned). */
void vm_set_cap(struct vm *vm, unsigned cap_pct);
void vm_set_pin(struct vm *vm, const cpu_set_t *set);
/* Guest instructions retired so far by every vCPU (approximate while running). */
uint64_t vm_insns(const struct vm *vm);
/* Harts not stopped (SBI HSM: started, suspended...). sbi.c */
unsigned vm_harts_running(struct vm *vm);
/* --cpus-online: at most n harts run (1..ncpus; 0: all); 0, or -1. */
int vm_set_cpus_online(struct vm *vm, unsigned n);
/* vCPU id's figures now, from any thread. */
void vcpu_get_figures(struct vm *vm, unsigned id, struct vcpu_figures *f);
/* "running", "idle" (WFI), "stopped" (SBI HSM), "paused", "exited". */
const char *vcpu_state_name(int state);
#endif
