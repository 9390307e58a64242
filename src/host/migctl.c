/* vmon migrate NAME --to ADDR: a running (or paused) VM moves live to a VM
 * waiting for it elsewhere (PUT /v1/vms/NAME/migrate). vmon receive
 * --listen ADDR [NAME] [options]: a new VM that waits there for a migration
 * (a definition with incoming, PUT /v1/vms/NAME), started at once; if it
 * cannot start (the address is taken, say), the definition is removed
 * again. Unix socket paths are made absolute (the workers run in /). */
#include "host/ctl.h"
#include "host/host.h"
#include "vmm/cli.h"
#include "vmm/vmdef.h"
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MIG_SOCKET = 1000, MIG_TO, MIG_LISTEN, MIG_TIMEOUT, MIG_COPY };

static const struct cli_opt migrate_opts[] = {
    {"--to", "unix:PATH|tcp:HOST:PORT", "where the VM goes: a vmon receive --listen there", MIG_TO},
    {"--copy-disks", NULL,
     "copy its disks too, to the disks the target VM was given (for a target\n"
     "without the same files)",
     MIG_COPY},
    {"--socket", "PATH", "the service's socket (default $VMON_SOCKET, else vmon serve's default)",
     MIG_SOCKET},
};

/* --- vmon migrate NAME --to ADDR ----------------------------------------- */

void ctl_migrate_usage(FILE *out)
{
    fprintf(out, "usage: vmon migrate NAME --to unix:PATH|tcp:HOST:PORT [--copy-disks] "
                 "[--socket PATH]\n"
                 "Move a running or paused VM live to another vmon: a VM waiting for it there\n"
                 "(vmon receive --listen ADDR on that service, or vmon run --incoming ADDR).\n"
                 "RAM is copied while the guest runs, then the guest is paused for the last\n"
                 "pages and its devices' state, and runs on over there; its disks are the same\n"
                 "files on both sides, or (--copy-disks) copied along. Once it runs there, the\n"
                 "VM here is migrated (its worker ended); if the migration fails, it runs on\n"
                 "here.\n\n");
    cli_print_opts(migrate_opts, 3, out);
}

/* NAME --to --copy-disks --socket; CLI_OK, CLI_USAGE, or -1 after --help. */
static int parse_migrate(int argc, char **argv, const char **name, const char **to,
                         const char **sock, int *copy)
{
    struct cli c;
    cli_init(&c, "vmon migrate", migrate_opts, 3, argc, argv);
    for (;;) {
        switch (cli_next(&c)) {
        case CLI_END:
            if (*name && *to) return CLI_OK;
            fprintf(stderr, "vmon migrate: %s (vmon migrate NAME --to ADDR)\n",
                    *name ? "where to? give --to" : "which VM?");
            return CLI_USAGE;
        case CLI_HELP: ctl_migrate_usage(stdout); return -1;
        case CLI_BAD: return CLI_USAGE;
        }
        if (c.positional && *name) {
            fprintf(stderr, "vmon migrate: unexpected argument '%s'\n", c.positional);
            return CLI_USAGE;
        }
        if (c.positional)
            *name = c.positional;
        else if (c.opt->id == MIG_TO)
            *to = c.value;
        else if (c.opt->id == MIG_COPY)
            *copy = 1;
        else
            *sock = c.value;
    }
}

static void print_migrated(const char *name, const struct http_reply *rep)
{
    json_object *o = json_tokener_parse(rep->body), *to = NULL, *state = NULL;
    json_object_object_get_ex(o, "to", &to);
    json_object_object_get_ex(o, "state", &state);
    printf("migrated VM %s to %s: %d rounds, %.0f pages, %.1f MiB, total %.1f ms, downtime "
           "%.1f ms; here it is %s\n",
           name, to ? json_object_get_string(to) : "?", (int)ctl_json_num(o, "rounds"),
           ctl_json_num(o, "pages"), ctl_json_num(o, "sent_mib"), ctl_json_num(o, "total_ms"),
           ctl_json_num(o, "downtime_ms"), state ? json_object_get_string(state) : "?");
    json_object_put(o);
}

int ctl_migrate(int argc, char **argv)
{
    const char *name = NULL, *to_arg = NULL, *given = NULL;
    int copy = 0;
    int r = parse_migrate(argc, argv, &name, &to_arg, &given, &copy);
    if (r) return r < 0 ? CLI_OK : r;
    if (strchr(name, '/') || strchr(name, '?') || strchr(name, ' ') || strchr(name, '%')) {
        fprintf(stderr, "vmon migrate: no VM named '%s'\n", name);
        return CLI_ERROR;
    }
    char *to = strdup(to_arg);
    if (!to || ctl_absolutize_addr(&to) < 0) {
        perror("vmon migrate");
        free(to);
        return CLI_ERROR;
    }
    char sock[PATH_MAX], path[512];
    ctl_socket_path(given, sock, sizeof(sock));
    snprintf(path, sizeof(path), "/v1/vms/%s/migrate", name);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "to", json_object_new_string(to));
    if (copy) json_object_object_add(o, "copy_disks", json_object_new_boolean(1));
    struct http_reply rep;
    r = ctl_call("migrate", sock, "PUT", path, json_object_to_json_string(o), &rep);
    if (r == CLI_OK) {
        print_migrated(name, &rep);
        http_reply_free(&rep);
    }
    json_object_put(o);
    free(to);
    return r;
}

/* --- vmon receive --listen ADDR [NAME] [options] ------------------------- */

/* The settings a received VM may have: not its machine's (the source's). */
static int receive_setting(const struct vmdef_field *f)
{
    static const char *const machine[] = {"kernel",  "initrd",   "append",          "bios",
                                          "mem",     "cpus",     "engine",          "on_panic",
                                          "restore", "incoming", "incoming_timeout"};
    for (unsigned i = 0; i < sizeof(machine) / sizeof(machine[0]); i++)
        if (!strcmp(f->key, machine[i])) return 0;
    return 1;
}

static unsigned receive_opts(struct cli_opt *opts, unsigned max)
{
    unsigned n = 0;
    opts[n++] = (struct cli_opt){"--listen", "unix:PATH|tcp:[HOST]:PORT",
                                 "where to wait for the migration (vmon migrate NAME --to there)",
                                 MIG_LISTEN};
    opts[n++] = (struct cli_opt){"--timeout", "SECONDS",
                                 "how long the source may take to come (default 300)", MIG_TIMEOUT};
    for (unsigned i = 0; i < vmdef_nfields && n + 1 < max; i++)
        if (receive_setting(&vmdef_fields[i]))
            opts[n++] = (struct cli_opt){vmdef_fields[i].opt, vmdef_fields[i].arg,
                                         vmdef_fields[i].help, (int)i};
    opts[n++] = migrate_opts[2]; /* --socket */
    return n;
}

void ctl_receive_usage(FILE *out)
{
    struct cli_opt opts[40];
    unsigned n = receive_opts(opts, 40);
    fprintf(out, "usage: vmon receive --listen ADDR [NAME] [options]\n"
                 "Define a VM on the service that waits on ADDR for a live migration (vmon\n"
                 "migrate NAME --to ADDR on the source's service) and start it: it is incoming\n"
                 "until the migrated VM runs here, then running. NAME defaults to a unix\n"
                 "socket's file name without its extension. The machine (kernel, memory, vCPUs,\n"
                 "devices) is the source's; --disk, --net... replace its devices of the same\n"
                 "kind in order (disks must be the same files the source uses). Once it ran,\n"
                 "its definition is the source's machine, which boots if started again. If the\n"
                 "source does not come within --timeout, it is stopped; if it cannot start, its\n"
                 "definition is removed again.\n\n");
    cli_print_opts(opts, n, out);
}

struct receive_args {
    struct vm_def d;
    uint64_t given;
    const char *sock;
};

static int receive_value(struct receive_args *a, const struct cli *c, char *err, size_t errlen)
{
    const struct vmdef_field *f = vmdef_field_by_key("incoming");
    if (c->opt->id == MIG_LISTEN) return vmdef_set(&a->d, f, "--listen", c->value, err, errlen);
    if (c->opt->id == MIG_TIMEOUT) {
        f = vmdef_field_by_key("incoming_timeout");
        a->given |= 1ull << (f - vmdef_fields);
        return vmdef_set(&a->d, f, "--timeout", c->value, err, errlen);
    }
    a->given |= 1ull << c->opt->id;
    return vmdef_set(&a->d, &vmdef_fields[c->opt->id], c->opt->name, c->value, err, errlen);
}

/* One option or positional argument; CLI_OK or CLI_USAGE. */
static int receive_arg(struct receive_args *a, const struct cli *c)
{
    char err[512];
    if (c->positional && a->d.name[0]) {
        fprintf(stderr, "vmon receive: unexpected argument '%s'\n", c->positional);
        return CLI_USAGE;
    }
    if (c->positional && vmdef_check_name(c->positional, err, sizeof(err)) == 0)
        snprintf(a->d.name, sizeof(a->d.name), "%s", c->positional);
    else if (c->positional)
        goto bad;
    else if (c->opt->id == MIG_SOCKET)
        a->sock = c->value;
    else if (receive_value(a, c, err, sizeof(err)) < 0)
        goto bad;
    return CLI_OK;
bad:
    fprintf(stderr, "vmon receive: %s\n", err);
    return CLI_USAGE;
}

/* CLI_OK, CLI_USAGE, or -1 after --help. */
static int parse_receive(int argc, char **argv, struct receive_args *a)
{
    struct cli_opt opts[40];
    struct cli c;
    cli_init(&c, "vmon receive", opts, receive_opts(opts, 40), argc, argv);
    for (;;) {
        switch (cli_next(&c)) {
        case CLI_END:
            if (a->d.incoming) return CLI_OK;
            fprintf(stderr, "vmon receive: where? give --listen unix:PATH|tcp:[HOST]:PORT\n");
            return CLI_USAGE;
        case CLI_HELP: ctl_receive_usage(stdout); return -1;
        case CLI_BAD: return CLI_USAGE;
        }
        int r = receive_arg(a, &c);
        if (r) return r;
    }
}

/* NAME from ADDR: a unix socket's file name, else received-PORT. */
static void name_from_addr(const char *addr, char *name, size_t size)
{
    if (!strncmp(addr, "unix:", 5)) {
        ctl_name_from_file(addr + 5, "received", name, size);
        return;
    }
    const char *port = strrchr(addr, ':');
    snprintf(name, size, "received-%.8s", port ? port + 1 : "");
}

/* Define and start the VM; a VM that does not start is removed. */
static int receive_vm(struct receive_args *a, const char *sock)
{
    char path[128];
    struct http_reply rep;
    snprintf(path, sizeof(path), "/v1/vms/%s", a->d.name);
    json_object *o = ctl_def_json(&a->d, a->given);
    int r = ctl_call("receive", sock, "PUT", path, json_object_to_json_string(o), &rep);
    json_object_put(o);
    if (r != CLI_OK) return r;
    http_reply_free(&rep);
    snprintf(path, sizeof(path), "/v1/vms/%s/actions/start", a->d.name);
    if ((r = ctl_call("receive", sock, "PUT", path, "", &rep)) != CLI_OK) {
        snprintf(path, sizeof(path), "/v1/vms/%s", a->d.name);
        if (ctl_call("receive", sock, "DELETE", path, NULL, &rep) == CLI_OK) {
            http_reply_free(&rep);
            fprintf(stderr, "vmon receive: VM %s did not start; its definition is removed\n",
                    a->d.name);
        }
        return r;
    }
    http_reply_free(&rep);
    printf("VM %s waits for a migration on %s (for %g s)\n", a->d.name, a->d.incoming,
           a->d.incoming_timeout);
    return CLI_OK;
}

int ctl_receive(int argc, char **argv)
{
    struct receive_args a = {.sock = NULL};
    vmdef_init(&a.d);
    int r = parse_receive(argc, argv, &a);
    a.given |= 1ull << (vmdef_field_by_key("incoming") - vmdef_fields);
    if (r == CLI_OK && ctl_absolutize_def(&a.d) < 0) {
        perror("vmon receive");
        r = CLI_ERROR;
    }
    if (r == CLI_OK) {
        if (!a.d.name[0]) name_from_addr(a.d.incoming, a.d.name, sizeof(a.d.name));
        char sock[PATH_MAX];
        ctl_socket_path(a.sock, sock, sizeof(sock));
        r = receive_vm(&a, sock);
    }
    vmdef_free(&a.d);
    return r < 0 ? CLI_OK : r;
}
