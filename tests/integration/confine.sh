#!/bin/bash
# A sandboxed worker's file system (Landlock): `vmon run --sandbox`, as
# vmon serve runs its workers, with a read-write and a read-only 9p share,
# --snapshot-on-exit and a control socket. Its guest works in its shares
# (a file written and renamed across directories, the read-only one only
# read); the control channel's "snapshot" into a directory the VM was not
# given is refused with a message saying why, and leaves nothing there,
# while a snapshot into --snapshot-on-exit's directory works (the same
# command without --sandbox writes anywhere); at SIGTERM the VM is saved
# there and its control socket removed. Under vmon serve, GET
# /v1/vms/NAME and the service's log say the worker's file system is
# confined by Landlock, and a snapshot through the API still goes where
# the user asks (the service opens the file for the worker). Where the
# kernel has no Landlock the confinement checks are skipped and the
# worker must say so instead.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/guest.sh"
. "$(dirname "${BASH_SOURCE[0]}")/servelib.sh"

# The kernel's Landlock ABI (landlock_create_ruleset(NULL, 0, VERSION) is
# system call 444 on every architecture), asked without vmon.
abi=$(python3 -c 'import ctypes; libc = ctypes.CDLL(None, use_errno=True)
r = libc.syscall(444, None, 0, 1)
print(r if r > 0 else "none (errno %d)" % ctypes.get_errno())')

mkdir -p "$tmp/rw/in" "$tmp/ro" "$tmp/snaps" "$tmp/outside"
echo "ro-$$" >"$tmp/ro/f"
GUEST_RUN='mount+-t+9p+-o+trans=virtio+rw+/mnt;mkdir+/tmp/r;mount+-t+9p+-o+trans=virtio+ro+/tmp/r'
GUEST_RUN+=";echo+w-$$>/mnt/f;mv+/mnt/f+/mnt/in/g;cat+/tmp/r/f;echo+x>/tmp/r/g||echo+ro-refused"
GUEST_RUN+=';echo+guest+done;sleep+600'

# run_vm NAME [more vmon run options]: the VM in the background (its pid in
# $vm), until its guest is done.
vm=
trap '[ -n "$vm" ] && kill -9 "$vm" 2>/dev/null; svc_cleanup' EXIT
run_vm() {
    local name=$1
    shift
    rm -f "$tmp/$name.ctl"
    "$VMON" run -v --kernel "$KERNEL" --initrd "$INITRD" --share "$tmp/rw,tag=rw" \
        --share "$tmp/ro,tag=ro,ro" --control "$tmp/$name.ctl" --console "$tmp/$name.con" \
        --append "console=ttyS0 guest.run=$GUEST_RUN" --timeout 300 "$@" \
        </dev/null >"$tmp/$name.err" 2>&1 &
    vm=$!
    wait_in "$tmp/$name.con" "guest done" 60
}

stop_vm() { # the VM in $vm, with SIGTERM: its exit status
    kill "$vm"
    wait "$vm"
    local rc=$?
    vm=
    return $rc
}

if [ "${abi#none}" != "$abi" ]; then
    echo "SKIP confinement: this kernel has no Landlock ($abi)"
    run_vm plain --sandbox --snapshot-on-exit "$tmp/snaps/exit.snap" || bad "a sandboxed VM"
    LOG=$tmp/plain.err
    grep -q "sandbox: seccomp only; the file system is not confined: this kernel has no Landlock" \
        "$tmp/plain.err" && ok "the worker says its file system is not confined, and why" ||
        bad "no message about the missing confinement"
    stop_vm
    report confine
    exit
fi

# --- vmon run --sandbox ------------------------------------------------------
LOG=$tmp/box.err
run_vm box --sandbox --snapshot-on-exit "$tmp/snaps/exit.snap" &&
    ok "a sandboxed VM with two shares runs its command" || bad "the sandboxed VM: $(tail -3 "$tmp/box.con")"
grep -q "sandbox: seccomp, and the file system confined (Landlock ABI $abi)" "$tmp/box.err" &&
    ok "its log: $(grep -o 'sandbox: .*' "$tmp/box.err")" || bad "no log line of its confinement"
LOG=$tmp/box.con
[ "$(cat "$tmp/rw/in/g" 2>/dev/null)" = "w-$$" ] && [ ! -e "$tmp/rw/f" ] &&
    ok "the guest wrote in its read-write share and moved the file to a subdirectory" ||
    bad "read-write share: $(ls -R "$tmp/rw")"
grep -q "^ro-$$" "$tmp/box.con" && grep -q "ro-refused" "$tmp/box.con" && [ ! -e "$tmp/ro/g" ] &&
    ok "it reads its read-only share and cannot write there" || bad "read-only share"
LOG=$tmp/box.err
r=$(vmon_ctl "$tmp/box.ctl" "snapshot $tmp/outside/x.snap")
echo "$r" | grep -q "^error $tmp/outside/x.snap.tmp: Permission denied (this sandboxed VM may only write snapshots" &&
    ok "snapshot into a directory it was not given: refused ($r)" || bad "snapshot outside: $r"
[ -z "$(ls -A "$tmp/outside")" ] && ok "nothing was written there" || bad "outside: $(ls "$tmp/outside")"
r=$(vmon_ctl "$tmp/box.ctl" "snapshot $tmp/snaps/y.snap")
echo "$r" | grep -q "^ok saved $tmp/snaps/y.snap in" && [ -s "$tmp/snaps/y.snap" ] &&
    ok "snapshot into --snapshot-on-exit's directory: $r" || bad "snapshot in its directory: $r"
r=$(vmon_ctl "$tmp/box.ctl" status)
[ "$r" = "ok running" ] && ok "the VM runs on after both" || bad "status: $r"
stop_vm
rc=$?
[ $rc = 0 ] && [ -s "$tmp/snaps/exit.snap" ] && grep -q "saved the VM to $tmp/snaps/exit.snap" "$tmp/box.err" &&
    ok "SIGTERM saves it with --snapshot-on-exit (status 0)" || bad "snapshot on exit: status $rc"
[ ! -e "$tmp/box.ctl" ] && ok "its control socket is removed at exit" || bad "control socket left behind"

# The same request without --sandbox: the refusal was the sandbox's.
LOG=$tmp/free.err
run_vm free || bad "the VM without --sandbox"
r=$(vmon_ctl "$tmp/free.ctl" "snapshot $tmp/outside/x.snap")
echo "$r" | grep -q "^ok saved $tmp/outside/x.snap" && ok "without --sandbox the same snapshot is written" ||
    bad "without --sandbox: $r"
stop_vm
rm -f "$tmp/outside/x.snap"

# --- vmon serve's workers ----------------------------------------------------
LOG=$tmp/serve.log # (start_service's log)
start_service || bad "vmon serve did not come up"
"$VMON" create web --kernel "$KERNEL" --initrd "$INITRD" --share "$tmp/rw,tag=rw" \
    --share "$tmp/ro,tag=ro,ro" --append "console=ttyS0 guest.run=$GUEST_RUN" --start &&
    wait_log web "guest done" || bad "a VM with shares under the service"
api GET /v1/vms/web
[ "$(json "$tmp/body" "(d['isolation']['seccomp'], d['isolation']['filesystem'], d['isolation']['detail'])")" = \
    "(True, 'landlock', 'Landlock ABI $abi')" ] &&
    ok "GET shows the worker's isolation: $(json "$tmp/body" "d['isolation']")" ||
    bad "isolation: $(json "$tmp/body" "d.get('isolation')")"
grep -q "VM web: isolation: seccomp, file system confined by landlock (Landlock ABI $abi)" "$LOG" &&
    ok "the service's log says so" || bad "no isolation line in the service's log"
api PUT /v1/vms/web/snapshot "{\"file\": \"$tmp/outside/api.snap\"}"
[ "$status" = 200 ] && [ -s "$tmp/outside/api.snap" ] && [ ! -e "$tmp/outside/api.snap.tmp" ] &&
    ok "a snapshot through the API goes where the user asks (the service opens it)" ||
    bad "API snapshot: $status $(cat "$tmp/body")"
"$VMON" stop web && [ "$(vm_field web isolation)" = None ] && ok "a stopped VM has no isolation figures" ||
    bad "isolation after stop: $(vm_field web isolation)"

report confine
