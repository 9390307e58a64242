/* vmon command line: dispatch to the commands. */
#include "host/host.h"
#include "host/ctl.h"
#include "vmm/boot.h"
#include "vmm/cli.h"
#include "vmm/img.h"
#include <stdio.h>
#include <string.h>

#ifndef VMON_VERSION
#define VMON_VERSION "unknown"
#endif

struct command {
    const char *name;
    const char *summary;
    int (*main)(int argc, char **argv);
    void (*usage)(FILE *out);
};

static const struct command commands[] = {
    {"run", "boot a virtual machine in the foreground", boot_main, boot_usage},
    {"img", "create and inspect disk images (raw, qcow2)", img_main, img_usage},
    {"serve", "host VMs behind the management API (unix socket)", serve_main, serve_usage},
    {"create", "define a VM on the service: vmon create NAME [run options]", ctl_create,
     ctl_create_usage},
    {"start", "start a VM", ctl_action, ctl_action_usage},
    {"pause", "pause a VM's vCPUs", ctl_action, ctl_action_usage},
    {"resume", "resume a paused VM", ctl_action, ctl_action_usage},
    {"shutdown", "press a VM's power button; stop it after its shutdown timeout", ctl_action,
     ctl_action_usage},
    {"stop", "stop a VM at once", ctl_action, ctl_action_usage},
    {"reboot", "reset a VM", ctl_action, ctl_action_usage},
    {"rm", "delete a stopped VM's definition", ctl_action, ctl_action_usage},
    {"list", "list the service's VMs", ctl_list, ctl_list_usage},
    {"set", "change a VM's CPU weight, cap and pinning, live", ctl_set, ctl_set_usage},
    {"resize", "set a running VM's balloon target or grow one of its disks", ctl_resize,
     ctl_resize_usage},
    {"snapshot", "save a running VM whole to a file: vmon snapshot NAME FILE", ctl_snapshot,
     ctl_snapshot_usage},
    {"restore", "a new VM running from a snapshot: vmon restore FILE [NAME]", ctl_restore,
     ctl_restore_usage},
    {"migrate", "move a running VM live to another vmon: vmon migrate NAME --to ADDR", ctl_migrate,
     ctl_migrate_usage},
    {"receive", "a new VM waiting for a migration: vmon receive --listen ADDR [NAME]", ctl_receive,
     ctl_receive_usage},
    {"top", "the VMs' CPU %, guest MIPS and memory, refreshing (q quits)", ctl_top, ctl_top_usage},
    {"show", "a VM's state, figures and definition as JSON", ctl_action, ctl_action_usage},
    {"logs", "a VM's serial console log", ctl_action, ctl_action_usage},
    {"console", "attach to a VM's serial console (Ctrl-A d detaches)", ctl_console,
     ctl_console_usage},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out, "usage: vmon COMMAND [options]   (vmon help COMMAND, vmon COMMAND --help)\n"
                 "vmon runs RISC-V 64-bit virtual machines on this host in software.\n\n");
    for (unsigned i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-8s %s\n", "help", "show this text, or a command's options");
    fprintf(out, "\n  --version  print vmon's version\n");
}

static const struct command *find_command(const char *name)
{
    for (unsigned i = 0; i < N_COMMANDS; i++)
        if (!strcmp(name, commands[i].name)) return &commands[i];
    return NULL;
}

static int unknown_command(const char *name)
{
    const char *names[N_COMMANDS + 1];
    for (unsigned i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i].name;
    names[N_COMMANDS] = "help";
    const char *s = cli_suggest(name, names, N_COMMANDS + 1);
    if (s)
        fprintf(stderr, "vmon: unknown command '%s'; did you mean '%s'?\n", name, s);
    else
        fprintf(stderr, "vmon: unknown command '%s' (see vmon help)\n", name);
    return CLI_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("vmon %s\n", VMON_VERSION);
        return CLI_OK;
    }
    if (!strcmp(cmd, "help")) {
        if (argc < 3) {
            usage(stdout);
            return CLI_OK;
        }
        const struct command *c = find_command(argv[2]);
        if (!c) return unknown_command(argv[2]);
        c->usage(stdout);
        return CLI_OK;
    }
    const struct command *c = find_command(cmd);
    if (!c) return unknown_command(cmd);
    return c->main(argc - 1, argv + 1);
}
