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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void img_usage(FILE *out)
{
    fprintf(out, "usage: vmon img create [-f raw|qcow2] [-b BACKING [-F raw|qcow2]] FILE [SIZE]\n"
                 "       vmon img info FILE\n"
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

static int img_info(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        img_usage(stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        img_usage(stderr);
        return 2;
    }
    const char *file = argv[1];
    char err[1024];
    struct blk *b = blk_open(file, BLK_FMT_PROBE, BLK_RDONLY | BLK_NOLOCK, err, sizeof(err));
    int chain_broken = 0;
    if (!b) {
        /* Still describe the image itself when only its backing chain is
         * broken (missing file, loop): then report the chain and fail. */
        char err2[1024];
        b = blk_open(file, BLK_FMT_PROBE, BLK_RDONLY | BLK_NOLOCK | BLK_NOBACKING, err2,
                     sizeof(err2));
        if (!b) {
            fprintf(stderr, "vmon img info: %s\n", err);
            return 1;
        }
        chain_broken = 1;
    }
    struct blk_info info;
    blk_info(b, &info);
    char h[32];
    printf("image: %s\n", file);
    printf("file format: %s\n", info.format);
    if (info.version) printf("version: %d\n", info.version);
    printf("virtual size: %s (%llu bytes)\n", human(info.virtual_size, h, sizeof(h)),
           (unsigned long long)info.virtual_size);
    printf("disk size: %s\n", human(info.disk_size, h, sizeof(h)));
    if (info.cluster_size) {
        printf("cluster size: %u\n", info.cluster_size);
        printf("allocated: %s (%llu bytes in this image)\n", human(info.allocated, h, sizeof(h)),
               (unsigned long long)info.allocated);
    }
    if (info.backing[0]) {
        printf("backing file: %s (actual path: %s)\n", info.backing, info.backing_path);
        printf("backing file format: %s\n", info.backing_fmt);
    }
    if (info.dirty) printf("dirty: yes (not closed cleanly)\n");
    if (info.corrupt) printf("corrupt: yes\n");
    blk_close(b);
    if (chain_broken) {
        fflush(stdout);
        fprintf(stderr, "vmon img info: %s\n", err);
        return 1;
    }
    return 0;
}

int img_main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        img_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "create")) return img_create(argc - 1, argv + 1);
    if (!strcmp(argv[1], "info")) return img_info(argc - 1, argv + 1);
    static const char *const subs[] = {"create", "info"};
    const char *s = cli_suggest(argv[1], subs, 2);
    if (s)
        fprintf(stderr, "vmon img: unknown command '%s'; did you mean '%s'?\n", argv[1], s);
    else
        fprintf(stderr, "vmon img: unknown command '%s' (want create or info)\n", argv[1]);
    return 2;
}
