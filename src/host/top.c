/* `vmon top`: the service's VMs with their CPU %, guest MIPS, memory (and
 * the worker's resident memory) and CPU time, refreshed every second (or --interval) until q;
 * --once prints one frame and ends (for scripts and tests). */
#include "host/ctl.h"
#include "vmm/cli.h"
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum { TOP_ONCE = 1, TOP_INTERVAL };

static const struct cli_opt top_opts[] = {
    {"--once", NULL, "print one frame and end", TOP_ONCE},
    {"--interval", "SECONDS", "time between frames (0.2..60, default 1)", TOP_INTERVAL},
};

void ctl_top_usage(FILE *out)
{
    fprintf(out, "usage: vmon top [--once] [--interval SECONDS] [--socket PATH]\n"
                 "The service's VMs, busiest first: state, vCPUs, CPU %% (of one host CPU),\n"
                 "guest MIPS, memory, the worker's resident memory (RSS), CPU seconds;\n"
                 "q quits.\n\n");
    cli_print_opts(top_opts, 2, out);
    cli_print_opts(&ctl_socket_opt, 1, out);
}

static double num(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0;
}

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static int by_cpu(const void *a, const void *b)
{
    double x = num(*(json_object *const *)a, "cpu_pct"),
           y = num(*(json_object *const *)b, "cpu_pct");
    return x < y ? 1 : x > y ? -1 : 0;
}

/* One frame: CLI_OK, or CLI_ERROR after a message. */
static int frame(const char *sock, int clear)
{
    struct http_reply rep;
    char err[512];
    if (http_request(sock, "GET", "/v1/vms", NULL, &rep, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmon top: %s\r\n", err);
        return CLI_ERROR;
    }
    json_object *o = json_tokener_parse(rep.body), *vms = NULL;
    http_reply_free(&rep);
    if (!o || !json_object_object_get_ex(o, "vms", &vms) ||
        !json_object_is_type(vms, json_type_array)) {
        fprintf(stderr, "vmon top: the service's answer has no VM list\r\n");
        json_object_put(o);
        return CLI_ERROR;
    }
    size_t n = json_object_array_length(vms);
    json_object **rows = calloc(n ? n : 1, sizeof(*rows));
    double cpu = 0, mips = 0;
    for (size_t i = 0; rows && i < n; i++) {
        rows[i] = json_object_array_get_idx(vms, i);
        cpu += num(rows[i], "cpu_pct");
        mips += num(rows[i], "mips");
    }
    if (rows) qsort(rows, n, sizeof(*rows), by_cpu);
    if (clear) printf("\033[H\033[2J");
    printf("vmon top: %zu VMs, %.1f%% CPU, %.1f MIPS%s\r\n\r\n", n, cpu, mips,
           clear ? "   (q quits)" : "");
    printf("%-20s %-9s %4s %7s %8s %8s %8s %9s\r\n", "NAME", "STATE", "CPUS", "CPU%", "MIPS", "MEM",
           "RSS", "CPU-SECS");
    for (size_t i = 0; rows && i < n; i++)
        printf("%-20s %-9s %4.0f %7.1f %8.1f %7.0fM %7.0fM %9.1f\r\n", str(rows[i], "name"),
               str(rows[i], "state"), num(rows[i], "cpus"), num(rows[i], "cpu_pct"),
               num(rows[i], "mips"), num(rows[i], "mem_bytes") / 1048576.0,
               num(rows[i], "rss_bytes") / 1048576.0, num(rows[i], "cpu_time"));
    fflush(stdout);
    free(rows);
    json_object_put(o);
    return CLI_OK;
}

/* Wait up to ms for a key; 1 if it was q (or input ended). */
static int quit_key(int ms)
{
    struct pollfd p = {0, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) return 0;
    char c;
    return read(0, &c, 1) <= 0 || c == 'q' || c == 'Q';
}

static int parse_top(int argc, char **argv, const char **sock, int *once, double *interval)
{
    struct cli_opt opts[3] = {top_opts[0], top_opts[1], ctl_socket_opt};
    struct cli c;
    cli_init(&c, "vmon top", opts, 3, argc, argv);
    for (;;) {
        switch (cli_next(&c)) {
        case CLI_END: return CLI_OK;
        case CLI_HELP: ctl_top_usage(stdout); return -1;
        case CLI_BAD: return CLI_USAGE;
        }
        char *end;
        if (c.positional) {
            fprintf(stderr, "vmon top: unexpected argument '%s'\n", c.positional);
            return CLI_USAGE;
        } else if (c.opt->id == TOP_ONCE) {
            *once = 1;
        } else if (c.opt->id == TOP_INTERVAL) {
            *interval = strtod(c.value, &end);
            if (*end || end == c.value || !(*interval >= 0.2 && *interval <= 60)) {
                fprintf(stderr, "vmon top: invalid --interval '%s' (want 0.2..60 seconds)\n",
                        c.value);
                return CLI_USAGE;
            }
        } else {
            *sock = c.value;
        }
    }
}

int ctl_top(int argc, char **argv)
{
    const char *given = NULL;
    int once = 0;
    double interval = 1;
    int r = parse_top(argc, argv, &given, &once, &interval);
    if (r) return r < 0 ? CLI_OK : r;
    char sock[4096];
    ctl_socket_path(given, sock, sizeof(sock));
    if (once) return frame(sock, 0);
    struct termios saved, t;
    int raw = isatty(0) && tcgetattr(0, &saved) == 0;
    if (raw) {
        t = saved;
        t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        tcsetattr(0, TCSANOW, &t);
    }
    while ((r = frame(sock, 1)) == CLI_OK && !quit_key((int)(interval * 1000)))
        ;
    if (raw) tcsetattr(0, TCSANOW, &saved);
    printf("\r\n");
    return r;
}
