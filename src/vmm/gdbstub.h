#ifndef VMON_GDBSTUB_H
#define VMON_GDBSTUB_H
#include <stddef.h>
struct vm;
struct gdbstub;
/* Listen for gdb on spec ("tcp:[HOST]:PORT", default host 127.0.0.1, or
 * "unix:PATH") from a thread of its own; NULL with err set on failure. */
struct gdbstub *gdb_start(struct vm *vm, const char *spec, char *err, size_t errlen);
void gdb_stop(struct gdbstub *g);
/* Called by a vCPU loop whose hart stopped for the debugger (it then parks
 * with the rest of the VM). */
void gdb_vcpu_stopped(struct gdbstub *g, unsigned hart);
#endif
