#!/bin/bash
# Snapshots through the service: vmon snapshot and PUT .../snapshot save a
# running (or paused) sandboxed VM whole and it runs on; vmon restore brings
# it back as a new VM whose counter goes on from where the original was
# (it does not boot again), three clones of one snapshot run at once, a
# restored VM starts from its snapshot every time (and keeps its progress
# once saved over its own snapshot); a stopped VM, a relative
# or impossible path, a missing or truncated snapshot and conflicting
# settings are refused with clear errors and leave no VM behind (a restore
# that cannot start is removed again).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/guest.sh"
. "$(dirname "${BASH_SOURCE[0]}")/servelib.sh"

# The guest counts, a line every 0.2 s.
COUNT_APPEND='console=ttyS0 guest.run=i=0;while+true;do+i=$((i-~0));echo+count+$i;sleep+0.2;done'

vm_names() { "$VMON" list | awk 'NR > 1 { print $1 }' | tr '\n' ' '; }

start_service && ok "vmon serve answers" || bad "vmon serve did not come up"

# --- Snapshots of a running, sandboxed VM ----------------------------------
"$VMON" create orig --kernel "$KERNEL" --initrd "$INITRD" --append "$COUNT_APPEND" --start &&
    wait_count orig 5 && ok "a counting guest runs" || bad "counting guest: $("$VMON" logs orig | tail -2)"
orig_pid=$(vm_field orig pid)
grep -q "^Seccomp:[[:space:]]*2" "/proc/$orig_pid/status" && ok "its worker is sandboxed (seccomp)" ||
    bad "worker not sandboxed"
before=$(counts orig | tail -1)
if (cd "$tmp" && "$VMON" snapshot orig s.snap) >"$tmp/out" 2>&1; then
    sleep 0.3 # a line cut by the snapshot is complete in the ring by then
    after=$(counts orig | tail -1)
    grep -qE "^saved VM orig to $tmp/s.snap in [0-9.]+ s \([0-9.]+ MiB, [0-9.]+ MiB allocated\)$" "$tmp/out" &&
        [ -f "$tmp/s.snap" ] && ok "vmon snapshot orig s.snap: $(cat "$tmp/out")" || bad "snapshot output: $(cat "$tmp/out")"
else
    after=$before
    bad "vmon snapshot: $(cat "$tmp/out")"
fi
[ "$(vm_field orig pid)" = "$orig_pid" ] && wait_count orig $((after + 3)) &&
    ok "the sandboxed worker wrote it and the VM runs on (count $before at the snapshot, $((after + 3)) after)" ||
    bad "orig after the snapshot: $(vm_field orig state) $(vm_field orig reason)"
api PUT /v1/vms/orig/snapshot "{\"file\": \"$tmp/golden.snap\"}"
[ "$status" = 200 ] && [ "$(json "$tmp/body" "d['file']")" = "$tmp/golden.snap" ] &&
    [ "$(json "$tmp/body" "int(d['size_bytes'] > 256 << 20 and 0 < d['allocated_bytes'] < d['size_bytes'] and d['seconds'] > 0)")" = 1 ] &&
    ok "PUT /v1/vms/orig/snapshot: 200, $(cat "$tmp/body")" || bad "PUT snapshot: $status $(cat "$tmp/body")"
"$VMON" pause orig && "$VMON" snapshot orig "$tmp/paused.snap" >/dev/null &&
    [ "$(vm_field orig state)" = paused ] && [ -f "$tmp/paused.snap" ] &&
    ok "a paused VM is saved and stays paused" || bad "paused snapshot: $(vm_field orig state)"
"$VMON" resume orig || bad "resume orig"
mkdir "$tmp/dir.snap.tmp"
expect_error "snapshot: a file that cannot be made (the message names it)" 500 PUT /v1/vms/orig/snapshot \
    "{\"file\": \"$tmp/dir.snap\"}"
grep -q "dir.snap.tmp: Is a directory" "$tmp/body" && [ "$(vm_field orig state)" = running ] &&
    ok "the message says why, the VM runs on" || bad "write error: $(cat "$tmp/body")"
expect_error "snapshot: a relative path" 400 PUT /v1/vms/orig/snapshot '{"file": "s.snap"}'
expect_error "snapshot: no file" 400 PUT /v1/vms/orig/snapshot '{}'
expect_error "snapshot: file not a string" 400 PUT /v1/vms/orig/snapshot '{"file": 1}'
expect_error "snapshot: an unknown field" 400 PUT /v1/vms/orig/snapshot "{\"file\": \"$tmp/x\", \"now\": 1}"
expect_error "snapshot: no such directory" 400 PUT /v1/vms/orig/snapshot '{"file": "/nonexistent/x.snap"}'
expect_error "snapshot: an unknown VM" 404 PUT /v1/vms/nosuch/snapshot "{\"file\": \"$tmp/x\"}"
"$VMON" stop orig || bad "stop orig"
expect_error "snapshot: a stopped VM" 409 PUT /v1/vms/orig/snapshot "{\"file\": \"$tmp/x\"}"
expect_cli "vmon snapshot of a stopped VM" 1 "it is stopped" snapshot orig "$tmp/x"
[ ! -e "$tmp/x" ] && [ ! -e "$tmp/x.tmp" ] && ok "refused snapshots wrote nothing" || bad "a refused snapshot left a file"

# --- Restore: the counter goes on ------------------------------------------
sum=$(sha1sum <"$tmp/s.snap")
"$VMON" restore "$tmp/s.snap" clone >"$tmp/out" 2>&1 && grep -qx "restored VM clone from $tmp/s.snap: running" "$tmp/out" &&
    [ "$(vm_field clone state)" = running ] && ok "vmon restore s.snap clone: $(cat "$tmp/out")" ||
    bad "restore: $(cat "$tmp/out")"
wait_count clone $((after + 3)) || bad "the clone does not count"
first=$(counts clone | head -1)
[ -n "$first" ] && [ "$first" -gt "$before" ] && [ "$first" -le $((after + 1)) ] &&
    ok "the clone counts on from the snapshot ($first, then $(counts clone | tail -1); orig was at $before..$after)" ||
    bad "the clone's first count is '$first' (want $((before + 1))..$((after + 1)))"
"$VMON" logs clone | grep -q "init reached" && bad "the clone booted again" || ok "the clone did not boot"
api GET /v1/vms/clone
[ "$(json "$tmp/body" "d['config']['restore']")" = "$tmp/s.snap" ] && [ "$(json "$tmp/body" "d['mem_bytes']")" = $((256 << 20)) ] &&
    json "$tmp/body" "d['snapshot_options']" | grep -q -- "--kernel=$KERNEL" &&
    ok "GET shows restore and the snapshot's machine options" || bad "GET clone: $(head -c 600 "$tmp/body")"

# Three clones of one snapshot at once (one named after the file).
(cd "$tmp" && "$VMON" restore golden.snap >"$tmp/out.golden" 2>&1) &
p1=$!
"$VMON" restore "$tmp/golden.snap" g2 >"$tmp/out.g2" 2>&1 &
p2=$!
"$VMON" restore "$tmp/golden.snap" g3 >"$tmp/out.g3" 2>&1 &
p3=$!
wait $p1 && wait $p2 && wait $p3 && ok "three restores of one snapshot at once" ||
    bad "concurrent restores: $(cat "$tmp"/out.g*)"
for n in golden g2 g3; do
    for _ in $(seq 50); do [ -n "$(counts "$n")" ] && break; sleep 0.2; done
    start=$(counts "$n" | head -1)
    [ "$(vm_field "$n" state)" = running ] && [ -n "$start" ] && wait_count "$n" $((start + 3)) ||
        bad "clone $n: $(vm_field "$n" state) $(vm_field "$n" reason)"
done
[ "$(vm_names)" = "clone g2 g3 golden orig " ] && ok "golden, g2 and g3 all run and count" ||
    bad "VMs: $(vm_names)"

# A restored VM starts from its snapshot every time.
g3_first=$(counts g3 | head -1)
"$VMON" stop g3 && "$VMON" start g3 && wait_count g3 $((g3_first + 2)) 2 &&
    [ "$(counts g3 | grep -cx "$g3_first")" = 2 ] && [ "$(vm_field g3 starts)" = 2 ] &&
    ok "started again, g3 goes on from the snapshot again (count $g3_first twice)" ||
    bad "g3 restarted: counts $(counts g3 | tr '\n' ' ')"

# --- Restores that cannot be: nothing is left behind ------------------------
head -c 10000 "$tmp/s.snap" >"$tmp/bad.snap"
expect_cli "restore of a missing file" 1 "No such file or directory" restore "$tmp/nosuch.snap"
expect_cli "restore of a truncated file" 1 "truncated" restore "$tmp/bad.snap"
expect_cli "vmon create --restore with a mem of its own" 1 "the snapshot's machine has 256 MiB" \
    create big --restore "$tmp/s.snap" --mem 512M
"$VMON" restore "$tmp/s.snap" big --mem 512M 2>"$tmp/out" && bad "vmon restore --mem accepted" ||
    { grep -q "unknown option '--mem'" "$tmp/out" && ok "vmon restore has no --mem (the snapshot's)" ||
        bad "vmon restore --mem: $(cat "$tmp/out")"; }
expect_cli "restore that cannot start" 1 "cannot create socket" restore "$tmp/s.snap" broken \
    --vconsole "socket=$tmp/nodir/v.sock"
"$VMON" restore "$tmp/s.snap" broken2 --net bogus >"$tmp/out2" 2>&1
[ $? = 2 ] && grep -q "vmon restore: --net bogus: unknown network type 'bogus'" "$tmp/out2" &&
    ok "a restore with a bad --net is refused at once: $(head -1 "$tmp/out2")" ||
    bad "restore --net bogus: $(cat "$tmp/out2")"
grep -q "VM broken did not start; its definition is removed" "$tmp/out" && ok "the failed restore is removed" ||
    bad "failed restore: $(cat "$tmp/out")"
expect_error "API: restore of a relative path" 400 PUT /v1/vms/x '{"restore": "s.snap"}'
expect_error "API: restore of a truncated file" 400 PUT /v1/vms/x "{\"restore\": \"$tmp/bad.snap\"}"
expect_error "API: restore with a kernel" 400 PUT /v1/vms/x "{\"restore\": \"$tmp/s.snap\", \"kernel\": \"$KERNEL\"}"
expect_error "API: restore with other cpus" 400 PUT /v1/vms/x "{\"restore\": \"$tmp/s.snap\", \"cpus\": 2}"
expect_error "API: restore with another mem" 400 PUT /v1/vms/x "{\"restore\": \"$tmp/s.snap\", \"mem\": 512}"
[ "$(vm_names)" = "clone g2 g3 golden orig " ] && [ "$(cd "$STATE" && echo *.json)" = "clone.json g2.json g3.json golden.json orig.json" ] &&
    ok "no refused restore left a VM or a definition" || bad "left behind: $(vm_names) / $(ls "$STATE")"
[ "$(sha1sum <"$tmp/s.snap")" = "$sum" ] && ok "the snapshot is unchanged by the VMs run from it" ||
    bad "s.snap changed"

# --- Restored VMs' definitions survive a restart of the service -------------
g2_first=$(counts g2 | head -1)
for n in clone g2 g3 golden; do "$VMON" stop "$n" || bad "stop $n"; done
stop_service
start_service && [ "$(vm_names)" = "clone g2 g3 golden orig " ] && "$VMON" start g2 &&
    wait_count g2 "$g2_first" && wait_count g2 $((g2_first + 2)) &&
    ok "after a restart of the service g2 starts from its snapshot again (count $g2_first)" ||
    bad "restart: $(vm_names); $(grep -i skipped "$LOG")"
# Its progress kept: a snapshot over its own file (the running VM maps the old one).
at=$(counts g2 | tail -1)
"$VMON" snapshot g2 "$tmp/golden.snap" >/dev/null && "$VMON" stop g2 && "$VMON" start g2 &&
    wait_count g2 $((at + 5)) && [ "$(counts g2 | grep -cx "$g2_first")" = 1 ] &&
    ok "saved over its own snapshot, g2 starts from there (past count $at)" ||
    bad "g2 over its own snapshot: counts $(counts g2 | tr '\n' ' ')"
"$VMON" stop g2 || bad "stop g2"

report snapserve
