#!/bin/bash
# ThreadSanitizer run (`make tsan-check`): the demo guest on 4 vCPUs with
# every virtio device busy (disk, 9p, network, rng, console) and page
# sharing merging and breaking pages under a TSan build of vmon, then a busy 2-vCPU guest saved, live-migrated and
# restored. Any race report is a failure.
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
    --share-pages --share-rate 65536 \
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

# Snapshots and live migration under TSan: a 2-vCPU guest counting on its
# console, disk and a 9p share, with net, rng and balloon, is saved while
# it runs, migrated to another vmon, and the snapshot restored.
ctl() {
    python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(300)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
f.write(sys.argv[2] + "\n"); f.flush()
print(f.readline().strip())
PY
}
wait_for() {
    for _ in $(seq $((10 * $3))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
truncate -s 4M "$tmp/c.raw"
cnt='mkdir+/s;mount+-t+9p+-o+trans=virtio+hs+/s;i=0;while+true;do+i=$((i-~0));echo+count+$i;'
cnt="${cnt}"'echo+$i>/dev/vda;echo+$i>>/s/log;sync;sleep+0.2;done'
TSAN_OPTIONS="halt_on_error=0 ${TSAN_OPTIONS:-}" "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" \
    --cpus 2 --disk "$tmp/c.raw" --net user --rng --balloon --share "$tmp/share,tag=hs" \
    --control "$tmp/c.ctl" --console "$tmp/src.out" --timeout 600 --append "console=ttyS0 guest.run=$cnt" \
    </dev/null >"$tmp/src.err" 2>&1 &
spid=$!
TSAN_OPTIONS="halt_on_error=0 ${TSAN_OPTIONS:-}" "$VMON" run --incoming "unix:$tmp/m.sock" \
    --console "$tmp/dst.out" --timeout 30 </dev/null >"$tmp/dst.err" 2>&1 &
dpid=$!
r1=none
r2=none
if wait_for "$tmp/src.out" "^count 5" 600; then
    r1=$(ctl "$tmp/c.ctl" "snapshot $tmp/s.snap")
    r2=$(ctl "$tmp/c.ctl" "migrate unix:$tmp/m.sock")
fi
wait $spid
wait $dpid
TSAN_OPTIONS="halt_on_error=0 ${TSAN_OPTIONS:-}" "$VMON" run --restore "$tmp/s.snap" \
    --console "$tmp/rst.out" --timeout 30 </dev/null >"$tmp/rst.err" 2>&1
if echo "$r1" | grep -q "^ok saved" && echo "$r2" | grep -q "^ok migrated" &&
    [ "$(grep -c '^count' "$tmp/dst.out")" -gt 3 ] && [ "$(grep -c '^count' "$tmp/rst.out")" -gt 3 ]; then
    pass=$((pass + 1)); echo "PASS snapshot, live migration and restore of a busy 2-vCPU guest"
else
    fail=$((fail + 1)); echo "FAIL snapshot '$r1', migrate '$r2'"; tail -5 "$tmp/dst.err" "$tmp/rst.err"
fi
races=$(cat "$tmp/src.err" "$tmp/dst.err" "$tmp/rst.err" | grep -c 'WARNING: ThreadSanitizer')
if [ "$races" -eq 0 ]; then
    pass=$((pass + 1)); echo "PASS no ThreadSanitizer reports around snapshots and migration"
else
    fail=$((fail + 1)); echo "FAIL $races ThreadSanitizer reports around snapshots and migration"
    cat "$tmp/src.err" "$tmp/dst.err" "$tmp/rst.err" | grep -A24 'WARNING: ThreadSanitizer' | head -120
fi
echo "tsan: $pass passed, $fail failed"
[ $fail -eq 0 ]
