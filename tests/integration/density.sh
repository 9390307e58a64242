#!/bin/bash
# Density: ten demo VMs under one service on this 2-core host, each in its
# own sandboxed worker, all boot to their command and stay running side by
# side; the service lists ten running VMs, every one answers, the metrics
# add up their memory, and one killed worker leaves the other nine
# running; stopping them all leaves no worker behind. The boot time of the
# ten and the memory per VM are printed.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/guest.sh"
. "$(dirname "${BASH_SOURCE[0]}")/servelib.sh"
N=10

start_service || bad "vmon serve did not come up"

t0=$(date +%s.%N)
created=0
for i in $(seq $N); do
    "$VMON" create "d$i" --kernel "$KERNEL" --initrd "$INITRD" --mem 128M \
        --append "console=ttyS0 quiet guest.run=echo+up-d$i;sleep+600" >>"$tmp/cli.log" 2>&1 &&
        "$VMON" start "d$i" >>"$tmp/cli.log" 2>&1 && created=$((created + 1))
done
[ $created = $N ] && ok "$N VMs created and started" || bad "only $created of $N started"
up=0
for _ in $(seq 1200); do
    up=0
    for i in $(seq $N); do
        "$VMON" logs "d$i" 2>/dev/null | grep -q "up-d$i" && up=$((up + 1))
    done
    [ $up = $N ] && break
    sleep 0.5
done
t1=$(date +%s.%N)
[ $up = $N ] && ok "all $N guests reached their command ($(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s for the ten on 2 cores)" ||
    bad "$up of $N guests came up"
running=$("$VMON" list | grep -c ' running ')
[ "$running" = $N ] && ok "vmon list shows $N running VMs" || bad "vmon list: $running running"
curl -s --unix-socket "$SOCK" http://x/v1/metrics >"$tmp/metrics"
rss=$(json "$tmp/metrics" "d['memory']['rss']")
[ -n "$rss" ] && [ "$rss" -gt 0 ] &&
    ok "the workers hold $((rss >> 20)) MiB in all, $((rss / N >> 20)) MiB per VM of 128 MiB" ||
    bad "metrics: $(head -c 300 "$tmp/metrics")"
pids=$(for i in $(seq $N); do curl -s --unix-socket "$SOCK" "http://x/v1/vms/d$i" >"$tmp/vm" && json "$tmp/vm" "d['pid']"; done)
sandboxed=0
for p in $pids; do grep -q "^Seccomp:[[:space:]]*2" "/proc/$p/status" 2>/dev/null && sandboxed=$((sandboxed + 1)); done
[ $sandboxed = $N ] && ok "each VM is its own sandboxed worker process" || bad "$sandboxed of $N workers sandboxed"
victim=$(echo "$pids" | sed -n 3p)
kill -9 "$victim"
sleep 1
[ "$("$VMON" list | grep -c ' running ')" = $((N - 1)) ] && "$VMON" list | grep -q '^d3 .*crashed' &&
    ok "a killed worker is reported crashed and the other $((N - 1)) run on" ||
    bad "after killing d3: $("$VMON" list | tr '\n' ';')"
# The nine left are shut down (the power button, then a stop after the
# grace period), one after the other.
off=0
for i in $(seq $N); do
    [ $i = 3 ] && continue
    "$VMON" shutdown "d$i" >/dev/null 2>&1 && [ "$(vm_field "d$i" state)" = stopped ] &&
        [ "$(vm_field "d$i" reason)" = "shut down" ] && off=$((off + 1))
done
[ $off = $((N - 1)) ] && ok "the other $off are shut down one by one ($(vm_field d1 reason))" ||
    bad "$off of $((N - 1)) shut down; d1: $(vm_field d1 state) $(vm_field d1 reason)"
"$VMON" rm d3 >/dev/null 2>&1
left=0
for p in $pids; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
[ $left = 0 ] && ok "stopping them all leaves no worker behind" || bad "$left workers left"

report density
