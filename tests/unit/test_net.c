/* virtio-net on user networking, driven by the test's own virtio driver
 * (no guest CPU): the config space, an ARP request answered by libslirp's
 * gateway, an ICMP echo to 10.0.2.2, and the validation rules: transmit
 * buffers too short or too long are completed and dropped, a receive
 * buffer too small for a frame drops the frame and stays available, a
 * receive buffer that cannot hold any frame is returned empty, and a reset
 * in the middle leaves a device that works again. Nothing here touches a
 * real network: slirp answers ARP and pings to its gateway itself. */
#include "vmm/devices.h"
#include "check.h"
#include "virtio_driver.h"
#include "virtio/devices.h"
#include <stdlib.h>
#include <time.h>

static struct check_ctx c;

#define RINGS0   (VM_RAM_BASE + 0x100000)
#define RINGS1   (VM_RAM_BASE + 0x110000)
#define RXBUF    (VM_RAM_BASE + 0x200000) /* rx buffer n at RXBUF + n * 0x1000 */
#define TXBUF    (VM_RAM_BASE + 0x300000)
#define BIGBUF   (VM_RAM_BASE + 0x400000)
#define QN       16
#define HDR      12
#define F_MAC    (1ull << 5)
#define F_STATUS (1ull << 16)

static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

static struct vm *make_vm(void)
{
    struct vm_config cfg = {.ram_size = 16u << 20, .ncpus = 1, .hyp_sbi = 1};
    char err[256];
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    if (!vm || virt_board_create(vm, err, sizeof(err)) < 0 ||
        vmdev_add_spec(vm, DEVCFG_NET, "user", err, sizeof(err)) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
    return vm;
}

/* Reset and bring the device up with both queues; returns the status. */
static uint32_t net_init(struct vm *vm, struct tdrv *rx, struct tdrv *tx, uint64_t features)
{
    tdrv_negotiate(vm, VIRT_VIRTIO_BASE, features);
    tdrv_queue(rx, vm, VIRT_VIRTIO_BASE, 0, QN, RINGS0);
    tdrv_queue(tx, vm, VIRT_VIRTIO_BASE, 1, QN, RINGS1);
    return tdrv_driver_ok(vm, VIRT_VIRTIO_BASE);
}

static int broken(struct tdrv *t)
{
    return (tdrv_rd(t, TV_STATUS) & VIRTIO_STATUS_NEEDS_RESET) != 0;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Wait (at most ms) until the used index reaches want. */
static int wait_used(struct tdrv *t, uint16_t want, unsigned ms)
{
    for (unsigned i = 0; i < ms; i++) {
        if (tdrv_used_idx(t) == want) return 1;
        sleep_ms(1);
    }
    return tdrv_used_idx(t) == want;
}

/* Post receive buffer slot n (len bytes) as descriptor n. */
static void post_rx(struct tdrv *rx, unsigned n, uint32_t len)
{
    memset(tdrv_ram(rx, RXBUF + 0x1000ull * n), 0xee, 0x1000);
    tdrv_desc(rx, n, RXBUF + 0x1000ull * n, len, VRING_DESC_F_WRITE, 0);
    tdrv_kick(rx, 0, (uint16_t)n);
}

/* Send hdr + frame from TXBUF as one descriptor (desc 0). */
static void send_frame(struct tdrv *tx, const uint8_t *frame, size_t len)
{
    uint8_t *p = tdrv_ram(tx, TXBUF);
    memset(p, 0, HDR);
    memcpy(p + HDR, frame, len);
    tdrv_desc(tx, 0, TXBUF, (uint32_t)(HDR + len), 0, 0);
    tdrv_kick(tx, 1, 0);
}

static size_t build_arp(uint8_t *p)
{
    static const uint8_t head[] = {0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1};
    memset(p, 0xff, 6);
    memcpy(p + 6, guest_mac, 6);
    memcpy(p + 12, head, sizeof(head));
    memcpy(p + 22, guest_mac, 6);
    const uint8_t spa[4] = {10, 0, 2, 15}, tpa[4] = {10, 0, 2, 2};
    memcpy(p + 28, spa, 4);
    memset(p + 32, 0, 6);
    memcpy(p + 38, tpa, 4);
    return 42;
}

static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1) s += (uint32_t)p[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* ICMP echo request 10.0.2.15 -> 10.0.2.2 with `payload` data bytes. */
static size_t build_ping(uint8_t *p, const uint8_t gw_mac[6], size_t payload)
{
    memcpy(p, gw_mac, 6);
    memcpy(p + 6, guest_mac, 6);
    p[12] = 0x08, p[13] = 0x00;
    uint8_t *ip = p + 14;
    size_t iplen = 20 + 8 + payload;
    memset(ip, 0, 20);
    ip[0] = 0x45, ip[2] = (uint8_t)(iplen >> 8), ip[3] = (uint8_t)iplen;
    ip[4] = 0x12, ip[5] = 0x34, ip[8] = 64, ip[9] = 1;
    ip[12] = 10, ip[13] = 0, ip[14] = 2, ip[15] = 15;
    ip[16] = 10, ip[17] = 0, ip[18] = 2, ip[19] = 2;
    uint16_t s = csum(ip, 20);
    ip[10] = (uint8_t)(s >> 8), ip[11] = (uint8_t)s;
    uint8_t *icmp = ip + 20;
    memset(icmp, 0, 8);
    icmp[0] = 8, icmp[4] = 0x42, icmp[7] = 1;
    for (size_t i = 0; i < payload; i++)
        icmp[8 + i] = (uint8_t)i;
    s = csum(icmp, 8 + payload);
    icmp[2] = (uint8_t)(s >> 8), icmp[3] = (uint8_t)s;
    return 14 + iplen;
}

/* ARP for the gateway; checks the reply landed in rx buffer `slot` and
 * returns the gateway's MAC. used_* are the expected indices after. */
static void arp_roundtrip(struct tdrv *rx, struct tdrv *tx, unsigned slot, uint16_t rx_used,
                          uint16_t tx_used, uint8_t gw_mac[6])
{
    uint8_t f[64];
    send_frame(tx, f, build_arp(f));
    CHECK(&c, wait_used(tx, tx_used, 5000), "arp: tx completed (used %u)", tdrv_used_idx(tx));
    CHECK(&c, wait_used(rx, rx_used, 5000), "arp: reply received (used %u)", tdrv_used_idx(rx));
    uint32_t id = 99, len = 0;
    tdrv_used_elem(rx, rx_used - 1u, &id, &len);
    CHECK_EQ(&c, id, slot);
    CHECK(&c, len >= HDR + 42 && len <= HDR + 64, "arp reply length %u", len);
    const uint8_t *b = tdrv_ram(rx, RXBUF + 0x1000ull * slot);
    static const uint8_t zero_hdr[10] = {0};
    CHECK(&c, !memcmp(b, zero_hdr, 10), "rx header flags/gso zero");
    CHECK(&c, b[10] == 1 && b[11] == 0, "num_buffers = 1");
    const uint8_t *e = b + HDR;
    CHECK(&c, !memcmp(e, guest_mac, 6), "arp reply to our MAC");
    CHECK(&c, e[12] == 0x08 && e[13] == 0x06 && e[20] == 0 && e[21] == 2, "is an ARP reply");
    const uint8_t gw_ip[4] = {10, 0, 2, 2};
    CHECK(&c, !memcmp(e + 28, gw_ip, 4), "from 10.0.2.2");
    CHECK(&c, b[len] == 0xee, "nothing written past the frame");
    memcpy(gw_mac, e + 22, 6);
}

int main(void)
{
    struct vm *vm = make_vm();
    struct tdrv rx, tx;
    struct tdrv t = {.vm = vm, .base = VIRT_VIRTIO_BASE};
    CHECK_EQ(&c, tdrv_rd(&t, TV_DEVICE_ID), VIRTIO_ID_NET);
    uint32_t st = net_init(vm, &rx, &tx, VIRTIO_F_VERSION_1 | F_MAC | F_STATUS);
    CHECK(&c, st & VIRTIO_STATUS_DRIVER_OK, "driver ok, status %#x", st);
    tdrv_wr(&t, TV_DEV_FEATURES_SEL, 0);
    uint32_t feat = tdrv_rd(&t, TV_DEV_FEATURES);
    CHECK(&c, (feat & F_MAC) && (feat & F_STATUS), "MAC and STATUS offered (%#x)", feat);
    CHECK(&c, !(feat & 0x3u) && !(feat & (1u << 15)), "no CSUM offloads, no MRG_RXBUF");

    /* Config space: default MAC for slot 0, link up. */
    uint8_t mac[6];
    for (unsigned i = 0; i < 6; i++) {
        uint64_t v = 0;
        bus_read(&vm->bus, VIRT_VIRTIO_BASE + 0x100 + i, 1, &v);
        mac[i] = (uint8_t)v;
    }
    CHECK(&c, !memcmp(mac, guest_mac, 6), "default MAC 52:54:00:12:34:56");
    uint64_t status = 0;
    bus_read(&vm->bus, VIRT_VIRTIO_BASE + 0x106, 2, &status);
    CHECK_EQ(&c, status, 1);

    /* ARP: slirp's gateway answers into the posted buffer. */
    uint8_t gw[6];
    post_rx(&rx, 0, 2048);
    arp_roundtrip(&rx, &tx, 0, 1, 1, gw);
    CHECK(&c, gw[0] == 0x52 && gw[1] == 0x55, "slirp gateway MAC 52:55:...");

    /* ICMP echo to the gateway: a 1042-byte reply. */
    uint8_t f[1600];
    post_rx(&rx, 1, 2048);
    send_frame(&tx, f, build_ping(f, gw, 1000));
    CHECK(&c, wait_used(&tx, 2, 5000), "ping sent");
    CHECK(&c, wait_used(&rx, 2, 5000), "ping reply received");
    uint32_t id = 0, len = 0;
    tdrv_used_elem(&rx, 1, &id, &len);
    CHECK_EQ(&c, id, 1);
    CHECK_EQ(&c, len, HDR + 14 + 20 + 8 + 1000);
    const uint8_t *r = tdrv_ram(&rx, RXBUF + 0x1000) + HDR;
    CHECK(&c, r[12] == 0x08 && r[13] == 0 && r[14 + 9] == 1 && r[34] == 0, "an ICMP echo reply");
    CHECK(&c, r[42] == 0 && r[42 + 999] == (uint8_t)999, "payload echoed");

    /* Transmit validation: too short, too long, GSO requested. Each is
     * completed (used length 0) and dropped; the device stays healthy. */
    tdrv_desc(&tx, 0, TXBUF, 5, 0, 0);
    tdrv_kick(&tx, 1, 0);
    CHECK(&c, wait_used(&tx, 3, 5000), "short tx completed");
    memset(tdrv_ram(&tx, BIGBUF), 0, 80000);
    tdrv_desc(&tx, 1, BIGBUF, 40000, 0, 0);
    tdrv_desc(&tx, 0, BIGBUF + 40000, 40000, VRING_DESC_F_NEXT, 1);
    tdrv_kick(&tx, 1, 0);
    CHECK(&c, wait_used(&tx, 4, 5000), "oversized tx completed");
    tdrv_used_elem(&tx, 3, &id, &len);
    CHECK_EQ(&c, len, 0);
    size_t n = build_arp(f);
    uint8_t *p = tdrv_ram(&tx, TXBUF);
    memset(p, 0, HDR);
    p[1] = 1; /* VIRTIO_NET_HDR_GSO_TCPV4 without the feature */
    memcpy(p + HDR, f, n);
    tdrv_desc(&tx, 0, TXBUF, (uint32_t)(HDR + n), 0, 0);
    tdrv_kick(&tx, 1, 0);
    CHECK(&c, wait_used(&tx, 5, 5000), "gso tx completed");
    sleep_ms(100);
    CHECK_EQ(&c, tdrv_used_idx(&rx), 2); /* none of them produced a reply */
    CHECK(&c, !broken(&tx), "healthy after bad transmits");

    /* A receive buffer that cannot hold any frame comes back empty. */
    post_rx(&rx, 2, 8);
    CHECK(&c, wait_used(&rx, 3, 5000), "tiny rx buffer returned");
    tdrv_used_elem(&rx, 2, &id, &len);
    CHECK(&c, id == 2 && len == 0, "returned empty (id %u len %u)", id, len);

    /* A frame bigger than the buffer is dropped; the buffer then takes the
     * next frame that fits. */
    post_rx(&rx, 3, 200);
    send_frame(&tx, f, build_ping(f, gw, 1000));
    CHECK(&c, wait_used(&tx, 6, 5000), "second ping sent");
    sleep_ms(200);
    CHECK_EQ(&c, tdrv_used_idx(&rx), 3);
    arp_roundtrip(&rx, &tx, 3, 4, 7, gw);

    /* Reset while idle, bring it up again: it works as before. */
    tdrv_wr(&t, TV_STATUS, 0);
    CHECK_EQ(&c, tdrv_rd(&t, TV_STATUS), 0);
    st = net_init(vm, &rx, &tx, VIRTIO_F_VERSION_1 | F_MAC | F_STATUS | VIRTIO_F_EVENT_IDX);
    CHECK(&c, st & VIRTIO_STATUS_DRIVER_OK, "driver ok again, status %#x", st);
    post_rx(&rx, 0, 2048);
    arp_roundtrip(&rx, &tx, 0, 1, 1, gw);
    CHECK(&c, !broken(&t), "device healthy at the end");

    vm_destroy(vm);
    return check_report(&c, "test_net");
}
