/* vmon snapshot NAME FILE: the whole running (or paused) VM to FILE,
 * through the service (PUT /v1/vms/NAME/snapshot). vmon restore FILE
 * [NAME] [options]: a new VM that starts from the snapshot (a definition
 * with restore, PUT /v1/vms/NAME), started at once; if it cannot start, the
 * definition is removed again, so a failed restore leaves nothing behind. */
#include "host/ctl.h"
#include "host/host.h"
#include "vmm/cli.h"
#include "vmm/vmdef.h"
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SNAP_SOCKET = 1000, SNAP_OVERLAY };

static const struct cli_opt snap_opts[] = {
    {"--socket", "PATH", "the service's socket (default $VMON_SOCKET, else vmon serve's default)",
     SNAP_SOCKET},
    {"--overlay", NULL,
     "then keep the VM's disks as the snapshot has them: the VM goes on writing\n"
     "new qcow2 overlays (FILE.diskN.qcow2) on them",
     SNAP_OVERLAY},
};
static const struct cli_opt *const socket_only = &snap_opts[0];

/* Names that go into a URL's path as they are. */
static int plain_name(const char *cmd, const char *name)
{
    if (!strchr(name, '/') && !strchr(name, '?') && !strchr(name, ' ') && !strchr(name, '%'))
        return 1;
    fprintf(stderr, "vmon %s: no VM named '%s'\n", cmd, name);
    return 0;
}

/* --- vmon snapshot NAME FILE --------------------------------------------- */

void ctl_snapshot_usage(FILE *out)
{
    fprintf(out, "usage: vmon snapshot NAME FILE [--overlay] [--socket PATH]\n"
                 "Save a running or paused VM whole (vCPUs, devices, RAM) to FILE: it is\n"
                 "paused while the file is written, then runs on (a paused VM stays paused).\n"
                 "vmon restore FILE brings it back as a new VM; so does vmon run --restore.\n\n");
    cli_print_opts(snap_opts, 2, out);
}

/* NAME FILE --overlay --socket; CLI_OK, CLI_USAGE, or -1 after --help. */
static int parse_snapshot(int argc, char **argv, const char **pos, const char **sock, int *overlay)
{
    struct cli c;
    unsigned n = 0;
    cli_init(&c, "vmon snapshot", snap_opts, 2, argc, argv);
    for (;;) {
        switch (cli_next(&c)) {
        case CLI_END:
            if (n == 2) return CLI_OK;
            fprintf(stderr, "vmon snapshot: %s (vmon snapshot NAME FILE)\n",
                    n ? "to which file?" : "which VM?");
            return CLI_USAGE;
        case CLI_HELP: ctl_snapshot_usage(stdout); return -1;
        case CLI_BAD: return CLI_USAGE;
        }
        if (!c.positional && c.opt->id == SNAP_OVERLAY) {
            *overlay = 1;
        } else if (!c.positional) {
            *sock = c.value;
        } else if (n < 2) {
            pos[n++] = c.positional;
        } else {
            fprintf(stderr, "vmon snapshot: unexpected argument '%s'\n", c.positional);
            return CLI_USAGE;
        }
    }
}

static void print_saved(const char *name, const struct http_reply *rep)
{
    json_object *o = json_tokener_parse(rep->body), *f = NULL;
    json_object_object_get_ex(o, "file", &f);
    printf("saved VM %s to %s in %.3f s (%.1f MiB, %.1f MiB allocated)\n", name,
           f ? json_object_get_string(f) : "?", ctl_json_num(o, "seconds"),
           ctl_json_num(o, "size_bytes") / 1048576.0,
           ctl_json_num(o, "allocated_bytes") / 1048576.0);
    json_object_put(o);
}

int ctl_snapshot(int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL}, *given = NULL;
    int overlay = 0;
    int r = parse_snapshot(argc, argv, pos, &given, &overlay);
    if (r) return r < 0 ? CLI_OK : r;
    if (!plain_name("snapshot", pos[0])) return CLI_ERROR;
    char *file = strdup(pos[1]);
    if (!file || ctl_absolutize(&file, 0) < 0) {
        perror("vmon snapshot");
        free(file);
        return CLI_ERROR;
    }
    char sock[PATH_MAX], path[512];
    ctl_socket_path(given, sock, sizeof(sock));
    snprintf(path, sizeof(path), "/v1/vms/%s/snapshot", pos[0]);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "file", json_object_new_string(file));
    if (overlay) json_object_object_add(o, "overlay", json_object_new_boolean(1));
    struct http_reply rep;
    r = ctl_call("snapshot", sock, "PUT", path, json_object_to_json_string(o), &rep);
    if (r == CLI_OK) {
        print_saved(pos[0], &rep);
        http_reply_free(&rep);
    }
    json_object_put(o);
    free(file);
    return r;
}

/* --- vmon restore FILE [NAME] [options] ---------------------------------- */

/* The settings a restored VM may have: not those of the machine itself,
 * which are the snapshot's, nor mem_limit (its RAM is mapped from it). */
static int restore_setting(const struct vmdef_field *f)
{
    static const char *const machine[] = {
        "kernel", "initrd",    "append",  "bios",     "mem",
        "cpus",   "mem_limit", "restore", "incoming", "incoming_timeout"};
    for (unsigned i = 0; i < sizeof(machine) / sizeof(machine[0]); i++)
        if (!strcmp(f->key, machine[i])) return 0;
    return 1;
}

static unsigned restore_opts(struct cli_opt *opts, unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < vmdef_nfields && n + 1 < max; i++)
        if (restore_setting(&vmdef_fields[i]))
            opts[n++] = (struct cli_opt){vmdef_fields[i].opt, vmdef_fields[i].arg,
                                         vmdef_fields[i].help, (int)i};
    opts[n++] = *socket_only;
    return n;
}

void ctl_restore_usage(FILE *out)
{
    struct cli_opt opts[40];
    unsigned n = restore_opts(opts, 40);
    fprintf(out, "usage: vmon restore FILE [NAME] [options]\n"
                 "Define a VM on the service that starts from the snapshot FILE (vmon snapshot,\n"
                 "vmon run --snapshot-on-exit) and start it. NAME defaults to FILE's name\n"
                 "without its extension. The machine (kernel, memory, vCPUs, devices) is the\n"
                 "snapshot's; --disk, --net... replace its devices of the same kind in order\n"
                 "(a clone's own disk and MAC). The VM starts from the snapshot every time it\n"
                 "is started. If it cannot start, its definition is removed again.\n\n");
    cli_print_opts(opts, n, out);
}

/* A character of a VM name as it is, any other as '-'. */
static char name_char(char c)
{
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    return ok ? c : '-';
}

void ctl_name_from_file(const char *file, const char *def, char *name, size_t size)
{
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot > base ? (size_t)(dot - base) : strlen(base), k = 0;
    for (size_t i = 0; i < n && k + 1 < size && k < VMDEF_NAME_MAX; i++) {
        char c = name_char(base[i]);
        if (k || (c != '.' && c != '-')) name[k++] = c;
    }
    name[k] = 0;
    if (!k) snprintf(name, size, "%s", def);
}

struct restore_args {
    struct vm_def d;
    uint64_t given;
    const char *file, *sock;
};

/* One option or positional argument; CLI_OK or CLI_USAGE. */
static int restore_arg(struct restore_args *a, const struct cli *c)
{
    char err[512];
    if (c->positional && !a->file) {
        a->file = c->positional;
    } else if (c->positional && !a->d.name[0]) {
        if (vmdef_check_name(c->positional, err, sizeof(err)) < 0) goto bad;
        snprintf(a->d.name, sizeof(a->d.name), "%s", c->positional);
    } else if (c->positional) {
        fprintf(stderr, "vmon restore: unexpected argument '%s'\n", c->positional);
        return CLI_USAGE;
    } else if (c->opt->id == SNAP_SOCKET) {
        a->sock = c->value;
    } else if (vmdef_set(&a->d, &vmdef_fields[c->opt->id], c->opt->name, c->value, err,
                         sizeof(err)) < 0) {
        goto bad;
    } else {
        a->given |= 1ull << c->opt->id;
    }
    return CLI_OK;
bad:
    fprintf(stderr, "vmon restore: %s\n", err);
    return CLI_USAGE;
}

/* CLI_OK, CLI_USAGE, or -1 after --help. */
static int parse_restore(int argc, char **argv, struct restore_args *a)
{
    struct cli_opt opts[40];
    struct cli c;
    cli_init(&c, "vmon restore", opts, restore_opts(opts, 40), argc, argv);
    for (;;) {
        switch (cli_next(&c)) {
        case CLI_END:
            if (a->file) return CLI_OK;
            fprintf(stderr, "vmon restore: which snapshot? (vmon restore FILE [NAME])\n");
            return CLI_USAGE;
        case CLI_HELP: ctl_restore_usage(stdout); return -1;
        case CLI_BAD: return CLI_USAGE;
        }
        int r = restore_arg(a, &c);
        if (r) return r;
    }
}

/* Define and start the VM; a VM that does not start is removed. */
static int restore_vm(struct restore_args *a, const char *sock)
{
    char path[128];
    struct http_reply rep;
    snprintf(path, sizeof(path), "/v1/vms/%s", a->d.name);
    json_object *o = ctl_def_json(&a->d, a->given);
    int r = ctl_call("restore", sock, "PUT", path, json_object_to_json_string(o), &rep);
    json_object_put(o);
    if (r != CLI_OK) return r;
    http_reply_free(&rep);
    snprintf(path, sizeof(path), "/v1/vms/%s/actions/start", a->d.name);
    if ((r = ctl_call("restore", sock, "PUT", path, "", &rep)) != CLI_OK) {
        snprintf(path, sizeof(path), "/v1/vms/%s", a->d.name);
        if (ctl_call("restore", sock, "DELETE", path, NULL, &rep) == CLI_OK) {
            http_reply_free(&rep);
            fprintf(stderr, "vmon restore: VM %s did not start; its definition is removed\n",
                    a->d.name);
        }
        return r;
    }
    http_reply_free(&rep);
    printf("restored VM %s from %s: running\n", a->d.name, a->d.restore);
    return CLI_OK;
}

int ctl_restore(int argc, char **argv)
{
    struct restore_args a = {.file = NULL};
    vmdef_init(&a.d);
    int r = parse_restore(argc, argv, &a);
    a.given |= 1ull << (vmdef_field_by_key("restore") - vmdef_fields);
    if (r == CLI_OK && (!(a.d.restore = strdup(a.file)) || ctl_absolutize_def(&a.d) < 0)) {
        perror("vmon restore");
        r = CLI_ERROR;
    }
    if (r == CLI_OK) {
        if (!a.d.name[0]) ctl_name_from_file(a.d.restore, "restored", a.d.name, sizeof(a.d.name));
        char sock[PATH_MAX];
        ctl_socket_path(a.sock, sock, sizeof(sock));
        r = restore_vm(&a, sock);
    }
    vmdef_free(&a.d);
    return r < 0 ? CLI_OK : r;
}
