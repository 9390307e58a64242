#!/bin/bash
# Reclaim under memory pressure (vmon serve --reclaim-at): two demo VMs hold
# more than the service allows. b1 has a balloon and an idle guest; s1 has a
# mem_limit and a guest that fills 64 MiB of tmpfs and checksums it every
# second. The service first inflates b1's balloon by what its guest reports
# free, then has both drop their translated code, then (balloons and code
# done) lowers s1's memory limit step by step, so its
# coldest pages go to its swap file; s1's checksum never changes. Once b1 is
# stopped the pressure is over and s1's limit goes back to its definition's.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/guest.sh"
. "$(dirname "${BASH_SOURCE[0]}")/servelib.sh" # the service, api, json

sums() { "$VMON" logs s1 2>/dev/null | tr -d '\r' | grep -a '^sum ' | cut -d' ' -f2 | sort -u; }
wait_serve_log() { # pattern, seconds: until the service's log shows it
    for _ in $(seq $((5 * $2))); do
        grep -q "$1" "$LOG" && return 0
        sleep 0.2
    done
    return 1
}

start_service --reclaim-at 150M || bad "vmon serve did not come up"

fill='dd+if=/dev/urandom+of=/tmp/big+bs=1M+count=64+2>/dev/null;while+true;do+echo+sum+$(md5sum+</tmp/big|cut+-c1-12);sleep+1;done'
"$VMON" create b1 --kernel "$KERNEL" --initrd "$INITRD" --mem 256M --balloon \
    --append "console=ttyS0 quiet guest.run=sleep+600" >>"$tmp/cli.log" 2>&1 &&
    "$VMON" start b1 >>"$tmp/cli.log" 2>&1 || bad "cannot start b1"
"$VMON" create s1 --kernel "$KERNEL" --initrd "$INITRD" --mem 256M --mem-limit 200M \
    --append "console=ttyS0 quiet guest.run=$fill" >>"$tmp/cli.log" 2>&1 &&
    "$VMON" start s1 >>"$tmp/cli.log" 2>&1 || bad "cannot start s1"

wait_serve_log "reclaim: memory pressure" 120 && ok "the service sees the pressure: $(grep -m1 'memory pressure' "$LOG" | sed 's/^vmon serve: //')" ||
    bad "no pressure seen"
wait_serve_log "reclaim: VM b1: balloon takes" 60 && ok "b1's balloon is inflated first" || bad "b1's balloon was not inflated"
api GET /v1/vms/b1
taken=$(json "$tmp/body" "d['memory']['reclaimed']['balloon']")
[ "${taken:-0}" -gt 0 ] && ok "GET b1 shows $((taken >> 20)) MiB taken by its balloon" ||
    bad "b1 reclaimed: $(head -c 300 "$tmp/body")"
wait_serve_log "reclaim: VM s1: its translated code dropped" 60 && wait_serve_log "reclaim: VM b1: its translated code dropped" 5 &&
    ok "then both drop their translated code" || bad "no code dropped"
wait_serve_log "reclaim: VM s1: memory limit" 60 && ok "then s1's memory limit is lowered" ||
    bad "s1's limit was not lowered"
first_balloon=$(grep -n "reclaim: VM b1: balloon takes" "$LOG" | head -1 | cut -d: -f1)
first_limit=$(grep -n "reclaim: VM s1: memory limit" "$LOG" | head -1 | cut -d: -f1)
first_code=$(grep -n "reclaim: VM s1: its translated code dropped" "$LOG" | head -1 | cut -d: -f1)
[ -n "$first_balloon" ] && [ -n "$first_limit" ] && [ "$first_balloon" -lt "${first_code:-0}" ] &&
    [ "${first_code:-0}" -lt "$first_limit" ] &&
    ok "balloons, then code caches, then swap" ||
    bad "order: balloon at line $first_balloon, code at $first_code, limit at $first_limit"
out=0
for _ in $(seq 100); do
    api GET /v1/vms/s1
    out=$(json "$tmp/body" "d['memory']['swapped_out']")
    [ "${out:-0}" -gt 0 ] && break
    sleep 0.3
done
[ "${out:-0}" -gt 0 ] && ok "s1's coldest pages went to its swap file ($out pages)" ||
    bad "s1 swapped nothing: $(head -c 400 "$tmp/body")"
api GET /v1/metrics # the pressure may be over already: what was done stays counted
[ "$(json "$tmp/body" "d['memory']['reclaim']['at']")" = $((150 << 20)) ] &&
    [ "$(json "$tmp/body" "d['memory']['reclaim']['actions']")" -ge 3 ] &&
    ok "/v1/metrics counts the reclaim ($(json "$tmp/body" "d['memory']['reclaim']['actions']") actions)" ||
    bad "metrics: $(head -c 400 "$tmp/body")"
n0=$("$VMON" logs s1 | grep -ac '^sum ')
for _ in $(seq 240); do # the 64 MiB are written and read back under the lower limit
    n1=$("$VMON" logs s1 | grep -ac '^sum ')
    [ "$n1" -ge $((n0 + 3)) ] && break
    sleep 0.5
done
[ "$n1" -gt "$n0" ] && [ "$(sums | wc -l)" = 1 ] &&
    ok "s1 reads its 64 MiB back the same under its lower limit ($(sums))" ||
    bad "s1's checksums: $(sums | tr '\n' ' ') ($n0 -> $n1 lines)"

"$VMON" stop b1 >/dev/null 2>&1
wait_serve_log "reclaim: pressure over" 60 && ok "with b1 stopped the pressure is over" ||
    bad "the pressure did not end"
wait_serve_log "reclaim: VM s1: memory limit back to 200 MiB" 30 && ok "s1's limit goes back to 200 MiB" ||
    bad "s1's limit was not given back"
api GET /v1/vms/s1
[ "$(json "$tmp/body" "d['memory']['reclaimed']['limit']")" = None ] && ok "GET s1 shows nothing taken" ||
    bad "s1 reclaimed: $(head -c 300 "$tmp/body")"
[ "$(sums | wc -l)" = 1 ] && ok "s1's checksum never changed" || bad "s1's checksums: $(sums | tr '\n' ' ')"
"$VMON" stop s1 >/dev/null 2>&1

"$VMON" serve --socket "$tmp/x.sock" --state "$tmp/x" --reclaim-at lots >"$tmp/bad" 2>&1
[ $? -ne 0 ] && grep -q "invalid --reclaim-at" "$tmp/bad" && ok "a bad --reclaim-at is refused" ||
    bad "--reclaim-at lots: $(cat "$tmp/bad")"
report reclaim
