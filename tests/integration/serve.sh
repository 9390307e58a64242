#!/bin/bash
# vmon serve, its management API and the CLI on top: demo VMs created with
# the CLI and with curl boot to "init reached" and power off; pause really
# stops a guest (its ticking console stays still) and resume continues it
# (the ticks go on from where they were); a CPU cap set live holds a busy
# guest well below an uncapped one, pinning sets its vCPU's affinity; vmon
# console attaches to a
# guest's shell on a pty and detaches; a killed worker is reported
# crashed while the others run on; a restarted service finds its
# definitions (and starts the autostart ones); every route in doc/api.yaml
# answers; bad requests get their status and a JSON error, and the service
# survives them and a burst of concurrent clients.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/guest.sh"
. "$(dirname "${BASH_SOURCE[0]}")/servelib.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

EXIT_APPEND="console=ttyS0 guest.exit"
TICK_APPEND='console=ttyS0 guest.run=for+i+in+$(seq+100000);do+echo+tick+$i+up+$(cut+-d.+-f1+/proc/uptime);sleep+1;done'

start_service && ok "vmon serve answers on its socket" || bad "vmon serve did not come up"
[ "$(stat -c %a "$SOCK")" = 600 ] && ok "socket mode 0600" || bad "socket mode $(stat -c %a "$SOCK")"
api GET /v1/version
[ "$status" = 200 ] && [ "$(json "$tmp/body" "d['api']")" = v1 ] && ok "GET /v1/version" ||
    bad "GET /v1/version: $status"

# A second service on the same socket is refused with a message.
if "$VMON" serve --socket "$SOCK" --state "$tmp/state2" >"$tmp/out" 2>&1; then
    bad "a second service on the same socket started"
else
    grep -q "another vmon serve" "$tmp/out" && ok "a second service on the socket is refused" ||
        bad "second service: no clear message: $(cat "$tmp/out")"
fi

# --- Demo VMs through the CLI and through curl boot and power off --------
"$VMON" create cli1 --kernel "$KERNEL" --initrd "$INITRD" --append "$EXIT_APPEND" &&
    "$VMON" create cli2 --kernel "$KERNEL" --initrd "$INITRD" --append "$EXIT_APPEND" --cpus 2 \
        --mem 128M && ok "vmon create (two VMs)" || bad "vmon create"
for n in curl1 curl2; do
    api PUT "/v1/vms/$n" "{\"kernel\": \"$KERNEL\", \"initrd\": \"$INITRD\",
        \"append\": \"$EXIT_APPEND\", \"mem\": 192, \"cpus\": 1}"
    [ "$status" = 201 ] && [ "$(json "$tmp/body" "d['state']")" = stopped ] &&
        ok "PUT /v1/vms/$n creates it, stopped" || bad "PUT /v1/vms/$n: $status $(cat "$tmp/body")"
done
[ "$(vm_field cli2 cpus)" = 2 ] && [ "$(vm_field curl1 mem_bytes)" = $((192 << 20)) ] &&
    ok "definitions keep their settings (cpus, mem)" || bad "settings lost"
[ -f "$STATE/cli1.json" ] && ok "definitions are files in the state directory" ||
    bad "no $STATE/cli1.json"
"$VMON" start cli1 && "$VMON" start cli2 && ok "vmon start" || bad "vmon start"
for n in curl1 curl2; do
    api PUT "/v1/vms/$n/actions/start"
    [ "$status" = 200 ] || bad "start $n: $status $(cat "$tmp/body")"
done
for n in cli1 cli2 curl1 curl2; do
    if wait_log "$n" "init reached" && wait_state "$n" stopped; then
        reason=$(vm_field "$n" reason)
        [ "$reason" = "the guest powered off" ] && ok "$n reached init and powered off" ||
            bad "$n stopped: $reason"
    else
        bad "$n: no init reached / not stopped ($(vm_field "$n" state))"
    fi
done
"$VMON" list >"$tmp/list"
grep -qE '^cli2 +stopped +2 +128M' "$tmp/list" && ok "vmon list shows name, state, vCPUs, memory" ||
    bad "vmon list: $(cat "$tmp/list")"

# --- Workers are sandboxed: every device works under the seccomp filter ----
mkdir -p "$tmp/share" && echo "shared-$$" >"$tmp/share/f"
truncate -s 8M "$tmp/disk.img"
DEV_RUN='dd+if=/dev/vda+of=/dev/null+bs=64k+count=8;dd+if=/dev/zero+of=/dev/vda+bs=64k+count=2;sync'
DEV_RUN+=';mount+-t+9p+-o+trans=virtio+sh+/mnt;cat+/mnt/f;echo+w>/mnt/g;head+-c+64+/dev/hwrng|wc+-c'
DEV_RUN+=';echo+vc-ok>/dev/hvc1;ifconfig+eth0+up;udhcpc+-i+eth0+-n+-q+-t+3+-T+1;echo+devices+done'
# then it reads its disk again every second (past the page cache): vmon top's disk rate
DEV_RUN+=';while+true;do+echo+3>/proc/sys/vm/drop_caches;dd+if=/dev/vda+of=/dev/null+bs=64k+2>/dev/null;sleep+1;done'
"$VMON" create devs --kernel "$KERNEL" --initrd "$INITRD" --append "console=ttyS0 guest.run=$DEV_RUN" \
    --disk "$tmp/disk.img" --net user --share "$tmp/share,tag=sh" --rng --vconsole "$tmp/vc.out" \
    --cpus 2 --start && wait_log devs "devices done" && ok "a sandboxed worker boots with disk, net, 9p, rng, vconsole" ||
    bad "devices under the sandbox: $("$VMON" logs devs 2>&1 | tail -3)"
"$VMON" logs devs | grep -q "shared-$$" && [ -f "$tmp/share/g" ] && grep -q vc-ok "$tmp/vc.out" &&
    [ "$("$VMON" logs devs | tr -d '\r' | grep -x 64)" = 64 ] && ok "9p read/write, rng and vconsole work" ||
    bad "device I/O under the sandbox"
devs_pid=$(vm_field devs pid)
grep -q "^Seccomp:[[:space:]]*2" "/proc/$devs_pid/status" && grep -q "^NoNewPrivs:[[:space:]]*1" "/proc/$devs_pid/status" &&
    ok "the worker runs under a seccomp filter (Seccomp: 2) with no_new_privs" ||
    bad "worker not filtered: $(grep -E 'Seccomp|NoNewPrivs' "/proc/$devs_pid/status")"
[ "$(readlink "/proc/$devs_pid/cwd")" = / ] && ok "the worker's working directory is /" ||
    bad "worker cwd $(readlink "/proc/$devs_pid/cwd")"
foreign=$(for f in /proc/$devs_pid/fd/*; do readlink "$f"; done |
    grep -v -e "^$tmp/" -e '^/dev/null$' -e '^socket:' -e '^anon_inode:' -e '^pipe:' -e "^$STATE/logs/devs\." \
        -e "^/proc/$devs_pid/task/[0-9]*/schedstat$" -e "^/proc/$devs_pid$")
# (its vCPU threads read their own schedstat for steal time; it holds its
# own /proc directory while its Landlock rule for it is in force)
[ -z "$foreign" ] && ok "the worker holds only its own files, sockets and /dev/null" ||
    bad "worker holds foreign descriptors: $foreign"
# Its I/O as the service counts it: the disk read and written, DHCP on the
# network both ways, hypercalls (the SBI timer at least); and vmon top's rates.
sleep 3
api GET /v1/vms/devs
io=$(json "$tmp/body" "' '.join('%s=%s' % kv for kv in sorted(d['io'].items()))")
[ "$(json "$tmp/body" "int(d['io']['disk_read'] > 8 << 20 and d['io']['disk_written'] >= 128 << 10 and d['io']['net_rx'] > 300 and d['io']['net_tx'] > 300 and d['io']['hypercalls'] > 100 and d['io']['disk_read_per_sec'] > 100000 and d['io']['hypercalls_per_sec'] > 1)")" = 1 ] &&
    ok "GET shows the VM's disk, network and hypercall totals and rates" || bad "io of devs: $io"
"$VMON" top --once >"$tmp/top" && grep -qE "^NAME .*DISK-RD +DISK-WR +NET-RX +NET-TX +HCALL/S" "$tmp/top" &&
    awk '$1 == "devs" && $8 ~ /[KM]$/ && $12 != "0" { found = 1 } END { exit !found }' "$tmp/top" &&
    ok "vmon top --once: the VM's disk read rate and hypercall rate ($(grep '^devs ' "$tmp/top" | tr -s ' '))" ||
    bad "top with I/O: $(cat "$tmp/top")"
"$VMON" stop devs && [ "$(vm_field devs state)" = stopped ] && ok "the sandboxed worker stops cleanly" ||
    bad "stop devs: $(vm_field devs state) $(vm_field devs reason)"

# --- Pause and resume a ticking guest --------------------------------------
"$VMON" create tick --kernel "$KERNEL" --initrd "$INITRD" --append "$TICK_APPEND" --start &&
    wait_log tick "tick 3 " && ok "a ticking guest runs" || bad "ticking guest"
"$VMON" pause tick && [ "$(vm_field tick state)" = paused ] && ok "vmon pause: paused" ||
    bad "pause: $(vm_field tick state)"
"$VMON" logs tick >"$tmp/before"
sleep 3
"$VMON" logs tick >"$tmp/after"
cmp -s "$tmp/before" "$tmp/after" && ok "a paused guest prints nothing" ||
    bad "the paused guest went on: $(diff "$tmp/before" "$tmp/after" | tail -2)"
last=$(grep -o 'tick [0-9]*' "$tmp/before" | tail -1 | cut -d' ' -f2)
"$VMON" resume tick && [ "$(vm_field tick state)" = running ] && ok "vmon resume: running" ||
    bad "resume"
wait_log tick "tick $((last + 2))" && ok "after resume the guest goes on (tick $last, then $((last + 1)))" ||
    bad "no tick after resume"
# Guest time stands still while paused: the guest's uptime moves on by
# about the one second between two ticks, not by the 3 s it was paused.
up0=$(grep -a "^tick $last up" "$tmp/before" | tr -d '\r' | awk '{print $4}')
up1=$("$VMON" logs tick | tr -d '\r' | grep -a "^tick $((last + 1)) up" | awk '{print $4}')
[ -n "$up0" ] && [ -n "$up1" ] && [ $((up1 - up0)) -le 2 ] &&
    ok "the guest's uptime skips the pause (tick $last at ${up0}s, tick $((last + 1)) at ${up1}s)" ||
    bad "uptime across the pause: '$up0' -> '$up1'"
[ "$("$VMON" logs tick | tr -d '\r' | grep -c '^tick 1 ')" = 1 ] && ok "the tick count never restarted" ||
    bad "the guest restarted"

# --- The serial console through the service ---------------------------------
"$VMON" create shell --kernel "$KERNEL" --initrd "$INITRD" --append "console=ttyS0" --start &&
    wait_log shell "type 'poweroff -f'" || bad "a VM with a shell"
while read -r line; do
    case $line in PASS*) ok "console: ${line#PASS }" ;; *) bad "console: ${line#FAIL }" ;; esac
done < <(python3 "$here/tests/integration/console_attach.py" "$VMON" shell 2>&1)
[ "$(vm_field shell state)" = running ] && ok "after detaching the VM runs on" || bad "shell: $(vm_field shell state)"
"$VMON" logs shell | grep -q "hi-42" && ok "vmon logs shows the console's ring (hi-42)" || bad "logs after attach"
# A client that stays attached: its input a fifo the test holds open.
mkfifo "$tmp/hold"
"$VMON" console shell <"$tmp/hold" >/dev/null 2>&1 &
holder=$!
exec 7>"$tmp/hold"
for _ in $(seq 50); do grep -q "shell: console attached" "$LOG" && break; sleep 0.1; done
"$VMON" console shell </dev/null >"$tmp/out" 2>&1 && bad "a second attach succeeded" ||
    { grep -q "someone is attached" "$tmp/out" && ok "a second attach is refused (someone is attached)" ||
        bad "second attach: $(cat "$tmp/out")"; }
"$VMON" stop shell && wait "$holder"
st=$?
exec 7>&-
[ $st = 0 ] && ok "stopping the VM ends an attached console (status 0)" || bad "attached console after stop"
"$VMON" console shell </dev/null 2>"$tmp/out" && bad "attached to a stopped VM" ||
    { grep -q "start it to attach" "$tmp/out" && ok "attaching to a stopped VM: a clear error" ||
        bad "stopped attach: $(cat "$tmp/out")"; }
expect_error "console without an upgrade" 400 GET /v1/vms/shell/console
expect_error "console of an unknown VM" 404 GET /v1/vms/nosuch/console
"$VMON" rm shell || bad "rm shell"

# --- The CPU scheduler: a cap and pinning set live, per-VM figures ----------
BUSY_APPEND='console=ttyS0 guest.run=echo+busy+now;while+true;do+:;done'
"$VMON" create hog1 --kernel "$KERNEL" --initrd "$INITRD" --append "$BUSY_APPEND" --start &&
    "$VMON" create hog2 --kernel "$KERNEL" --initrd "$INITRD" --append "$BUSY_APPEND" --start &&
    wait_log hog1 "busy now" && wait_log hog2 "busy now" || bad "two busy guests"
"$VMON" set hog2 --cap 25 && [ "$(vm_field hog2 cap)" = 25 ] && [ "$(json "$STATE/hog2.json" "d['cap']")" = 25 ] &&
    ok "vmon set --cap 25: in the VM and its saved definition" || bad "set --cap: $(vm_field hog2 cap)"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime + stime
p1=$(vm_field hog1 pid)
p2=$(vm_field hog2 pid)
sleep 0.5
a1=$(cpu_ticks "$p1") a2=$(cpu_ticks "$p2")
sleep 4
u1=$(($(cpu_ticks "$p1") - a1)) u2=$(($(cpu_ticks "$p2") - a2))
hz=$(getconf CLK_TCK)
# 25% of 4 s is hz ticks; allow the devices' threads and a loaded host.
[ "$u2" -lt $((hz * 18 / 10)) ] && [ "$u2" -lt "$u1" ] &&
    ok "a VM capped at 25% uses clearly less CPU than an uncapped one ($u2 vs $u1 ticks in 4 s)" ||
    bad "cap: the capped VM used $u2 ticks, the uncapped $u1 (in 4 s, $hz ticks/s)"
[ "$(vm_field hog2 cap_effective)" = 25 ] && ok "GET shows the effective cap" ||
    bad "cap_effective $(vm_field hog2 cap_effective)"
# held to 25% for 4 s, its busy vCPU waited about 3 s: steal time
api GET /v1/vms/hog2
[ "$(json "$tmp/body" "int(d['steal_time'] > 1.5)")" = 1 ] &&
    ok "GET shows the capped VM's steal time ($(json "$tmp/body" "round(d['steal_time'], 2)") s)" ||
    bad "steal_time: $(json "$tmp/body" "d.get('steal_time')")"
api GET /v1/vms/hog1
[ "$(json "$tmp/body" "int(d['insns'] > 10**8 and d['mips'] > 1 and d['guest_cpu_time'] > 0.5)")" = 1 ] &&
    ok "GET shows guest instructions, MIPS and CPU time ($(json "$tmp/body" "d['mips']") MIPS)" ||
    bad "figures: $(head -c 300 "$tmp/body")"
"$VMON" list | grep -qE '^hog1 +running .* [0-9.]+ +[0-9.]+$' && ok "vmon list shows CPU seconds and MIPS" ||
    bad "list: $("$VMON" list | grep hog1)"
pinned() { # PID CPULIST: how many of its threads have exactly that affinity
    local n=0 t
    for t in /proc/$1/task/*; do
        [ "$(taskset -pc "${t##*/}" 2>/dev/null | sed 's/.*: //')" = "$2" ] && n=$((n + 1))
    done
    echo $n
}
all=$(taskset -pc $$ | sed 's/.*: //')
"$VMON" set hog1 --pin 0 && sleep 0.5 && [ "$(pinned "$p1" 0)" -ge 1 ] &&
    ok "vmon set --pin 0: the vCPU thread runs on CPU 0 ($(pinned "$p1" 0) thread(s))" ||
    bad "pin: $(for t in /proc/$p1/task/*; do taskset -pc "${t##*/}"; done | tr '\n' ' ')"
if [ "$all" != 0 ]; then
    "$VMON" set hog1 --pin "" && sleep 0.5 && [ "$(pinned "$p1" 0)" = 0 ] &&
        ok "vmon set --pin '': unpinned again" || bad "unpin: $(pinned "$p1" 0) threads still on CPU 0"
fi
"$VMON" set hog1 --weight 0 2>"$tmp/out" && bad "weight 0 accepted" ||
    { grep -q "invalid --weight '0' (want 1..10000)" "$tmp/out" && ok "vmon set --weight 0: vmon run's style of message" ||
        bad "weight 0: $(cat "$tmp/out")"; }
"$VMON" set hog1 --pin 99999 2>"$tmp/out" && bad "pin 99999 accepted" ||
    { grep -q "invalid --pin" "$tmp/out" && ok "vmon set --pin 99999: refused" || bad "pin 99999: $(cat "$tmp/out")"; }
expect_error "PATCH a field that cannot change" 400 PATCH /v1/vms/hog1 '{"mem": 512}'
expect_error "PATCH cap of a wrong type" 400 PATCH /v1/vms/hog1 '{"cap": "25"}'
expect_error "PATCH cap out of range" 400 PATCH /v1/vms/hog1 '{"cap": 6401}'
expect_error "PATCH an unknown VM" 404 PATCH /v1/vms/nosuch '{"cap": 5}'
[ "$(vm_field hog1 weight)" = 100 ] && [ "$(vm_field hog1 cap)" = 0 ] && ok "refused changes changed nothing" ||
    bad "weight $(vm_field hog1 weight) cap $(vm_field hog1 cap)"
api PATCH /v1/vms/hog1 '{"weight": 400}'
[ "$status" = 200 ] && [ "$(json "$tmp/body" "d['weight']")" = 400 ] && ok "PATCH weight answers the VM" ||
    bad "PATCH weight: $status"
"$VMON" top --once >"$tmp/top" && grep -q "^NAME .*CPU%.*MIPS" "$tmp/top" &&
    grep -qE "^hog1 +running +1 +[0-9.]+ +[0-9.]+ " "$tmp/top" && ok "vmon top --once: every VM's CPU % and MIPS" ||
    bad "top: $(cat "$tmp/top")"
echo q | timeout 10 "$VMON" top >/dev/null && ok "vmon top quits on q" || bad "vmon top did not quit on q"
"$VMON" stop hog1 && "$VMON" stop hog2 && "$VMON" rm hog1 && "$VMON" rm hog2 || bad "removing the hogs"

# --- Per-vCPU figures: a busy 2-vCPU VM ---------------------------------------
DUO_APPEND='console=ttyS0 guest.run=(while+true;do+:;done)&echo+busy+now;while+true;do+:;done'
"$VMON" create duo --kernel "$KERNEL" --initrd "$INITRD" --append "$DUO_APPEND" --cpus 2 --start &&
    wait_log duo "busy now" || bad "a busy 2-vCPU guest"
sleep 3
api GET /v1/vms/duo
cp "$tmp/body" "$tmp/duo.json"
vcpus=$(json "$tmp/duo.json" "' / '.join('%s %.2f s %d insns' % (v['state'], v['cpu_time'], v['insns']) for v in d['vcpus'])")
[ "$(json "$tmp/duo.json" "[v['id'] for v in d['vcpus']]")" = "[0, 1]" ] &&
    [ "$(json "$tmp/duo.json" "int(all(v['insns'] > 10**7 and v['cpu_time'] > 0.1 and v['state'] in ('running', 'idle') for v in d['vcpus']))")" = 1 ] &&
    ok "GET shows two vCPUs, each with instructions and CPU time ($vcpus)" ||
    bad "vcpus of duo: $(json "$tmp/duo.json" "d.get('vcpus')")"
sums="insns %d of %d, cpu_time %.2f s of guest_cpu_time %.2f s, steal_time %.2f s of %.2f s"
sums=$(json "$tmp/duo.json" "'$sums' % (sum(v['insns'] for v in d['vcpus']), d['insns'], sum(v['cpu_time'] for v in d['vcpus']), d['guest_cpu_time'], sum(v['steal_time'] for v in d['vcpus']), d['steal_time'])")
# (the VM's own figures are sampled every 100 ms, the vCPUs' when asked)
[ "$(json "$tmp/duo.json" "int(abs(sum(v['insns'] for v in d['vcpus']) - d['insns']) <= 0.1 * d['insns'] and
    abs(sum(v['cpu_time'] for v in d['vcpus']) - d['guest_cpu_time']) <= 0.25 * d['guest_cpu_time'] + 0.3 and
    abs(sum(v['steal_time'] for v in d['vcpus']) - d['steal_time']) <= 0.25 * d['steal_time'] + 0.3)")" = 1 ] &&
    ok "the vCPUs' figures add up to the VM's ($sums)" || bad "per-vCPU sums: $sums"
"$VMON" pause duo && api GET /v1/vms/duo && cp "$tmp/body" "$tmp/duo1.json" && sleep 0.5 &&
    "$VMON" show duo >"$tmp/duo2.json" &&
    [ "$(json "$tmp/duo2.json" "[v['state'] for v in d['vcpus']]")" = "['paused', 'paused']" ] &&
    [ "$(json "$tmp/duo1.json" "[v['insns'] for v in d['vcpus']]")" = "$(json "$tmp/duo2.json" "[v['insns'] for v in d['vcpus']]")" ] &&
    ok "paused, vmon show has both vCPUs paused, their instructions standing still" ||
    bad "paused duo: $(json "$tmp/duo2.json" "d.get('vcpus')")"
"$VMON" stop duo && [ "$(vm_field duo vcpus)" = "[]" ] && "$VMON" rm duo &&
    ok "a stopped VM has no vCPU figures" || bad "stopped duo: vcpus $(vm_field duo vcpus)"
# Weights: three busy 1-vCPU VMs want 300% of the host's CPUs; weights
# 1:2:4 give the heaviest its one CPU (its limit) and share the rest 1:2.
ncpu=$(nproc)
if [ "$ncpu" = 2 ]; then
    for w in 100 200 400; do
        "$VMON" create "w$w" --kernel "$KERNEL" --initrd "$INITRD" --append "$BUSY_APPEND" \
            --weight $w --start || bad "create w$w"
    done
    for w in 100 200 400; do wait_log "w$w" "busy now" || bad "w$w not busy"; done
    # The service's figures settle once all three show as busy (smoothed
    # samples every 100 ms): wait for them rather than for a fixed time.
    for _ in $(seq 60); do
        sleep 0.5
        e1=$(vm_field w100 cap_effective) e2=$(vm_field w200 cap_effective) e4=$(vm_field w400 cap_effective)
        [ "$e1" -ge 30 ] && [ "$e1" -le 36 ] && [ "$e2" -ge 63 ] && [ "$e2" -le 70 ] && [ "$e4" = 0 ] && break
    done
    [ "$e1" -ge 30 ] && [ "$e1" -le 36 ] && [ "$e2" -ge 63 ] && [ "$e2" -le 70 ] && [ "$e4" = 0 ] &&
        ok "weights 1:2:4 on 2 CPUs: effective caps $e1%, $e2%, none (its whole CPU)" ||
        bad "weighted caps: $e1 $e2 $e4 (want about 33, 67, 0)"
    q1=$(vm_field w100 pid) q4=$(vm_field w400 pid)
    a1=$(cpu_ticks "$q1") a4=$(cpu_ticks "$q4")
    sleep 4
    t1=$(($(cpu_ticks "$q1") - a1)) t4=$(($(cpu_ticks "$q4") - a4))
    [ "$t1" -lt "$t4" ] && ok "the weight-100 VM used less CPU than the weight-400 one ($t1 vs $t4 ticks)" ||
        bad "weights: weight 100 used $t1 ticks, weight 400 $t4"
    for w in 100 200 400; do "$VMON" stop "w$w" && "$VMON" rm "w$w" || bad "rm w$w"; done
fi


# --- Illegal actions: 409 ---------------------------------------------------
expect_error "pause a stopped VM" 409 PUT /v1/vms/cli1/actions/pause
expect_error "resume a running VM" 409 PUT /v1/vms/tick/actions/resume
expect_error "start a running VM" 409 PUT /v1/vms/tick/actions/start
expect_error "delete a running VM" 409 DELETE /v1/vms/tick
expect_error "create an existing name" 409 PUT /v1/vms/cli1 "{\"kernel\": \"$KERNEL\"}"
"$VMON" pause cli1 2>"$tmp/out" && bad "vmon pause of a stopped VM succeeded" ||
    { grep -q "it is stopped" "$tmp/out" && ok "the CLI prints the service's error, exits nonzero" ||
        bad "CLI error: $(cat "$tmp/out")"; }

# --- A killed worker: crashed, the others run on, it can start again -----
"$VMON" create tock --kernel "$KERNEL" --initrd "$INITRD" --append "$TICK_APPEND" --start &&
    wait_log tock "tick 1" || bad "second ticking guest"
victim=$(vm_field tock pid)
kill -9 "$victim"
if wait_state tock crashed 20; then
    reason=$(vm_field tock reason)
    [[ $reason == *"signal 9"* ]] && ok "a killed worker is reported crashed ($reason)" ||
        bad "crash reason: $reason"
else
    bad "killed worker not reported crashed: $(vm_field tock state)"
fi
[ "$(vm_field tick state)" = running ] && n=$("$VMON" logs tick | grep -c tick) &&
    wait_log tick "tick $((n + 2))" && ok "the other VM keeps running" || bad "the other VM stopped"
api GET /v1/metrics
[ "$status" = 200 ] && [ "$(json "$tmp/body" "d['workers_crashed']")" -ge 1 ] &&
    ok "metrics count the crash" || bad "metrics: $status $(head -c 300 "$tmp/body")"
"$VMON" start tock && wait_log tock "tick 1" && [ "$(vm_field tock starts)" = 2 ] &&
    ok "a crashed VM starts again" || bad "restart after crash"

# --- Shutdown, stop, reboot -------------------------------------------------
"$VMON" reboot tock && wait_state tock running && ok "vmon reboot" || bad "reboot"
"$VMON" shutdown tock && [ "$(vm_field tock state)" = stopped ] &&
    ok "vmon shutdown: stopped ($(vm_field tock reason))" || bad "shutdown: $(vm_field tock state)"
"$VMON" stop tick && [ "$(vm_field tick state)" = stopped ] && ok "vmon stop: stopped" ||
    bad "stop: $(vm_field tick state)"
"$VMON" rm tock && api GET /v1/vms/tock && [ "$status" = 404 ] && [ ! -e "$STATE/tock.json" ] &&
    ok "vmon rm deletes the definition" || bad "rm"

# --- Bad requests -----------------------------------------------------------
expect_error "malformed JSON" 400 PUT /v1/vms/x '{"kernel": '
expect_error "trailing garbage" 400 PUT /v1/vms/x "{\"kernel\": \"$KERNEL\"} x"
expect_error "not an object" 400 PUT /v1/vms/x '[1, 2]'
expect_error "empty body" 400 PUT /v1/vms/x ''
expect_error "unknown field" 400 PUT /v1/vms/x "{\"kernel\": \"$KERNEL\", \"kernal\": 1}"
grep -q "did you mean 'kernel'" "$tmp/body" && ok "unknown field: did you mean" || bad "no suggestion"
expect_error "wrong type (cpus a string)" 400 PUT /v1/vms/x "{\"kernel\": \"$KERNEL\", \"cpus\": \"2\"}"
expect_error "wrong type (disks a string)" 400 PUT /v1/vms/x "{\"kernel\": \"$KERNEL\", \"disks\": \"a\"}"
expect_error "bad value, vmon run's message" 400 PUT /v1/vms/x "{\"kernel\": \"$KERNEL\", \"mem\": \"12Q\"}"
grep -q "invalid mem '12Q' (want 16M..16G" "$tmp/body" && ok "same message as vmon run --mem" ||
    bad "mem message: $(cat "$tmp/body")"
expect_error "missing kernel file" 400 PUT /v1/vms/x '{"kernel": "/nonexistent/Image"}'
expect_error "relative path" 400 PUT /v1/vms/x '{"kernel": "Image"}'
expect_error "nothing to run" 400 PUT /v1/vms/x '{"cpus": 1}'
expect_error "bad name" 400 PUT /v1/vms/.hidden "{\"kernel\": \"$KERNEL\"}"
expect_error "action with fields" 400 PUT /v1/vms/cli1/actions/start '{"now": true}'
head -c 70000 /dev/zero | tr '\0' ' ' >"$tmp/big"
# (Expect: 100-continue: curl sends no body before the answer, so a busy
# host's reset of the unread body cannot lose the 413.)
status=$(curl -s -o "$tmp/body" -w '%{http_code}' --unix-socket "$SOCK" -X PUT \
    -H 'Expect: 100-continue' --data-binary "@$tmp/big" http://localhost/v1/vms/x)
[ "$status" = 413 ] && [ -n "$(json "$tmp/body" "d['error']")" ] && ok "oversized body: 413" ||
    bad "oversized body: status $status, want 413: $(head -c 200 "$tmp/body")"
expect_error "unknown VM" 404 GET /v1/vms/nosuch
expect_error "unknown VM action" 404 PUT /v1/vms/nosuch/actions/start
expect_error "unknown action" 404 PUT /v1/vms/cli1/actions/explode
expect_error "unknown route" 404 GET /v1/nothing
expect_error "wrong method" 405 POST /v1/vms/cli1
api GET /v1/vms/x
[ "$status" = 404 ] && ok "no bad request created anything" || bad "a bad request created x"

# A device option that does not parse is refused at once; one that parses
# but cannot be opened (a socket in a missing directory) is defined, and its
# start fails with the worker's message.
expect_error "a definition with a bad device option" 400 PUT /v1/vms/broken \
    "{\"kernel\": \"$KERNEL\", \"nets\": [\"bogus\"]}"
api PUT /v1/vms/broken "{\"kernel\": \"$KERNEL\", \"vconsoles\": [\"socket=$tmp/nodir/v.sock\"]}"
[ "$status" = 201 ] || bad "create broken: $status"
expect_error "a worker that cannot start" 500 PUT /v1/vms/broken/actions/start
grep -q "did not start.*--vconsole socket=.*: cannot create socket" "$tmp/body" &&
    ok "the start error carries the worker's message" || bad "start error: $(cat "$tmp/body")"
[ "$(vm_field broken state)" = crashed ] && "$VMON" rm broken && ok "the failed VM is crashed, removable" ||
    bad "broken: $(vm_field broken state)"

# A client that sends half a request and leaves, and one that sends garbage.
printf 'PUT /v1/vms/half HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"ker' |
    timeout 2 socat - "UNIX-CONNECT:$SOCK" >/dev/null 2>&1
printf 'GARBAGE\r\n\r\n' | timeout 2 socat - "UNIX-CONNECT:$SOCK" >/dev/null 2>&1
api GET /v1/version
[ "$status" = 200 ] && ok "the service survives a half request and garbage" || bad "service died"

# A burst of concurrent clients: creates, reads and actions at once.
for i in $(seq 1 12); do
    curl -s -o /dev/null -w '%{http_code}\n' --unix-socket "$SOCK" -X PUT \
        --data-binary "{\"kernel\": \"$KERNEL\", \"initrd\": \"$INITRD\"}" \
        "http://x/v1/vms/burst$i" >"$tmp/burst.put.$i" &
    curl -s -o /dev/null -w '%{http_code}\n' --unix-socket "$SOCK" http://x/v1/vms \
        >"$tmp/burst.get.$i" &
    curl -s -o /dev/null -w '%{http_code}\n' --unix-socket "$SOCK" -X PUT \
        http://x/v1/vms/cli1/actions/pause >"$tmp/burst.bad.$i" &
done
wait $(jobs -p | grep -v "^$svc_pid$") 2>/dev/null
[ "$(cat "$tmp"/burst.put.* | sort -u)" = 201 ] && [ "$(cat "$tmp"/burst.get.* | sort -u)" = 200 ] &&
    [ "$(cat "$tmp"/burst.bad.* | sort -u)" = 409 ] && ok "36 concurrent requests all answered right" ||
    bad "burst: $(cat "$tmp"/burst.* | sort | uniq -c | tr '\n' ' ')"
for i in $(seq 1 12); do "$VMON" rm "burst$i" || bad "rm burst$i"; done

# --- Live resizing through the API: balloon target and disk growth ---------
truncate -s 8M "$tmp/grow.img"
"$VMON" create grow --kernel "$KERNEL" --initrd "$INITRD" --append "$TICK_APPEND" --mem 192M \
    --balloon --disk "$tmp/grow.img" --start && wait_log grow "tick 1" || bad "a VM with a balloon and a disk"
api PUT /v1/vms/grow/resize '{"mem": "96M"}'
[ "$status" = 200 ] && json "$tmp/body" "d['result']" | grep -q "^balloon target 96 MiB" &&
    ok "PUT resize {mem: 96M} sets the balloon's target" || bad "resize mem: $status $(cat "$tmp/body")"
for _ in $(seq 60); do # the same request again answers with the balloon's progress
    api PUT /v1/vms/grow/resize '{"mem": "96M"}'
    json "$tmp/body" "d['result']" | grep -q "given 96 MiB" && break
    sleep 0.5
done
json "$tmp/body" "d['result']" | grep -q "given 96 MiB" && ok "the guest gave 96 MiB back: $(json "$tmp/body" "d['result']")" ||
    bad "balloon did not inflate: $(cat "$tmp/body")"
"$VMON" resize grow --disk 0 --size 16M >"$tmp/out" 2>&1 && grep -qx "disk 0 is 16777216 bytes" "$tmp/out" &&
    [ "$(stat -c %s "$tmp/grow.img")" = $((16 << 20)) ] &&
    ok "vmon resize grow --disk 0 --size 16M grows the image ($(cat "$tmp/out"))" ||
    bad "resize disk: $(cat "$tmp/out") size $(stat -c %s "$tmp/grow.img")"
"$VMON" resize grow --disk 0 --size 4M >"$tmp/out" 2>&1 && bad "vmon resize shrank a disk" ||
    { grep -q "multiple of 512 and at least" "$tmp/out" && ok "vmon resize: a shrink is refused ($(cat "$tmp/out"))" ||
        bad "vmon resize shrink: $(cat "$tmp/out")"; }
"$VMON" resize grow --disk x --size 4M 2>"$tmp/out" && bad "vmon resize --disk x accepted" ||
    { grep -q "disk number" "$tmp/out" && ok "vmon resize --disk x: a clear error" || bad "--disk x: $(cat "$tmp/out")"; }
"$VMON" resize grow 2>"$tmp/out" && bad "vmon resize with nothing to do succeeded" ||
    { grep -q "what to resize" "$tmp/out" && ok "vmon resize NAME alone: a clear error" || bad "resize alone: $(cat "$tmp/out")"; }
expect_error "resize: shrinking a disk" 400 PUT /v1/vms/grow/resize '{"disk": 0, "size": "4M"}'
[ "$(stat -c %s "$tmp/grow.img")" = $((16 << 20)) ] && ok "a refused shrink leaves the image alone" ||
    bad "image size after a refused shrink: $(stat -c %s "$tmp/grow.img")"
# vmon set's spelling of the same: --disk-size [N:]SIZE and --mem SIZE, live
"$VMON" set grow --disk-size 0:24M --mem 120M >"$tmp/out" 2>&1 && grep -qx "disk 0 is 25165824 bytes" "$tmp/out" &&
    grep -q "^balloon target 72 MiB" "$tmp/out" && [ "$(stat -c %s "$tmp/grow.img")" = $((24 << 20)) ] &&
    ok "vmon set grow --disk-size 0:24M --mem 120M: disk grown, the 192M guest's balloon target 72 MiB" ||
    bad "vmon set --disk-size/--mem: $(cat "$tmp/out") size $(stat -c %s "$tmp/grow.img")"
"$VMON" set grow --disk-size 0: 2>"$tmp/out" && bad "vmon set --disk-size 0: accepted" ||
    { grep -q "invalid --disk-size '0:' (no size)" "$tmp/out" && ok "vmon set --disk-size without a size: a clear error" ||
        bad "--disk-size 0: $(cat "$tmp/out")"; }
expect_error "resize: no such disk" 400 PUT /v1/vms/grow/resize '{"disk": 3, "size": "16M"}'
expect_error "resize: a bad size" 400 PUT /v1/vms/grow/resize '{"mem": "lots"}'
expect_error "resize: an unknown field" 400 PUT /v1/vms/grow/resize '{"cpus": 4}'
expect_error "resize: nothing asked" 400 PUT /v1/vms/grow/resize '{}'
expect_error "resize: mem and disk at once" 400 PUT /v1/vms/grow/resize '{"mem": 64, "disk": 0, "size": "32M"}'
expect_error "resize: mem with a size" 400 PUT /v1/vms/grow/resize '{"mem": 64, "size": "32M"}'
expect_error "resize: a stopped VM" 409 PUT /v1/vms/cli1/resize '{"mem": 64}'
expect_error "resize: an unknown VM" 404 PUT /v1/vms/nosuch/resize '{"mem": 64}'
[ "$(vm_field grow state)" = running ] && ok "after every refusal the VM runs on" || bad "grow: $(vm_field grow state)"
"$VMON" stop grow && "$VMON" rm grow || bad "stop/rm grow"

# --- Every documented route answers ----------------------------------------
routes=$(awk '/^  \/v1/ { p = $1; sub(":$", "", p) }
              /^    (get|put|patch|delete|post):/ { m = $1; sub(":$", "", m); print toupper(m), p }' \
    "$here/doc/api.yaml")
[ -n "$routes" ] || bad "no routes found in doc/api.yaml"
"$VMON" create doomed --kernel "$KERNEL" || bad "create doomed"
while read -r method path; do
    p=${path//\{name\}/cli1}
    p=${p//\{action\}/resume}
    [ "$method" = DELETE ] && p=${path//\{name\}/doomed}
    body=()
    [ "$method" = PUT ] && [[ $p != */actions/* ]] && body=("{\"kernel\": \"$KERNEL\"}")
    [ "$method" = PATCH ] && body=('{"weight": 100}')
    api "$method" "$p" "${body[@]}"
    [ "$status" != 404 ] && [ "$status" != 405 ] && [ "$status" != 000 ] &&
        ok "documented route $method $path answers ($status)" || bad "$method $path: $status"
done <<<"$routes"

# --- Restart: definitions come back, autostart VMs start, corrupt files stay
"$VMON" create auto --autostart --kernel "$KERNEL" --initrd "$INITRD" --append "$TICK_APPEND" &&
    "$VMON" start auto && wait_log auto "tick 1" || bad "autostart VM"
auto_pid=$(vm_field auto pid)
"$VMON" console auto <"$tmp/hold" >/dev/null 2>&1 &
holder=$!
exec 7>"$tmp/hold"
for _ in $(seq 50); do grep -q "auto: console attached" "$LOG" && break; sleep 0.1; done
printf '{"kernel": ' >"$STATE/corrupt.json"
printf '{"kernel": "/x", "bogus": 1}' >"$STATE/odd.json"
cp "$STATE/corrupt.json" "$tmp/corrupt.orig"
stop_service && ok "SIGTERM ends the service (status 0)" || bad "service exit status"
kill -0 "$auto_pid" 2>/dev/null && bad "a worker outlived the service" ||
    ok "the service stopped its workers"
[ ! -e "$SOCK" ] && ok "the socket is removed" || bad "socket left behind"
wait "$holder" && ok "an attached console ends with the service" || bad "attached console at service stop"
exec 7>&-
start_service && ok "the service starts again" || bad "service restart"
"$VMON" list >"$tmp/list"
for n in cli1 cli2 curl1 curl2 tick auto; do
    grep -q "^$n " "$tmp/list" || bad "$n lost in the restart"
done
grep -q "^cli2 " "$tmp/list" && ok "definitions survive a restart" || true
wait_state auto running && wait_log auto "tick 1" && ok "the autostart VM started again" ||
    bad "autostart: $(vm_field auto state)"
grep -q "corrupt.json: malformed JSON.*skipped" "$LOG" && grep -q "odd.json: unknown field 'bogus'" "$LOG" &&
    ok "corrupt definitions are reported and skipped" || bad "corrupt files not reported"
cmp -s "$STATE/corrupt.json" "$tmp/corrupt.orig" && ok "a corrupt definition is left untouched" ||
    bad "corrupt file changed"

# The service killed outright: its workers shut down, the stale socket is replaced.
auto_pid=$(vm_field auto pid)
stop_service KILL
gone=0
for _ in $(seq 100); do
    kill -0 "$auto_pid" 2>/dev/null || { gone=1; break; }
    sleep 0.2
done
[ $gone = 1 ] && ok "workers shut down when their service dies" || bad "orphan worker $auto_pid"
start_service && grep -q "replacing the stale socket" "$LOG" && ok "a stale socket is replaced" ||
    bad "stale socket"

report serve
