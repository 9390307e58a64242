#!/bin/bash
# Snapshots that keep their disks (snapshot --overlay): a guest counting on
# its console and on its disk is saved, and from then on writes a new qcow2
# overlay on its image (FILE.disk0.qcow2), so the image stays as the
# snapshot has it; restoring onto the image itself while the VM runs is
# refused (the overlay holds it), restoring with an overlay of one's own
# goes on from the snapshot's count with the disk in step. Through the
# service, whose workers are confined to their files, --overlay is refused
# with the reason and nothing is left; the API checks the field's type.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/guest.sh"
. "$(dirname "${BASH_SOURCE[0]}")/servelib.sh" # the service, api, json
counter='i=0;while+true;do+i=$((i-~0));echo+count+$i;echo+$i>/dev/vda;sync;sleep+0.2;done'
disk_value() { head -c 16 "$1" | tr -d '\0' | head -1; }
counts() { tr -d '\r' <"$1" | grep -a '^count ' | cut -d' ' -f2; }

truncate -s 4M "$tmp/a.raw"
LOG=$tmp/out1
"$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --disk "$tmp/a.raw" --control "$tmp/c1" \
    --console "$tmp/out1" --timeout 120 --append "console=ttyS0 quiet guest.run=$counter" \
    </dev/null >"$tmp/err1" 2>&1 &
pid=$!
if wait_in "$tmp/out1" "^count 5" 60; then
    r=$(vmon_ctl "$tmp/c1" "snapshot --overlay $tmp/s1")
    echo "$r" | grep -q "^ok saved $tmp/s1" && [ -f "$tmp/s1.disk0.qcow2" ] &&
        ok "snapshot --overlay: $r, the VM goes on in s1.disk0.qcow2" || bad "snapshot --overlay: $r"
    frozen=$(disk_value "$tmp/a.raw")
    n=$(counts "$tmp/out1" | tail -1)
    sleep 2
    n2=$(counts "$tmp/out1" | tail -1)
    [ "$(disk_value "$tmp/a.raw")" = "$frozen" ] && [ "$n2" -ge $((n + 5)) ] &&
        ok "the image stays at $frozen while the VM counts on ($n -> $n2)" ||
        bad "image $(disk_value "$tmp/a.raw") (was $frozen), count $n -> $n2"
    "$VMON" run --restore "$tmp/s1" --console none --timeout 5 </dev/null >"$tmp/r0" 2>&1
    [ $? != 0 ] && grep -q "image is in use" "$tmp/r0" &&
        ok "restoring onto the image the running VM's overlay holds is refused" ||
        bad "restore onto the held image: $(tail -1 "$tmp/r0")"
    "$VMON" img create -f qcow2 -b "$tmp/a.raw" -F raw "$tmp/clone.qcow2" >/dev/null
    "$VMON" run --restore "$tmp/s1" --disk "$tmp/clone.qcow2,format=qcow2" --console "$tmp/out2" \
        --timeout 4 </dev/null >"$tmp/r1" 2>&1
    first=$(counts "$tmp/out2" | head -1)
    last=$(counts "$tmp/out2" | tail -1)
    "$VMON" img convert -f qcow2 -O raw "$tmp/clone.qcow2" "$tmp/clone.raw" >/dev/null 2>&1
    d=$(disk_value "$tmp/clone.raw")
    [ -n "$first" ] && [ "$first" -le $((frozen + 2)) ] && [ "$first" -ge "$frozen" ] &&
        [ "${d:-0}" -ge $((last - 1)) ] &&
        ok "a restore on an overlay of its own counts on from $first (image at $frozen), its disk at $d" ||
        bad "restore: counts $first..$last, image $frozen, disk $d"
else
    bad "the counter guest did not start"
fi
kill $pid 2>/dev/null
wait $pid 2>/dev/null

# ---- through the service ----
LOG=$tmp/serve.log
start_service || bad "vmon serve did not come up"
truncate -s 4M "$tmp/b.raw"
"$VMON" create web --kernel "$KERNEL" --initrd "$INITRD" --disk "$tmp/b.raw" \
    --append "console=ttyS0 quiet guest.run=$counter" --start >/dev/null 2>&1 || bad "create web"
for _ in $(seq 120); do "$VMON" logs web 2>/dev/null | grep -aq "^count 5" && break; sleep 0.5; done
# A service's worker is confined to the files it was given (Landlock), so
# it cannot make overlays by path: refused with the reason, nothing left.
"$VMON" snapshot web "$tmp/s2" --overlay >"$tmp/o" 2>&1
rc=$?
landlock=$(python3 -c 'import ctypes; libc = ctypes.CDLL(None, use_errno=True)
print(int(libc.syscall(444, None, 0, 1) > 0))') # landlock_create_ruleset(VERSION)
if [ "$landlock" = 1 ]; then
    [ $rc != 0 ] && grep -q "cannot make its disks' overlays" "$tmp/o" && [ ! -e "$tmp/s2" ] &&
        [ ! -e "$tmp/s2.disk0.qcow2" ] && "$VMON" list | grep -q '^web .*running' &&
        ok "a confined worker refuses --overlay, leaves no file and runs on: $(cat "$tmp/o")" ||
        bad "vmon snapshot --overlay under Landlock: rc $rc, $(cat "$tmp/o")"
else
    [ $rc = 0 ] && [ -f "$tmp/s2.disk0.qcow2" ] && ok "vmon snapshot web FILE --overlay: $(cat "$tmp/o")" ||
        bad "vmon snapshot --overlay: $(cat "$tmp/o")"
fi
"$VMON" snapshot web "$tmp/s2" >"$tmp/o" 2>&1 && ok "a plain snapshot of web: $(cat "$tmp/o")" ||
    bad "vmon snapshot: $(cat "$tmp/o")"
r=$(curl -s --unix-socket "$SOCK" -X PUT -d "{\"file\": \"$tmp/s3\", \"overlay\": 1}" http://x/v1/vms/web/snapshot)
echo "$r" | grep -q "overlay: want true or false" && ok "PUT snapshot {\"overlay\": 1}: $r" ||
    bad "overlay 1: $r"
"$VMON" stop web >/dev/null 2>&1
"$VMON" stop web2 >/dev/null 2>&1
report snapdisk
