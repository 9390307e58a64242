#!/bin/bash
# Disks grown while the guest runs: the control channel's disk-resize N
# SIZE grows a raw or qcow2 image, and the demo guest's kernel sees the new
# capacity through the config-change interrupt; shrinking, read-only disks,
# unknown disks and bad requests are refused and change nothing.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VMON=${VMON:-build/vmon}
. "$(dirname "$0")/guest.sh" # KERNEL, INITRD
LOG=$tmp/console

ctl() { # commands on the control socket, one reply line each
    python3 - "$tmp/ctl.sock" "$@" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()  # ready
for c in sys.argv[2:]:
    f.write(c + "\n"); f.flush()
    print(f.readline().strip())
PY
}
wait_for() { # pattern in the console, seconds
    for _ in $(seq $((10 * $2))); do
        grep -q "$1" "$LOG" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

run='echo+size=$(cat+/sys/block/vda/size);sleep+8;echo+after=$(cat+/sys/block/vda/size)'
for fmt in raw qcow2; do
    img=$tmp/disk.$fmt
    rm -f "$img" "$tmp/ctl.sock" "$LOG"
    "$VMON" img create -f $fmt "$img" 32M >/dev/null
    "$VMON" img create -f raw "$tmp/ro.raw" 1M >/dev/null
    "$VMON" run --disk "$img" --disk "$tmp/ro.raw,ro" --control "$tmp/ctl.sock" \
        --kernel "$KERNEL" --initrd "$INITRD" --console "$LOG" --timeout 120 \
        --append "console=ttyS0 guest.run=$run" </dev/null >"$tmp/out" 2>&1 &
    vpid=$!
    if ! wait_for "^size=" 60; then
        bad "$fmt: the guest did not start"
        kill $vpid 2>/dev/null
        wait $vpid
        continue
    fi
    r=$(ctl "disk-resize 0 16M" "disk-resize 1 64M" "disk-resize 2 64M" "disk-resize 0 67108865B" \
        "disk-resize 0 64M")
    echo "$r" | sed -n 1p | grep -q "^error.*at least the current" && ok "$fmt: shrinking refused" ||
        bad "$fmt: shrink: $(echo "$r" | sed -n 1p)"
    echo "$r" | sed -n 2p | grep -q "^error disk 1 is read-only" && ok "$fmt: read-only disk refused" ||
        bad "$fmt: ro: $(echo "$r" | sed -n 2p)"
    echo "$r" | sed -n 3p | grep -q "^error no disk 2" && ok "$fmt: unknown disk refused" ||
        bad "$fmt: disk 2: $(echo "$r" | sed -n 3p)"
    echo "$r" | sed -n 4p | grep -q "^error" && ok "$fmt: a size that is not whole sectors refused" ||
        bad "$fmt: 67108865 bytes: $(echo "$r" | sed -n 4p)"
    echo "$r" | sed -n 5p | grep -q "^ok disk 0 is 67108864 bytes" && ok "$fmt: grown to 64 MiB" ||
        bad "$fmt: grow: $(echo "$r" | sed -n 5p)"
    wait $vpid
    rc=$?
    before=$(tr -d '\r' <"$LOG" | sed -n 's/^size=//p')
    after=$(tr -d '\r' <"$LOG" | sed -n 's/^after=//p')
    [ $rc -eq 0 ] && [ "$before" = 65536 ] && [ "$after" = 131072 ] &&
        ok "$fmt: the guest saw 65536 then 131072 sectors" ||
        bad "$fmt: guest sizes '$before' -> '$after', exit $rc"
    vs=$("$VMON" img info --output=json "$img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
    [ "$vs" = 67108864 ] && ok "$fmt: the image is 64 MiB now" || bad "$fmt: image virtual size $vs"
    "$VMON" img check "$img" >"$tmp/out" 2>&1 && ok "$fmt: vmon img check finds the image clean" ||
        bad "$fmt: img check after the online resize"
done
report diskresize
