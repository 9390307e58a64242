#!/bin/bash
# The gdb stub driven by gdb-multiarch in batch mode, as a developer uses it:
# a bare-metal program started halted (-S): breakpoints on symbols,
# backtrace, variables, a watchpoint, registers (GPR, FPR, CSR, priv),
# writing a register and memory (which changes the program's result),
# hardware breakpoints, stepping, detach leaving the guest running; the
# Linux guest: a breakpoint at a kernel function (address from kallsyms),
# code read through the kernel's page tables, several harts as threads; and
# a raw-protocol client sending garbage (gdb_rsp.py).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
LOG=$tmp/gdb.out
LOG_LINES=12
VMON=${VMON:-build/vmon}
BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/integration/guest.sh" # KERNEL, INITRD
has() { # name, pattern
    if grep -qE -- "$2" "$tmp/gdb.out"; then ok "$1"; else bad "$1 (no /$2/)"; fi
}
GDB=$(command -v gdb-multiarch || true)
PROG=$BUILD/isa/gdbtarget.elf
port=$((20000 + $$ % 20000))

start_vmon() { # vmon args...
    port=$((port + 1))
    "$VMON" run --gdb "tcp:127.0.0.1:$port" --timeout 120 "$@" </dev/null >"$tmp/vmon.out" 2>&1 &
    vpid=$!
    for _ in $(seq 50); do
        grep -q "gdb stub on" "$tmp/vmon.out" && return 0
        sleep 0.1
    done
}
finish_vmon() { # name, want status
    local rc
    for _ in $(seq 300); do kill -0 $vpid 2>/dev/null || break; sleep 0.1; done
    wait $vpid
    rc=$?
    if [ $rc -eq "$2" ]; then ok "$1"; else
        fail=$((fail + 1))
        echo "FAIL $1: vmon exit status $rc, want $2"
        tail -5 "$tmp/vmon.out" | sed 's/^/    /'
    fi
}
run_gdb() { # script, [elf]
    timeout 60 "$GDB" -nx -batch -ex "set pagination off" -ex "set confirm off" \
        -ex "target remote 127.0.0.1:$port" -x "$1" ${2:+"$2"} >"$tmp/gdb.out" 2>&1
}

if [ -z "$GDB" ]; then
    bad "gdb-multiarch not installed"
    echo "gdb: $pass passed, $fail failed"
    exit 1
fi

# 1. Bare metal, started halted.
cat >"$tmp/a.gdb" <<'G'
info threads
break bump
continue
print i
bt
continue
print i
print counter
delete
watch watched
continue
print watched
info registers pc
p/x $mstatus
p $priv
p/x $misa
stepi
info registers pc
delete
hbreak main
info registers ft0
print ratio
detach
G
start_vmon --bios "$PROG" -S
if grep -q "waits for the debugger" "$tmp/vmon.out"; then ok "-S: the VM waits"; else bad "-S"; fi
run_gdb "$tmp/a.gdb" "$PROG"
has "halted at the reset vector" "0x0+1000 in"
has "every hart is a thread" "Thread 1 \(hart 0, M-mode\)"
has "breakpoint on a symbol" "Breakpoint 1, bump \(i=i@entry=1\)"
has "backtrace through the caller" "#1 .* in main \(\) at tests/isa/gdbtarget.c"
has "continue to the next hit" "Breakpoint 1, bump \(i=i@entry=2\)"
has "watchpoint: old and new value" "Old value = 0"
has "watchpoint: new value 42" "New value = 42"
has "CSR read (misa RV64 ACDFIMSU)" "0x800000000014112d"
has "privilege register" "^\\\$[0-9]+ = 3$"
has "FP register (ft0) read" "ft0 "
# The pc after the watchpoint, then after one stepi: the next instruction
# executed (2 or 4 bytes on, or where a jump or return goes; the program's
# layout decides which), in the program.
pcs=$(grep -oE '^pc +0x[0-9a-f]+' "$tmp/gdb.out" | awk '{print $2}' | head -2 | tr '\n' ' ')
set -- $pcs
if [ $# = 2 ] && [ "$1" != "$2" ] && [ $(($2)) -ge $((0x80000000)) ] && [ $(($2)) -lt $((0x80100000)) ]; then
    ok "stepi moves the pc to the next instruction ($1 -> $2)"
else
    bad "stepi moves the pc (pcs: $pcs)"
fi
has "detach" "Detaching|detached"
finish_vmon "detach leaves the guest running to its end (status 0)" 0

# 2. Writing registers and memory changes what the program computes.
cat >"$tmp/b.gdb" <<'G'
break bump
continue
set $a0 = 100
delete
hbreak finish_line
continue
print counter
set var counter = 7
print counter
maint packet Qqemu.PhyMemMode:1
x/gx &counter
maint packet Qqemu.PhyMemMode:0
continue
G
start_vmon --bios "$PROG" -S
run_gdb "$tmp/b.gdb" "$PROG"
has "register write took effect (counter 100 + 2..10 = 154)" "= 154"
has "memory write" "= 7$"
has "physical memory read" ":\s+0x0+7$"
has "hardware breakpoint" "Hardware assisted breakpoint|hit Breakpoint|Breakpoint [0-9], finish_line"
# the program's own checks now fail: exit status 1 (the first failed check)
finish_vmon "the guest saw the debugger's writes (its check fails: status 1)" 1

# 3. Linux: the demo guest ships no vmlinux, so a symbol file is made from
# its /proc/kallsyms and the Image (scripts/kallsyms2elf.py; no KASLR on
# RISC-V 6.1): break at a kernel function by name, backtrace.
"$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 60 \
    --append "console=ttyS0 guest.run=cat+/proc/kallsyms" </dev/null >"$tmp/ks" 2>&1
addr=$(tr -d '\r' <"$tmp/ks" | grep -oE '^ffffffff[0-9a-f]{8} t do_sys_openat2$' | cut -d' ' -f1)
if [ -z "$addr" ] || ! python3 "$here/scripts/kallsyms2elf.py" "$tmp/ks" "$KERNEL" "$tmp/vmlinux.sym" >"$tmp/gdb.out" 2>&1; then
    bad "kallsyms: no symbol file for the kernel"
else
    want=$(od -A n -t x1 -j $((0x$addr - 0xffffffff80000000)) -N 4 "$KERNEL" | tr -s ' ' | sed 's/^ //; s/ /\\s+0x/g')
    cat >"$tmp/c.gdb" <<G
break do_sys_openat2
continue
p \$priv
p/x \$satp
x/4xb 0x$addr
info threads
bt 2
delete
detach
G
    start_vmon --kernel "$KERNEL" --initrd "$INITRD" --cpus 2 \
        --append "console=ttyS0 guest.run=sleep+2"
    run_gdb "$tmp/c.gdb" "$tmp/vmlinux.sym"
    has "Linux: breakpoint on the kernel function do_sys_openat2 hit" "hit Breakpoint 1, 0x[0-9a-f]+ in do_sys_openat2 \(\)"
    has "Linux: stopped in S-mode" "^\\\$1 = 1$"
    has "Linux: paging is on (satp mode Sv39/48/57)" "= 0x[89a][0-9a-f]{15}$"
    has "Linux: kernel code read through the page tables matches the Image" "0x$want"
    has "Linux: backtrace names the caller" "#1 +0x[0-9a-f]+ in (__x64_)?sys_openat|#1 .* in [a-z_]*openat"
    has "Linux: both harts are threads" "Thread 2 "
    finish_vmon "Linux: detached guest runs on and powers off" 0
fi

# 4. A raw client that misbehaves.
start_vmon --kernel "$KERNEL" --initrd "$INITRD" --append "console=ttyS0 guest.run=sleep+8"
python3 "$here/tests/integration/gdb_rsp.py" 127.0.0.1 "$port" >"$tmp/gdb.out" 2>&1
r=$(grep -E "^gdb_rsp: " "$tmp/gdb.out")
grep -E "^(PASS|FAIL)" "$tmp/gdb.out"
pass=$((pass + $(echo "$r" | sed -E 's/.* ([0-9]+) passed.*/\1/')))
fail=$((fail + $(echo "$r" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
finish_vmon "after the misbehaving client the guest powers off normally" 0

# 5. A unix socket, through socat as gdb's pipe.
"$VMON" run --gdb "unix:$tmp/gdb.sock" -S --timeout 60 --bios "$PROG" </dev/null >"$tmp/vmon.out" 2>&1 &
vpid=$!
for _ in $(seq 50); do [ -S "$tmp/gdb.sock" ] && break; sleep 0.1; done
timeout 60 "$GDB" -nx -batch -ex "set pagination off" \
    -ex "target remote | socat STDIO UNIX-CONNECT:$tmp/gdb.sock" -ex "break finish_line" \
    -ex "continue" -ex "print counter" -ex "detach" "$PROG" >"$tmp/gdb.out" 2>&1
has "unix socket: breakpoint and variable" "= 55$"
finish_vmon "unix socket: detached program finishes" 0
[ -e "$tmp/gdb.sock" ] && bad "unix socket left behind" || ok "unix socket removed at exit"

# Bad --gdb specs are usage-time errors.
for spec in "tcp:" "udp::1234" "unix:" "tcp:no.such.host.invalid:1"; do
    "$VMON" run --bios "$PROG" --gdb "$spec" </dev/null >"$tmp/gdb.out" 2>&1
    rc=$?
    if [ $rc -eq 1 ] && grep -q -- "--gdb" "$tmp/gdb.out"; then ok "--gdb '$spec' refused"; else bad "--gdb '$spec': status $rc"; fi
done
"$VMON" run --bios "$PROG" --paused </dev/null >"$tmp/gdb.out" 2>&1
[ $? -eq 2 ] && ok "--paused without --gdb is a usage error" || bad "--paused without --gdb"

report gdb
