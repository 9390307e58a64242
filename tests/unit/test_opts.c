/* Device option strings (vmm/opts.h): the leading path with ",," escapes,
 * option splitting and bounds, printable-ASCII checks. */
#include "check.h"
#include "vmm/opts.h"
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
    return check_report(&c, "test_opts");
}
