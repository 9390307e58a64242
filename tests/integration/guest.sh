# Locates the demo guest for the tests: ../shared/guest when present,
# otherwise the one the guest/ recipe ships in-tree (decompressed to build/).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -f "$here/../shared/guest/Image" ]; then
    KERNEL="$here/../shared/guest/Image"
    INITRD="$here/../shared/guest/initramfs.cpio.gz"
else
    make -s -C "$here" guest-image >/dev/null
    KERNEL="$here/build/guest/Image"
    INITRD="$here/build/guest/initramfs.cpio.gz"
fi
