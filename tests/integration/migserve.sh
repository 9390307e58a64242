#!/bin/bash
# Live migration between two services on this machine (two sockets, two
# state directories, one disk file: shared storage): a sandboxed counting
# guest that also writes its count to its disk moves from service A to a VM
# that vmon receive made on B; the reply has the figures, A shows it
# migrated (not crashed), B runs it and its console counts on from where A's
# stopped, and B's worker writes the disk from then on; it moves back over
# TCP; started again, a migrated-in VM boots (its definition is the
# source's machine). Refusals: a target nobody listens on (the VM runs on),
# a stopped VM (409), a relative unix path and other bad bodies (400);
# targets that fail: the source never comes (stopped with the reason), a
# stream that is no migration (crashed with the reason), an address in use
# (vmon receive removes its definition), a stopped incoming VM's socket
# removed so that its address can be listened on again.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/guest.sh"
. "$(dirname "${BASH_SOURCE[0]}")/servelib.sh"

# The guest counts, a line every 0.2 s, and writes each count to its disk.
COUNT_APPEND='console=ttyS0 guest.run=i=0;while+true;do+i=$((i-~0));echo+count+$i;echo+$i+>/dev/vda;sync;sleep+0.2;done'

A=$tmp/a.sock
B=$tmp/b.sock
a() { "$VMON" "$@" --socket "$A"; }
b() { "$VMON" "$@" --socket "$B"; }

disk_count() { tr -dc '0-9\n' <"$tmp/disk.img" | head -1; }

sandboxed() { # SOCKET NAME
    grep -q "^Seccomp:[[:space:]]*2" "/proc/$(vm_field_on "$1" "$2" pid)/status"
}

# migrated_on SRC-SOCKET SRC-NAME DST-SOCKET DST-NAME: the counter goes on
# at the target from where the source stopped, and keeps going.
migrated_on() {
    local last first
    last=$(counts_on "$1" "$2" | tail -1)
    first=$(counts_on "$3" "$4" | head -1)
    if [ -n "$last" ] && [ -n "$first" ] && [ "$first" -ge $((last + 1)) ] &&
        [ "$first" -le $((last + 2)) ] && wait_count_on "$3" "$4" $((first + 5)); then
        ok "$4 counts on from where $2 stopped ($2's last $last, $4's first $first, then $(counts_on "$3" "$4" | tail -1))"
    else
        bad "counter: $2's last '$last', $4's first '$first' (want $((last + 1))); $4 is $(vm_field_on "$3" "$4" state)"
    fi
    last_count=$last
}

start_service_on "$A" "$tmp/state-a" && start_service_on "$B" "$tmp/state-b" &&
    ok "two services answer" || bad "the services did not come up"
truncate -s 1M "$tmp/disk.img"

# --- A -> B over a unix socket ----------------------------------------------
a create web --kernel "$KERNEL" --initrd "$INITRD" --append "$COUNT_APPEND" \
    --disk "$tmp/disk.img" --start && wait_count_on "$A" web 5 && sandboxed "$A" web &&
    ok "a sandboxed counting guest runs on A" || bad "web on A: $(a logs web | tail -2)"
(cd "$tmp" && b receive --listen unix:mig.sock web2) >"$tmp/out" 2>&1 &&
    grep -qx "VM web2 waits for a migration on unix:$tmp/mig.sock (for 300 s)" "$tmp/out" &&
    [ "$(vm_field_on "$B" web2 state)" = incoming ] && [ -S "$tmp/mig.sock" ] &&
    ok "vmon receive --listen unix:mig.sock web2 on B: incoming ($(cat "$tmp/out"))" ||
    bad "receive: $(cat "$tmp/out"); $(vm_field_on "$B" web2 state)"
a migrate web --to "unix:$tmp/mig.sock" >"$tmp/out" 2>&1 &&
    grep -qE "^migrated VM web to unix:$tmp/mig.sock: [0-9]+ rounds, [0-9]+ pages, [0-9.]+ MiB, total [0-9.]+ ms, downtime [0-9.]+ ms; here it is migrated$" "$tmp/out" &&
    ok "vmon migrate web --to unix:...: $(cat "$tmp/out")" || bad "migrate: $(cat "$tmp/out")"
[ "$(vm_field_on "$A" web state)" = migrated ] &&
    [ "$(vm_field_on "$A" web reason)" = "migrated to unix:$tmp/mig.sock" ] &&
    [ "$(vm_field_on "$A" web crashes)" = 0 ] && [ "$(vm_field_on "$A" web pid)" = 0 ] &&
    ok "A: web is migrated ($(vm_field_on "$A" web reason)), not crashed" ||
    bad "A: web is $(vm_field_on "$A" web state): $(vm_field_on "$A" web reason)"
wait_state_on "$B" web2 running 10 && sandboxed "$B" web2 && ok "B: web2 runs, sandboxed" ||
    bad "B: web2 is $(vm_field_on "$B" web2 state): $(vm_field_on "$B" web2 reason)"
migrated_on "$A" web "$B" web2
b logs web2 | grep -q "init reached" && bad "web2 booted again" || ok "web2 did not boot"
disk=$(disk_count)
[ -n "$disk" ] && [ "$disk" -gt "$last_count" ] &&
    ok "B's worker writes the shared disk (count $disk there; A's last was $last_count)" ||
    bad "disk: '$disk' (A's last count $last_count)"
api_on "$B" GET /v1/vms/web2
[ "$(json "$tmp/body" "'incoming' in d['config']")" = False ] &&
    [ "$(json "$tmp/body" "d['config']['kernel']")" = "$KERNEL" ] &&
    [ "$(json "$tmp/body" "d['config']['disks']")" = "['$tmp/disk.img']" ] &&
    [ ! -e "$tmp/mig.sock" ] &&
    ok "web2's definition is now the source's machine (kernel, disk), without incoming" ||
    bad "web2's config: $(head -c 600 "$tmp/body")"

# --- B -> A over TCP --------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
a receive --listen "tcp:127.0.0.1:$port" web3 --timeout 60 >"$tmp/out" 2>&1 &&
    [ "$(vm_field_on "$A" web3 state)" = incoming ] || bad "receive over TCP: $(cat "$tmp/out")"
api_on "$B" PUT /v1/vms/web2/migrate "{\"to\": \"tcp:127.0.0.1:$port\"}"
[ "$status" = 200 ] &&
    [ "$(json "$tmp/body" "int(d['rounds'] >= 1 and d['pages'] > 0 and d['total_ms'] > 0 and d['downtime_ms'] > 0 and d['state'] == 'migrated')")" = 1 ] &&
    ok "PUT /v1/vms/web2/migrate over TCP: 200, $(cat "$tmp/body")" ||
    bad "PUT migrate over TCP: $status $(cat "$tmp/body")"
[ "$(vm_field_on "$B" web2 state)" = migrated ] && wait_state_on "$A" web3 running 10 &&
    ok "back on A as web3, web2 on B migrated" ||
    bad "after TCP: web2 $(vm_field_on "$B" web2 state), web3 $(vm_field_on "$A" web3 state) $(vm_field_on "$A" web3 reason)"
migrated_on "$B" web2 "$A" web3

# --- Refusals: the VM runs on ------------------------------------------------
before=$(counts_on "$A" web3 | tail -1)
a migrate web3 --to "unix:$tmp/nobody.sock" >"$tmp/out" 2>&1
[ $? = 1 ] && grep -q "cannot migrate VM web3 to unix:$tmp/nobody.sock: cannot connect to unix:$tmp/nobody.sock: No such file or directory; it runs on here" "$tmp/out" &&
    ok "migrating to an address nobody listens on: $(cat "$tmp/out")" || bad "nobody: $(cat "$tmp/out")"
[ "$(vm_field_on "$A" web3 state)" = running ] && wait_count_on "$A" web3 $((before + 3)) &&
    ok "web3 runs on on A (count $before, then $(counts_on "$A" web3 | tail -1))" ||
    bad "web3 after a failed migration: $(vm_field_on "$A" web3 state)"
expect_error_on "$A" "migrate: a relative unix path" 400 "" PUT /v1/vms/web3/migrate '{"to": "unix:mig.sock"}'
expect_error_on "$A" "migrate: no address" 400 "" PUT /v1/vms/web3/migrate '{}'
expect_error_on "$A" "migrate: not a string" 400 "" PUT /v1/vms/web3/migrate '{"to": 1}'
expect_error_on "$A" "migrate: an unknown field" 400 "" PUT /v1/vms/web3/migrate '{"to": "tcp:h:1", "now": 1}'
expect_error_on "$A" "migrate: tcp without a port" 400 "" PUT /v1/vms/web3/migrate '{"to": "tcp:localhost"}'
expect_error_on "$A" "migrate: an unknown VM" 404 "" PUT /v1/vms/nosuch/migrate '{"to": "tcp:h:1"}'
a create idle --kernel "$KERNEL" || bad "create idle"
expect_error_on "$A" "migrate: a stopped VM" 409 "" PUT /v1/vms/idle/migrate "{\"to\": \"unix:$tmp/x.sock\"}"
expect_error_on "$A" "migrate: a migrated VM" 409 "" PUT /v1/vms/web/migrate "{\"to\": \"unix:$tmp/x.sock\"}"
[ "$(vm_field_on "$A" web3 state)" = running ] && ok "after every refusal web3 runs on" ||
    bad "web3: $(vm_field_on "$A" web3 state)"

# --- Targets that get no VM --------------------------------------------------
b receive --listen "unix:$tmp/never.sock" never --timeout 1 >/dev/null &&
    sleep 2.5 && [ "$(vm_field_on "$B" never state)" = stopped ] &&
    [ "$(vm_field_on "$B" never reason)" = "no migration came to unix:$tmp/never.sock within 1 s" ] &&
    [ ! -e "$tmp/never.sock" ] &&
    ok "no source within --timeout 1: stopped ($(vm_field_on "$B" never reason)), its socket removed" ||
    bad "never: $(vm_field_on "$B" never state): $(vm_field_on "$B" never reason)"
b receive --listen "unix:$tmp/junk.sock" junk >/dev/null &&
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"0" * 64); s.recv(100)' "$tmp/junk.sock" &&
    wait_state_on "$B" junk crashed 10 && vm_field_on "$B" junk reason | grep -q "not a vmon migration stream" &&
    ok "a stream that is no migration: crashed ($(vm_field_on "$B" junk reason))" ||
    bad "junk: $(vm_field_on "$B" junk state): $(vm_field_on "$B" junk reason)"
b receive --listen "unix:$tmp/busy.sock" busy >/dev/null || bad "receive busy"
b receive --listen "unix:$tmp/busy.sock" busy2 >"$tmp/out" 2>&1
[ $? = 1 ] && grep -q "Address already in use" "$tmp/out" && grep -q "its definition is removed" "$tmp/out" &&
    [ -z "$(vm_field_on "$B" busy2 state)" ] &&
    ok "an address in use: vmon receive fails and removes busy2" || bad "busy2: $(cat "$tmp/out")"
b stop busy && [ "$(vm_field_on "$B" busy state)" = stopped ] && [ ! -e "$tmp/busy.sock" ] &&
    b start busy && [ "$(vm_field_on "$B" busy state)" = incoming ] && b stop busy &&
    ok "a stopped incoming VM leaves no socket; started again it listens again" ||
    bad "busy: $(vm_field_on "$B" busy state) $(ls "$tmp"/busy.sock 2>&1)"
expect_error_on "$B" "API: incoming with a kernel" 400 "" PUT /v1/vms/x "{\"incoming\": \"unix:$tmp/x\", \"kernel\": \"$KERNEL\"}"
expect_error_on "$B" "API: incoming with a mem" 400 "" PUT /v1/vms/x "{\"incoming\": \"unix:$tmp/x\", \"mem\": 512}"
expect_error_on "$B" "API: incoming on a relative path" 400 "" PUT /v1/vms/x '{"incoming": "unix:x.sock"}'
expect_error_on "$B" "API: incoming on no address" 400 "" PUT /v1/vms/x '{"incoming": "x.sock"}'
b receive --listen "unix:$tmp/y" y --mem 512M 2>"$tmp/out" && bad "vmon receive --mem accepted" ||
    { grep -q "unknown option '--mem'" "$tmp/out" && ok "vmon receive has no --mem (the source's)" ||
        bad "receive --mem: $(cat "$tmp/out")"; }

# --- A migrated-in VM started again boots ------------------------------------
a stop web3 && a start web3 && wait_count_on "$A" web3 2 && a logs web3 | grep -q "init reached" &&
    ok "web3 started again boots the source's kernel and counts from 1" ||
    bad "web3 restarted: $(vm_field_on "$A" web3 state) $(vm_field_on "$A" web3 reason)"
a stop web3 && a rm web && a rm web3 && ok "migrated and migrated-in VMs stop and are removed" ||
    bad "stop/rm"

# --- A -> B copying the disk --------------------------------------------------
truncate -s 1M "$tmp/cpa.img"
truncate -s 1M "$tmp/cpb.img"
a create cp --kernel "$KERNEL" --initrd "$INITRD" --append "$COUNT_APPEND" \
    --disk "$tmp/cpa.img" --start && wait_count_on "$A" cp 5 || bad "cp on A: $(a logs cp | tail -2)"
b receive --listen "unix:$tmp/cp.sock" cp2 --disk "$tmp/cpb.img" >/dev/null || bad "receive cp2"
a migrate cp --to "unix:$tmp/cp.sock" --copy-disks >"$tmp/out" 2>&1 &&
    grep -q "^migrated VM cp to unix:$tmp/cp.sock" "$tmp/out" &&
    ok "vmon migrate cp --copy-disks: $(cat "$tmp/out")" || bad "migrate --copy-disks: $(cat "$tmp/out")"
wait_state_on "$B" cp2 running ||
    bad "cp2 on B: $(vm_field_on "$B" cp2 state) $(vm_field_on "$B" cp2 reason)"
migrated_on "$A" cp "$B" cp2
src_disk=$(tr -dc '0-9\n' <"$tmp/cpa.img" | head -1)
dst_disk=$(tr -dc '0-9\n' <"$tmp/cpb.img" | head -1)
[ -n "$dst_disk" ] && [ "$dst_disk" -gt "$last_count" ] && [ "${src_disk:-0}" -le "$last_count" ] &&
    ok "cp2 writes its own copy (count $dst_disk there), A's disk stays at ${src_disk:-none}" ||
    bad "disks: A's '$src_disk', B's copy '$dst_disk', A's last count $last_count"
b stop cp2 && a rm cp && b rm cp2 || bad "stop/rm cp"

report migserve
