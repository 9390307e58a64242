/* Kernel files as users have them: compressed Images (gzip, xz, zstd, via
 * zlib, liblzma and libzstd), EFI zboot images (an EFI stub wrapped around a
 * compressed Image), and for anything that is not a kernel, a description
 * of what it looks like. */
#include "vmm/kimage.h"
#include "mem/bytes.h"
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

enum comp { COMP_NONE, COMP_GZIP, COMP_XZ, COMP_ZSTD, COMP_OTHER };

static enum comp comp_of(const uint8_t *f, size_t n, const char **name)
{
    static const struct {
        const char *magic;
        size_t len;
        enum comp c;
        const char *name;
    } tab[] = {
        {"\x1f\x8b", 2, COMP_GZIP, "gzip"},
        {"\xfd"
         "7zXZ\0",
         6, COMP_XZ, "xz"},
        {"\x28\xb5\x2f\xfd", 4, COMP_ZSTD, "zstd"},
        {"BZh", 3, COMP_OTHER, "bzip2"},
        {"\x04\x22\x4d\x18", 4, COMP_OTHER, "lz4"},
        {"\x89LZO", 4, COMP_OTHER, "lzo"},
        {"\x5d\0\0", 3, COMP_OTHER, "lzma"},
    };
    for (unsigned i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (n >= tab[i].len && !memcmp(f, tab[i].magic, tab[i].len)) {
            *name = tab[i].name;
            return tab[i].c;
        }
    }
    return COMP_NONE;
}

static uint8_t *grow(uint8_t *buf, size_t *cap, size_t max)
{
    size_t ncap = *cap ? *cap * 2 : (16u << 20);
    if (ncap > max) ncap = max;
    uint8_t *p = realloc(buf, ncap);
    if (!p) free(buf);
    *cap = ncap;
    return p;
}

static uint8_t *gunzip(const uint8_t *in, size_t n, size_t max, size_t *out_len, const char **why)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return *why = "zlib init failed", NULL;
    uint8_t *out = NULL;
    size_t cap = 0;
    int r = Z_OK;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)(n > UINT32_MAX ? UINT32_MAX : n);
    while (r != Z_STREAM_END) {
        if (z.total_out == cap) {
            if (cap >= max) return inflateEnd(&z), free(out), *why = "larger than guest RAM", NULL;
            if (!(out = grow(out, &cap, max))) return inflateEnd(&z), *why = "out of memory", NULL;
        }
        z.next_out = out + z.total_out;
        z.avail_out = (uInt)(cap - z.total_out);
        r = inflate(&z, Z_NO_FLUSH);
        if (r != Z_OK && r != Z_STREAM_END) {
            *why = r == Z_BUF_ERROR ? "truncated" : "corrupt";
            inflateEnd(&z);
            free(out);
            return NULL;
        }
    }
    *out_len = z.total_out;
    inflateEnd(&z);
    return out;
}

static uint8_t *unxz(const uint8_t *in, size_t n, size_t max, size_t *out_len, const char **why)
{
    lzma_stream s = LZMA_STREAM_INIT;
    if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK) return *why = "lzma init failed", NULL;
    uint8_t *out = NULL;
    size_t cap = 0;
    s.next_in = in;
    s.avail_in = n;
    lzma_ret r = LZMA_OK;
    while (r != LZMA_STREAM_END) {
        if (s.total_out == cap) {
            if (cap >= max) return lzma_end(&s), free(out), *why = "larger than guest RAM", NULL;
            if (!(out = grow(out, &cap, max))) return lzma_end(&s), *why = "out of memory", NULL;
        }
        s.next_out = out + s.total_out;
        s.avail_out = cap - s.total_out;
        r = lzma_code(&s, LZMA_FINISH);
        if (r != LZMA_OK && r != LZMA_STREAM_END) {
            *why = r == LZMA_BUF_ERROR ? "truncated" : "corrupt";
            lzma_end(&s);
            free(out);
            return NULL;
        }
    }
    *out_len = s.total_out;
    lzma_end(&s);
    return out;
}

static uint8_t *unzstd(const uint8_t *in, size_t n, size_t max, size_t *out_len, const char **why)
{
    ZSTD_DStream *d = ZSTD_createDStream();
    if (!d) return *why = "out of memory", NULL;
    uint8_t *out = NULL;
    size_t cap = 0, done = 0;
    ZSTD_inBuffer ib = {in, n, 0};
    for (;;) {
        if (done == cap) {
            if (cap >= max)
                return ZSTD_freeDStream(d), free(out), *why = "larger than guest RAM", NULL;
            if (!(out = grow(out, &cap, max)))
                return ZSTD_freeDStream(d), *why = "out of memory", NULL;
        }
        ZSTD_outBuffer ob = {out + done, cap - done, 0};
        size_t r = ZSTD_decompressStream(d, &ob, &ib);
        done += ob.pos;
        if (ZSTD_isError(r)) {
            ZSTD_freeDStream(d);
            free(out);
            return *why = "corrupt", NULL;
        }
        if (r == 0) break; /* a frame is complete */
        if (ib.pos == ib.size && ob.pos < ob.size) {
            ZSTD_freeDStream(d);
            free(out);
            return *why = "truncated", NULL;
        }
    }
    ZSTD_freeDStream(d);
    *out_len = done;
    return out;
}

/* EFI zboot (drivers/firmware/efi/libstub/zboot-header.S): "MZ", then
 * "zimg" at 4, payload offset and size at 8 and 12, compression name at 24. */
static int zboot_payload(const uint8_t *f, size_t n, size_t *off, size_t *len)
{
    if (n < 64 || memcmp(f, "MZ", 2) || memcmp(f + 4, "zimg", 4)) return 0;
    uint32_t o = get_le32(f + 8), l = get_le32(f + 12);
    if (o > n || l > n - o) return -1;
    *off = o;
    *len = l;
    return 1;
}

uint8_t *kimage_unpack(uint8_t *f, size_t *n, size_t max, const char *path, char *err,
                       size_t errlen)
{
    size_t off = 0, len = *n;
    int zb = zboot_payload(f, *n, &off, &len);
    if (zb < 0) {
        snprintf(err, errlen, "%s: EFI zboot image whose payload lies outside the file", path);
        free(f);
        return NULL;
    }
    const char *name = NULL, *why = NULL;
    enum comp c = comp_of(f + off, len, &name);
    if (c == COMP_NONE) {
        if (zb) {
            snprintf(err, errlen, "%s: EFI zboot image with an unknown payload", path);
            free(f);
            return NULL;
        }
        return f;
    }
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (c == COMP_GZIP) out = gunzip(f + off, len, max, &out_len, &why);
    if (c == COMP_XZ) out = unxz(f + off, len, max, &out_len, &why);
    if (c == COMP_ZSTD) out = unzstd(f + off, len, max, &out_len, &why);
    if (c == COMP_OTHER) why = "compression vmon does not read (use gzip, xz or zstd)";
    if (!out)
        snprintf(err, errlen, "%s: %s%s-compressed kernel: %s", path, zb ? "EFI zboot, " : "", name,
                 why);
    free(f);
    *n = out_len;
    return out;
}

const char *kimage_describe(const uint8_t *f, size_t n)
{
    static const struct {
        size_t off;
        const char *magic;
        size_t len;
        const char *what;
    } tab[] = {
        {0, "QFI\xfb", 4, "a qcow2 disk image"},
        {0, "070701", 6, "a cpio archive (an initramfs? give it with --initrd)"},
        {0, "070702", 6, "a cpio archive (an initramfs? give it with --initrd)"},
        {0x438, "\x53\xef", 2, "an ext2/3/4 file system (a root disk? give it with --disk)"},
        {257, "ustar", 5, "a tar archive"},
        {0, "PK\x03\x04", 4, "a zip archive"},
        {0, "\xd0\x0d\xfe\xed", 4, "a device tree blob"},
        {0, "#!", 2, "a script"},
        {0, "!<arch>", 7, "an ar archive (a .deb package? extract the kernel from it)"},
        {0, "ANDROID!", 8, "an Android boot image"},
        {0, "\x27\x05\x19\x56", 4, "a U-Boot legacy uImage (give the Image inside it)"},
    };
    for (unsigned i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (n >= tab[i].off + tab[i].len && !memcmp(f + tab[i].off, tab[i].magic, tab[i].len))
            return tab[i].what;
    if (n >= 512 && f[510] == 0x55 && f[511] == 0xaa) return "a disk image with a partition table";
    if (n >= 2 && !memcmp(f, "MZ", 2)) return "a PE/EFI executable without a RISC-V Image header";
    /* Mostly printable text is no kernel. */
    size_t text = 0, look = n < 4096 ? n : 4096;
    for (size_t i = 0; i < look; i++)
        if ((f[i] >= 0x20 && f[i] < 0x7f) || f[i] == '\n' || f[i] == '\r' || f[i] == '\t') text++;
    if (look && text * 100 >= look * 95) return "a text file";
    return NULL;
}
