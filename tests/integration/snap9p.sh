#!/bin/bash
# A 9p share survives snapshot and restore. The demo guest mounts a share,
# opens /mnt/log for appending once (fd 3) and appends a counter to it
# through that descriptor, printing the counter on the console too. The
# VM is paused, snapshotted through the control channel, and its vmon
# killed with SIGKILL (no descriptor, no clean shutdown). The restored VM
# keeps writing through the same fd 3 (its fid reopens the file on the
# host), then stops when the host creates /mnt/stop (a lookup through the
# restored root fid) and reads it. Checks: the host file holds 1..N with
# no gap, repeat or error, N well past the snapshot's count; the console
# of both runs together shows the same 1..N; the restored guest saw no I/O
# error and exited cleanly.
set -u
VMON=${VMON:-build/vmon}
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/integration/guest.sh" # sets KERNEL, INITRD
. "$here/tests/integration/lib.sh"
pids=""
trap 'for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
S=$tmp/share
mkdir -p "$S"
LOG=$tmp/out2

lines() { [ -f "$S/log" ] && wc -l <"$S/log" || echo 0; }
wait_lines() { # N, seconds: until the host file has N lines
    local t=$(($2 * 5))
    while [ "$(lines)" -lt "$1" ] && [ $t -gt 0 ]; do
        sleep 0.2
        t=$((t - 1))
    done
    [ "$(lines)" -ge "$1" ]
}
ctl() { echo "$1" | socat -t 30 - UNIX-CONNECT:"$tmp/ctl" 2>&1 | grep -v '^ready$'; }
counts() { cat "$@" | tr -d '\r' | sed -n 's/^C:\([0-9]*\)$/\1/p'; }

# shellcheck disable=SC2016 # the guest's shell expands these, not this one
{
    CMD='mount+-t+9p+-o+trans=virtio+host+/mnt&&exec+3>>/mnt/log&&i=0;'
    CMD+='while+[+!+-e+/mnt/stop+];do+i=$((i-~0));echo+$i>&3;echo+C:$i;sleep+0.2;done;'
    CMD+='exec+3>&-;echo+R:done=$i;echo+R:stop=$(cat+/mnt/stop)'
}
"$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 50 --share "$S,tag=host" \
    --control "$tmp/ctl" --append "console=ttyS0 guest.run=$CMD" </dev/null >"$tmp/out" 2>"$tmp/err" &
vm=$!
pids="$vm"
if wait_lines 5 30; then
    ok "guest appends to the share through fd 3 ($(lines) lines)"
else
    LOG=$tmp/out bad "guest appends to the share ($(lines) lines)"
fi
p=$(ctl pause)
s=$(ctl "snapshot $tmp/s")
kill -9 $vm 2>/dev/null
wait $vm 2>/dev/null
n0=$(lines)
if [ "$p" = "ok paused" ] && [[ "$s" == "ok saved"* ]] && [ -s "$tmp/s" ]; then
    ok "paused and snapshotted at $n0 lines: $s"
else
    LOG=$tmp/err bad "pause/snapshot: '$p' '$s'"
fi

"$VMON" run --restore "$tmp/s" --console "$tmp/out2" --timeout 30 </dev/null >"$tmp/out2.stdout" 2>"$tmp/err2" &
vm=$!
pids="$pids $vm"
want=$((n0 + 10))
if wait_lines $want 20; then
    ok "restored guest keeps appending through the same descriptor ($(lines) lines)"
else
    bad "restored guest: $(lines) lines, want $want"
fi
echo "from the host" >"$S/stop"
wait $vm
rc=$?
if [ $rc -eq 0 ] && grep -q "guest: exit status 0" "$tmp/out2" &&
    [ "$(tr -d '\r' <"$tmp/out2" | sed -n 's/^R:stop=//p')" = "from the host" ]; then
    ok "restored guest found and read the host's new file, exited cleanly"
else
    LOG=$tmp/err2 bad "restored vmon exit $rc"
    tail -5 "$tmp/out2" | sed 's/^/    /'
fi

n=$(tr -d '\r' <"$tmp/out2" | sed -n 's/^R:done=//p')
if [ -n "$n" ] && [ "$n" -ge "$want" ] && [ "$(cat "$S/log")" = "$(seq 1 "$n")" ]; then
    ok "host file holds 1..$n, no gap or repeat across the restore (snapshot at $n0)"
else
    bad "host file: want 1..${n:-?}, have $(lines) lines: $(tr '\n' ' ' <"$S/log" | tail -c 200)"
fi
before=$(counts "$tmp/out" | tail -1)
if [ -n "$n" ] && [ "$(counts "$tmp/out" "$tmp/out2")" = "$(seq 1 "$n")" ]; then
    ok "console: 1..$n over both runs (the first up to ${before:-none})"
else
    bad "console counters: $(counts "$tmp/out" "$tmp/out2" | tr '\n' ' ' | tail -c 200)"
fi
errs="error|stale|bad file|no such|can't|cannot|denied|sanitizer"
if grep -aqiE "$errs" "$tmp/out2" "$tmp/err" "$tmp/err2"; then
    bad "errors: $(grep -aiE "$errs" "$tmp/out2" "$tmp/err" "$tmp/err2" | head -3)"
else
    ok "no I/O error after the restore, vmon reported none"
fi
report snap9p
