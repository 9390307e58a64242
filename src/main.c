/* vmon command line. */
#include "vmm/boot.h"
#include "vmm/img.h"
#include "vmm/vm.h"
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: vmon run [options]\n"
        "       vmon img create|info ...   (disk images; vmon img --help)\n"
        "  --bios FILE         M-mode program or firmware (ELF or flat binary at 0x80000000)\n"
        "  --kernel FILE       Linux Image (or ELF) to boot\n"
        "  --initrd FILE       initial ramdisk\n"
        "  --append STRING     kernel command line\n"
        "  --mem SIZE          guest RAM, with K/M/G suffix (default 256M)\n"
        "  --cpus N            virtual CPUs, 1..8 (default 1)\n"
        "  --max-insns N       stop after N instructions (per vCPU)\n"
        "  --timeout SECONDS   stop after this much wall-clock time\n"
        "  --console MODE      stdio (default), none or a file path for serial output\n"
        "  --dump-dtb FILE     write the generated device tree and exit\n"
        "  --stats             print execution statistics at exit\n"
        "  --net user[,hostfwd=tcp::HOSTPORT-:GUESTPORT...][,mac=MAC]\n"
        "                      virtio-net on user networking (10.0.2.0/24, DHCP, NAT)\n"
        "  --net tap,ifname=NAME[,mac=MAC]\n"
        "                      virtio-net on a host tap interface\n"
        "  --disk FILE[,ro][,format=raw|qcow2][,serial=STR]\n"
        "                      virtio-blk disk (repeatable)\n"
        "  --share DIR,tag=TAG[,ro]\n"
        "                      host directory over virtio-9p (mount -t 9p -o trans=virtio TAG)\n"
        "  --vconsole FILE|socket=PATH\n"
        "                      virtio-console port (/dev/hvc1)\n"
        "  --rng               virtio-rng fed by the host's getrandom()\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "run")) return boot_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "img")) return img_main(argc - 1, argv + 1);
    fprintf(stderr, "vmon: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
