#!/bin/bash
# The vCPUs online (--cpus-online; SBI HSM starts no more harts than that):
# the demo guest with 4 vCPUs of which 2 may run boots with CPUs 0-1
# online and reports the others failed to start; the control channel shows
# the limit; under the service a VM's cpus_online comes from its definition
# and `vmon resize --cpus` changes it live; bad values are refused. The
# control channel's jit-flush gives the vCPUs' code caches back.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/guest.sh"
. "$(dirname "${BASH_SOURCE[0]}")/servelib.sh" # the service, api, json
show='echo+online+$(cat+/sys/devices/system/cpu/online)+nproc+$(nproc);sleep+600'

LOG=$tmp/run.out
"$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --cpus 4 --cpus-online 2 --control "$tmp/c" \
    --timeout 120 --append "console=ttyS0 guest.run=$show" </dev/null >"$tmp/run.out" 2>&1 &
pid=$!
if wait_in "$tmp/run.out" "^online " 90; then
    line=$(tr -d '\r' <"$tmp/run.out" | grep -a '^online ')
    [ "$line" = "online 0-1 nproc 2" ] && ok "4 vCPUs, 2 online: the guest has CPUs 0-1 ($line)" ||
        bad "the guest says '$line'"
    grep -aq "CPU[23]: failed to start\|failed to come online\|CPU[23].*fail" "$tmp/run.out" &&
        ok "the guest reports the other two did not start" || bad "no start failure in the log"
    r=$(vmon_ctl "$tmp/c" cpus-online)
    [ "$r" = "ok cpus-online 2 of 4, running 2" ] && ok "control: $r" || bad "control: '$r'"
    r=$(vmon_ctl "$tmp/c" "cpus-online 5")
    [ "$r" = "error cpus-online: want 1..4" ] && ok "cpus-online 5 of 4 is refused: $r" || bad "cpus-online 5: '$r'"
    # jit-flush: the vCPUs drop their translated code, which goes back to
    # the host (most of a booted, idle VM's code cache is the boot's).
    rss0=$(vmon_ctl "$tmp/c" stats | grep -oE 'rss_kb=[0-9]+' | cut -d= -f2)
    r=$(vmon_ctl "$tmp/c" jit-flush)
    sleep 2
    st=$(vmon_ctl "$tmp/c" stats)
    rss1=$(echo "$st" | grep -oE 'rss_kb=[0-9]+' | cut -d= -f2)
    [ "${rss1:-0}" -gt 0 ] && [ "${rss1:-0}" -lt $((${rss0:-0} - 8192)) ] &&
        ok "jit-flush gives the code caches' memory back ($((rss0 >> 10)) -> $((rss1 >> 10)) MiB resident): $r" ||
        bad "jit-flush: $r; resident ${rss0:-?} -> ${rss1:-?} kB"
    i0=$(echo "$st" | grep -oE 'insns=[0-9]+' | cut -d= -f2)
    sleep 1
    i1=$(vmon_ctl "$tmp/c" stats | grep -oE 'insns=[0-9]+' | cut -d= -f2)
    [ "${i1:-0}" -gt "${i0:-0}" ] && ok "the guest runs on after it ($i0 -> $i1 instructions)" ||
        bad "instructions after jit-flush: $i0 -> $i1"
else
    bad "the demo guest did not come up with --cpus-online 2"
fi
kill $pid 2>/dev/null
wait $pid 2>/dev/null

LOG=$tmp/serve.log
start_service || bad "vmon serve did not come up"
"$VMON" create few --kernel "$KERNEL" --initrd "$INITRD" --cpus 3 --cpus-online 1 \
    --append "console=ttyS0 guest.run=$show" >"$tmp/cli" 2>&1 && "$VMON" start few >>"$tmp/cli" 2>&1 ||
    bad "create few: $(cat "$tmp/cli")"
up=0
for _ in $(seq 180); do
    "$VMON" logs few 2>/dev/null | tr -d '\r' | grep -aq '^online ' && up=1 && break
    sleep 0.5
done
line=$("$VMON" logs few 2>/dev/null | tr -d '\r' | grep -a '^online ')
[ $up = 1 ] && [ "$line" = "online 0 nproc 1" ] && ok "cpus_online 1 of 3 under the service: $line" ||
    bad "few: '$line'"
r=$("$VMON" resize few --cpus 2 2>&1)
echo "$r" | grep -q "cpus-online 2 of 3, running 1" && ok "vmon resize few --cpus 2: $r" ||
    bad "resize --cpus 2: $r"
r=$("$VMON" resize few --cpus 4 2>&1)
[ $? != 0 ] && echo "$r" | grep -q "want 1..3" && ok "resize --cpus 4 of 3 is refused: $r" ||
    bad "resize --cpus 4: $r"
r=$(curl -s --unix-socket "$SOCK" -X PUT -d '{"cpus": "two"}' http://x/v1/vms/few/resize)
echo "$r" | grep -q "'cpus' must be the number of vCPUs" && ok "PUT resize {\"cpus\": \"two\"}: 400 $r" ||
    bad "resize cpus two: $r"
"$VMON" create many --kernel "$KERNEL" --cpus 2 --cpus-online 3 >"$tmp/cli" 2>&1
[ $? != 0 ] && grep -q "cpus_online (3) must be at most cpus (2)" "$tmp/cli" &&
    ok "cpus_online above cpus is refused" || bad "create many: $(cat "$tmp/cli")"
"$VMON" stop few >/dev/null 2>&1
report cpus
