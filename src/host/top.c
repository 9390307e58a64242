/* `vmon top`: the service's VMs with their CPU %, guest MIPS, memory (and
 * the worker's resident memory), disk, network and hypercall rates and CPU
 * time, refreshed every second (or --interval) until q; --once prints one
 * frame and ends (for scripts and tests). */
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
                 "guest MIPS, memory, the worker's resident memory (RSS), disk bytes read\n"
                 "and written and network bytes received and sent per second, hypercalls\n"
                 "(SBI calls) per second, CPU seconds; q quits.\n\n");
    cli_print_opts(top_opts, 2, out);
    cli_print_opts(&ctl_socket_opt, 1, out);
}

static int by_cpu(const void *a, const void *b)
{
    double x = ctl_json_num(*(json_object *const *)a, "cpu_pct"),
           y = ctl_json_num(*(json_object *const *)b, "cpu_pct");
    return x < y ? 1 : x > y ? -1 : 0;
}

/* A rate or size in 6 characters or fewer: 0, 999, 12.3K, 4.5M, 1.2G. */
static const char *human(double v, char buf[16])
{
    static const char units[] = " KMGT";
    unsigned u = 0;
    while (v >= 999.5 && u < 4) {
        v /= 1024;
        u++;
    }
    if (!u)
        snprintf(buf, 16, "%.0f", v);
    else
        snprintf(buf, 16, v < 9.95 ? "%.1f%c" : "%.0f%c", v, units[u]);
    return buf;
}

/* The VM's figure key in its "io" object. */
static double io(json_object *vm, const char *key)
{
    json_object *o;
    return json_object_object_get_ex(vm, "io", &o) ? ctl_json_num(o, key) : 0;
}

static void print_row(json_object *r)
{
    char b[7][16];
    printf("%-16s %-9s %4.0f %6.1f %7.1f %6s %6s %7s %7s %7s %7s %7s %8.1f\r\n",
           ctl_json_str(r, "name"), ctl_json_str(r, "state"), ctl_json_num(r, "cpus"),
           ctl_json_num(r, "cpu_pct"), ctl_json_num(r, "mips"),
           human(ctl_json_num(r, "mem_bytes"), b[0]), human(ctl_json_num(r, "rss_bytes"), b[1]),
           human(io(r, "disk_read_per_sec"), b[2]), human(io(r, "disk_written_per_sec"), b[3]),
           human(io(r, "net_rx_per_sec"), b[4]), human(io(r, "net_tx_per_sec"), b[5]),
           human(io(r, "hypercalls_per_sec"), b[6]), ctl_json_num(r, "cpu_time"));
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
    double cpu = 0, mips = 0, disk = 0, net = 0, hcalls = 0;
    for (size_t i = 0; rows && i < n; i++) {
        rows[i] = json_object_array_get_idx(vms, i);
        cpu += ctl_json_num(rows[i], "cpu_pct");
        mips += ctl_json_num(rows[i], "mips");
        disk += io(rows[i], "disk_read_per_sec") + io(rows[i], "disk_written_per_sec");
        net += io(rows[i], "net_rx_per_sec") + io(rows[i], "net_tx_per_sec");
        hcalls += io(rows[i], "hypercalls_per_sec");
    }
    if (rows) qsort(rows, n, sizeof(*rows), by_cpu);
    char b[3][16];
    if (clear) printf("\033[H\033[2J");
    printf("vmon top: %zu VMs, %.1f%% CPU, %.1f MIPS, disk %sB/s, network %sB/s, %s "
           "hypercalls/s%s\r\n\r\n",
           n, cpu, mips, human(disk, b[0]), human(net, b[1]), human(hcalls, b[2]),
           clear ? "   (q quits)" : "");
    printf("%-16s %-9s %4s %6s %7s %6s %6s %7s %7s %7s %7s %7s %8s\r\n", "NAME", "STATE", "CPUS",
           "CPU%", "MIPS", "MEM", "RSS", "DISK-RD", "DISK-WR", "NET-RX", "NET-TX", "HCALL/S",
           "CPU-SECS");
    for (size_t i = 0; rows && i < n; i++)
        print_row(rows[i]);
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
