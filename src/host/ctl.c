/* The CLI commands on top of the management API (see ctl.h). Settings are
 * validated here with the same code the service and `vmon run` use, and
 * relative paths are made absolute (the service runs elsewhere). */
#include "host/ctl.h"
#include "host/host.h"
#include "vmm/cli.h"
#include "vmm/vmdef.h"
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { CTL_SOCKET = 1000, CTL_START };

const struct cli_opt ctl_socket_opt = {
    "--socket", "PATH", "the service's socket (default $VMON_SOCKET, else vmon serve's default)",
    CTL_SOCKET};

void ctl_socket_path(const char *given, char *buf, size_t size)
{
    const char *env = getenv("VMON_SOCKET");
    if (given)
        snprintf(buf, size, "%s", given);
    else if (env && *env)
        snprintf(buf, size, "%s", env);
    else
        host_default_socket(buf, size);
}

/* Print the service's error and give the exit status. */
int ctl_service_error(const char *cmd, const struct http_reply *r)
{
    json_object *o = json_tokener_parse(r->body);
    json_object *e = NULL;
    if (o && json_object_object_get_ex(o, "error", &e))
        fprintf(stderr, "vmon %s: %s\n", cmd, json_object_get_string(e));
    else
        fprintf(stderr, "vmon %s: the service answered %d\n", cmd, r->status);
    json_object_put(o);
    return CLI_ERROR;
}

int ctl_call(const char *cmd, const char *sock, const char *method, const char *path,
             const char *body, struct http_reply *out)
{
    char err[512];
    if (http_request(sock, method, path, body, out, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmon %s: %s\n", cmd, err);
        return CLI_ERROR;
    }
    if (out->status >= 400) {
        int r = ctl_service_error(cmd, out);
        http_reply_free(out);
        return r;
    }
    return CLI_OK;
}

/* --- vmon create --------------------------------------------------------- */

static unsigned create_opts(struct cli_opt *opts, unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < vmdef_nfields && n + 2 < max; i++)
        opts[n++] = (struct cli_opt){vmdef_fields[i].opt, vmdef_fields[i].arg, vmdef_fields[i].help,
                                     (int)i};
    opts[n++] = (struct cli_opt){"--start", NULL, "start the VM once it is defined", CTL_START};
    opts[n++] = ctl_socket_opt;
    return n;
}

void ctl_create_usage(FILE *out)
{
    struct cli_opt opts[40];
    unsigned n = create_opts(opts, 40);
    fprintf(out, "usage: vmon create NAME [options]\n"
                 "Define a VM on the service (vmon serve) from vmon run's settings.\n\n");
    cli_print_opts(opts, n, out);
}

int ctl_absolutize(char **s, int device_option)
{
    const char *v = *s, *prefix = "";
    if (!strncmp(v, "socket=", 7)) {
        prefix = "socket=";
        v += 7;
    }
    if (v[0] == '/' || !strcmp(v, "log") || !strcmp(v, "none")) return 0;
    char cwd[PATH_MAX], esc[2 * PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd))) return -1;
    size_t k = 0;
    for (const char *c = cwd; *c; c++) {
        if (*c == ',' && device_option) esc[k++] = ',';
        esc[k++] = *c;
    }
    esc[k] = 0;
    char *abs = NULL;
    if (asprintf(&abs, "%s%s/%s", prefix, esc, v) < 0) return -1;
    free(*s);
    *s = abs;
    return 0;
}

int ctl_absolutize_addr(char **addr)
{
    if (strncmp(*addr, "unix:", 5) || (*addr)[5] == '/' || !(*addr)[5]) return 0;
    char cwd[PATH_MAX], *abs = NULL;
    if (!getcwd(cwd, sizeof(cwd)) || asprintf(&abs, "unix:%s/%s", cwd, *addr + 5) < 0) return -1;
    free(*addr);
    *addr = abs;
    return 0;
}

int ctl_absolutize_def(struct vm_def *d)
{
    if (d->incoming && ctl_absolutize_addr(&d->incoming) < 0) return -1;
    char **strs[] = {&d->kernel, &d->initrd, &d->bios, &d->console, &d->restore};
    for (unsigned i = 0; i < 5; i++)
        if (*strs[i] && ctl_absolutize(strs[i], 0) < 0) return -1;
    struct vmdef_list *lists[] = {&d->disks, &d->shares, &d->vconsoles};
    for (unsigned k = 0; k < 3; k++)
        for (unsigned i = 0; i < lists[k]->n; i++)
            if (ctl_absolutize(&lists[k]->v[i], 1) < 0) return -1;
    return 0;
}

json_object *ctl_def_json(const struct vm_def *d, uint64_t given)
{
    json_object *o = vmdef_to_json(d);
    for (unsigned i = 0; i < vmdef_nfields; i++)
        if (!(given >> i & 1)) json_object_object_del(o, vmdef_fields[i].key);
    return o;
}

/* Parse vmon create's arguments into d (given: which settings); CLI_OK,
 * CLI_USAGE, or -1 after --help. */
static int parse_create(int argc, char **argv, struct vm_def *d, uint64_t *given, const char **sock,
                        int *start)
{
    struct cli_opt opts[40];
    unsigned nopts = create_opts(opts, 40);
    struct cli c;
    cli_init(&c, "vmon create", opts, nopts, argc, argv);
    for (;;) {
        switch (cli_next(&c)) {
        case CLI_END: break;
        case CLI_HELP: ctl_create_usage(stdout); return -1;
        case CLI_BAD: return CLI_USAGE;
        default: {
            char err[512];
            if (c.positional && d->name[0]) {
                fprintf(stderr, "vmon create: unexpected argument '%s'\n", c.positional);
                return CLI_USAGE;
            }
            if (c.positional && vmdef_check_name(c.positional, err, sizeof(err)) == 0)
                snprintf(d->name, sizeof(d->name), "%s", c.positional);
            else if (c.positional)
                goto bad;
            else if (c.opt->id == CTL_SOCKET)
                *sock = c.value;
            else if (c.opt->id == CTL_START)
                *start = 1;
            else if (vmdef_set(d, &vmdef_fields[c.opt->id], c.opt->name, c.value, err,
                               sizeof(err)) < 0)
                goto bad;
            else
                *given |= 1ull << c.opt->id;
            continue;
        bad:
            fprintf(stderr, "vmon create: %s\n", err);
            return CLI_USAGE;
        }
        }
        break;
    }
    if (!d->name[0]) {
        fprintf(stderr, "vmon create: give the VM a name (vmon create NAME [options])\n");
        return CLI_USAGE;
    }
    char err[256];
    if (vmdef_check(d, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmon create: %s\n", err);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int ctl_create(int argc, char **argv)
{
    struct vm_def d;
    vmdef_init(&d);
    const char *given = NULL;
    int start = 0;
    uint64_t set = 0;
    int r = parse_create(argc, argv, &d, &set, &given, &start);
    if (r == CLI_OK && ctl_absolutize_def(&d) < 0) {
        perror("vmon create: getcwd");
        r = CLI_ERROR;
    }
    if (r) {
        vmdef_free(&d);
        return r < 0 ? CLI_OK : r;
    }
    char sock[PATH_MAX], path[128];
    ctl_socket_path(given, sock, sizeof(sock));
    snprintf(path, sizeof(path), "/v1/vms/%s", d.name);
    json_object *o = ctl_def_json(&d, set);
    struct http_reply rep;
    r = ctl_call("create", sock, "PUT", path, json_object_to_json_string(o), &rep);
    json_object_put(o);
    if (r == CLI_OK) {
        http_reply_free(&rep);
        snprintf(path, sizeof(path), "/v1/vms/%s/actions/start", d.name);
        if (start && (r = ctl_call("start", sock, "PUT", path, "", &rep)) == CLI_OK)
            http_reply_free(&rep);
    }
    vmdef_free(&d);
    return r;
}

/* --- vmon start|pause|resume|shutdown|stop|reboot|rm|show|logs NAME ------ */

void ctl_action_usage(FILE *out)
{
    fprintf(out, "usage: vmon start|pause|resume|shutdown|stop|reboot|rm|show|logs NAME "
                 "[--socket PATH]\n"
                 "Ask the service (vmon serve) to act on a VM: start it, pause or resume its\n"
                 "vCPUs, press its power button (shutdown; a hard stop after its shutdown\n"
                 "timeout), stop it at once, reset it (reboot), delete its definition (rm),\n"
                 "show it as JSON, or print its serial console log.\n\n");
    cli_print_opts(&ctl_socket_opt, 1, out);
}

/* NAME and --socket; CLI_OK, CLI_USAGE, or -1 after --help. */
int ctl_parse_name(const char *cmd, int argc, char **argv, const char **name, const char **sock,
                   void (*usage)(FILE *), int need_name)
{
    char title[32];
    snprintf(title, sizeof(title), "vmon %s", cmd);
    struct cli c;
    cli_init(&c, title, &ctl_socket_opt, 1, argc, argv);
    for (;;) {
        switch (cli_next(&c)) {
        case CLI_END:
            if (need_name && !*name) {
                fprintf(stderr, "%s: which VM? (%s NAME)\n", title, title);
                return CLI_USAGE;
            }
            return CLI_OK;
        case CLI_HELP: usage(stdout); return -1;
        case CLI_BAD: return CLI_USAGE;
        }
        if (c.positional && (*name || !need_name)) {
            fprintf(stderr, "%s: unexpected argument '%s'\n", title, c.positional);
            return CLI_USAGE;
        }
        if (c.positional)
            *name = c.positional;
        else
            *sock = c.value;
    }
}

static void print_json(const struct http_reply *rep)
{
    json_object *o = json_tokener_parse(rep->body);
    if (o)
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

int ctl_action(int argc, char **argv)
{
    const char *cmd = argv[0], *name = NULL, *given = NULL;
    int r = ctl_parse_name(cmd, argc, argv, &name, &given, ctl_action_usage, 1);
    if (r) return r < 0 ? CLI_OK : r;
    char sock[PATH_MAX], path[512];
    ctl_socket_path(given, sock, sizeof(sock));
    const char *method = "PUT";
    if (!strcmp(cmd, "rm")) {
        method = "DELETE";
        snprintf(path, sizeof(path), "/v1/vms/%s", name);
    } else if (!strcmp(cmd, "show")) {
        method = "GET";
        snprintf(path, sizeof(path), "/v1/vms/%s", name);
    } else if (!strcmp(cmd, "logs")) {
        method = "GET";
        snprintf(path, sizeof(path), "/v1/vms/%s/logs", name);
    } else {
        snprintf(path, sizeof(path), "/v1/vms/%s/actions/%s", name, cmd);
    }
    if (strchr(name, '/') || strchr(name, '?') || strchr(name, ' ')) {
        fprintf(stderr, "vmon %s: no VM named '%s'\n", cmd, name);
        return CLI_ERROR;
    }
    struct http_reply rep;
    if ((r = ctl_call(cmd, sock, method, path, "", &rep)) != CLI_OK) return r;
    if (!strcmp(cmd, "show"))
        print_json(&rep);
    else if (!strcmp(cmd, "logs"))
        fwrite(rep.body, 1, rep.body_len, stdout);
    http_reply_free(&rep);
    return CLI_OK;
}

/* --- vmon list ------------------------------------------------------------ */

void ctl_list_usage(FILE *out)
{
    fprintf(out, "usage: vmon list [--socket PATH]\n"
                 "The service's VMs: name, state, vCPUs, memory, the worker's resident\n"
                 "memory (RSS), CPU %% (of one host CPU, over the last second), uptime,\n"
                 "host CPU seconds and guest MIPS.\n\n");
    cli_print_opts(&ctl_socket_opt, 1, out);
}

static void format_uptime(double s, char *buf, size_t size)
{
    unsigned long t = (unsigned long)s;
    if (s <= 0)
        snprintf(buf, size, "-");
    else if (t >= 86400)
        snprintf(buf, size, "%lud%02luh", t / 86400, t % 86400 / 3600);
    else if (t >= 3600)
        snprintf(buf, size, "%luh%02lum", t / 3600, t % 3600 / 60);
    else if (t >= 60)
        snprintf(buf, size, "%lum%02lus", t / 60, t % 60);
    else
        snprintf(buf, size, "%lus", t);
}

const char *ctl_json_str(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

double ctl_json_num(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0;
}

static void print_row(json_object *vm)
{
    char up[32], mem[32], rss[32] = "-";
    format_uptime(ctl_json_num(vm, "uptime"), up, sizeof(up));
    snprintf(mem, sizeof(mem), "%.0fM", ctl_json_num(vm, "mem_bytes") / 1048576.0);
    if (ctl_json_num(vm, "rss_bytes") > 0)
        snprintf(rss, sizeof(rss), "%.0fM", ctl_json_num(vm, "rss_bytes") / 1048576.0);
    printf("%-20s %-9s %4.0f %7s %7s %6.1f %8s %9.1f %8.1f\n", ctl_json_str(vm, "name"),
           ctl_json_str(vm, "state"), ctl_json_num(vm, "cpus"), mem, rss,
           ctl_json_num(vm, "cpu_pct"), up, ctl_json_num(vm, "cpu_time"), ctl_json_num(vm, "mips"));
}

int ctl_list(int argc, char **argv)
{
    const char *name = NULL, *given = NULL;
    int r = ctl_parse_name("list", argc, argv, &name, &given, ctl_list_usage, 0);
    if (r) return r < 0 ? CLI_OK : r;
    char sock[PATH_MAX];
    ctl_socket_path(given, sock, sizeof(sock));
    struct http_reply rep;
    if ((r = ctl_call("list", sock, "GET", "/v1/vms", NULL, &rep)) != CLI_OK) return r;
    json_object *o = json_tokener_parse(rep.body), *vms = NULL;
    if (!o || !json_object_object_get_ex(o, "vms", &vms) ||
        !json_object_is_type(vms, json_type_array)) {
        fprintf(stderr, "vmon list: the service's answer has no VM list\n");
        r = CLI_ERROR;
    } else {
        printf("%-20s %-9s %4s %7s %7s %6s %8s %9s %8s\n", "NAME", "STATE", "CPUS", "MEM", "RSS",
               "CPU%", "UPTIME", "CPU-SECS", "MIPS");
        for (size_t i = 0; i < json_object_array_length(vms); i++)
            print_row(json_object_array_get_idx(vms, i));
    }
    json_object_put(o);
    http_reply_free(&rep);
    return r;
}

/* --- vmon set NAME --weight W --cap PCT --pin CPUS --mem-limit SIZE
 *                  --mem SIZE --disk-size [N:]SIZE ----------------------------- */

static const char *const set_keys[] = {"weight", "cap", "pin", "mem_limit"};
#define N_SET_KEYS 4
enum { SET_MEM = N_SET_KEYS, SET_DISK_SIZE, N_SET_OPTS };

static unsigned set_opts(struct cli_opt *opts)
{
    unsigned n = 0;
    for (unsigned k = 0; k < N_SET_KEYS; k++) {
        const struct vmdef_field *f = vmdef_field_by_key(set_keys[k]);
        opts[n++] = (struct cli_opt){f->opt, f->arg, f->help, (int)k};
    }
    opts[n++] = (struct cli_opt){
        "--mem", "SIZE", "live: the RAM its balloon leaves the guest (as vmon resize --mem)",
        SET_MEM};
    opts[n++] = (struct cli_opt){"--disk-size", "[N:]SIZE",
                                 "live: grow disk N (default 0) to SIZE (as vmon resize --disk N\n"
                                 "--size SIZE); may be given for several disks",
                                 SET_DISK_SIZE};
    opts[n++] = ctl_socket_opt;
    return n;
}

void ctl_set_usage(FILE *out)
{
    struct cli_opt opts[N_SET_OPTS + 1];
    unsigned n = set_opts(opts);
    fprintf(out, "usage: vmon set NAME [--weight W] [--cap PCT] [--pin CPUS] [--mem-limit SIZE]\n"
                 "                     [--mem SIZE] [--disk-size [N:]SIZE]...\n"
                 "Change a VM's CPU weight, cap and pinning, saved in its definition and\n"
                 "applied to a running VM within 100 ms; its memory limit, while it is\n"
                 "stopped; or, while it runs, its memory (balloon) and its disks' sizes.\n\n");
    cli_print_opts(opts, n, out);
}

/* --disk-size [N:]SIZE as the resize request {"disk": N, "size": SIZE}, or
 * NULL after a message. */
static json_object *disk_size_request(const char *value)
{
    const char *colon = strchr(value, ':'), *size = colon ? colon + 1 : value;
    long n = 0;
    if (colon) {
        char *end;
        n = strtol(value, &end, 10);
        if (end == value || end != colon || n < 0 || n > 63) {
            fprintf(stderr, "vmon set: invalid --disk-size '%s' (want [N:]SIZE, N a disk number)\n",
                    value);
            return NULL;
        }
    }
    if (!*size) {
        fprintf(stderr, "vmon set: invalid --disk-size '%s' (no size)\n", value);
        return NULL;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "disk", json_object_new_int((int)n));
    json_object_object_add(o, "size", json_object_new_string(size));
    return o;
}

/* The settings given, as the JSON object PATCH takes, and the live changes
 * as the resize requests PUT .../resize takes (array live); CLI_OK,
 * CLI_USAGE or -1 after --help. */
static int parse_set(int argc, char **argv, const char **name, const char **sock, json_object *o,
                     json_object *live)
{
    struct cli_opt opts[N_SET_OPTS + 1];
    struct cli c;
    cli_init(&c, "vmon set", opts, set_opts(opts), argc, argv);
    for (;;) {
        switch (cli_next(&c)) {
        case CLI_END:
            if (!*name || (!json_object_object_length(o) && !json_object_array_length(live))) {
                fprintf(stderr, "vmon set: %s\n",
                        *name ? "nothing to change (--weight, --cap, --pin, --mem-limit, --mem or "
                                "--disk-size)"
                              : "which VM? (vmon set NAME --weight W ...)");
                return CLI_USAGE;
            }
            return CLI_OK;
        case CLI_HELP: ctl_set_usage(stdout); return -1;
        case CLI_BAD: return CLI_USAGE;
        }
        if (c.positional && *name) {
            fprintf(stderr, "vmon set: unexpected argument '%s'\n", c.positional);
            return CLI_USAGE;
        }
        if (c.positional) {
            *name = c.positional;
            continue;
        }
        if (c.opt->id == CTL_SOCKET) {
            *sock = c.value;
            continue;
        }
        if (c.opt->id == SET_MEM) {
            json_object *m = json_object_new_object();
            json_object_object_add(m, "mem", json_object_new_string(c.value));
            json_object_array_add(live, m);
            continue;
        }
        if (c.opt->id == SET_DISK_SIZE) {
            json_object *d = disk_size_request(c.value);
            if (!d) return CLI_USAGE;
            json_object_array_add(live, d);
            continue;
        }
        struct vm_def d;
        char err[256];
        vmdef_init(&d);
        const char *key = set_keys[c.opt->id];
        int bad = vmdef_set(&d, vmdef_field_by_key(key), c.opt->name, c.value, err, sizeof(err));
        json_object *v = c.opt->id >= 2
                             ? json_object_new_string(c.value)
                             : json_object_new_int(c.opt->id ? (int)d.cap : (int)d.weight);
        vmdef_free(&d);
        if (bad) {
            json_object_put(v);
            fprintf(stderr, "vmon set: %s\n", err);
            return CLI_USAGE;
        }
        json_object_object_add(o, key, v);
    }
}

static int put_resize(const char *cmd, const char *sock, const char *name, json_object *req);

int ctl_set(int argc, char **argv)
{
    const char *name = NULL, *given = NULL;
    json_object *o = json_object_new_object(), *live = json_object_new_array();
    int r = parse_set(argc, argv, &name, &given, o, live);
    if (r == CLI_OK && (strchr(name, '/') || strchr(name, '?') || strchr(name, ' '))) {
        fprintf(stderr, "vmon set: no VM named '%s'\n", name);
        r = CLI_ERROR;
    }
    char sock[PATH_MAX];
    if (r == CLI_OK) ctl_socket_path(given, sock, sizeof(sock));
    if (r == CLI_OK && json_object_object_length(o)) {
        char path[512];
        snprintf(path, sizeof(path), "/v1/vms/%s", name);
        struct http_reply rep;
        r = ctl_call("set", sock, "PATCH", path, json_object_to_json_string(o), &rep);
        if (r == CLI_OK) http_reply_free(&rep);
    }
    for (size_t i = 0; r == CLI_OK && i < json_object_array_length(live); i++)
        r = put_resize("set", sock, name, json_object_array_get_idx(live, i));
    json_object_put(o);
    json_object_put(live);
    return r < 0 ? CLI_OK : r;
}

/* --- vmon resize NAME --mem SIZE | --cpus N | --disk N --size SIZE ------- */

enum { RESIZE_MEM, RESIZE_DISK, RESIZE_SIZE, RESIZE_CPUS };

static unsigned resize_opts(struct cli_opt *opts)
{
    opts[0] = (struct cli_opt){"--mem", "SIZE",
                               "RAM the guest keeps; its balloon gives back the rest", RESIZE_MEM};
    opts[1] =
        (struct cli_opt){"--disk", "N", "the disk to grow (0 is the first --disk)", RESIZE_DISK};
    opts[2] =
        (struct cli_opt){"--size", "SIZE", "the disk's new size (disks only grow)", RESIZE_SIZE};
    opts[3] = (struct cli_opt){"--cpus", "N",
                               "how many of its vCPUs may run (SBI HSM starts no more; the\n"
                               "guest onlines or offlines them)",
                               RESIZE_CPUS};
    opts[4] = ctl_socket_opt;
    return 5;
}

void ctl_resize_usage(FILE *out)
{
    struct cli_opt opts[5];
    unsigned n = resize_opts(opts);
    fprintf(out, "usage: vmon resize NAME --mem SIZE\n"
                 "       vmon resize NAME --cpus N\n"
                 "       vmon resize NAME --disk N --size SIZE\n"
                 "Resize a running or paused VM: set the memory its balloon leaves the\n"
                 "guest (the VM needs --balloon), the vCPUs it may run, or grow one of its\n"
                 "disks.\n\n");
    cli_print_opts(opts, n, out);
}

/* The request as PUT /v1/vms/NAME/resize takes it (the service checks the
 * sizes); CLI_OK, CLI_USAGE or -1 after --help. */
static int parse_resize(int argc, char **argv, const char **name, const char **sock, json_object *o)
{
    struct cli_opt opts[5];
    struct cli c;
    cli_init(&c, "vmon resize", opts, resize_opts(opts), argc, argv);
    for (;;) {
        switch (cli_next(&c)) {
        case CLI_END:
            if (*name && json_object_object_length(o)) return CLI_OK;
            fprintf(stderr, "vmon resize: %s\n",
                    *name ? "what to resize? (--mem SIZE, --cpus N, or --disk N --size SIZE)"
                          : "which VM? (vmon resize NAME --mem SIZE)");
            return CLI_USAGE;
        case CLI_HELP: ctl_resize_usage(stdout); return -1;
        case CLI_BAD: return CLI_USAGE;
        }
        if (c.positional) {
            if (*name) {
                fprintf(stderr, "vmon resize: unexpected argument '%s'\n", c.positional);
                return CLI_USAGE;
            }
            *name = c.positional;
        } else if (c.opt->id == CTL_SOCKET) {
            *sock = c.value;
        } else if (c.opt->id == RESIZE_DISK || c.opt->id == RESIZE_CPUS) {
            char *end;
            int cpus = c.opt->id == RESIZE_CPUS;
            long n = strtol(c.value, &end, 10);
            if (end == c.value || *end || n < cpus || n > 64) {
                fprintf(stderr, "vmon resize: %s takes a %s, not '%s'\n", c.opt->name,
                        cpus ? "number of vCPUs" : "disk number", c.value);
                return CLI_USAGE;
            }
            json_object_object_add(o, cpus ? "cpus" : "disk", json_object_new_int((int)n));
        } else {
            json_object_object_add(o, c.opt->id == RESIZE_MEM ? "mem" : "size",
                                   json_object_new_string(c.value));
        }
    }
}

/* PUT /v1/vms/NAME/resize with req; the service's result line printed. */
static int put_resize(const char *cmd, const char *sock, const char *name, json_object *req)
{
    char path[512];
    snprintf(path, sizeof(path), "/v1/vms/%s/resize", name);
    struct http_reply rep;
    int r = ctl_call(cmd, sock, "PUT", path, json_object_to_json_string(req), &rep);
    if (r == CLI_OK) {
        json_object *res = json_tokener_parse(rep.body), *v = NULL;
        if (res && json_object_object_get_ex(res, "result", &v))
            printf("%s\n", json_object_get_string(v));
        json_object_put(res);
        http_reply_free(&rep);
    }
    return r;
}

int ctl_resize(int argc, char **argv)
{
    const char *name = NULL, *given = NULL;
    json_object *o = json_object_new_object();
    int r = parse_resize(argc, argv, &name, &given, o);
    if (r == CLI_OK && (strchr(name, '/') || strchr(name, '?') || strchr(name, ' '))) {
        fprintf(stderr, "vmon resize: no VM named '%s'\n", name);
        r = CLI_ERROR;
    }
    if (r == CLI_OK) {
        char sock[PATH_MAX];
        ctl_socket_path(given, sock, sizeof(sock));
        r = put_resize("resize", sock, name, o);
    }
    json_object_put(o);
    return r < 0 ? CLI_OK : r;
}
