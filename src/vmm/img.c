/* `vmon img`: create raw and qcow2 images (optionally over a backing file)
 * and describe an image.
 *
 *   vmon img create [-f raw|qcow2] [-b BACKING [-F raw|qcow2]] FILE [SIZE]
 *   vmon img info FILE
 */
#include "vmm/img.h"
#include "vmm/cli.h"
#include "backend/block.h"
#include "vmm/boot.h"
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

void img_usage(FILE *out)
{
    fprintf(out,
            "usage: vmon img create [-f raw|qcow2] [-b BACKING [-F raw|qcow2]] FILE [SIZE]\n"
            "       vmon img info [-f FMT] [--output=human|json] FILE\n"
            "       vmon img convert [-f FMT] [-O raw|qcow2] SRC DST   (zeros are not copied)\n"
            "       vmon img resize [-f FMT] [--shrink] FILE [+|-]SIZE\n"
            "       vmon img check [-f FMT] [-r leaks|all] FILE\n"
            "  SIZE is in bytes or takes a K/M/G/T suffix (1.5G) and must be a multiple of "
            "512; with -b it\n"
            "  defaults to the backing file's size. A relative BACKING is resolved\n"
            "  against the directory of FILE. -b implies -f qcow2; the default is raw.\n");
}

static const char *human(uint64_t v, char *buf, size_t len)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double d = (double)v;
    unsigned u = 0;
    while (d >= 1024 && u < 6) {
        d /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)v);
    else
        snprintf(buf, len, "%.3g %s", d, unit[u]);
    return buf;
}

static int img_create(int argc, char **argv)
{
    const char *fmt_s = NULL, *backing = NULL, *bfmt_s = NULL, *file = NULL, *size_s = NULL;
    static const struct cli_opt opts[] = {
        {"-f", "FORMAT", "image format: raw (default) or qcow2", 'f'},
        {"-b", "BACKING", "backing file (implies -f qcow2)", 'b'},
        {"-F", "FORMAT", "backing file format", 'F'},
    };
    struct cli c;
    cli_init(&c, "vmon img create", opts, 3, argc, argv);
    for (;;) {
        int r = cli_next(&c);
        if (r == CLI_END) break;
        if (r == CLI_HELP) {
            img_usage(stdout);
            return 0;
        }
        if (r == CLI_BAD) return 2;
        if (c.opt) {
            const char **dst = c.opt->id == 'f' ? &fmt_s : c.opt->id == 'b' ? &backing : &bfmt_s;
            *dst = c.value;
        } else if (!file) {
            file = c.positional;
        } else if (!size_s) {
            size_s = c.positional;
        } else {
            fprintf(stderr, "vmon img create: unexpected argument '%s'\n", c.positional);
            return 2;
        }
    }
    if (!file) {
        img_usage(stderr);
        return 2;
    }
    enum blk_format fmt = backing ? BLK_FMT_QCOW2 : BLK_FMT_RAW, bfmt = BLK_FMT_PROBE;
    if (fmt_s && blk_parse_format(fmt_s, &fmt) < 0) {
        fprintf(stderr, "vmon img create: unknown format '%s' (want raw or qcow2)\n", fmt_s);
        return 2;
    }
    if (bfmt_s && blk_parse_format(bfmt_s, &bfmt) < 0) {
        fprintf(stderr, "vmon img create: unknown backing format '%s' (want raw or qcow2)\n",
                bfmt_s);
        return 2;
    }
    if (bfmt_s && !backing) {
        fprintf(stderr, "vmon img create: -F needs -b\n");
        return 2;
    }
    if (backing && fmt != BLK_FMT_QCOW2) {
        fprintf(stderr, "vmon img create: a backing file needs the qcow2 format\n");
        return 2;
    }
    char err[1024];
    unsigned long long size = 0;
    if (size_s) {
        if (cli_parse_size(size_s, 0, &size) < 0) {
            fprintf(stderr, "vmon img create: invalid size '%s' (e.g. 512M, 4G)\n", size_s);
            return 2;
        }
    } else if (backing) {
        char *bpath = blk_resolve_backing(file, backing);
        struct blk *b =
            bpath ? blk_open(bpath, bfmt, BLK_RDONLY | BLK_NOLOCK, err, sizeof(err)) : NULL;
        if (!b) {
            fprintf(stderr, "vmon img create: backing file: %s\n", bpath ? err : "out of memory");
            free(bpath);
            return 1;
        }
        size = blk_size(b);
        blk_close(b);
        free(bpath);
    } else {
        fprintf(stderr, "vmon img create: no size given\n");
        img_usage(stderr);
        return 2;
    }
    if (size % 512) {
        fprintf(stderr, "vmon img create: size %llu is not a multiple of 512\n", size);
        return 2;
    }
    if (backing) {
        /* Check the backing file opens (and its chain is sane) now. */
        char *bpath = blk_resolve_backing(file, backing);
        struct blk *b =
            bpath ? blk_open(bpath, bfmt, BLK_RDONLY | BLK_NOLOCK, err, sizeof(err)) : NULL;
        if (!b) {
            fprintf(stderr, "vmon img create: backing file: %s\n", bpath ? err : "out of memory");
            free(bpath);
            return 1;
        }
        if (bfmt == BLK_FMT_PROBE)
            bfmt = strcmp(b->ops->name, "qcow2") ? BLK_FMT_RAW : BLK_FMT_QCOW2;
        blk_close(b);
        free(bpath);
    }
    if (blk_create(file, fmt, size, backing, bfmt, 0, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmon img create: %s\n", err);
        return 1;
    }
    char h[32];
    printf("Formatting '%s', fmt=%s size=%llu (%s)%s%s\n", file, blk_format_name(fmt), size,
           human(size, h, sizeof(h)), backing ? " backing_file=" : "", backing ? backing : "");
    return 0;
}

/* img info --output=json: the field names qemu-img uses. */
static void info_json(const char *file, const struct blk_info *info)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "filename", json_object_new_string(file));
    json_object_object_add(o, "format", json_object_new_string(info->format));
    json_object_object_add(o, "virtual-size", json_object_new_int64((int64_t)info->virtual_size));
    json_object_object_add(o, "actual-size", json_object_new_int64((int64_t)info->disk_size));
    json_object_object_add(o, "dirty-flag", json_object_new_boolean(info->dirty));
    if (info->cluster_size) {
        json_object_object_add(o, "cluster-size", json_object_new_int64(info->cluster_size));
        json_object_object_add(o, "allocated-size",
                               json_object_new_int64((int64_t)info->allocated));
        json_object *spec = json_object_new_object(), *data = json_object_new_object();
        json_object_object_add(data, "compat",
                               json_object_new_string(info->version >= 3 ? "1.1" : "0.10"));
        json_object_object_add(data, "corrupt", json_object_new_boolean(info->corrupt));
        json_object_object_add(spec, "type", json_object_new_string(info->format));
        json_object_object_add(spec, "data", data);
        json_object_object_add(o, "format-specific", spec);
    }
    if (info->backing[0]) {
        json_object_object_add(o, "backing-filename", json_object_new_string(info->backing));
        json_object_object_add(o, "full-backing-filename",
                               json_object_new_string(info->backing_path));
        json_object_object_add(o, "backing-filename-format",
                               json_object_new_string(info->backing_fmt));
    }
    printf("%s\n",
           json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

static void info_text(const char *file, const struct blk_info *info)
{
    char h[32];
    printf("image: %s\n", file);
    printf("file format: %s\n", info->format);
    if (info->version) printf("version: %d\n", info->version);
    printf("virtual size: %s (%llu bytes)\n", human(info->virtual_size, h, sizeof(h)),
           (unsigned long long)info->virtual_size);
    printf("disk size: %s\n", human(info->disk_size, h, sizeof(h)));
    if (info->cluster_size) {
        printf("cluster size: %u\n", info->cluster_size);
        printf("allocated: %s (%llu bytes in this image)\n", human(info->allocated, h, sizeof(h)),
               (unsigned long long)info->allocated);
    }
    if (info->backing[0]) {
        printf("backing file: %s (actual path: %s)\n", info->backing, info->backing_path);
        printf("backing file format: %s\n", info->backing_fmt);
    }
    if (info->dirty) printf("dirty: yes (not closed cleanly)\n");
    if (info->corrupt) printf("corrupt: yes\n");
}

/* Options and FILE arguments of the img subcommands: -f FMT, -O FMT,
 * --output=FMT, --shrink, -r leaks|all, then positionals. */
struct img_args {
    const char *fmt, *out_fmt, *output, *repair;
    int shrink;
    const char *pos[3];
    unsigned npos;
};

static int img_parse(const char *cmd, int argc, char **argv, unsigned maxpos, struct img_args *a)
{
    static const struct cli_opt opts[] = {
        {"-f", "FORMAT", "format of the (source) image: raw or qcow2 (default: probe)", 'f'},
        {"-O", "FORMAT", "format of the output image (convert): raw or qcow2", 'O'},
        {"--output", "human|json", "how info prints (default human)", 'o'},
        {"--shrink", NULL, "allow resize to make a raw image smaller", 's'},
        {"-r", "leaks|all", "check: repair leaked clusters", 'r'},
    };
    memset(a, 0, sizeof(*a));
    struct cli c;
    cli_init(&c, cmd, opts, sizeof(opts) / sizeof(opts[0]), argc, argv);
    for (;;) {
        int r = cli_next(&c);
        if (r == CLI_END) return 0;
        if (r == CLI_HELP) {
            img_usage(stdout);
            return 1;
        }
        if (r == CLI_BAD) return -1;
        if (!c.opt) {
            /* "-1G" is a size for resize, not an option */
            if (a->npos >= maxpos) {
                fprintf(stderr, "%s: unexpected argument '%s'\n", cmd, c.positional);
                return -1;
            }
            a->pos[a->npos++] = c.positional;
            continue;
        }
        switch (c.opt->id) {
        case 'f': a->fmt = c.value; break;
        case 'O': a->out_fmt = c.value; break;
        case 'o': a->output = c.value; break;
        case 's': a->shrink = 1; break;
        case 'r': a->repair = c.value; break;
        }
    }
}

static int parse_fmt(const char *cmd, const char *name, enum blk_format *fmt)
{
    *fmt = BLK_FMT_PROBE;
    if (name && blk_parse_format(name, fmt) < 0) {
        fprintf(stderr, "%s: unknown format '%s' (want raw or qcow2)\n", cmd, name);
        return -1;
    }
    return 0;
}

#define IMG_ARGS(cmd, maxpos, minpos)                                                              \
    struct img_args a;                                                                             \
    int pr_ = img_parse(cmd, argc, argv, maxpos, &a);                                              \
    if (pr_) return pr_ > 0 ? 0 : 2;                                                               \
    if (a.npos < (minpos)) {                                                                       \
        fprintf(stderr, "%s: missing arguments (see vmon img --help)\n", cmd);                     \
        return 2;                                                                                  \
    }

static int img_info(int argc, char **argv)
{
    IMG_ARGS("vmon img info", 1, 1);
    if (a.output && strcmp(a.output, "json") && strcmp(a.output, "human")) {
        fprintf(stderr, "vmon img info: unknown --output '%s' (want human or json)\n", a.output);
        return 2;
    }
    enum blk_format fmt;
    if (parse_fmt("vmon img info", a.fmt, &fmt) < 0) return 2;
    const char *file = a.pos[0];
    char err[1024];
    struct blk *b = blk_open(file, fmt, BLK_RDONLY | BLK_NOLOCK, err, sizeof(err));
    int chain_broken = 0;
    if (!b) {
        /* Still describe the image itself when only its backing chain is
         * broken (missing file, loop): then report the chain and fail. */
        char err2[1024];
        b = blk_open(file, fmt, BLK_RDONLY | BLK_NOLOCK | BLK_NOBACKING, err2, sizeof(err2));
        if (!b) {
            fprintf(stderr, "vmon img info: %s\n", err);
            return 1;
        }
        chain_broken = 1;
    }
    struct blk_info info;
    blk_info(b, &info);
    if (a.output && !strcmp(a.output, "json"))
        info_json(file, &info);
    else
        info_text(file, &info);
    blk_close(b);
    if (chain_broken) {
        fflush(stdout);
        fprintf(stderr, "vmon img info: %s\n", err);
        return 1;
    }
    return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* Copy every nonzero chunk of src into a new image dst: a qcow2 output
 * allocates only those (compaction), a raw one stays sparse. The source's
 * backing chain is read through, so the result stands alone. */
static int img_convert(int argc, char **argv)
{
    IMG_ARGS("vmon img convert", 2, 2);
    enum blk_format fmt, ofmt;
    if (parse_fmt("vmon img convert", a.fmt, &fmt) < 0) return 2;
    if (parse_fmt("vmon img convert", a.out_fmt ? a.out_fmt : "raw", &ofmt) < 0) return 2;
    char err[1024];
    struct blk *src = blk_open(a.pos[0], fmt, BLK_RDONLY, err, sizeof(err));
    if (!src) {
        fprintf(stderr, "vmon img convert: %s\n", err);
        return 1;
    }
    uint64_t size = blk_size(src);
    if (blk_create(a.pos[1], ofmt, size, NULL, BLK_FMT_PROBE, 0, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmon img convert: %s\n", err);
        blk_close(src);
        return 1;
    }
    struct blk *dst = blk_open(a.pos[1], ofmt, 0, err, sizeof(err));
    int rc = 1;
    size_t chunk = 1u << 20;
    uint8_t *buf = malloc(chunk);
    if (!dst || !buf) {
        fprintf(stderr, "vmon img convert: %s\n", dst ? "out of memory" : err);
        goto out;
    }
    uint64_t data = 0;
    for (uint64_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
        struct iovec v = {buf, n};
        int e = blk_readv(src, off, &v, 1);
        if (!e && !all_zero(buf, n)) {
            e = blk_writev(dst, off, &v, 1);
            data += n;
        }
        if (e) {
            fprintf(stderr, "vmon img convert: at offset %llu: %s\n", (unsigned long long)off,
                    strerror(-e));
            goto out;
        }
    }
    if (dst->ops->flush(dst) < 0) {
        fprintf(stderr, "vmon img convert: flush failed\n");
        goto out;
    }
    char h1[32], h2[32];
    printf("converted %s (%s) to %s (%s): %s virtual, %s of data\n", a.pos[0], src->ops->name,
           a.pos[1], blk_format_name(ofmt), human(size, h1, sizeof(h1)),
           human(data, h2, sizeof(h2)));
    rc = 0;
out:
    free(buf);
    if (dst) blk_close(dst);
    blk_close(src);
    if (rc) unlink(a.pos[1]); /* leave no half image behind */
    return rc;
}

static int img_resize(int argc, char **argv)
{
    IMG_ARGS("vmon img resize", 2, 2);
    enum blk_format fmt;
    if (parse_fmt("vmon img resize", a.fmt, &fmt) < 0) return 2;
    const char *spec = a.pos[1];
    int sign = spec[0] == '+' ? 1 : spec[0] == '-' ? -1 : 0;
    unsigned long long n;
    if (cli_parse_size(spec + (sign != 0), 0, &n) < 0) {
        fprintf(stderr, "vmon img resize: invalid size '%s' (e.g. 10G, +1G, -512M)\n", spec);
        return 2;
    }
    char err[1024];
    struct blk *b = blk_open(a.pos[0], fmt, 0, err, sizeof(err));
    if (!b) {
        fprintf(stderr, "vmon img resize: %s\n", err);
        return 1;
    }
    uint64_t old = blk_size(b), size = sign > 0 ? old + n : sign < 0 ? old - n : n;
    int rc = 1;
    if ((sign < 0 && n > old) || (sign > 0 && size < old) || (size & 511) || size == 0) {
        fprintf(stderr, "vmon img resize: new size %lld is not a positive multiple of 512\n",
                (long long)size);
    } else if (!strcmp(b->ops->name, "qcow2")) {
        if (qcow2_resize(b, size, err, sizeof(err)) < 0)
            fprintf(stderr, "vmon img resize: %s\n", err);
        else
            rc = 0;
    } else if (size < old && !a.shrink) {
        fprintf(stderr, "vmon img resize: shrinking loses the data past the new end; "
                        "give --shrink if that is meant\n");
    } else if (raw_resize(b, size, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmon img resize: %s\n", err);
    } else {
        rc = 0;
    }
    blk_close(b);
    if (!rc) printf("Image resized to %llu bytes.\n", (unsigned long long)size);
    return rc;
}

/* Exit status as qemu-img check: 0 clean, 2 errors, 3 leaks only. */
static int img_check(int argc, char **argv)
{
    IMG_ARGS("vmon img check", 1, 1);
    enum blk_format fmt;
    if (parse_fmt("vmon img check", a.fmt, &fmt) < 0) return 2;
    if (a.repair && strcmp(a.repair, "leaks") && strcmp(a.repair, "all")) {
        fprintf(stderr, "vmon img check: unknown -r '%s' (want leaks or all)\n", a.repair);
        return 2;
    }
    char err[1024];
    struct blk *b =
        blk_open(a.pos[0], fmt, a.repair ? 0 : BLK_RDONLY | BLK_NOBACKING, err, sizeof(err));
    if (!b) {
        fprintf(stderr, "vmon img check: %s\n", err);
        return 2;
    }
    if (strcmp(b->ops->name, "qcow2")) {
        printf("%s: a raw image has no metadata to check.\n", a.pos[0]);
        blk_close(b);
        return 0;
    }
    struct blk_check r;
    int e = qcow2_check(b, a.repair != NULL, stdout, &r);
    blk_close(b);
    if (e == -ENOTSUP) return 1;
    if (r.repaired)
        printf("The following inconsistencies were found and repaired:\n"
               "    %llu leaked clusters\n",
               (unsigned long long)r.repaired);
    if (r.errors)
        printf("%llu errors were found on the image.\nData may be corrupted, or further writes "
               "to the image may corrupt it.\n",
               (unsigned long long)r.errors);
    if (r.leaks)
        printf("%llu leaked clusters were found on the image.\nThis means waste of disk space, "
               "but no harm to data (vmon img check -r leaks frees them).\n",
               (unsigned long long)r.leaks);
    if (!r.errors && !r.leaks) printf("No errors were found on the image.\n");
    return r.errors || e ? 2 : r.leaks ? 3 : 0;
}

int img_main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        img_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } subs[] = {{"create", img_create},
                {"info", img_info},
                {"convert", img_convert},
                {"resize", img_resize},
                {"check", img_check}};
    for (unsigned i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (!strcmp(argv[1], subs[i].name)) return subs[i].fn(argc - 1, argv + 1);
    const char *names[sizeof(subs) / sizeof(subs[0])];
    for (unsigned i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        names[i] = subs[i].name;
    const char *s = cli_suggest(argv[1], names, sizeof(subs) / sizeof(subs[0]));
    if (s)
        fprintf(stderr, "vmon img: unknown command '%s'; did you mean '%s'?\n", argv[1], s);
    else
        fprintf(stderr,
                "vmon img: unknown command '%s' (want create, info, convert, resize or check)\n",
                argv[1]);
    return 2;
}
