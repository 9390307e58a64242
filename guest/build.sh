#!/bin/bash
# Builds the demo guest from Debian packages: Linux 6.1 (linux-source-6.1)
# cross-compiled with gcc-riscv64-linux-gnu, and a static busybox (Debian's
# busybox source package) in a gzip'd initramfs whose /init is guest/init.sh.
# Output: guest/out/Image and guest/out/initramfs.cpio.gz. Takes about 20
# minutes on 2 cores. Reproducible: fixed timestamps and sorted archives.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${GUEST_WORK:-$here/work}
out=$here/out
jobs=${JOBS:-$(nproc)}
export SOURCE_DATE_EPOCH=1700000000 KBUILD_BUILD_TIMESTAMP="@1700000000"
export KBUILD_BUILD_USER=vmon KBUILD_BUILD_HOST=vmon
step() { echo "==> $*"; }

step "installing build dependencies"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
if ! grep -rqs '^deb-src\|^Types:.*deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    step "enabling Debian source packages (deb-src) for busybox"
    # deb822 form, with the same Signed-By as Debian's own entry (apt refuses
    # two entries for one archive with different keyrings)
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    {
        echo "Types: deb-src"
        echo "URIs: http://deb.debian.org/debian"
        echo "Suites: bookworm"
        echo "Components: main"
        [ -f "$keyring" ] && echo "Signed-By: $keyring"
    } | $SUDO tee /etc/apt/sources.list.d/vmon-guest-src.sources >/dev/null
    $SUDO apt-get update -q
fi
"$here/../scripts/setup.sh" guest # the [guest] packages of scripts/packages.txt

mkdir -p "$work" "$out"
cd "$work"
if [ ! -d linux ]; then
    step "unpacking linux-source-6.1"
    src=$(ls /usr/src/linux-source-6.1*.tar.xz | head -1)
    mkdir linux
    tar -xf "$src" -C linux --strip-components=1
fi
step "configuring the kernel (allnoconfig + guest/kernel.fragment)"
make -C linux ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu- allnoconfig >/dev/null
linux/scripts/kconfig/merge_config.sh -m -O linux linux/.config "$here/kernel.fragment" >/dev/null
make -C linux ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu- olddefconfig >/dev/null
step "building the kernel Image with $jobs jobs (the long part)"
make -C linux ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu- -j"$jobs" Image 2>&1 |
    grep -E '^\s+(LD|OBJCOPY)|error' || true
cp linux/arch/riscv/boot/Image "$out/Image"

if [ ! -d busybox ]; then
    step "fetching the busybox source package"
    rm -rf bbsrc && mkdir bbsrc && (cd bbsrc && apt-get source -q busybox >/dev/null)
    mv "$(find bbsrc -maxdepth 1 -mindepth 1 -type d | head -1)" busybox
fi
step "configuring busybox (defconfig, static, no tc)"
make -C busybox defconfig >/dev/null
sed -i -e 's/^# CONFIG_STATIC is not set/CONFIG_STATIC=y/' -e 's/^CONFIG_TC=y/# CONFIG_TC is not set/' \
    busybox/.config
make -C busybox oldconfig </dev/null >/dev/null
step "building busybox"
make -C busybox CROSS_COMPILE=riscv64-linux-gnu- -j"$jobs" busybox >/dev/null

step "assembling the initramfs"
rm -rf rootfs && mkdir -p rootfs/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,root}
cp busybox/busybox rootfs/bin/busybox
make -C busybox CROSS_COMPILE=riscv64-linux-gnu- CONFIG_PREFIX="$work/rootfs" install >/dev/null
install -m 755 "$here/init.sh" rootfs/init
install -D -m 755 "$here/udhcpc.script" rootfs/usr/share/udhcpc/default.script
find rootfs -exec touch -h -d @"$SOURCE_DATE_EPOCH" {} +
(cd rootfs && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9 -n) \
    >"$out/initramfs.cpio.gz"
step "done: $out/Image ($(stat -c %s "$out/Image") bytes), $out/initramfs.cpio.gz"
