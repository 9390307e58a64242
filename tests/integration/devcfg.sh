#!/bin/bash
# One device configuration: a bad --disk, --net, --share or --vconsole is
# refused with the same message by `vmon run`, by `vmon create` (at once,
# exit 2, nothing defined) and by PUT /v1/vms/NAME (400, nothing defined);
# good ones of every kind are taken and kept as given; a definition whose
# device parses but cannot be opened is created, and its start fails with
# the worker's message.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/guest.sh"
. "$(dirname "${BASH_SOURCE[0]}")/servelib.sh"

# A definition with the kernel and one list entry, as JSON.
def_json() { # KEY SPEC
    python3 -c 'import json,sys; print(json.dumps({"kernel": sys.argv[1], sys.argv[2]: [sys.argv[3]]}))' \
        "$KERNEL" "$1" "$2"
}

# bad_device NAME OPTION KEY SPEC PATTERN: vmon run, vmon create and the
# API refuse SPEC with one message (matching PATTERN), and define nothing.
bad_device() {
    local name=$1 opt=$2 key=$3 spec=$4 pat=$5
    timeout 30 "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 20 "$opt" "$spec" \
        </dev/null >"$tmp/run.out" 2>"$tmp/run.err"
    local rc=$?
    local msg
    msg=$(sed -n "s|^vmon: $opt .*: \\($pat.*\\)|\\1|p" "$tmp/run.err" | head -1)
    if [ $rc -ne 0 ] && [ $rc -lt 124 ] && [ -n "$msg" ]; then
        ok "$name: vmon run: $msg"
    else
        bad "$name: vmon run: exit $rc: $(head -2 "$tmp/run.err")"
        return
    fi
    "$VMON" create x --kernel "$KERNEL" "$opt" "$spec" >"$tmp/create.out" 2>&1
    rc=$?
    if [ $rc = 2 ] && grep -qF -- "vmon create: $opt $spec: $msg" "$tmp/create.out"; then
        ok "$name: vmon create refuses it at once with the same message"
    else
        bad "$name: vmon create: exit $rc: $(cat "$tmp/create.out")"
    fi
    api PUT /v1/vms/x "$(def_json "$key" "$spec")"
    local err
    err=$(json "$tmp/body" "d['error']")
    if [ "$status" = 400 ] && [ "$err" = "$key $spec: $msg" ]; then
        ok "$name: PUT /v1/vms/x: 400 with the same message"
    else
        bad "$name: PUT: status $status, error '$err', want '$key $spec: $msg'"
    fi
    api GET /v1/vms/x
    [ "$status" = 404 ] && [ ! -e "$STATE/x.json" ] && ok "$name: nothing was defined" ||
        bad "$name: x exists ($status)"
}

start_service && ok "vmon serve answers" || bad "vmon serve did not come up"
truncate -s 1M "$tmp/d.img"
mkdir -p "$tmp/share"

bad_device disk-option --disk disks "$tmp/d.img,cache=none" "unknown disk option 'cache=none'"
bad_device disk-format --disk disks "$tmp/d.img,format=vmdk" "unknown format 'vmdk'"
bad_device disk-serial --disk disks "$tmp/d.img,serial=123456789012345678901" \
    "serial must be 1 to 20 characters"
bad_device disk-no-file --disk disks ",ro" "no file given"
bad_device net-type --net nets bogus "unknown network type 'bogus'"
bad_device net-mac --net nets "user,mac=01:02:03:04:05:06" "bad MAC '01:02:03:04:05:06': a multicast"
bad_device net-hostfwd --net nets "user,hostfwd=tcp:8080:80" "bad hostfwd 'tcp:8080:80'"
bad_device net-tap-option --net nets "tap,hostfwd=tcp::1-:2" "unknown option 'hostfwd=tcp::1-:2' for tap"
bad_device share-tag --share shares "$tmp/share" "missing tag=TAG"
bad_device share-option --share shares "$tmp/share,tag=s,cache=loose" "unknown share option 'cache=loose'"
bad_device vconsole-option --vconsole vconsoles "bogus=1" "unknown option 'bogus'"
bad_device vconsole-socket --vconsole vconsoles "socket=" "empty socket path"

# Good ones of every kind are taken as given.
"$VMON" create good --kernel "$KERNEL" --initrd "$INITRD" --disk "$tmp/d.img,ro,serial=S1" \
    --net "user,hostfwd=tcp::2222-:22,mac=52:54:00:00:00:09" --share "$tmp/share,tag=hostfs" \
    --vconsole "socket=$tmp/vc.sock" --rng --balloon >"$tmp/out" 2>&1 &&
    api GET /v1/vms/good && [ "$status" = 200 ] &&
    [ "$(json "$tmp/body" "d['config']['nets'][0] + ' ' + d['config']['vconsoles'][0]")" = \
        "user,hostfwd=tcp::2222-:22,mac=52:54:00:00:00:09 socket=$tmp/vc.sock" ] &&
    ok "good devices of every kind are defined as given" || bad "good: $(cat "$tmp/out" "$tmp/body")"
"$VMON" rm good >/dev/null 2>&1

# Parsed but not openable (the socket's directory is missing): defined,
# and its start fails with the worker's message.
api PUT /v1/vms/late "$(def_json vconsoles "socket=$tmp/nodir/v.sock")"
[ "$status" = 201 ] && ok "a device that parses is defined" || bad "late: $status $(cat "$tmp/body")"
api PUT /v1/vms/late/actions/start
grep -q "did not start.*--vconsole socket=$tmp/nodir/v.sock: cannot create socket" "$tmp/body" &&
    ok "its start fails with the worker's message ($status)" || bad "late start: $status $(cat "$tmp/body")"
"$VMON" rm late >/dev/null 2>&1

report devcfg
