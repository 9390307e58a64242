#!/bin/bash
# Live migration between two vmon processes on this machine: a guest in the
# middle of work (a counter on the console and on a shared disk) moves over
# a unix socket and over TCP, the source ends once the target runs, and the
# counter and the disk go on without a gap; a target that refuses the VM,
# or no target at all, leaves it running on the source; malformed streams
# are refused by the target with a message.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VMON=${VMON:-build/vmon}
. "$(dirname "$0")/guest.sh" # KERNEL, INITRD

counts() { tr -d '\r' <"$1" | grep -a '^count ' | cut -d' ' -f2; }
disk_value() { head -c 16 "$1" | tr -d '\0' | head -1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
counter='i=0;while+true;do+i=$((i-~0));echo+count+$i;echo+$i>/dev/vda;sync;sleep+0.2;done'

start_source() { # name, extra args...
    local n=$1
    shift
    "$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --disk "$tmp/$n.raw" --control "$tmp/$n.ctl" \
        --console "$tmp/$n.src" --timeout 120 --append "console=ttyS0 quiet guest.run=$counter" "$@" \
        </dev/null >"$tmp/$n.srcerr" 2>&1 &
    spid=$!
    wait_in "$tmp/$n.src" "^count 5" 60
}

# migrate NAME ADDR TARGET-ARGS...: a target on ADDR, the source's migrate
migrate() {
    local n=$1 addr=$2
    shift 2
    "$VMON" run --incoming "$addr" --console "$tmp/$n.dst" --timeout 5 "$@" \
        </dev/null >"$tmp/$n.dsterr" 2>&1 &
    dpid=$!
    wait_in "$tmp/$n.dsterr" "waiting for a migration" 10
    [ "${addr#unix:}" != "$addr" ] && for _ in $(seq 50); do [ -S "${addr#unix:}" ] && break; sleep 0.1; done
    reply=$(vmon_ctl "$tmp/$n.ctl" "migrate $addr")
}

check_moved() { # name, what
    local n=$1 what=$2
    wait $spid
    local src_rc=$?
    wait $dpid
    local last first dl
    last=$(counts "$tmp/$n.src" | tail -1)
    first=$(counts "$tmp/$n.dst" | head -1)
    dl=$(counts "$tmp/$n.dst" | tail -1)
    LOG=$tmp/$n.dsterr
    echo "$reply" | grep -q "^ok migrated to .*downtime [0-9.]* ms" && [ $src_rc = 0 ] &&
        grep -q "migrated to" "$tmp/$n.srcerr" &&
        ok "$what: the source handed over and ended (${reply#ok })" ||
        bad "$what: reply '$reply', source status $src_rc"
    [ -n "$last" ] && [ "${first:-0}" = $((last + 1)) ] && [ "${dl:-0}" -ge $((last + 10)) ] &&
        ok "$what: the counter goes on on the target ($last, then $first .. $dl)" ||
        bad "$what: source ended at ${last:-none}, target ${first:-none} .. ${dl:-none}"
    local d
    d=$(disk_value "$tmp/$n.raw")
    [ "${d:-0}" -ge $((dl - 1)) ] && ok "$what: the target writes the shared disk ($d)" ||
        bad "$what: disk holds '$d', target at $dl"
}

# ---- over a unix socket ----
truncate -s 4M "$tmp/a.raw"
LOG=$tmp/a.srcerr
if start_source a; then
    migrate a "unix:$tmp/a.sock"
    check_moved a "unix socket"
else
    bad "the source guest did not start"
    kill -9 $spid 2>/dev/null
fi

# ---- over TCP, 2 vCPUs ----
truncate -s 4M "$tmp/b.raw"
LOG=$tmp/b.srcerr
if start_source b --cpus 2 --net user --rng --vconsole "$tmp/b.hvc"; then
    migrate b "tcp:127.0.0.1:$(free_port)"
    check_moved b "tcp, 2 vCPUs, net, rng, vconsole"
else
    bad "the 2-vCPU source guest did not start"
    kill -9 $spid 2>/dev/null
fi

# ---- refusals: the VM stays on the source ----
truncate -s 4M "$tmp/c.raw"
LOG=$tmp/c.srcerr
if start_source c; then
    migrate c "unix:$tmp/c.sock" --rng # a target with a device the VM lacks
    wait $dpid
    rc=$?
    LOG=$tmp/c.dsterr
    echo "$reply" | grep -q "^error the target refused the VM: .*device type" && [ $rc != 0 ] &&
        ok "a target that cannot load the VM refuses it: $reply" || bad "refusal: '$reply', target $rc"
    reply=$(vmon_ctl "$tmp/c.ctl" "migrate unix:$tmp/nobody.sock")
    echo "$reply" | grep -q "^error cannot connect to unix:$tmp/nobody.sock" &&
        ok "no target: $reply" || bad "no target: '$reply'"
    n1=$(counts "$tmp/c.src" | tail -1)
    sleep 2
    n2=$(counts "$tmp/c.src" | tail -1)
    d=$(disk_value "$tmp/c.raw")
    LOG=$tmp/c.src
    [ "${n2:-0}" -ge $((n1 + 5)) ] && [ "${d:-0}" -ge $((n2 - 1)) ] &&
        ok "after both failures the VM runs on the source and writes its disk ($n1 -> $n2, disk $d)" ||
        bad "source after failures: $n1 -> $n2, disk $d"
fi
kill -9 $spid 2>/dev/null
wait $spid 2>/dev/null

# ---- malformed streams ----
hostile() { # what, expected message, python bytes expression
    local addr=$tmp/h.sock
    rm -f "$addr"
    "$VMON" run --incoming "unix:$addr" --console none </dev/null >"$tmp/h.err" 2>&1 &
    local p=$!
    for _ in $(seq 50); do [ -S "$addr" ] && break; sleep 0.1; done
    python3 - "$addr" "$3" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(eval(sys.argv[2]))
s.shutdown(socket.SHUT_WR)
try:
    s.recv(300)
except OSError:
    pass
PY
    wait $p
    local rc=$?
    LOG=$tmp/h.err
    [ $rc != 0 ] && [ $rc -lt 128 ] && grep -q "$2" "$tmp/h.err" &&
        ok "$1: refused ($(tail -1 "$tmp/h.err"))" || bad "$1: status $rc"
}
hostile "garbage" "not a vmon migration stream" 'b"hello, this is not vmon at all, sorry" * 2'
hostile "other version" "stream version 7" 'b"VMONMIGR" + struct.pack("<IQIQ", 7, 256 << 20, 1, 10)'
hostile "huge machine record" "machine record of" 'b"VMONMIGR" + struct.pack("<IQIQ", 1, 256 << 20, 1, 1 << 40)'
hostile "cut in the machine record" "ends in the machine record" 'b"VMONMIGR" + struct.pack("<IQIQ", 1, 256 << 20, 1, 100) + b"xx"'
hostile "corrupt machine record" "corrupt\|overruns" 'b"VMONMIGR" + struct.pack("<IQIQ", 1, 256 << 20, 1, 16) + b"\xff" * 16'

report migrate
