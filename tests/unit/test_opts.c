/* Device option strings (vmm/opts.h): the leading path with ",," escapes,
 * option splitting and bounds, printable-ASCII checks; sizes as QEMU reads
 * them and "did you mean" (vmm/cli.h). */
#include "check.h"
#include "vmm/opts.h"
#include "vmm/cli.h"
#include <string.h>

int main(void)
{
    struct check_ctx c = {0};
    char path[16], opt[8];
    const char *p = "a,,b.img,ro,serial=xy";
    CHECK_EQ(&c, opt_leading_path(&p, path, sizeof(path)), 7);
    CHECK(&c, !strcmp(path, "a,b.img"), "path '%s'", path);
    CHECK_EQ(&c, opt_next(&p, opt, sizeof(opt)), 1);
    CHECK(&c, !strcmp(opt, "ro"), "opt '%s'", opt);
    CHECK_EQ(&c, opt_next(&p, opt, sizeof(opt)), -1); /* "serial=xy" needs 10 bytes */
    p = ",x";
    CHECK_EQ(&c, opt_leading_path(&p, path, sizeof(path)), 0);
    CHECK_EQ(&c, opt_next(&p, opt, sizeof(opt)), 1);
    CHECK(&c, !strcmp(opt, "x"), "opt '%s'", opt);
    CHECK_EQ(&c, opt_next(&p, opt, sizeof(opt)), 0);
    p = "x,";
    CHECK_EQ(&c, opt_leading_path(&p, path, sizeof(path)), 1);
    CHECK_EQ(&c, opt_next(&p, opt, sizeof(opt)), 1);
    CHECK(&c, !strcmp(opt, ""), "empty option '%s'", opt);
    p = "0123456789abcdefXYZ";
    CHECK_EQ(&c, opt_leading_path(&p, path, sizeof(path)), -1);
    CHECK(&c, opt_printable("tag_1", 8), "plain tag");
    CHECK(&c, !opt_printable("a b", 8), "space");
    CHECK(&c, !opt_printable("", 8), "empty");
    CHECK(&c, !opt_printable("123456789", 8), "too long");
    CHECK(&c, !opt_printable("\x7f", 8), "DEL");
    /* Sizes: a bare number is MiB for memory, bytes for images. */
    unsigned long long v = 0;
    CHECK(&c, cli_parse_size("512", 20, &v) == 0 && v == 512ull << 20, "512 -> %llu", v);
    CHECK(&c, cli_parse_size("512", 0, &v) == 0 && v == 512, "512 bytes -> %llu", v);
    CHECK(&c, cli_parse_size("1.5G", 20, &v) == 0 && v == 3ull << 29, "1.5G -> %llu", v);
    CHECK(&c, cli_parse_size("2048M", 20, &v) == 0 && v == 2ull << 30, "2048M -> %llu", v);
    CHECK(&c, cli_parse_size("1T", 20, &v) == 0 && v == 1ull << 40, "1T -> %llu", v);
    CHECK(&c, cli_parse_size("64k", 20, &v) == 0 && v == 64ull << 10, "64k -> %llu", v);
    CHECK(&c, cli_parse_size("1GB", 20, &v) == 0 && v == 1ull << 30, "1GB -> %llu", v);
    CHECK(&c, cli_parse_size("4096B", 20, &v) == 0 && v == 4096, "4096B -> %llu", v);
    CHECK(&c, cli_parse_size("0.25M", 0, &v) == 0 && v == 1ull << 18, "0.25M -> %llu", v);
    static const char *const bad[] = {
        "",          "M",      "-1", "1.", ".5G", "1X", "1GG", "1BB", "99999999999999999999",
        "16777216T", "1.2.3G", "1 G"};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(&c, cli_parse_size(bad[i], 20, &v) < 0, "'%s' refused", bad[i]);
    static const char *const names[] = {"--kernel", "--initrd", "--cpus", "--console"};
    const char *s = cli_suggest("--kernal", names, 4);
    CHECK(&c, s && !strcmp(s, "--kernel"), "--kernal -> %s", s ? s : "none");
    s = cli_suggest("--cpu", names, 4);
    CHECK(&c, s && !strcmp(s, "--cpus"), "--cpu -> %s", s ? s : "none");
    CHECK(&c, cli_suggest("--frobnicate", names, 4) == NULL, "no suggestion for nonsense");
    return check_report(&c, "test_opts");
}
