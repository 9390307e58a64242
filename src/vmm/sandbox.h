/* The worker's seccomp sandbox (`vmon run --sandbox`, which vmon serve
 * passes to every worker): once the machine is built and its images, disks,
 * shares and sockets are open, only the system calls a running VM needs are
 * allowed (memory for guest RAM and the translator's dual-mapped code cache,
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
/* Returns 0, or -1 with the message in err. */
int sandbox_apply(char *err, size_t errlen);
#endif
