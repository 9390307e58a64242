#!/bin/bash
# Memory overcommit and accounting in vmon serve: with a pretend host of
# 1 GiB (--host-mem) and --overcommit 1.5, VMs start while the guest RAM
# they commit fits in 1.5 GiB; the next is refused with 409 and the figures;
# a VM with a mem_limit commits its limit, not its mem (a 512M one limited
# to 128M is admitted where a 512M one is not); GET /v1/vms/NAME shows each
# VM's memory (a plausible RSS; for the limited one, which writes 160 MB
# into its tmpfs, guest RAM held to the limit and pages swapped out into
# STATE/swap), GET /v1/metrics the host's totals; stopping a VM frees its
# commitment (the refused one then starts); mem_limit changes only while a
# VM is stopped; autostart is admitted the same way; bad limits and ratios
# get clear errors.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/guest.sh"
. "$(dirname "${BASH_SOURCE[0]}")/servelib.sh"

SLEEP_APPEND='console=ttyS0 guest.run=sleep+600'
# The limited guest fills 160 MB of its tmpfs, more than its 128 MiB limit.
FILL_APPEND='console=ttyS0 guest.run=yes+vmon-overcommit-line|head+-c+160000000+>/tmp/f;echo+filled;sleep+600'
MiB=$((1 << 20))

SERVE_OPTS=(--host-mem 1G --overcommit 1.5)

mem_field() { # NAME KEY: the VM's memory object's KEY
    api GET "/v1/vms/$1" && json "$tmp/body" "d['memory']['$2']"
}

create() { # NAME MEM [more vmon create options]
    local name=$1 mem=$2
    shift 2
    "$VMON" create "$name" --kernel "$KERNEL" --initrd "$INITRD" --append "$SLEEP_APPEND" \
        --mem "$mem" "$@" || bad "vmon create $name"
}

# --- Bad ratios, host sizes and limits --------------------------------------
expect_cli "serve --overcommit -1" 2 "invalid --overcommit '-1' (want a ratio 0..1000" \
    serve --socket "$tmp/x.sock" --state "$tmp/x" --overcommit -1
expect_cli "serve --overcommit lots" 2 "invalid --overcommit 'lots'" \
    serve --socket "$tmp/x.sock" --state "$tmp/x" --overcommit lots
expect_cli "serve --host-mem 1Q" 2 "invalid --host-mem '1Q'" \
    serve --socket "$tmp/x.sock" --state "$tmp/x" --host-mem 1Q

start_service "${SERVE_OPTS[@]}" && ok "vmon serve --host-mem 1G --overcommit 1.5 answers" || bad "vmon serve did not come up"
grep -q "1024 MiB of host memory, overcommit 1.5" "$LOG" && ok "its log names the host memory and the ratio" ||
    bad "serve log: $(tail -1 "$LOG")"

expect_cli "create: mem_limit = mem" 2 "mem_limit (256 MiB) must be less than mem (256 MiB)" \
    create x --kernel "$KERNEL" --mem 256M --mem-limit 256M
expect_cli "create: mem_limit nonsense" 2 "invalid --mem-limit 'lots' (want 16M..16G" \
    create x --kernel "$KERNEL" --mem-limit lots
expect_error_matching "API: mem_limit above mem" 400 "mem_limit (512 MiB) must be less than mem (256 MiB)" \
    PUT /v1/vms/x "{\"kernel\": \"$KERNEL\", \"mem\": 256, \"mem_limit\": 512}"
expect_error_matching "API: mem_limit nonsense" 400 "invalid mem_limit '12Q'" \
    PUT /v1/vms/x "{\"kernel\": \"$KERNEL\", \"mem_limit\": \"12Q\"}"
expect_error_matching "API: mem_limit of a wrong type" 400 "mem_limit: want a size" \
    PUT /v1/vms/x "{\"kernel\": \"$KERNEL\", \"mem_limit\": [1]}"
[ -z "$("$VMON" list | awk 'NR > 1')" ] && ok "no refused definition was kept" || bad "left: $("$VMON" list)"

# --- Admission: 512 + 512 + 256 MiB fit in 1.5 x 1 GiB, 512 more do not ----
create a1 512M && create a2 512M && create a3 256M && create big 512M &&
    create lim 512M --mem-limit 128M --append "$FILL_APPEND" || true
for n in a1 a2 a3; do "$VMON" start "$n" || bad "start $n"; done
api GET /v1/metrics
[ "$(json "$tmp/body" "d['memory']['committed']")" = $((1280 * MiB)) ] &&
    [ "$(json "$tmp/body" "d['memory']['host']")" = $((1024 * MiB)) ] &&
    [ "$(json "$tmp/body" "d['memory']['admissible']")" = $((1536 * MiB)) ] &&
    [ "$(json "$tmp/body" "d['memory']['overcommit']")" = 1.5 ] &&
    ok "metrics: 1280 MiB committed of 1.5 x 1024 MiB" || bad "metrics: $(json "$tmp/body" "d['memory']")"
msg="admitting VM big (512 MiB) would commit 1.75 GiB of guest RAM, more than 1.5 x the host's 1 GiB (--overcommit)"
expect_error_matching "a 4th VM of 512 MiB is refused" 409 "^$msg\$" PUT /v1/vms/big/actions/start
expect_cli "vmon start big: the same message" 1 "vmon start: $msg" start big
api GET /v1/vms/big
[ "$(json "$tmp/body" "d['state']")" = stopped ] &&
    [ "$(json "$tmp/body" "d['starts']")" = 0 ] && ok "big stays stopped, no worker started" ||
    bad "big: $(head -c 300 "$tmp/body")"

# A 512M VM limited to 128M commits 128 MiB: 1408 MiB, admitted.
[ "$(mem_field lim committed)" = $((128 * MiB)) ] && [ "$(mem_field lim mem_limit)" = $((128 * MiB)) ] &&
    ok "lim (mem 512M, mem_limit 128M) commits 128 MiB" || bad "lim memory: $(json "$tmp/body" "d['memory']")"
"$VMON" start lim && ok "lim is admitted where big is not" || bad "start lim: $(cat "$LOG" | tail -2)"
api GET /v1/vms/lim
ps -o args= -p "$(json "$tmp/body" "d['pid']")" | grep -q -- "--mem-limit 134217728B --swap-dir $STATE/swap" &&
    ok "its worker runs with --mem-limit and --swap-dir STATE/swap" || bad "lim's worker has no --mem-limit"
expect_error_matching "big, still over (1.88 GiB)" 409 "would commit 1.88 GiB" PUT /v1/vms/big/actions/start

# --- Accounting: what each VM really uses -----------------------------------
if wait_log lim "^filled" 90; then
    ok "lim wrote 160 MB into its tmpfs"
else
    bad "lim did not fill its tmpfs: $("$VMON" logs lim | tail -2)"
fi
sleep 0.5 # a sample or more since
api GET /v1/vms/lim
res=$(json "$tmp/body" "d['memory']['guest_resident']")
out=$(json "$tmp/body" "d['memory']['swapped_out']")
rss=$(json "$tmp/body" "d['memory']['rss']")
[ -n "$res" ] && [ "$res" != None ] && [ "$res" -gt 0 ] && [ "$res" -le $((136 * MiB)) ] &&
    ok "lim's guest RAM in host memory: $((res / MiB)) MiB (limit 128 MiB)" || bad "lim guest_resident: $res"
[ "${out:-0}" -gt 1000 ] && ok "lim swapped out $out pages" || bad "lim swapped_out: $out"
[ "${rss:-0}" -gt $((res / 2)) ] && [ "$rss" -lt $((res + 160 * MiB)) ] &&
    ok "lim's worker RSS $((rss / MiB)) MiB: its guest RAM plus vmon's own" || bad "lim rss: $rss (guest $res)"
api GET /v1/vms/a1
rss=$(json "$tmp/body" "d['memory']['rss']")
[ "${rss:-0}" -gt $((8 * MiB)) ] && [ "$rss" -lt $((512 * MiB + 200 * MiB)) ] &&
    [ "$(json "$tmp/body" "d['memory']['guest_resident']")" = None ] &&
    [ "$(json "$tmp/body" "d['memory']['mem_limit']")" = None ] &&
    ok "a1 (no limit): RSS $((rss / MiB)) MiB, no guest_resident" || bad "a1 memory: $(json "$tmp/body" "d['memory']")"
api GET /v1/metrics
[ "$(json "$tmp/body" "d['memory']['committed']")" = $((1408 * MiB)) ] &&
    [ "$(json "$tmp/body" "[v['memory']['committed'] for v in d['vms'] if v['name'] == 'lim'][0]")" = $((128 * MiB)) ] &&
    [ "$(json "$tmp/body" "int(d['memory']['rss'] > 0)")" = 1 ] &&
    ok "metrics: 1408 MiB committed; lim's 128 MiB; the workers' RSS" || bad "metrics: $(json "$tmp/body" "d['memory']")"
"$VMON" list | grep -qE '^lim +running +1 +512M +[0-9]+M ' && ok "vmon list shows lim's RSS" ||
    bad "vmon list: $("$VMON" list)"

# --- mem_limit changes while stopped; stopping frees the commitment ---------
expect_error_matching "PATCH mem_limit of a running VM" 409 "it is running (it changes while stopped)" \
    PATCH /v1/vms/lim '{"mem_limit": 64}'
expect_error_matching "PATCH mem_limit = mem" 400 "must be less than mem" PATCH /v1/vms/big '{"mem_limit": "512M"}'
"$VMON" stop a1 && "$VMON" start big && ok "a1 stopped: big (512 MiB) is admitted (1408 MiB)" ||
    bad "big after a1 stopped: $(tail -2 "$LOG")"
"$VMON" set a1 --mem-limit 128M && [ "$(mem_field a1 committed)" = $((128 * MiB)) ] &&
    [ "$(json "$tmp/body" "d['config']['mem_limit']")" = 128M ] && grep -q '"mem_limit":"128M"' "$STATE/a1.json" &&
    "$VMON" start a1 && ok "vmon set a1 --mem-limit 128M while stopped: saved, and it fits again" ||
    bad "a1 with a limit: $(head -c 300 "$tmp/body")"
for n in a1 a2 a3 big lim; do "$VMON" stop "$n" || bad "stop $n"; done
api GET /v1/metrics
[ "$(json "$tmp/body" "d['memory']['committed']")" = 0 ] && ok "every VM stopped: nothing committed" ||
    bad "committed: $(json "$tmp/body" "d['memory']")"

# --- Autostart is admitted the same way --------------------------------------
create auto1 1G --autostart && create auto2 1G --autostart
stop_service
start_service "${SERVE_OPTS[@]}" || bad "the service did not come back"
for _ in $(seq 100); do
    grep -q "autostart: admitting VM auto2" "$LOG" && break
    sleep 0.2
done
api GET /v1/vms/auto1
[ "$(json "$tmp/body" "d['state']")" = running ] &&
    grep -q "autostart: admitting VM auto2 (1 GiB) would commit 2 GiB of guest RAM, more than 1.5 x" "$LOG" &&
    ok "autostart: auto1 (1 GiB) starts, auto2 is refused in the log" ||
    bad "autostart: auto1 $(json "$tmp/body" "d['state']"); $(grep autostart "$LOG" | tail -2)"
"$VMON" stop auto1 || bad "stop auto1"
stop_service

report overcommit
