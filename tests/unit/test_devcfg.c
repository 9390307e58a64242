/* Typed device settings (vmm/devcfg.h): each kind's parser fills its
 * struct (defaults included) and refuses bad options with the messages
 * `vmon run` gives; VM definitions (vmm/vmdef.h) refuse a bad list entry
 * at once with the same words; and devices made from settings
 * (vmm/devices.h) show them to the guest (a disk's serial, a NIC's MAC). */
#include "check.h"
#include "virtio_driver.h"
#include "vmm/devcfg.h"
#include "vmm/devices.h"
#include "vmm/vmdef.h"
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct check_ctx c;

/* spec of kind must be refused with a message starting with want. */
static void refused(enum devcfg_kind kind, const char *spec, const char *want)
{
    struct dev_cfg *d = malloc(sizeof(*d));
    char err[512] = "";
    CHECK(&c, devcfg_parse(kind, spec, d, err, sizeof(err)) < 0, "%s %s accepted", devcfg_opt(kind),
          spec);
    CHECK(&c, !strncmp(err, want, strlen(want)), "%s %s: '%s', want '%s'", devcfg_opt(kind), spec,
          err, want);
    free(d);
}

static void test_disk(void)
{
    struct disk_cfg *d = malloc(sizeof(*d));
    char err[512];
    CHECK_EQ(&c, devcfg_parse_disk("/img/a,,b.qcow2,ro,format=qcow2", d, err, sizeof(err)), 0);
    CHECK(&c, !strcmp(d->file, "/img/a,b.qcow2") && d->ro && d->fmt == BLK_FMT_QCOW2,
          "file '%s' ro %d fmt %d", d->file, d->ro, d->fmt);
    CHECK(&c, !strcmp(d->serial, "a,b.qcow2"), "default serial '%s'", d->serial);
    CHECK_EQ(&c, devcfg_parse_disk("/x/a-very-long-disk-file-name.img,serial=SN1", d, err, 99), 0);
    CHECK(&c, !strcmp(d->serial, "SN1") && d->fmt == BLK_FMT_PROBE && !d->ro, "serial '%s'",
          d->serial);
    CHECK_EQ(&c, devcfg_parse_disk("/x/a very long disk file name.img", d, err, sizeof(err)), 0);
    CHECK(&c, !strcmp(d->serial, "a_very_long_disk_fil"), "cut serial '%s'", d->serial);
    free(d);
    refused(DEVCFG_DISK, "", "no file given (want FILE[,ro][,format=raw|qcow2][,serial=STR])");
    refused(DEVCFG_DISK, ",ro", "no file given");
    refused(DEVCFG_DISK, "a.img,format=vmdk", "unknown format 'vmdk' (want raw or qcow2)");
    refused(DEVCFG_DISK, "a.img,cache=none", "unknown disk option 'cache=none'");
    refused(DEVCFG_DISK, "a.img,serial=123456789012345678901",
            "serial must be 1 to 20 characters (got 21)");
    refused(DEVCFG_DISK, "a.img,serial=a b", "serial may only contain printable ASCII");
}

static void test_net(void)
{
    struct net_cfg *n = malloc(sizeof(*n));
    char err[512];
    CHECK_EQ(&c,
             devcfg_parse_net("user,hostfwd=tcp::2222-:22,hostfwd=udp:127.0.0.2:53-10.0.2.9:5353,"
                              "mac=52:54:00:AB:cd:01",
                              n, err, sizeof(err)),
             0);
    CHECK(&c, !n->tap && n->nfwd == 2 && n->has_mac && n->mac[3] == 0xab && n->mac[5] == 1,
          "user: tap %d nfwd %u mac %d", n->tap, n->nfwd, n->has_mac);
    CHECK(&c, !n->fwd[0].udp && n->fwd[0].hport == 2222 && n->fwd[0].gport == 22, "rule 0");
    CHECK(&c, n->fwd[0].haddr.s_addr == htonl(INADDR_LOOPBACK), "default host address");
    CHECK(&c, n->fwd[0].gaddr.s_addr == inet_addr("10.0.2.15"), "default guest address");
    CHECK(&c,
          n->fwd[1].udp && n->fwd[1].haddr.s_addr == inet_addr("127.0.0.2") &&
              n->fwd[1].gaddr.s_addr == inet_addr("10.0.2.9") && n->fwd[1].gport == 5353,
          "rule 1");
    CHECK_EQ(&c, devcfg_parse_net("tap,ifname=tap7", n, err, sizeof(err)), 0);
    CHECK(&c, n->tap && !strcmp(n->ifname, "tap7") && !n->has_mac, "tap '%s'", n->ifname);
    uint8_t mac[6];
    devcfg_default_mac(2, mac);
    CHECK(&c, mac[0] == 0x52 && mac[5] == 0x58, "default MAC of slot 2 ends %02x", mac[5]);
    free(n);
    refused(DEVCFG_NET, "", "missing network type");
    refused(DEVCFG_NET, "mac=52:54:00:12:34:56", "missing network type");
    refused(DEVCFG_NET, "bridge", "unknown network type 'bridge'");
    refused(DEVCFG_NET, "user,mac=52:54:00:zz:00:01", "bad MAC '52:54:00:zz:00:01' (want six");
    refused(DEVCFG_NET, "user,mac=53:54:00:12:34:56", "bad MAC '53:54:00:12:34:56': a multicast");
    refused(DEVCFG_NET, "user,mac=00:00:00:00:00:00", "bad MAC '00:00:00:00:00:00': all zeros");
    refused(DEVCFG_NET, "user,mac=52:54:00:12:34:56,mac=52:54:00:12:34:57", "mac= given twice");
    refused(DEVCFG_NET, "user,hostfwd=tcp:8080:80", "bad hostfwd 'tcp:8080:80' (want");
    refused(DEVCFG_NET, "user,hostfwd=sctp::1-:2", "bad hostfwd 'sctp::1-:2': protocol");
    refused(DEVCFG_NET, "user,hostfwd=tcp:1.2.3:1-:2", "bad hostfwd 'tcp:1.2.3:1-:2': bad host a");
    refused(DEVCFG_NET, "user,hostfwd=tcp::70000-:2", "bad hostfwd 'tcp::70000-:2': bad host port");
    refused(DEVCFG_NET, "user,hostfwd=tcp::1-x:2", "bad hostfwd 'tcp::1-x:2': bad guest address");
    refused(DEVCFG_NET, "user,hostfwd=tcp::1-:0", "bad hostfwd 'tcp::1-:0': bad guest port");
    refused(DEVCFG_NET, "user,ifname=x", "unknown option 'ifname=x' for user networking");
    refused(DEVCFG_NET, "tap,hostfwd=tcp::1-:2", "unknown option 'hostfwd=tcp::1-:2' for tap");
    refused(DEVCFG_NET, "tap,ifname=a-very-long-interface-name", "bad tap ifname");
    refused(DEVCFG_NET, "tap,ifname=a/b", "bad tap ifname 'a/b'");
    char many[64 * 33] = "user";
    for (int i = 0; i <= NET_HOSTFWD_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), ",hostfwd=tcp::%d-:22",
                 1000 + i);
    refused(DEVCFG_NET, many, "too many hostfwd rules (at most 32)");
}

static void test_share_vconsole(void)
{
    struct dev_cfg *d = malloc(sizeof(*d));
    char err[512];
    CHECK_EQ(&c, devcfg_parse(DEVCFG_SHARE, "/srv/a,,b,tag=hostfs,ro", d, err, sizeof(err)), 0);
    CHECK(&c, !strcmp(d->share.dir, "/srv/a,b") && !strcmp(d->share.tag, "hostfs") && d->share.ro,
          "share '%s' '%s'", d->share.dir, d->share.tag);
    refused(DEVCFG_SHARE, "/srv", "missing tag=TAG");
    refused(DEVCFG_SHARE, ",tag=x", "no directory given");
    refused(DEVCFG_SHARE, "/srv,tag=", "tag must be 1 to 64 characters (got 0)");
    refused(DEVCFG_SHARE, "/srv,tag=a b", "tag may only contain printable ASCII");
    refused(DEVCFG_SHARE, "/srv,tag=x,cache=loose", "unknown share option 'cache=loose'");

    CHECK_EQ(&c, devcfg_parse(DEVCFG_VCONSOLE, "socket=/run/v.sock", d, err, sizeof(err)), 0);
    CHECK(&c, d->vconsole.socket && !strcmp(d->vconsole.path, "/run/v.sock"), "socket");
    CHECK_EQ(&c, devcfg_parse(DEVCFG_VCONSOLE, "/tmp/a=b.log", d, err, sizeof(err)), 0);
    CHECK(&c, !d->vconsole.socket && !strcmp(d->vconsole.path, "/tmp/a=b.log"), "a file with =");
    CHECK_EQ(&c, devcfg_parse(DEVCFG_VCONSOLE, "file=socket=x", d, err, sizeof(err)), 0);
    CHECK(&c, !d->vconsole.socket && !strcmp(d->vconsole.path, "socket=x"), "file=");
    refused(DEVCFG_VCONSOLE, "", "missing argument (want FILE, file=FILE or socket=PATH)");
    refused(DEVCFG_VCONSOLE, "bogus=1", "unknown option 'bogus'");
    refused(DEVCFG_VCONSOLE, "socket=", "empty socket path");
    refused(DEVCFG_VCONSOLE, "file=", "empty file name");
    char longsock[200] = "socket=/";
    memset(longsock + 8, 'x', 120);
    refused(DEVCFG_VCONSOLE, longsock, "socket path too long (121 bytes, at most 107)");
    refused(DEVCFG_RNG, "x", "--rng takes no options (got 'x')");
    refused(DEVCFG_BALLOON, "x", "--balloon takes no options (got 'x')");
    CHECK_EQ(&c, devcfg_parse(DEVCFG_RNG, "", d, err, sizeof(err)), 0);
    free(d);
}

/* A definition refuses a bad entry at once, naming the option and the
 * entry, and keeps the good ones. */
static void test_vmdef(void)
{
    struct vm_def d;
    char err[512] = "";
    vmdef_init(&d);
    const struct vmdef_field *nets = vmdef_field_by_key("nets");
    CHECK(&c, vmdef_set(&d, nets, "--net", "bogus", err, sizeof(err)) < 0, "bogus net accepted");
    CHECK(&c, !strncmp(err, "--net bogus: unknown network type 'bogus'", 41), "'%s'", err);
    CHECK_EQ(&c, vmdef_set(&d, nets, "nets", "user,hostfwd=tcp::2222-:22", err, sizeof(err)), 0);
    CHECK(&c,
          vmdef_set(&d, vmdef_field_by_key("disks"), "disks", "/a.img,cache=none", err,
                    sizeof(err)) < 0 &&
              !strncmp(err, "disks /a.img,cache=none: unknown disk option 'cache=none'", 57),
          "'%s'", err);
    CHECK(&c,
          vmdef_set(&d, vmdef_field_by_key("shares"), "--share", "/srv", err, sizeof(err)) < 0 &&
              strstr(err, "--share /srv: missing tag=TAG"),
          "'%s'", err);
    CHECK(&c,
          vmdef_set(&d, vmdef_field_by_key("vconsoles"), "--vconsole", "socket=", err,
                    sizeof(err)) < 0 &&
              strstr(err, "--vconsole socket=: empty socket path"),
          "'%s'", err);
    CHECK(&c, d.nets.n == 1 && !d.disks.n && !d.shares.n && !d.vconsoles.n, "lists %u %u %u %u",
          d.nets.n, d.disks.n, d.shares.n, d.vconsoles.n);
    vmdef_free(&d);
}

/* Devices made from settings: the disk's serial and the NIC's MAC (from
 * its slot when none is given) reach the config space. */
static void test_devices(void)
{
    char dir[] = "/tmp/test_devcfg.XXXXXX", img[64], spec[128], err[512];
    CHECK(&c, mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(img, sizeof(img), "%s/d.img", dir);
    FILE *f = fopen(img, "w");
    CHECK(&c, f && ftruncate(fileno(f), 1 << 20) == 0, "image");
    if (f) fclose(f);
    struct vm_config cfg = {.ram_size = 16u << 20, .ncpus = 1, .hyp_sbi = 1};
    struct vm *vm = vm_create(&cfg, err, sizeof(err));
    if (!vm || virt_board_create(vm, err, sizeof(err)) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
    snprintf(spec, sizeof(spec), "%s,serial=SER-1", img);
    CHECK_EQ(&c, vmdev_add_spec(vm, DEVCFG_DISK, spec, err, sizeof(err)), 0);
    CHECK_EQ(&c, vmdev_add_spec(vm, DEVCFG_NET, "user", err, sizeof(err)), 0);
    CHECK_EQ(&c, vmdev_add_spec(vm, DEVCFG_NET, "user,mac=52:54:00:00:00:42", err, sizeof(err)), 0);
    CHECK(&c, vmdev_add_spec(vm, DEVCFG_DISK, "/nonexistent/x.img", err, sizeof(err)) < 0,
          "a missing image accepted");
    CHECK(&c,
          vmdev_add_spec(vm, DEVCFG_NET, "bridge", err, sizeof(err)) < 0 &&
              strstr(err, "unknown network type"),
          "'%s'", err);
    struct tdrv t = {.vm = vm, .base = VIRT_VIRTIO_BASE};
    CHECK_EQ(&c, tdrv_rd(&t, TV_DEVICE_ID), VIRTIO_ID_BLOCK);
    t.base = VIRT_VIRTIO_BASE + VIRT_VIRTIO_STRIDE;
    CHECK_EQ(&c, tdrv_rd(&t, TV_DEVICE_ID), VIRTIO_ID_NET);
    uint64_t v = 0;
    bus_read(&vm->bus, t.base + 0x100 + 5, 1, &v);
    CHECK_EQ(&c, v, 0x57); /* slot 1: 52:54:00:12:34:57 */
    bus_read(&vm->bus, t.base + VIRT_VIRTIO_STRIDE + 0x100 + 5, 1, &v);
    CHECK_EQ(&c, v, 0x42);
    CHECK_EQ(&c, vm->ndisks, 1);
    vm_destroy(vm);
    unlink(img);
    rmdir(dir);
}

int main(void)
{
    test_disk();
    test_net();
    test_share_vconsole();
    test_vmdef();
    test_devices();
    return check_report(&c, "test_devcfg");
}
