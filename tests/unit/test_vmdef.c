/* VM definitions (vmm/vmdef.h): the command line and JSON fill the same
 * struct with the same checks and messages; JSON out and back in gives the
 * same definition; wrong types, unknown fields and bad names are refused;
 * the vmon run arguments carry every setting; restore and incoming stand
 * for kernel. */
#include "check.h"
#include "vmm/vmdef.h"
#include "vmm/vm.h"
#include <json-c/json.h>
#include <string.h>

static int from_json(struct vm_def *d, const char *text, char *err, size_t errlen)
{
    json_object *o = json_tokener_parse(text);
    vmdef_init(d);
    int r = o ? vmdef_from_json(d, o, err, errlen) : -1;
    json_object_put(o);
    return r;
}

static void cli_and_json_agree(struct check_ctx *c)
{
    char err1[256], err2[256];
    struct vm_def d;
    vmdef_init(&d);
    CHECK(c, vmdef_set(&d, vmdef_field_by_opt("--mem"), "--mem", "12Q", err1, sizeof(err1)) < 0,
          "bad --mem accepted");
    CHECK(c, !strcmp(err1, "invalid --mem '12Q' (want 16M..16G, e.g. 512, 1.5G)"), "'%s'", err1);
    CHECK(c, from_json(&d, "{\"mem\": \"12Q\"}", err2, sizeof(err2)) < 0, "bad mem accepted");
    CHECK(c, !strcmp(err2, "invalid mem '12Q' (want 16M..16G, e.g. 512, 1.5G)"), "'%s'", err2);
    vmdef_free(&d);
    CHECK(c, from_json(&d, "{\"cpus\": 65}", err2, sizeof(err2)) < 0, "65 cpus accepted");
    CHECK(c, strstr(err2, "invalid cpus '65' (want 1..64)") != NULL, "'%s'", err2);
    vmdef_free(&d);
    CHECK(c, from_json(&d, "{\"mem\": 512, \"cpus\": 2}", err2, sizeof(err2)) == 0, "%s", err2);
    CHECK_EQ(c, d.mem, 512ull << 20); /* an integer is MiB, as the CLI's bare number */
    CHECK_EQ(c, d.cpus, 2);
    vmdef_free(&d);
}

static void refusals(struct check_ctx *c)
{
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"cpus\": \"2\"}", "cpus: want an integer"},
        {"{\"kernel\": 3}", "kernel: want a string"},
        {"{\"disks\": \"a.img\"}", "disks: want an array of strings"},
        {"{\"disks\": [1]}", "disks: want an array of strings"},
        {"{\"rng\": 1}", "rng: want true or false"},
        {"{\"kernal\": \"x\"}", "unknown field 'kernal'; did you mean 'kernel'?"},
        {"{\"engine\": \"fast\"}", "invalid engine 'fast' (want jit or interp)"},
        {"{\"name\": \"-x\"}", "invalid VM name '-x'"},
        {"{\"append\": \"a\\nb\"}", "append holds a control character"},
        {"[1]", "a VM definition is a JSON object"},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vm_def d;
        char err[256] = "";
        CHECK(c, from_json(&d, bad[i].json, err, sizeof(err)) < 0, "%s accepted", bad[i].json);
        CHECK(c, !strncmp(err, bad[i].msg, strlen(bad[i].msg)), "%s: '%s'", bad[i].json, err);
        vmdef_free(&d);
    }
    struct vm_def d;
    char err[256];
    vmdef_init(&d);
    CHECK(c, vmdef_check(&d, err, sizeof(err)) < 0, "nothing to run accepted");
    for (int i = 0; i < VMDEF_LIST_MAX; i++)
        vmdef_set(&d, vmdef_field_by_key("disks"), "--disk", "/d.img", err, sizeof(err));
    CHECK(c, vmdef_set(&d, vmdef_field_by_key("disks"), "--disk", "/d.img", err, sizeof(err)) < 0,
          "a 17th disk accepted");
    vmdef_free(&d);
}

static void round_trip(struct check_ctx *c)
{
    const char *text = "{\"name\": \"vm1\", \"kernel\": \"/k\", \"initrd\": \"/i\", \"append\": "
                       "\"console=ttyS0\", \"mem\": \"1.5G\", \"cpus\": 3, \"engine\": \"interp\", "
                       "\"on_panic\": \"reboot\", \"shutdown_timeout\": 2.5, \"disks\": "
                       "[\"/a.img,ro\", \"/b.qcow2\"], \"nets\": [\"user\"], \"rng\": true, "
                       "\"autostart\": true}";
    struct vm_def d, e;
    char err[256];
    CHECK(c, from_json(&d, text, err, sizeof(err)) == 0, "%s", err);
    json_object *o = vmdef_to_json(&d);
    CHECK(c, from_json(&e, json_object_to_json_string(o), err, sizeof(err)) == 0, "%s", err);
    json_object_put(o);
    CHECK(c, !strcmp(e.name, "vm1") && !strcmp(e.kernel, "/k") && !strcmp(e.append, d.append),
          "strings differ");
    CHECK_EQ(c, e.mem, 1536ull << 20);
    CHECK_EQ(c, e.cpus, 3);
    CHECK_EQ(c, e.engine, VM_ENGINE_INTERP);
    CHECK_EQ(c, e.on_panic, VM_PANIC_REBOOT);
    CHECK(c, e.shutdown_timeout == 2.5, "timeout %g", e.shutdown_timeout);
    CHECK(c, e.disks.n == 2 && !strcmp(e.disks.v[1], "/b.qcow2"), "disks");
    CHECK(c, e.rng && e.autostart, "flags");
    char *argv[64], buf[128];
    int n = 0;
    CHECK(c, vmdef_to_argv(&e, argv, &n, 64, buf, sizeof(buf)) == 0, "argv");
    char joined[1024] = "";
    for (int i = 0; i < n; i++) {
        strcat(joined, argv[i]);
        strcat(joined, " ");
    }
    CHECK(c, strstr(joined, "--mem 1610612736B --cpus 3 --engine interp --on-panic reboot") != NULL,
          "'%s'", joined);
    CHECK(c, strstr(joined, "--disk /a.img,ro --disk /b.qcow2 --net user") != NULL, "'%s'", joined);
    CHECK(c, strstr(joined, "--rng") && !strstr(joined, "autostart"), "'%s'", joined);
    vmdef_free(&d);
    vmdef_free(&e);
}

/* The CPU scheduler's settings: ranges, messages, JSON and the worker's argv. */
static void sched_settings(struct check_ctx *c)
{
    struct vm_def d;
    char err[256], buf[128];
    vmdef_init(&d);
    CHECK_EQ(c, d.weight, 100);
    CHECK(c, from_json(&d, "{\"weight\": 0}", err, sizeof(err)) < 0, "weight 0 accepted");
    CHECK(c, !strcmp(err, "invalid weight '0' (want 1..10000)"), "'%s'", err);
    CHECK(c, from_json(&d, "{\"cap\": 6401}", err, sizeof(err)) < 0, "cap 6401 accepted");
    CHECK(c, from_json(&d, "{\"cap\": \"25\"}", err, sizeof(err)) < 0, "cap as a string");
    CHECK(c, from_json(&d, "{\"pin\": \"0,\"}", err, sizeof(err)) < 0, "pin '0,' accepted");
    CHECK(c, from_json(&d, "{\"pin\": \"3-1\"}", err, sizeof(err)) < 0, "pin '3-1' accepted");
    CHECK(c, from_json(&d, "{\"pin\": 0}", err, sizeof(err)) < 0, "pin as a number");
    cpu_set_t set;
    CHECK(c,
          vmdef_parse_pin("--pin", "0", &set, err, sizeof(err)) == 0 && CPU_ISSET(0, &set) &&
              CPU_COUNT(&set) == 1,
          "%s", err);
    CHECK(c, from_json(&d, "{\"weight\": 250, \"cap\": 25, \"pin\": \"0\"}", err, sizeof(err)) == 0,
          "%s", err);
    CHECK(c, d.weight == 250 && d.cap == 25 && d.pin && !strcmp(d.pin, "0"), "settings lost");
    json_object *o = vmdef_to_json(&d);
    CHECK(c, strstr(json_object_to_json_string(o), "\"pin\": \"0\"") != NULL, "json");
    json_object_put(o);
    char *argv[64];
    int n = 0;
    CHECK(c, vmdef_to_argv(&d, argv, &n, 64, buf, sizeof(buf)) == 0, "argv");
    int cap = 0, pin = 0;
    for (int i = 0; i + 1 < n; i++) {
        cap |= !strcmp(argv[i], "--cap") && !strcmp(argv[i + 1], "25");
        pin |= !strcmp(argv[i], "--pin") && !strcmp(argv[i + 1], "0");
    }
    CHECK(c, cap && pin, "the worker gets --cap 25 --pin 0");
    vmdef_free(&d);
    CHECK(c, from_json(&d, "{\"pin\": \"\"}", err, sizeof(err)) == 0 && !d.pin, "pin '' clears");
    vmdef_free(&d);
}

/* restore: a snapshot instead of a kernel, never with one; the worker's
 * --restore; the snapshot's machine read with its messages. */
static void restore_setting(struct check_ctx *c)
{
    struct vm_def d;
    char err[512], buf[128];
    CHECK(c, from_json(&d, "{\"restore\": \"/s.snap\"}", err, sizeof(err)) == 0, "%s", err);
    CHECK(c, vmdef_check(&d, err, sizeof(err)) == 0, "restore alone refused: %s", err);
    char *argv[64];
    int n = 0;
    CHECK(c, vmdef_to_argv(&d, argv, &n, 64, buf, sizeof(buf)) == 0, "argv");
    int found = 0;
    for (int i = 0; i + 1 < n; i++)
        found |= !strcmp(argv[i], "--restore") && !strcmp(argv[i + 1], "/s.snap");
    CHECK(c, found, "the worker gets --restore /s.snap");
    json_object *o = vmdef_to_json(&d);
    CHECK(c, strstr(json_object_to_json_string(o), "\"restore\": \"\\/s.snap\"") != NULL, "%s",
          json_object_to_json_string(o));
    json_object_put(o);
    vmdef_free(&d);
    CHECK(c, from_json(&d, "{\"restore\": \"/s\", \"kernel\": \"/k\"}", err, sizeof(err)) == 0,
          "%s", err);
    CHECK(c, vmdef_check(&d, err, sizeof(err)) < 0 && strstr(err, "leave them out"),
          "restore with a kernel: '%s'", err);
    vmdef_free(&d);
    struct vm_def m;
    vmdef_init(&m);
    CHECK(c, vmdef_snapshot_machine("s.snap", &m, err, sizeof(err)) < 0, "a relative path");
    CHECK(c, !strcmp(err, "restore 's.snap': want an absolute path"), "'%s'", err);
    CHECK(c, vmdef_snapshot_machine("/nonexistent/s", &m, err, sizeof(err)) < 0, "a missing file");
    CHECK(c, strstr(err, "No such file") != NULL, "'%s'", err);
    CHECK(c, vmdef_snapshot_machine("/proc/self/status", &m, err, sizeof(err)) < 0, "not one");
    CHECK(c, strstr(err, "is not a vmon snapshot") != NULL, "'%s'", err);
}

/* incoming: a migration address instead of a kernel; the worker gets
 * --incoming and no machine options of its own (they are the source's). */
static void incoming_setting(struct check_ctx *c)
{
    struct vm_def d;
    char err[512], buf[128];
    CHECK(c,
          from_json(&d, "{\"incoming\": \"unix:/m.sock\", \"incoming_timeout\": 5}", err,
                    sizeof(err)) == 0,
          "%s", err);
    CHECK(c, vmdef_check(&d, err, sizeof(err)) == 0 && vmdef_check_files(&d, err, sizeof(err)) == 0,
          "incoming alone refused: %s", err);
    CHECK(c, d.incoming_timeout == 5, "timeout %g", d.incoming_timeout);
    char *argv[64];
    int n = 0, found = 0, mem = 0;
    CHECK(c, vmdef_to_argv(&d, argv, &n, 64, buf, sizeof(buf)) == 0, "argv");
    for (int i = 0; i + 1 < n; i++) {
        found |= !strcmp(argv[i], "--incoming") && !strcmp(argv[i + 1], "unix:/m.sock");
        mem |= !strcmp(argv[i], "--mem") || !strcmp(argv[i], "--cpus");
    }
    CHECK(c, found && !mem, "the worker gets --incoming unix:/m.sock and no --mem or --cpus");
    vmdef_free(&d);
    static const char *const bad[][2] = {
        {"{\"incoming\": \"unix:/m\", \"kernel\": \"/k\"}", "leave them out"},
        {"{\"incoming\": \"unix:/m\", \"restore\": \"/s\"}", "exclude each other"},
        {"{\"incoming\": \"/m.sock\"}", "want unix:PATH or tcp:[HOST]:PORT"},
        {"{\"incoming\": \"tcp:host:99999\"}", "want unix:PATH or tcp:[HOST]:PORT"},
        {"{\"incoming\": \"unix:/a b\"}", "no spaces"},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(c, from_json(&d, bad[i][0], err, sizeof(err)) == 0, "%s", err);
        CHECK(c, vmdef_check(&d, err, sizeof(err)) < 0 && strstr(err, bad[i][1]), "%s: '%s'",
              bad[i][0], err);
        vmdef_free(&d);
    }
    CHECK(c,
          from_json(&d, "{\"incoming\": \"unix:m.sock\"}", err, sizeof(err)) == 0 &&
              vmdef_check(&d, err, sizeof(err)) == 0,
          "%s", err);
    CHECK(c, vmdef_check_files(&d, err, sizeof(err)) < 0 && strstr(err, "ABSOLUTE"),
          "relative for the service: '%s'", err);
    vmdef_free(&d);
    CHECK(c, vmdef_check_addr("to", "tcp::4444", 0, 1, err, sizeof(err)) < 0,
          "connecting needs a host");
    CHECK(c, vmdef_check_addr("to", "tcp:127.0.0.1:4444", 0, 1, err, sizeof(err)) == 0, "%s", err);
}

/* mem_limit: a size as mem's, 0 for none, less than mem, not with restore;
 * the JSON and the worker's --mem-limit. */
static void mem_limit_setting(struct check_ctx *c)
{
    struct vm_def d;
    char err[256], buf[128];
    CHECK(c,
          from_json(&d, "{\"mem\": \"512M\", \"mem_limit\": \"128M\", \"kernel\": \"/k\"}", err,
                    sizeof(err)) == 0,
          "%s", err);
    CHECK_EQ(c, d.mem_limit, 128ull << 20);
    CHECK(c, vmdef_check(&d, err, sizeof(err)) == 0, "%s", err);
    json_object *o = vmdef_to_json(&d);
    CHECK(c, strstr(json_object_to_json_string(o), "\"mem_limit\": \"128M\"") != NULL, "%s",
          json_object_to_json_string(o));
    json_object_put(o);
    char *argv[64];
    int n = 0, found = 0;
    CHECK(c, vmdef_to_argv(&d, argv, &n, 64, buf, sizeof(buf)) == 0, "argv");
    for (int i = 0; i + 1 < n; i++)
        found |= !strcmp(argv[i], "--mem-limit") && !strcmp(argv[i + 1], "134217728B");
    CHECK(c, found, "the worker gets --mem-limit 134217728B");
    vmdef_free(&d);
    CHECK(c, from_json(&d, "{\"mem_limit\": 64, \"kernel\": \"/k\"}", err, sizeof(err)) == 0, "%s",
          err);
    CHECK_EQ(c, d.mem_limit, 64ull << 20); /* an integer is MiB, as mem's */
    vmdef_free(&d);
    CHECK(c, from_json(&d, "{\"mem_limit\": 0}", err, sizeof(err)) == 0 && !d.mem_limit,
          "0 is no limit: %s", err);
    o = vmdef_to_json(&d);
    CHECK(c, !strstr(json_object_to_json_string(o), "mem_limit"), "no limit, no key");
    json_object_put(o);
    n = 0;
    CHECK(c, vmdef_to_argv(&d, argv, &n, 64, buf, sizeof(buf)) == 0, "argv");
    for (int i = 0; i < n; i++)
        CHECK(c, strcmp(argv[i], "--mem-limit"), "--mem-limit without a limit");
    vmdef_free(&d);
    vmdef_init(&d);
    CHECK(c,
          vmdef_set(&d, vmdef_field_by_opt("--mem-limit"), "--mem-limit", "lots", err,
                    sizeof(err)) < 0,
          "bad --mem-limit accepted");
    CHECK(c,
          !strcmp(err,
                  "invalid --mem-limit 'lots' (want 16M..16G, less than mem, e.g. 128M; 0: none)"),
          "'%s'", err);
    CHECK(c, from_json(&d, "{\"mem_limit\": \"1M\"}", err, sizeof(err)) < 0, "1M accepted");
    CHECK(c, !strncmp(err, "invalid mem_limit '1M' (want 16M..16G", 37), "'%s'", err);
    CHECK(c, from_json(&d, "{\"mem_limit\": true}", err, sizeof(err)) < 0, "a boolean");
    CHECK(c, !strncmp(err, "mem_limit: want a size string", 29), "'%s'", err);
    CHECK(c, from_json(&d, "{\"mem_limit\": \"256M\", \"kernel\": \"/k\"}", err, sizeof(err)) == 0,
          "%s", err);
    CHECK(c, vmdef_check(&d, err, sizeof(err)) < 0, "mem_limit = mem accepted");
    CHECK(c, !strcmp(err, "mem_limit (256 MiB) must be less than mem (256 MiB)"), "'%s'", err);
    vmdef_free(&d);
    CHECK(c,
          from_json(&d, "{\"mem\": 256, \"mem_limit\": \"1G\", \"kernel\": \"/k\"}", err,
                    sizeof(err)) == 0,
          "%s", err);
    CHECK(c, vmdef_check(&d, err, sizeof(err)) < 0 && strstr(err, "(1024 MiB) must be less"),
          "mem_limit > mem: '%s'", err);
    vmdef_free(&d);
    CHECK(c, from_json(&d, "{\"restore\": \"/s\", \"mem_limit\": 64}", err, sizeof(err)) == 0, "%s",
          err);
    CHECK(c, vmdef_check(&d, err, sizeof(err)) < 0 && strstr(err, "cannot be used with restore"),
          "restore with a limit: '%s'", err);
    vmdef_free(&d);
}

int main(void)
{
    struct check_ctx c = {0};
    cli_and_json_agree(&c);
    refusals(&c);
    round_trip(&c);
    sched_settings(&c);
    restore_setting(&c);
    incoming_setting(&c);
    mem_limit_setting(&c);
    return check_report(&c, "test_vmdef");
}
