/* The VM object: everything one virtual machine owns hangs off struct vm,
 * so one process can run several machines and tests can build one in a few
 * lines. */
#ifndef VMON_VM_H
#define VMON_VM_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "mem/bus.h"
#include "cpu/hart.h"

#define VM_MAX_CPUS    8
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
};

struct uart16550;
struct clint;
struct plic;

struct vm_config {
    uint64_t ram_size;
    unsigned ncpus;
    uint64_t max_insns; /* 0 = unlimited */
    double timeout;     /* seconds, 0 = none */
    int hyp_sbi;        /* serve SBI from vmon (no M-mode firmware) */
};

struct vm {
    struct vm_config cfg;
    uint8_t *ram;
    uint64_t ram_base, ram_size;
    struct bus bus;
    unsigned ncpus;
    struct hart *harts[VM_MAX_CPUS];

    uint64_t time_base_ns; /* host monotonic time at mtime == 0 */
    uint64_t run_start_ns; /* host time of the first boot (for --timeout) */

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

    pthread_mutex_t lock; /* guards the wait/wake handshake below */
    pthread_cond_t exit_cond;
    pthread_cond_t hart_cond[VM_MAX_CPUS];
    pthread_t threads[VM_MAX_CPUS];
};

struct vm *vm_create(const struct vm_config *cfg, char *err, size_t errlen);
void vm_destroy(struct vm *vm);
/* Reset every hart and device; harts start at pc. */
void vm_reset(struct vm *vm, uint64_t pc);
/* Run until the VM exits; returns the exit reason. */
int vm_run(struct vm *vm);
/* Request an exit (first request wins); wakes every hart. */
void vm_request_exit(struct vm *vm, int reason, int code, const char *msg);
uint64_t vm_time(const struct vm *vm);
uint64_t host_time_ns(void);
/* Wake a hart from WFI / tell it to look at its events. */
void vm_kick_hart(struct vm *vm, unsigned id, unsigned ev);
/* Called by a hart's own thread: sleep until kicked or until guest time
 * reaches deadline (0 = no deadline). */
void vm_hart_wait(struct vm *vm, struct hart *h, uint64_t deadline);
#endif
