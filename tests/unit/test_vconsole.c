/* virtio-console (virtio/console.c) driven through its virtqueues by the
 * test driver, with a unix-socket client on the host side: device identity,
 * input held until receive buffers are posted and split across small ones,
 * output to the client, output kept while no client is connected, and
 * hostile buffers (receive buffers the device cannot write, transmit
 * buffers outside RAM) that must neither crash nor leak. Also the
 * virtio-9p device (virtio/9p.c) answering a Tversion through its queue. */
#include "vmm/devices.h"
#include "check.h"
#include "virtio_driver.h"
#include "virtio/devices.h"
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct check_ctx c;

#define RX_RINGS (VM_RAM_BASE + 0x100000)
#define TX_RINGS (VM_RAM_BASE + 0x110000)
#define BUF      (VM_RAM_BASE + 0x200000)
#define QN       16
#define FEATURES (VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX)

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait (up to 5 s) until the queue's used index reaches want. */
static int wait_used(struct tdrv *t, uint16_t want)
{
    for (int i = 0; i < 5000; i++) {
        if (tdrv_used_idx(t) == want) return 1;
        msleep(1);
    }
    return 0;
}

static int client_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t l = strlen(path);
    if (l >= sizeof(sa.sun_path)) l = sizeof(sa.sun_path) - 1;
    memcpy(sa.sun_path, path, l);
    for (int i = 0; i < 100; i++) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) return fd;
        msleep(10);
    }
    close(fd);
    return -1;
}

/* Read from fd until n bytes arrived (or ms milliseconds passed); returns
 * the count. */
static size_t recv_ms(int fd, char *buf, size_t n, int ms)
{
    size_t got = 0;
    for (int i = 0; i < ms / 10 && got < n; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10) <= 0) continue;
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r <= 0) break;
        got += (size_t)r;
    }
    return got;
}
static size_t recv_n(int fd, char *buf, size_t n)
{
    return recv_ms(fd, buf, n, 5000);
}

static void test_console(const char *dir)
{
    struct vm_config cfg = {.ram_size = 16u << 20, .ncpus = 1, .hyp_sbi = 1};
    char err[256], path[300];
    snprintf(path, sizeof(path), "%s/c.sock", dir);
    char spec[320];
    snprintf(spec, sizeof(spec), "socket=%s", path);
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    if (!vm || virt_board_create(vm, err, sizeof(err)) < 0 ||
        vmdev_add_spec(vm, DEVCFG_VCONSOLE, spec, err, sizeof(err)) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
    struct tdrv rx, tx;
    rx.vm = vm;
    rx.base = VIRT_VIRTIO_BASE;
    CHECK_EQ(&c, tdrv_rd(&rx, TV_DEVICE_ID), VIRTIO_ID_CONSOLE);
    uint32_t st = tdrv_negotiate(vm, VIRT_VIRTIO_BASE, FEATURES);
    CHECK(&c, st & VIRTIO_STATUS_FEATURES_OK, "features ok: %#x", st);
    tdrv_wr(&rx, TV_DEV_FEATURES_SEL, 0);
    CHECK_EQ(&c, tdrv_rd(&rx, TV_DEV_FEATURES) & 7, 0); /* no SIZE/MULTIPORT/EMERG_WRITE */
    tdrv_queue(&rx, vm, VIRT_VIRTIO_BASE, 0, QN, RX_RINGS);
    tdrv_queue(&tx, vm, VIRT_VIRTIO_BASE, 1, QN, TX_RINGS);
    st = tdrv_driver_ok(vm, VIRT_VIRTIO_BASE);
    CHECK(&c, st & VIRTIO_STATUS_DRIVER_OK, "driver ok: %#x", st);

    /* Output before any client is kept for the first one. */
    uint8_t *b = tdrv_ram(&tx, BUF);
    memcpy(b, "early-output;", 13);
    tdrv_desc(&tx, 0, BUF, 13, 0, 0);
    tdrv_kick(&tx, 1, 0);
    CHECK(&c, wait_used(&tx, 1), "tx buffer returned without a client");

    int cl = client_connect(path);
    CHECK(&c, cl >= 0, "connect: %s", strerror(errno));
    char got[20000];
    size_t n = recv_n(cl, got, 13);
    CHECK(&c, n == 13 && !memcmp(got, "early-output;", 13), "early output delivered (%zu)", n);

    /* Input waits for receive buffers, then fills small ones in order. */
    CHECK_EQ(&c, send(cl, "hello-guest", 11, 0), 11);
    msleep(50);
    CHECK_EQ(&c, tdrv_used_idx(&rx), 0);
    uint64_t rbuf = BUF + 0x1000;
    memset(tdrv_ram(&rx, rbuf), 0, 64);
    tdrv_desc(&rx, 0, rbuf, 4, VRING_DESC_F_WRITE, 0);
    tdrv_desc(&rx, 1, rbuf + 16, 4, VRING_DESC_F_WRITE, 0);
    tdrv_desc(&rx, 2, rbuf + 32, 16, VRING_DESC_F_WRITE, 0);
    tdrv_kick(&rx, 0, 0);
    tdrv_kick(&rx, 0, 1);
    tdrv_kick(&rx, 0, 2);
    CHECK(&c, wait_used(&rx, 3), "three receive buffers used (%u)", tdrv_used_idx(&rx));
    uint32_t id, len;
    tdrv_used_elem(&rx, 0, &id, &len);
    CHECK(&c, id == 0 && len == 4 && !memcmp(tdrv_ram(&rx, rbuf), "hell", 4), "rx 1: %u %u", id,
          len);
    tdrv_used_elem(&rx, 2, &id, &len);
    CHECK(&c, id == 2 && len == 3 && !memcmp(tdrv_ram(&rx, rbuf + 32), "est", 3), "rx 3: %u %u", id,
          len);

    /* A receive buffer the device may not write is returned empty; one
     * outside RAM marks the device broken without touching anything. */
    tdrv_desc(&rx, 3, rbuf + 48, 8, 0, 0); /* device-readable only */
    tdrv_kick(&rx, 0, 3);
    CHECK_EQ(&c, send(cl, "x", 1, 0), 1);
    CHECK(&c, wait_used(&rx, 4), "read-only rx buffer returned");
    tdrv_used_elem(&rx, 3, &id, &len);
    CHECK(&c, id == 3 && len == 0, "read-only rx buffer: %u %u", id, len);
    tdrv_desc(&rx, 4, rbuf, 8, VRING_DESC_F_WRITE, 0);
    tdrv_kick(&rx, 0, 4);
    CHECK(&c, wait_used(&rx, 5), "the held byte arrives");
    tdrv_used_elem(&rx, 4, &id, &len);
    CHECK(&c, len == 1 && tdrv_ram(&rx, rbuf)[0] == 'x', "held byte: len %u", len);

    /* Output to the client: a chain of two segments. */
    memcpy(b, "abc", 3);
    memcpy(b + 100, "defg", 4);
    tdrv_desc(&tx, 1, BUF, 3, VRING_DESC_F_NEXT, 2);
    tdrv_desc(&tx, 2, BUF + 100, 4, 0, 0);
    tdrv_kick(&tx, 1, 1);
    n = recv_n(cl, got, 7);
    CHECK(&c, n == 7 && !memcmp(got, "abcdefg", 7), "chained output (%zu)", n);
    CHECK(&c, wait_used(&tx, 2), "tx returned");
    /* A transmit buffer that is device-writable only: returned, nothing sent. */
    tdrv_desc(&tx, 3, BUF, 8, VRING_DESC_F_WRITE, 0);
    tdrv_kick(&tx, 1, 3);
    CHECK(&c, wait_used(&tx, 3), "writable-only tx returned");
    /* Bulk output larger than vmon's buffer: flow control keeps it all. */
    static char big[200000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    memcpy(tdrv_ram(&tx, BUF + 0x10000), big, sizeof(big));
    tdrv_desc(&tx, 4, BUF + 0x10000, sizeof(big), 0, 0);
    tdrv_kick(&tx, 1, 4);
    static char bigin[200000];
    n = recv_n(cl, bigin, sizeof(bigin));
    CHECK(&c, n == sizeof(big) && !memcmp(big, bigin, n), "200 KB output intact (%zu)", n);
    CHECK(&c, wait_used(&tx, 4), "bulk tx returned");
    n = recv_ms(cl, got, 1, 100);
    CHECK_EQ(&c, n, 0); /* nothing else came */

    /* A transmit buffer outside guest RAM: device broken, vmon fine. */
    tdrv_desc(&tx, 5, VM_RAM_BASE + (64u << 20), 16, 0, 0);
    tdrv_kick(&tx, 1, 5);
    msleep(50);
    CHECK(&c, tdrv_rd(&tx, TV_STATUS) & VIRTIO_STATUS_NEEDS_RESET, "bad tx marks broken");
    /* ...and a reset brings it back. */
    tdrv_negotiate(vm, VIRT_VIRTIO_BASE, FEATURES);
    tdrv_queue(&rx, vm, VIRT_VIRTIO_BASE, 0, QN, RX_RINGS);
    tdrv_queue(&tx, vm, VIRT_VIRTIO_BASE, 1, QN, TX_RINGS);
    st = tdrv_driver_ok(vm, VIRT_VIRTIO_BASE);
    CHECK(&c, (st & VIRTIO_STATUS_DRIVER_OK) && !(st & VIRTIO_STATUS_NEEDS_RESET),
          "after reset: %#x", st);
    memcpy(b, "again", 5);
    tdrv_desc(&tx, 0, BUF, 5, 0, 0);
    tdrv_kick(&tx, 1, 0);
    n = recv_n(cl, got, 5);
    CHECK(&c, n == 5 && !memcmp(got, "again", 5), "output after reset (%zu)", n);
    close(cl);
    vm_destroy(vm);
    struct stat sst;
    CHECK(&c, lstat(path, &sst) < 0, "socket file removed at exit");
}

/* The virtio-9p device: Tversion through the queue, and a request with no
 * room for a reply. */
static void test_9p_device(const char *dir)
{
    struct vm_config cfg = {.ram_size = 16u << 20, .ncpus = 1, .hyp_sbi = 1};
    char err[256], spec[320];
    snprintf(spec, sizeof(spec), "%s,tag=t9", dir);
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    if (!vm || virt_board_create(vm, err, sizeof(err)) < 0 ||
        vmdev_add_spec(vm, DEVCFG_SHARE, spec, err, sizeof(err)) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
    struct tdrv t;
    t.vm = vm;
    t.base = VIRT_VIRTIO_BASE;
    CHECK_EQ(&c, tdrv_rd(&t, TV_DEVICE_ID), VIRTIO_ID_9P);
    uint64_t v = 0;
    bus_read(&vm->bus, VIRT_VIRTIO_BASE + 0x100, 2, &v);
    CHECK_EQ(&c, v, 2); /* tag_len */
    bus_read(&vm->bus, VIRT_VIRTIO_BASE + 0x102, 2, &v);
    CHECK_EQ(&c, v, 't' | '9' << 8);
    uint32_t st = tdrv_init(&t, vm, VIRT_VIRTIO_BASE, 0, QN, RX_RINGS, FEATURES);
    CHECK(&c, st & VIRTIO_STATUS_DRIVER_OK, "9p driver ok: %#x", st);
    static const uint8_t tversion[] = {21, 0, 0,   0,   100, 0xff, 0xff, 0,   0x20, 0,  0,
                                       8,  0, '9', 'P', '2', '0',  '0',  '0', '.',  'L'};
    memcpy(tdrv_ram(&t, BUF), tversion, sizeof(tversion));
    tdrv_desc(&t, 0, BUF, sizeof(tversion), VRING_DESC_F_NEXT, 1);
    tdrv_desc(&t, 1, BUF + 0x1000, 100, VRING_DESC_F_WRITE, 0);
    tdrv_kick(&t, 0, 0);
    CHECK(&c, wait_used(&t, 1), "Rversion");
    uint32_t id, len;
    tdrv_used_elem(&t, 0, &id, &len);
    const uint8_t *r = tdrv_ram(&t, BUF + 0x1000);
    CHECK(&c, len == 21 && r[4] == 101 && !memcmp(r + 13, "9P2000.L", 8), "Rversion: len %u", len);
    /* No writable part: completed with nothing written. */
    tdrv_desc(&t, 2, BUF, sizeof(tversion), 0, 0);
    tdrv_kick(&t, 0, 2);
    CHECK(&c, wait_used(&t, 2), "request without reply room completed");
    tdrv_used_elem(&t, 1, &id, &len);
    CHECK(&c, id == 2 && len == 0, "no reply: %u %u", id, len);
    vm_destroy(vm);
}

int main(void)
{
    char dir[] = "/tmp/vmon-vcon-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_console(dir);
    test_9p_device(dir);
    rmdir(dir);
    return check_report(&c, "test_vconsole");
}
