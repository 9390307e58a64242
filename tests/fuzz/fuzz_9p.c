/* libFuzzer target: the 9P2000.L server (virtio/9p.h). Each input is a
 * series of messages served after a valid Tversion and Tattach (fid 0 = the
 * share root). A message starts with a kind byte and a byte that picks the
 * reply buffer's size; kinds with the top bit set are raw bytes (16-bit
 * length, then the message), the others name a T-message whose fields are
 * built from the following input bytes (small fids, names from a list that
 * includes "..", "." and the symlinks, or raw), so the fuzzer reaches every
 * operation with plausible arguments as well as garbage. The share
 * is a fresh temporary directory per input, with a file, a directory, a
 * FIFO and symlinks pointing outside it; next to it lies a directory that
 * must never change. Any crash, sanitizer report, malformed reply, or change
 * outside the share is a finding. Build with `make fuzz`; run
 * build/fuzz/fuzz_9p -max_total_time=60. */
#include "virtio/9p.h"
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char top[256], share[300], outside[300];
static uint8_t *reply;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (ftw->level == 0) return 0;
    chmod(path, 0700);
    return remove(path) < 0 ? 0 : 0;
}

static void cleanup(void)
{
    if (!top[0]) return;
    nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    rmdir(top);
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
}

static void fresh_share(void)
{
    chmod(share, 0755);
    nftw(share, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    char p[400];
    put_file(share, "a", "hello 9p\n");
    snprintf(p, sizeof(p), "%s/d", share);
    mkdir(p, 0755);
    put_file(p, "b", "inner\n");
    snprintf(p, sizeof(p), "%s/e", share);
    symlink("/etc", p);
    snprintf(p, sizeof(p), "%s/u", share);
    symlink("../outside", p);
    snprintf(p, sizeof(p), "%s/f", share);
    mkfifo(p, 0644);
}

static void setup(void)
{
    if (top[0]) return;
    const char *t = getenv("TMPDIR");
    snprintf(top, sizeof(top), "%s/vmon-fuzz9p-XXXXXX", t ? t : "/tmp");
    if (!mkdtemp(top)) abort();
    snprintf(share, sizeof(share), "%s/s", top);
    snprintf(outside, sizeof(outside), "%s/outside", top);
    if (mkdir(share, 0755) || mkdir(outside, 0755)) abort();
    put_file(outside, "secret", "outside\n");
    reply = malloc(P9_MAX_MSIZE);
    if (!reply) abort();
    atexit(cleanup);
}

static void check_outside(void)
{
    struct stat st;
    char p[400];
    snprintf(p, sizeof(p), "%s/secret", outside);
    if (stat(p, &st) < 0 || st.st_size != 8) abort();
    int n = 0;
    DIR *d = opendir(outside);
    if (!d) abort();
    struct dirent *e;
    while ((e = readdir(d)))
        n++;
    closedir(d);
    if (n != 3) abort(); /* ".", "..", "secret" */
    d = opendir(top);
    if (!d) abort();
    n = 0;
    while ((e = readdir(d)))
        n++;
    closedir(d);
    if (n != 4) abort(); /* ".", "..", "s", "outside" */
}

static void serve(struct p9_server *s, const uint8_t *msg, size_t len, size_t cap)
{
    struct iovec iov[3];
    unsigned n = 1;
    iov[0] = (struct iovec){reply, cap};
    if (cap > 64) { /* sometimes scatter the reply over three buffers */
        size_t a = cap / 3, b = cap / 3;
        iov[0].iov_len = a;
        iov[1] = (struct iovec){reply + a, b};
        iov[2] = (struct iovec){reply + a + b, cap - a - b};
        n = 3;
    }
    size_t r = p9_server_handle(s, msg, len, iov, n);
    if (r == 0) return;
    uint32_t size = (uint32_t)reply[0] | (uint32_t)reply[1] << 8 | (uint32_t)reply[2] << 16 |
                    (uint32_t)reply[3] << 24;
    if (r > cap || r < 7 || size != r) abort();
    if (len >= 7 && (reply[5] != msg[5] || reply[6] != msg[6])) abort(); /* tag echoed */
    if (reply[4] != P9_RLERROR && reply[4] != (uint8_t)(msg[4] + 1)) abort();
    if (reply[4] == P9_RLERROR && r != 11) abort();
}

/* T-message field layouts: f fid, 1/2/4/8 integers, s a name, n a walk's
 * name count and names, d a write's count and data. */
static const struct {
    uint8_t type;
    const char *fmt;
} layouts[] = {
    {P9_TSTATFS, "f"},      {P9_TLOPEN, "f4"},         {P9_TLCREATE, "fs444"},
    {P9_TSYMLINK, "fss4"},  {P9_TMKNOD, "fs4444"},     {P9_TRENAME, "ffs"},
    {P9_TREADLINK, "f"},    {P9_TGETATTR, "f8"},       {P9_TSETATTR, "f444488888"},
    {P9_TXATTRWALK, "ffs"}, {P9_TXATTRCREATE, "fs84"}, {P9_TREADDIR, "f84"},
    {P9_TFSYNC, "f4"},      {P9_TLOCK, "f14884s"},     {P9_TGETLOCK, "f1884s"},
    {P9_TLINK, "ffs"},      {P9_TMKDIR, "fs44"},       {P9_TRENAMEAT, "fsfs"},
    {P9_TUNLINKAT, "fs4"},  {P9_TVERSION, "4s"},       {P9_TAUTH, "fss4"},
    {P9_TATTACH, "ffss4"},  {P9_TFLUSH, "2"},          {P9_TWALK, "ffn"},
    {P9_TREAD, "f84"},      {P9_TWRITE, "f8d"},        {P9_TCLUNK, "f"},
    {P9_TREMOVE, "f"},
};
static const char *const names[] = {"a", "d",   "b",   "e", "u",        "f",   "..",
                                    ".", "new", "x/y", "",  "9P2000.L", "/etc"};

struct in {
    const uint8_t *p;
    size_t len, off;
};
static uint8_t take(struct in *in)
{
    return in->off < in->len ? in->p[in->off++] : 0;
}
static uint64_t take_n(struct in *in, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)take(in) << (8 * i);
    return v;
}
static void put_n(uint8_t *m, size_t *o, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        m[(*o)++] = (uint8_t)(v >> (8 * i));
}
static void put_name(uint8_t *m, size_t *o, struct in *in)
{
    uint8_t sel = take(in);
    const char *nm;
    size_t nl;
    char raw[64];
    if (sel < 0xc0) {
        nm = names[sel % (sizeof(names) / sizeof(names[0]))];
        nl = strlen(nm);
    } else {
        nl = sel & 0x3f;
        for (size_t i = 0; i < nl; i++)
            raw[i] = (char)take(in);
        nm = raw;
    }
    put_n(m, o, nl, 2);
    memcpy(m + *o, nm, nl);
    *o += nl;
}
/* Build a T-message of layout i into m (room for 65536 + 8 bytes). */
static size_t build(uint8_t *m, unsigned i, struct in *in)
{
    size_t o = 7;
    m[4] = layouts[i].type;
    m[5] = take(in);
    m[6] = 0;
    for (const char *f = layouts[i].fmt; *f; f++) {
        switch (*f) {
        case 'f': {
            uint8_t b = take(in);
            put_n(m, &o, b == 0xff ? P9_NOFID : b % 8u, 4);
            break;
        }
        case '1': put_n(m, &o, take(in), 1); break;
        case '2': put_n(m, &o, take_n(in, 2), 2); break;
        case '4': put_n(m, &o, take_n(in, 4), 4); break;
        case '8': put_n(m, &o, take_n(in, 2), 8); break; /* small offsets and masks */
        case 's': put_name(m, &o, in); break;
        case 'n': {
            unsigned n = take(in) % 6u;
            put_n(m, &o, n, 2);
            for (unsigned k = 0; k < n; k++)
                put_name(m, &o, in);
            break;
        }
        case 'd': {
            size_t n = take(in);
            put_n(m, &o, n, 4);
            for (size_t k = 0; k < n; k++)
                m[o++] = take(in);
            break;
        }
        }
    }
    return o;
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    fresh_share();
    char err[256];
    struct p9_server *s = p9_server_new(share, size > 0 && data[0] == 0xff, err, sizeof(err));
    if (!s) abort();
    uint8_t hello[64];
    /* Tversion msize=65536 "9P2000.L" */
    size_t n = 0;
    le32(hello, 0);
    hello[4] = P9_TVERSION;
    hello[5] = hello[6] = 0xff;
    le32(hello + 7, 65536);
    hello[11] = 8;
    hello[12] = 0;
    memcpy(hello + 13, "9P2000.L", 8);
    n = 21;
    le32(hello, (uint32_t)n);
    serve(s, hello, n, P9_MAX_MSIZE);
    /* Tattach fid=0 afid=NOFID uname="" aname="" n_uname=0 */
    memset(hello, 0, sizeof(hello));
    hello[4] = P9_TATTACH;
    hello[5] = 1;
    le32(hello + 11, P9_NOFID);
    n = 7 + 4 + 4 + 2 + 2 + 4;
    le32(hello, (uint32_t)n);
    serve(s, hello, n, P9_MAX_MSIZE);

    size_t off = size > 0 ? 1 : 0;
    uint8_t *msg = malloc(65536 + 8);
    if (!msg) abort();
    while (off + 2 <= size) {
        uint8_t kind = data[off], capsel = data[off + 1];
        off += 2;
        size_t len;
        if (kind & 0x80) {
            if (off + 2 > size) break;
            len = (size_t)data[off] | (size_t)data[off + 1] << 8;
            off += 2;
            if (len > size - off) len = size - off;
            memcpy(msg, data + off, len);
            off += len;
            /* Mostly keep the size field honest so that bodies get parsed. */
            if (len >= 4 && !(capsel & 0x80)) le32(msg, (uint32_t)len);
        } else {
            struct in in = {data, size, off};
            len = build(msg, kind % (sizeof(layouts) / sizeof(layouts[0])), &in);
            off = in.off;
            le32(msg, (uint32_t)len);
        }
        size_t cap = (capsel & 0x40) ? 7 + (capsel & 0x3f) * 3u : 65536;
        serve(s, msg, len, cap);
    }
    free(msg);
    p9_server_free(s);
    check_outside();
    return 0;
}
