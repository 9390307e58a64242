#ifndef VMON_LOG_H
#define VMON_LOG_H
/* Log levels of vm_log (-q: errors only; default: warnings too; -v: info;
 * -vv: debug). */
enum { VM_LOG_ERROR, VM_LOG_WARN, VM_LOG_INFO, VM_LOG_DEBUG };
#endif
