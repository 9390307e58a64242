#!/bin/bash
# In-hypervisor page sharing (vmon run --share-pages) in one VM:
#  - tests/isa/pageshare fills 64 identical pages and 8 unique ones; vmon
#    merges the 64 into one pool page (both engines), then a store from the
#    hart and a virtio-rng fill break two of them, and the guest finds every
#    page as it wrote it; vmon counts one break from a hart and one from a
#    device;
#  - a snapshot of a VM whose pages are shared restores with their content;
#  - the demo Linux guest copies a 2 MiB file in tmpfs: the copy's pages
#    merge with the original's, both still read the same, and appending to
#    the copy breaks sharing from the guest's own stores;
#  - bad options are refused.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VMON=${VMON:-build/vmon}
BUILD=${BUILD:-build}
ELF=$BUILD/isa/pageshare.elf
. "$(dirname "$0")/guest.sh" # KERNEL, INITRD

# A figure from the control channel's "share" reply.
share_fig() { # socket, name
    vmon_ctl "$1" share | tr ' ' '\n' | grep -A1 -x "$2" | tail -1
}

# Wait until figure NAME on SOCKET is at least MIN; 1 after SECONDS.
wait_fig() { # socket, name, min, seconds
    local v
    for _ in $(seq $((5 * $4))); do
        v=$(share_fig "$1" "$2")
        [ "${v:-0}" -ge "$3" ] 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

# Start vmon with its stdin on a fifo held open on fd 3; sets pid.
start_fed() { # name, vmon run options...
    local name=$1
    shift
    rm -f "$tmp/$name.fifo"
    mkfifo "$tmp/$name.fifo"
    "$VMON" run "$@" <"$tmp/$name.fifo" >"$tmp/$name.out" 2>&1 &
    pid=$!
    exec 3>"$tmp/$name.fifo"
}

finish() { # expected exit status
    exec 3>&-
    wait $pid
    local rc=$?
    [ "$rc" -eq "$1" ]
}

# ---- merge, then break from a hart and from a device ----
for engine in jit interp; do
    LOG=$tmp/$engine.out
    start_fed "$engine" --bios "$ELF" --engine "$engine" --rng --share-pages --share-rate 65536 \
        --control "$tmp/$engine.sock" --timeout 120
    if wait_in "$tmp/$engine.out" "pageshare: filled" 30 && wait_fig "$tmp/$engine.sock" pooled 64 30; then
        ok "$engine: the 64 identical pages are merged: $(vmon_ctl "$tmp/$engine.sock" share)"
    else
        bad "$engine: the identical pages were not merged: $(vmon_ctl "$tmp/$engine.sock" share)"
    fi
    printf g >&3
    wait_in "$tmp/$engine.out" "pageshare: checked" 30 && ok "$engine: every page reads as written" ||
        bad "$engine: the guest's check did not pass"
    st=$(vmon_ctl "$tmp/$engine.sock" share)
    h=$(share_fig "$tmp/$engine.sock" broken-hart)
    d=$(share_fig "$tmp/$engine.sock" broken-device)
    [ "${h:-0}" -ge 1 ] && ok "$engine: the hart's store broke sharing ($h)" || bad "$engine: no break from a hart: $st"
    [ "${d:-0}" -ge 1 ] && ok "$engine: the device's write broke sharing ($d)" || bad "$engine: no break from a device: $st"
    p=$(share_fig "$tmp/$engine.sock" pooled)
    [ "${p:-0}" -ge 62 ] && ok "$engine: the other pages stay shared ($p)" || bad "$engine: pages left the pool: $st"
    printf g >&3
    finish 0 && grep -q "^test: ok" "$tmp/$engine.out" && ok "$engine: the guest passes" ||
        bad "$engine: the guest failed"
done

# ---- a snapshot of shared pages ----
LOG=$tmp/snap.out
start_fed snap --bios "$ELF" --rng --share-pages --share-rate 65536 --control "$tmp/snap.sock" --timeout 120
if wait_in "$tmp/snap.out" "pageshare: filled" 30 && wait_fig "$tmp/snap.sock" pooled 64 30; then
    r=$(vmon_ctl "$tmp/snap.sock" "snapshot $tmp/shared.snap")
    echo "$r" | grep -q "^ok saved" && ok "a VM with shared pages is saved" || bad "snapshot: $r"
else
    bad "the pages were not merged before the snapshot"
fi
kill $pid 2>/dev/null
exec 3>&-
wait $pid 2>/dev/null
LOG=$tmp/restored.out
start_fed restored --restore "$tmp/shared.snap" --control "$tmp/restored.sock" --timeout 120
sleep 0.5
printf g >&3
wait_in "$tmp/restored.out" "pageshare: checked" 30 && ok "the restored VM reads its shared pages as written" ||
    bad "the restored VM's pages are wrong"
printf g >&3
finish 0 && ok "the restored guest passes" || bad "the restored guest failed"

# ---- the demo Linux guest ----
LOG=$tmp/linux.out
start_fed linux --kernel "$KERNEL" --initrd "$INITRD" --share-pages --share-rate 65536 \
    --control "$tmp/linux.sock" --timeout 180 --append "console=ttyS0 quiet"
if wait_in "$tmp/linux.out" "type 'poweroff -f'" 60; then
    echo 'dd if=/dev/urandom of=/tmp/a bs=64k count=32 2>/dev/null; cp /tmp/a /tmp/b; echo copied' >&3
    wait_in "$tmp/linux.out" "^copied" 30 && ok "the guest made a 2 MiB file and its copy" ||
        bad "the guest did not copy"
    before=$(share_fig "$tmp/linux.sock" pooled)
    # The copy's 512 pages join the original's (and both join the pool).
    if wait_fig "$tmp/linux.sock" pooled $((${before:-0} + 900)) 60; then
        ok "the copy's pages are shared: $(vmon_ctl "$tmp/linux.sock" share)"
    else
        bad "the copy was not shared: $(vmon_ctl "$tmp/linux.sock" share)"
    fi
    h0=$(share_fig "$tmp/linux.sock" broken-hart)
    echo 'cmp /tmp/a /tmp/b && echo same; dd if=/dev/zero of=/tmp/b bs=64k count=32 conv=notrunc 2>/dev/null; cmp -s /tmp/a /tmp/b || echo differs; md5sum /tmp/a' >&3
    wait_in "$tmp/linux.out" "^same" 30 && ok "the shared copies read the same" ||
        bad "the copies differ while shared"
    wait_in "$tmp/linux.out" "^differs" 30 && ok "overwriting the copy leaves the original alone" ||
        bad "writing the copy changed the original"
    h1=$(share_fig "$tmp/linux.sock" broken-hart)
    [ "${h1:-0}" -ge $((${h0:-0} + 400)) ] && ok "the guest's stores broke sharing ($h0 -> $h1)" ||
        bad "the guest's stores did not break sharing ($h0 -> $h1)"
    echo 'poweroff -f' >&3
    finish 0 && ok "the guest powers off" || bad "the guest did not power off"
else
    bad "the demo guest did not boot with --share-pages"
    kill $pid 2>/dev/null
    finish 0
fi

# ---- bad options ----
LOG=$tmp/bad.out
"$VMON" run --bios "$ELF" --share-pages --share-rate 0 >"$tmp/bad.out" 2>&1
[ $? -ne 0 ] && grep -q "invalid --share-rate" "$tmp/bad.out" && ok "--share-rate 0 is refused" ||
    bad "--share-rate 0 was taken"
"$VMON" run --bios "$ELF" --share-pages --mem-limit 64M >"$tmp/bad.out" 2>&1
[ $? -ne 0 ] && grep -q "cannot be combined with --mem-limit" "$tmp/bad.out" &&
    ok "--share-pages with --mem-limit is refused" || bad "--share-pages with --mem-limit was taken"
"$VMON" run --bios "$ELF" --share-fds 1,x >"$tmp/bad.out" 2>&1
[ $? -ne 0 ] && grep -q "invalid --share-fds" "$tmp/bad.out" && ok "a bad --share-fds is refused" ||
    bad "a bad --share-fds was taken"
start_fed nosh --bios "$ELF" --rng --control "$tmp/nosh.sock" --timeout 60
wait_in "$tmp/nosh.out" "pageshare: filled" 30
r=$(vmon_ctl "$tmp/nosh.sock" share)
echo "$r" | grep -q "^error page sharing is off" && ok "share without --share-pages: $r" || bad "share: $r"
r=$(vmon_ctl "$tmp/nosh.sock" "share-map 3")
echo "$r" | grep -q "^error" && ok "share-map without sharing is refused" || bad "share-map: $r"
printf gg >&3
finish 0 || bad "the unshared guest failed"
start_fed lone --bios "$ELF" --rng --share-pages --control "$tmp/lone.sock" --timeout 60
wait_in "$tmp/lone.out" "pageshare: filled" 30
r=$(vmon_ctl "$tmp/lone.sock" "share-map 3")
echo "$r" | grep -q "^error page sharing is not driven by the service" &&
    ok "share-map on a VM with its own pool is refused" || bad "share-map: $r"
printf gg >&3
finish 0 || bad "the lone guest failed"
report pageshare
