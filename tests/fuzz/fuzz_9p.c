/* libFuzzer target: the 9P2000.L server (virtio/9p.h). Each input is a
 * series of messages, each prefixed by a 16-bit length and a byte that
 * picks the reply buffer's size, served after a valid Tversion and Tattach
 * (fid 0 = the share root) so the fuzzer reaches every operation. The share
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
    while ((e = readdir(d))) n++;
    closedir(d);
    if (n != 3) abort(); /* ".", "..", "secret" */
    d = opendir(top);
    if (!d) abort();
    n = 0;
    while ((e = readdir(d))) n++;
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

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
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
    while (off + 3 <= size) {
        size_t len = (size_t)data[off] | (size_t)data[off + 1] << 8;
        uint8_t capsel = data[off + 2];
        off += 3;
        if (len > size - off) len = size - off;
        memcpy(msg, data + off, len);
        off += len;
        /* Mostly keep the size field honest so that bodies get parsed. */
        if (len >= 4 && !(capsel & 0x80)) le32(msg, (uint32_t)len);
        size_t cap = (capsel & 0x40) ? 7 + (capsel & 0x3f) * 3u : 65536;
        serve(s, msg, len, cap);
    }
    free(msg);
    p9_server_free(s);
    check_outside();
    return 0;
}
