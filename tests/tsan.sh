#!/bin/bash
# ThreadSanitizer run (`make tsan-check`): the demo guest on 4 vCPUs with
# every virtio device busy (disk, 9p, network, rng, console) under a TSan
# build of vmon. Any race report is a failure.
set -u
VMON=${VMON:-build/tsan/vmon}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/tests/integration/guest.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
mkdir -p "$tmp/d" "$tmp/share"
echo hello-disk >"$tmp/d/hello.txt"
echo hello-share >"$tmp/share/in.txt"
mke2fs -q -t ext4 -d "$tmp/d" "$tmp/disk.img" 16M
cmd='echo cpus=$(nproc); mkdir /m /s; mount /dev/vda /m; cat /m/hello.txt; echo x >/m/y; sync;'
cmd="$cmd"' mount -t 9p -o trans=virtio hs /s; cat /s/in.txt; dd if=/dev/zero of=/s/big bs=64k count=16;'
cmd="$cmd"' md5sum /s/big; head -c 8 /dev/hwrng | od; echo hvc >/dev/hvc1; ip link set eth0 up;'
cmd="$cmd"' udhcpc -q -n -i eth0'
TSAN_OPTIONS="halt_on_error=0 ${TSAN_OPTIONS:-}" timeout 900 "$VMON" run --kernel "$KERNEL" \
    --initrd "$INITRD" --cpus 4 --timeout 600 --disk "$tmp/disk.img" --rng --net user \
    --share "$tmp/share,tag=hs" --vconsole "$tmp/vc.out" \
    --append "console=ttyS0 guest.run=$(echo "$cmd" | tr ' ' '+')" </dev/null >"$tmp/out" 2>&1
races=$(grep -c 'WARNING: ThreadSanitizer' "$tmp/out")
if grep -q 'cpus=4' "$tmp/out" && grep -q 'hello-share' "$tmp/out" && grep -q 'lease of' "$tmp/out" &&
    grep -q 'guest: exit status 0' "$tmp/out" && grep -q hvc "$tmp/vc.out"; then
    pass=$((pass + 1)); echo "PASS 4-vCPU guest ran disk, 9p, rng, console and network work"
else
    fail=$((fail + 1)); echo "FAIL guest run incomplete"; tail -20 "$tmp/out"
fi
if [ "$races" -eq 0 ]; then
    pass=$((pass + 1)); echo "PASS no ThreadSanitizer reports"
else
    fail=$((fail + 1)); echo "FAIL $races ThreadSanitizer reports"
    grep -A20 'WARNING: ThreadSanitizer' "$tmp/out" | head -80
fi
echo "tsan: $pass passed, $fail failed"
[ $fail -eq 0 ]
