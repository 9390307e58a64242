#!/bin/bash
# Live migration between two vmon processes on this machine: a guest in the
# middle of work (a counter on the console and on a shared disk) moves over
# a unix socket and over TCP, the source ends once the target runs, and the
# counter and the disk go on without a gap; a target that refuses the VM,
# or no target at all, leaves it running on the source; malformed streams
# are refused by the target with a message. With copy-disks the disk goes
# along to a target image of another format and size, and one that is the
# source's own file is refused.
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

# ---- copying the disk: a target with its own (qcow2, smaller) image ----
sums() { tr -d '\r' <"$1" | grep -a '^sum ' | cut -d' ' -f3; }
writer='dd+if=/dev/urandom+of=/dev/vda+bs=1M+count=8+conv=fsync+2>/dev/null;for+i+in+$(seq+60);do+dd+if=/dev/urandom+of=/dev/vda+bs=4k+count=1+seek=$((i*37%2048))+conv=fsync+2>/dev/null;echo+sum+$i+$(dd+if=/dev/vda+bs=1M+count=8+2>/dev/null|md5sum|cut+-c1-12);done;poweroff+-f'
truncate -s 16M "$tmp/d.raw"
"$VMON" img create -f qcow2 "$tmp/e.qcow2" 8M >/dev/null
LOG=$tmp/d.srcerr
"$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --disk "$tmp/d.raw" --control "$tmp/d.ctl" \
    --console "$tmp/d.src" --timeout 120 --append "console=ttyS0 quiet guest.run=$writer" \
    </dev/null >"$tmp/d.srcerr" 2>&1 &
spid=$!
if wait_in "$tmp/d.src" "^sum 3 " 60; then
    "$VMON" run --incoming "unix:$tmp/d.sock" --disk "$tmp/d.raw" --console none --timeout 30 \
        </dev/null >"$tmp/dx.err" 2>&1 &
    dpid=$!
    for _ in $(seq 50); do [ -S "$tmp/d.sock" ] && break; sleep 0.1; done
    r=$(vmon_ctl "$tmp/d.ctl" "migrate unix:$tmp/d.sock copy-disks")
    wait $dpid
    echo "$r" | grep -q "^error the target refused the VM: disk 0: .*lock" &&
        ok "a copy onto the disk the source uses is refused: $r" || bad "copy onto the source's disk: '$r'"
    "$VMON" run --incoming "unix:$tmp/d.sock" --disk "$tmp/e.qcow2,format=qcow2" \
        --console "$tmp/d.dst" --timeout 120 </dev/null >"$tmp/d.dsterr" 2>&1 &
    dpid=$!
    for _ in $(seq 50); do [ -S "$tmp/d.sock" ] && break; sleep 0.1; done
    r=$(vmon_ctl "$tmp/d.ctl" "migrate unix:$tmp/d.sock copy-disks")
    wait $spid
    wait $dpid
    drc=$?
    LOG=$tmp/d.dsterr
    echo "$r" | grep -q "^ok migrated" && ok "migrated with its disk copied: ${r#ok }" || bad "copy-disks: '$r'"
    last_src=$(sums "$tmp/d.src" | tail -1)
    last=$(sums "$tmp/d.dst" | tail -1)
    n=$(tr -d '\r' <"$tmp/d.dst" | grep -ac '^sum ')
    "$VMON" img convert -f qcow2 -O raw "$tmp/e.qcow2" "$tmp/e.raw" >/dev/null 2>&1
    got=$(head -c 8M "$tmp/e.raw" | md5sum | cut -c1-12)
    [ "$drc" = 0 ] && [ "$n" -gt 5 ] && [ -n "$last" ] && [ "$got" = "$last" ] &&
        ok "the guest went on writing the copy ($n checksums there after $last_src here) and the qcow2 image holds what it last read ($got)" ||
        bad "copy: target status $drc, $n sums, guest read '$last', image holds '$got'"
    size=$("$VMON" img info -f qcow2 --output=json "$tmp/e.qcow2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])' 2>/dev/null)
    [ "$size" = $((16 << 20)) ] && ok "the smaller target image grew to the source's 16 MiB" ||
        bad "target image size '$size'"
else
    bad "the disk-writing source did not start"
    kill -9 $spid 2>/dev/null
fi

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
