#!/bin/bash
# Snapshots with the demo guest: a guest in the middle of work (a counter on
# the console and on a disk) is saved through the control channel, the
# process killed, and `vmon run --restore` brings it back: the counter goes
# on from where it stood and the disk agrees; --snapshot-on-exit saves a VM
# stopped by --timeout; an SMP guest saved under load finishes its work
# after a restore; every device type keeps working after a restore (net,
# rng, vconsole, balloon); bad snapshots are refused
# with a message naming the problem.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VMON=${VMON:-build/vmon}
. "$(dirname "$0")/guest.sh" # KERNEL, INITRD

last_count() { tr -d '\r' <"$1" | grep -a '^count ' | tail -1 | cut -d' ' -f2; }
first_count() { tr -d '\r' <"$1" | grep -a '^count ' | head -1 | cut -d' ' -f2; }

# ---- a counter on the console and on a disk ----
counter='i=0;while+true;do+i=$((i-~0));echo+count+$i;echo+$i>/dev/vda;sync;sleep+0.2;done'
truncate -s 4M "$tmp/disk.raw"
"$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --disk "$tmp/disk.raw" --control "$tmp/c1" \
    --console "$tmp/out1" --timeout 120 --append "console=ttyS0 quiet guest.run=$counter" \
    </dev/null >"$tmp/err1" 2>&1 &
pid=$!
LOG=$tmp/out1
if wait_in "$tmp/out1" "^count 5[^0-9]" 60; then
    r=$(vmon_ctl "$tmp/c1" pause)
    r=$(vmon_ctl "$tmp/c1" "snapshot $tmp/s1")
    n=$(last_count "$tmp/out1")
    echo "$r" | grep -q "^ok saved $tmp/s1 in" && ok "snapshot of a paused guest at count $n: $r" ||
        bad "snapshot: $r"
else
    bad "the counter guest did not start"
    n=0
fi
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
size=$(stat -c %s "$tmp/s1" 2>/dev/null || echo 0)
used=$(($(stat -c %b "$tmp/s1" 2>/dev/null || echo 0) * 512))
[ "$size" -gt $((256 << 20)) ] && [ "$used" -lt $((size / 4)) ] &&
    ok "the snapshot holds 256 MiB of RAM sparsely: $((used >> 20)) MiB on disk" ||
    bad "snapshot size $size, $used bytes allocated"
[ "$(head -c 16 "$tmp/disk.raw" | tr -d '\0' | head -1)" = "$n" ] &&
    ok "the disk holds count $n at the snapshot" || bad "disk: $(head -c 16 "$tmp/disk.raw" | tr -d '\0')"
cp "$tmp/disk.raw" "$tmp/base.raw" # the disk as the snapshot knows it, for the clones

LOG=$tmp/err2
"$VMON" run --restore "$tmp/s1" --console "$tmp/out2" --timeout 4 --snapshot-on-exit "$tmp/s2" \
    </dev/null >"$tmp/err2" 2>&1
rc=$?
f=$(first_count "$tmp/out2")
l=$(last_count "$tmp/out2")
[ "${f:-0}" = $((n + 1)) ] && [ "${l:-0}" -ge $((n + 8)) ] &&
    ok "restored: the counter goes on from $f to $l" ||
    bad "restored counter: first ${f:-none}, last ${l:-none}, snapshot at $n"
d=$(head -c 16 "$tmp/disk.raw" | tr -d '\0' | head -1)
[ "${d:-0}" -ge $((l - 1)) ] && [ "${d:-0}" -le "$l" ] &&
    ok "the restored guest's disk writes go on ($d)" || bad "disk holds '$d', console at $l"
[ $rc = 0 ] && grep -q "saved the VM to $tmp/s2" "$tmp/err2" && [ -f "$tmp/s2" ] &&
    ok "--snapshot-on-exit saved the VM at --timeout (exit status 0)" ||
    bad "--snapshot-on-exit: status $rc"
LOG=$tmp/err3
"$VMON" run --restore "$tmp/s2" --console "$tmp/out3" --timeout 2 </dev/null >"$tmp/err3" 2>&1
f=$(first_count "$tmp/out3")
[ "${f:-0}" = $((l + 1)) ] && ok "a snapshot of a restored VM restores too (count $f after $l)" ||
    bad "second restore: first count ${f:-none} after $l"
"$VMON" run --restore "$tmp/s2" --console "$tmp/out4" --timeout 2 --engine interp \
    </dev/null >"$tmp/err4" 2>&1
f=$(first_count "$tmp/out4")
[ "${f:-0}" = $((l + 1)) ] && ok "--engine interp restores a snapshot taken with jit" ||
    bad "interp restore: first count ${f:-none}"

# ---- clones: five VMs from one snapshot, each on its own overlay disk ----
LOG=$tmp/clone1.err
for i in 1 2 3 4 5; do
    "$VMON" img create -b "$tmp/base.raw" -F raw "$tmp/clone$i.qcow2" >/dev/null
    "$VMON" run --restore "$tmp/s1" --disk "$tmp/clone$i.qcow2" --console "$tmp/clone$i.out" \
        --timeout 4 </dev/null >"$tmp/clone$i.err" 2>&1 &
done
wait
good=0
for i in 1 2 3 4 5; do
    f=$(first_count "$tmp/clone$i.out")
    l=$(last_count "$tmp/clone$i.out")
    "$VMON" img convert -O raw "$tmp/clone$i.qcow2" "$tmp/clone$i.raw" >/dev/null 2>&1
    d=$(head -c 16 "$tmp/clone$i.raw" 2>/dev/null | tr -d '\0' | head -1)
    [ "${f:-0}" = $((n + 1)) ] && [ "${l:-0}" -gt $((n + 1)) ] && [ "${d:-0}" -ge $((l - 1)) ] &&
        good=$((good + 1))
done
[ $good = 5 ] && ok "5 clones of one snapshot each went on from count $n on their own overlay disk" ||
    bad "clones: $good of 5 went on with their own disks"
[ "$(head -c 16 "$tmp/base.raw" | tr -d '\0' | head -1)" = "$n" ] &&
    ok "the clones' common base disk is untouched" || bad "the base disk changed"

# ---- identity: the generation ID changes on every restore; a clone's own MAC ----
PROG=${BUILD:-build}/isa/vmgenid.elf
LOG=$tmp/gen.out
"$VMON" run --bios "$PROG" --net user,mac=52:54:00:00:00:10 --control "$tmp/c5" --console "$tmp/gen.out" \
    --timeout 60 </dev/null >"$tmp/gen.err" 2>&1 &
pid=$!
if wait_in "$tmp/gen.out" "^genid" 20; then
    vmon_ctl "$tmp/c5" pause >/dev/null
    r=$(vmon_ctl "$tmp/c5" "snapshot $tmp/gen.snap")
    echo "$r" | grep -q "^ok saved" || bad "snapshot of the generation ID program: $r"
else
    bad "the generation ID program did not start"
fi
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
orig=$(tr -d '\r' <"$tmp/gen.out" | grep '^genid' | head -1 | cut -d' ' -f2)
for i in 1 2 3 4 5; do
    "$VMON" run --restore "$tmp/gen.snap" --net "user,mac=52:54:00:00:00:0$i" --console "$tmp/gen$i.out" \
        --timeout 20 </dev/null >"$tmp/gen$i.err" 2>&1 &
done
wait
ids=$(for i in 1 2 3 4 5; do tr -d '\r' <"$tmp/gen$i.out" | grep '^genid [0-9a-f]* mac' | tail -1 | cut -d' ' -f2; done | sort -u)
macs=0
for i in 1 2 3 4 5; do
    tr -d '\r' <"$tmp/gen$i.out" | grep -q "^genid .* mac 52540000000$i\$" && macs=$((macs + 1))
done
fin=$(cat "$tmp"/gen[1-5].out | tr -d '\r' | grep -c "^test: ok")
[ -n "$orig" ] && [ "$(echo "$ids" | grep -c .)" = 5 ] && ! echo "$ids" | grep -qx "$orig" && [ "$fin" = 5 ] &&
    ok "5 restores of one snapshot: 5 new generation IDs, none the original's; all ran to the end" ||
    bad "generation IDs: original $orig, restored: $(echo $ids), $fin finished"
[ $macs = 5 ] && ok "each clone's virtio-net config holds its own MAC" || bad "MACs: $macs of 5"

# ---- bad snapshots and mismatched machines ----
bad_case() { # what, expected message, run args...
    local what=$1 want=$2
    shift 2
    "$VMON" run "$@" --console none --timeout 5 </dev/null >"$tmp/bad.out" 2>&1
    local rc=$?
    LOG=$tmp/bad.out
    [ $rc != 0 ] && [ $rc -lt 128 ] && grep -q "$want" "$tmp/bad.out" &&
        ok "$what: refused ($(tail -1 "$tmp/bad.out"))" || bad "$what: status $rc"
}
head -c 100000 "$tmp/s1" >"$tmp/trunc"
bad_case "truncated" "truncated" --restore "$tmp/trunc"
head -c 3000 "$tmp/s1" >"$tmp/short"
bad_case "header cut short" "too short for a header" --restore "$tmp/short"
cp "$tmp/s1" "$tmp/corrupt" && printf 'X' | dd of="$tmp/corrupt" bs=1 seek=4200 conv=notrunc 2>/dev/null
bad_case "corrupt state" "checksum mismatch" --restore "$tmp/corrupt"
cp "$tmp/s1" "$tmp/hdr" && printf 'X' | dd of="$tmp/hdr" bs=1 seek=44 conv=notrunc 2>/dev/null
bad_case "corrupt header" "corrupt snapshot header" --restore "$tmp/hdr"
cp "$tmp/s1" "$tmp/ver" && printf '\x09' | dd of="$tmp/ver" bs=1 seek=8 conv=notrunc 2>/dev/null
bad_case "other format version" "format version 9" --restore "$tmp/ver"
bad_case "not a snapshot" "not a vmon snapshot" --restore "$INITRD"
bad_case "missing file" "No such file" --restore "$tmp/none"
bad_case "more vCPUs than saved" "machine with 1 vCPUs" --restore "$tmp/s1" --cpus 2
bad_case "other memory size" "256 MiB of RAM" --restore "$tmp/s1" --mem 512M
bad_case "a device the snapshot lacks" "more devices\|device type" --restore "$tmp/s1" --rng
bad_case "bad --snapshot-on-exit path" "snapshot-on-exit" --restore "$tmp/s1" \
    --snapshot-on-exit /nonexistent/dir/s

# ---- SMP under load ----
load='for+k+in+1+2+3+4;do(j=0;while+[+$j+-lt+300000+];do+j=$((j-~0));done;echo+done$k)&done;echo+started;wait;echo+alldone'
LOG=$tmp/smp1
"$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --cpus 4 --control "$tmp/c2" \
    --console "$tmp/smp1" --timeout 120 --append "console=ttyS0 quiet guest.run=$load" \
    </dev/null >"$tmp/smperr" 2>&1 &
pid=$!
if wait_in "$tmp/smp1" "^started" 60; then
    sleep 1
    r=$(vmon_ctl "$tmp/c2" "snapshot $tmp/smp")
    echo "$r" | grep -q "^ok saved" && ok "snapshot of a running 4-vCPU guest under load" ||
        bad "SMP snapshot: $r"
else
    bad "the SMP guest did not start its load"
fi
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
LOG=$tmp/smp2
"$VMON" run --restore "$tmp/smp" --console "$tmp/smp2" --timeout 90 </dev/null >"$tmp/smperr2" 2>&1
before=$(grep -c '^done' "$tmp/smp1")
after=$(grep -c '^done' "$tmp/smp2")
grep -q '^alldone' "$tmp/smp2" && [ $((before + after)) -ge 4 ] && ! grep -q "rcu.*stall" "$tmp/smp2" &&
    ok "restored 4-vCPU guest finished its load ($before + $after workers, no RCU stall)" ||
    bad "SMP restore: $before + $after workers done, alldone: $(grep -c alldone "$tmp/smp2")"

# ---- every device type after a restore ----
# (the in-tree initramfs: its guest.net brings the network up by DHCP)
make -s -C "$here" guest-image >/dev/null
INITRD=$here/build/guest/initramfs.cpio.gz
mkdir -p "$tmp/www" && echo "hello from the host" >"$tmp/www/hello.txt"
python3 -m http.server --bind 127.0.0.1 0 --directory "$tmp/www" >"$tmp/http.log" 2>&1 &
hpid=$!
for _ in $(seq 50); do
    hport=$(grep -o 'port [0-9]*' "$tmp/http.log" | head -1 | cut -d' ' -f2)
    [ -n "$hport" ] && break
    sleep 0.1
done
devs='echo+ready;sleep+4;wget+-q+-O+-+http://10.0.2.2:'${hport:-1}'/hello.txt;echo+rng=$(head+-c+32+/dev/hwrng|wc+-c);echo+to-hvc1>/dev/hvc1;echo+devices-done;sleep+60'
LOG=$tmp/dev1
"$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --net user --rng --vconsole "$tmp/hvc-a" --balloon \
    --control "$tmp/c3" --console "$tmp/dev1" --timeout 120 \
    --append "console=ttyS0 quiet guest.net guest.run=$devs" </dev/null >"$tmp/deverr1" 2>&1 &
pid=$!
if wait_in "$tmp/dev1" "^ready" 60; then
    r=$(vmon_ctl "$tmp/c3" "snapshot $tmp/devs")
    echo "$r" | grep -q "^ok saved" || bad "snapshot with every device: $r"
else
    bad "the device guest did not start"
fi
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
LOG=$tmp/dev2
"$VMON" run --restore "$tmp/devs" --vconsole "$tmp/hvc-b" --control "$tmp/c4" \
    --console "$tmp/dev2" --timeout 60 </dev/null >"$tmp/deverr2" 2>&1 &
pid=$!
wait_in "$tmp/dev2" "^devices-done" 40
grep -q "hello from the host" "$tmp/dev2" && ok "net: the restored guest fetched a page over the network" ||
    bad "net after restore"
grep -q "^rng=32" "$tmp/dev2" && ok "rng: 32 bytes from /dev/hwrng after the restore" || bad "rng after restore"
grep -q "to-hvc1" "$tmp/hvc-b" 2>/dev/null && ok "vconsole: output reaches the restore's --vconsole file" ||
    bad "vconsole after restore"
r=$(vmon_ctl "$tmp/c4" "balloon 192M")
ok_b=0
for _ in $(seq 50); do
    vmon_ctl "$tmp/c4" balloon | grep -q "given 64 MiB" && ok_b=1 && break
    sleep 0.2
done
[ $ok_b = 1 ] && ok "balloon: the restored guest gave 64 MiB back" || bad "balloon after restore: $r"
kill -9 $pid
wait $pid 2>/dev/null
kill $hpid 2>/dev/null

report snapshot
