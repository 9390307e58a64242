#!/bin/bash
# Command-line conventions as a user meets them: help in every form (exit
# 0), --version, --opt=value, sizes as QEMU takes them, "did you mean",
# usage errors exit 2 and runtime errors 1, --pidfile.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VMON=${VMON:-build/vmon}
BUILD=${BUILD:-build}

expect() { # name, want status, grep pattern ('' = any), vmon args...
    local name=$1 want=$2 pat=$3
    shift 3
    timeout 60 "$VMON" "$@" </dev/null >"$tmp/out" 2>&1
    local rc=$?
    if [ $rc -ne "$want" ]; then
        bad "$name: exit status $rc, want $want"
    elif [ -n "$pat" ] && ! grep -qE -- "$pat" "$tmp/out"; then
        bad "$name: output lacks /$pat/"
    else
        ok "$name"
    fi
}

for form in "--help" "-h" "help"; do
    expect "vmon $form" 0 "usage: vmon COMMAND" $form
done
expect "vmon help run" 0 "--kernel FILE" help run
expect "vmon run --help" 0 "--kernel FILE" run --help
expect "vmon run -h" 0 "Exit status" run -h
expect "vmon img --help" 0 "vmon img create" img --help
expect "vmon img create -h" 0 "vmon img create" img create -h
expect "vmon img info --help" 0 "vmon img info" img info --help
expect "vmon --version" 0 "^vmon [0-9]+\.[0-9]+" --version
expect "no command: usage, status 2" 2 "usage: vmon" 
expect "misspelt command" 2 "did you mean 'run'" rnu
expect "misspelt img command" 2 "did you mean 'info'" img ifno
expect "misspelt option" 2 "did you mean '--kernel'" run --kernal x
expect "misspelt option=value" 2 "did you mean '--cpus'" run --cpu=2 --bios x
expect "unknown option, no near name" 2 "see vmon run --help" run --frobnicate
expect "missing value" 2 "needs a value" run --kernel
expect "flag given a value" 2 "takes no value" run --stats=yes --bios x
expect "bad size" 2 "invalid --mem" run --mem 12Q --bios x
expect "stray argument" 2 "unexpected argument" run --bios x extra
expect "nothing to run" 2 "nothing to run" run --cpus 2
expect "missing file is a runtime error" 1 "No such file" run --kernel=/nonexistent/Image

# Options in both forms and QEMU-style sizes reach the machine: the device
# tree says how much memory the guest got.
PROG=$BUILD/isa/rv64i.elf
for spec in "512:0x20000000" "1.5G:0x60000000" "2048M:0x80000000" "64M:0x4000000"; do
    size=${spec%%:*} want=${spec#*:}
    rm -f "$tmp/dtb"
    if "$VMON" run --bios="$PROG" --mem="$size" --dump-dtb="$tmp/dtb" </dev/null >"$tmp/out" 2>&1 &&
        dtc -I dtb -O dts "$tmp/dtb" 2>/dev/null | grep -A3 "memory@80000000" |
        grep -q "0x80000000 0x00 $want>"; then
        ok "--mem=$size gives the guest $want bytes"
    else
        bad "--mem=$size: memory node wrong"
        dtc -I dtb -O dts "$tmp/dtb" 2>/dev/null | grep -A3 memory@ | head -4
    fi
done

# --pidfile holds vmon's pid while it runs and is removed at exit.
"$VMON" run --bios "$PROG" --pidfile "$tmp/pid" --name pidtest </dev/null >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ ! -e "$tmp/pid" ]; then
    ok "--pidfile removed after a clean exit"
else
    bad "--pidfile: status $rc, file left: $(ls "$tmp")"
fi
. "$(dirname "$0")/guest.sh" # KERNEL, INITRD
"$VMON" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 4 --pidfile "$tmp/pid2" \
    --console none </dev/null >/dev/null 2>&1 &
vpid=$!
for _ in $(seq 50); do [ -s "$tmp/pid2" ] && break; sleep 0.1; done
if [ "$(cat "$tmp/pid2" 2>/dev/null)" = "$vpid" ]; then
    ok "--pidfile holds vmon's pid while it runs"
else
    bad "--pidfile has '$(cat "$tmp/pid2" 2>/dev/null)', want $vpid"
fi
wait $vpid
"$VMON" run --bios /dev/null --pidfile /nonexistent/dir/pid </dev/null >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q -- "--pidfile" "$tmp/out"; then
    ok "unwritable --pidfile is a runtime error naming the option"
else
    bad "unwritable --pidfile: status $rc"
fi

report cli
