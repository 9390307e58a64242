#!/bin/bash
# Page sharing between VMs under vmon serve: two demo VMs with share_pages
# (and one without) run a loop that checksums busybox and prints it. The
# service's pool merges the pages they hold in common (each VM's sharing
# figures and the pool's in /v1/metrics); a VM without share_pages has
# none. Killing one sharing VM's worker drops its references, and the
# other, whose RAM still maps pool pages, runs on with the same checksum;
# stopping it empties the pool. Bad settings are refused.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/guest.sh"
. "$(dirname "${BASH_SOURCE[0]}")/servelib.sh" # the service, api, json

pool() { # a figure of the pool
    api GET /v1/metrics
    json "$tmp/body" "d['memory']['sharing']['$1']"
}
last_sum() { "$VMON" logs "$1" 2>/dev/null | tr -d '\r' | grep -a '^sum ' | tail -1 | cut -d' ' -f3; }

start_service --share-rate 65536 || bad "vmon serve did not come up"

loop='i=0;while+true;do+i=$((i-~0));echo+sum+$i+$(md5sum+/bin/busybox|cut+-c1-12);sleep+0.3;done'
for v in a1 a2 plain; do
    share=--share-pages
    [ $v = plain ] && share=
    "$VMON" create $v --kernel "$KERNEL" --initrd "$INITRD" --mem 128M $share \
        --append "console=ttyS0 quiet guest.run=$loop" >>"$tmp/cli.log" 2>&1 &&
        "$VMON" start $v >>"$tmp/cli.log" 2>&1 || bad "cannot start $v: $(tail -2 "$tmp/cli.log")"
done
up=0
for _ in $(seq 240); do
    [ -n "$(last_sum a1)" ] && [ -n "$(last_sum a2)" ] && [ -n "$(last_sum plain)" ] && up=1 && break
    sleep 0.5
done
[ $up = 1 ] && ok "three VMs run their loop" || bad "the VMs did not come up"

merged=0
for _ in $(seq 120); do
    g=$(pool guest_pages)
    [ "${g:-0}" -ge 2000 ] && merged=1 && break
    sleep 0.5
done
api GET /v1/metrics # one reading of the three
g=$(json "$tmp/body" "d['memory']['sharing']['guest_pages']")
held=$(json "$tmp/body" "d['memory']['sharing']['pool_pages']")
saved=$(json "$tmp/body" "d['memory']['sharing']['saved']")
[ $merged = 1 ] && [ "${held:-0}" -gt 0 ] && [ "$((g * 2))" -ge "$((held * 3))" ] &&
    ok "the pool holds $held pages for $g guest pages ($((saved >> 20)) MiB saved with zero pages)" ||
    bad "sharing: $(head -c 400 "$tmp/body")"
api GET /v1/vms/a1
p1=$(json "$tmp/body" "d['memory']['sharing']['pooled_pages']")
r1=$(json "$tmp/body" "d['memory']['sharing']['pool_refs']")
[ "${p1:-0}" -ge 1000 ] && [ "${r1:-0}" -ge 1000 ] &&
    ok "a1 maps $p1 pool pages (the pool counts $r1 references of a1's)" ||
    bad "a1: $(head -c 400 "$tmp/body")"
api GET /v1/vms/plain
[ "$(json "$tmp/body" "d['memory']['sharing']")" = None ] && ok "a VM without share_pages shares nothing" ||
    bad "plain: $(head -c 400 "$tmp/body")"
api GET /v1/vms/a1
pid1=$(json "$tmp/body" "d['pid']")
sum_before=$(last_sum a2)
plain_sum=$(last_sum plain)
[ -n "$sum_before" ] && [ "$sum_before" = "$plain_sum" ] &&
    ok "a shared VM and an unshared one compute the same checksum ($sum_before)" ||
    bad "checksums: shared '$sum_before', plain '$plain_sum'"

kill -9 "$pid1"
for _ in $(seq 50); do
    "$VMON" list | grep -q '^a1 .*crashed' && break
    sleep 0.1
done
api GET /v1/vms/a1
r1b=$(json "$tmp/body" "d['memory']['sharing']['pool_refs']")
[ "$r1b" = 0 ] && ok "a1's worker killed: the pool dropped its $r1 references" ||
    bad "after a1 died the pool still counts '$r1b' of a1's references"
n0=$("$VMON" logs a2 | grep -ac '^sum ')
sleep 3
n1=$("$VMON" logs a2 | grep -ac '^sum ')
[ "$n1" -gt "$n0" ] && [ "$(last_sum a2)" = "$sum_before" ] &&
    ok "a2 runs on with the same checksum ($n0 -> $n1 lines)" ||
    bad "a2 after a1 died: $n0 -> $n1 lines, sum $(last_sum a2)"
"$VMON" stop a2 >/dev/null 2>&1
sleep 0.5
[ "$(pool guest_pages)" = 0 ] && [ "$(pool pool_pages)" = 0 ] &&
    ok "with no sharing VM left the pool is empty" || bad "pool left: $(head -c 300 "$tmp/body")"
"$VMON" stop plain >/dev/null 2>&1

"$VMON" create bad --kernel "$KERNEL" --mem 256M --mem-limit 64M --share-pages >"$tmp/bad" 2>&1
[ $? -ne 0 ] && grep -q "share_pages cannot be combined with mem_limit" "$tmp/bad" &&
    ok "share_pages with mem_limit is refused" || bad "share_pages with mem_limit: $(cat "$tmp/bad")"
"$VMON" serve --socket "$tmp/x.sock" --state "$tmp/x" --share-rate 0 >"$tmp/bad" 2>&1
[ $? -ne 0 ] && grep -q "invalid --share-rate" "$tmp/bad" && ok "serve --share-rate 0 is refused" ||
    bad "serve --share-rate 0: $(cat "$tmp/bad")"
report sharesvc
