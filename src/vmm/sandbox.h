/* The worker's sandbox (`vmon run --sandbox`, which vmon serve passes to
 * every worker), applied once the machine is built and its images, disks,
 * shares and sockets are open.
 *
 * File system (Landlock, where the kernel has it): the process keeps the
 * descriptors it holds, but by path it may only read its kernel, initrd
 * and firmware (a reboot loads them again), work inside its 9p shares
 * (read-only ones only read), create and replace files in the directory
 * of --snapshot-on-exit, remove its own sockets and pidfile at exit, read
 * its own /proc entries, the system's libraries and the few /etc files
 * name resolution reads; anything else fails with EACCES. Snapshots
 * through the service go into a file the service opens and passes on the
 * control channel. Every thread is confined, including those the devices
 * started earlier. Without Landlock (an old kernel, or disabled) the file
 * system stays open, and vm->isolation says why.
 *
 * System calls (seccomp): only those a running VM needs are allowed
 * (memory for guest RAM and the translator's dual-mapped code cache,
 * never writable and executable at once; threads but no new processes;
 * file I/O on what it holds and inside its shares; IPv4/IPv6 sockets for
 * user networking and migration over TCP, a unix stream socket for
 * migration to a unix socket; clocks, futexes, polling, getrandom).
 * Anything else ends the process (SIGSYS), except a few calls libraries
 * probe, which fail with an error instead. Sanitizer builds only log what
 * would be refused: their runtimes make calls a release build never does. */
#ifndef VMON_SANDBOX_H
#define VMON_SANDBOX_H
#include <stddef.h>

struct vm;

/* What the sandboxed VM may still do by path under a directory or file. */
enum sandbox_access {
    SANDBOX_READ,       /* read the file, or the files under the directory */
    SANDBOX_TREE,       /* read, write, create, remove and rename under the directory */
    SANDBOX_FILES_IN,   /* create, write and replace files in the directory */
    SANDBOX_SOCKETS_IN, /* make sockets in the directory and remove its entries */
};

struct sandbox_path {
    const char *path;
    int access; /* enum sandbox_access */
};

/* Confine the file system to paths (n of them) plus the directories the
 * VM's devices use (vm->dirs) and what every VM reads, then install the
 * seccomp filter; vm->isolation says what is in force. 0, or -1 with the
 * message in err (the VM must not run then). */
int sandbox_apply(struct vm *vm, const struct sandbox_path *paths, unsigned n, char *err,
                  size_t errlen);

/* landlock.c: the file-system part alone. 0 with vm->isolation filled in
 * (landlock_abi 0 and the reason in detail when the kernel has no
 * Landlock), or -1 with err. */
int sandbox_landlock(struct vm *vm, const struct sandbox_path *paths, unsigned n, char *err,
                     size_t errlen);
#endif
