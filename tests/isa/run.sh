#!/bin/bash
# Run every ISA test ELF on an emulator.
#   tests/isa/run.sh qemu                 (qemu-system-riscv64 -M virt)
#   tests/isa/run.sh vmon PATH_TO_VMON
# Tests come from $ISA_DIR (default ${BUILD:-build}/isa/*.elf); a list of ELF
# files may follow the emulator arguments to run only those.
# Prints "PASS name" / "FAIL name (exit N)" per test and a final line
# "isa: N passed, M failed"; exits nonzero if any failed.  Each test gets
# $ISA_TIMEOUT seconds (default 20); a timeout counts as a failure.
# ISA_ENGINE=jit|interp picks vmon's engine (default: vmon's default, jit).
set -u
emu=${1:-}
shift || true
vmon=""
if [ "$emu" = vmon ]; then
    vmon=${1:-}
    shift || true
    if [ -z "$vmon" ]; then
        echo "usage: $0 vmon PATH_TO_VMON [ELF...]" >&2
        exit 2
    fi
elif [ "$emu" != qemu ]; then
    echo "usage: $0 qemu|vmon [PATH_TO_VMON] [ELF...]" >&2
    exit 2
fi
dir=${ISA_DIR:-${BUILD:-build}/isa}
tmo=${ISA_TIMEOUT:-20}
verbose=${ISA_VERBOSE:-0}
if [ $# -gt 0 ]; then
    elfs=("$@")
else
    shopt -s nullglob
    elfs=("$dir"/*.elf)
fi
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for elf in "${elfs[@]}"; do
    name=$(basename "$elf" .elf)
    if [ "$emu" = qemu ] && [ "$name" = vmgenid ]; then
        echo "SKIP $name (a vmon device)"
        continue
    fi
    if [ "$name" = pageshare ]; then
        echo "SKIP $name (driven by tests/integration/pageshare.sh)"
        continue
    fi
    if [ "$emu" = qemu ]; then
        timeout -k 2 "$tmo" qemu-system-riscv64 -M virt -m 256M -bios none -nographic \
            -kernel "$elf" </dev/null >"$log" 2>&1
        rc=$?
    else
        timeout -k 2 $((tmo + 5)) "$vmon" run --bios "$elf" --timeout "$tmo" \
            ${ISA_ENGINE:+--engine "$ISA_ENGINE"} ${ISA_JIT_HOT:+--jit-hot "$ISA_JIT_HOT"} \
            </dev/null >"$log" 2>&1
        rc=$?
    fi
    if [ "$rc" -eq 0 ]; then
        pass=$((pass + 1))
        echo "PASS $name"
        [ "$verbose" = 1 ] && tr -d '\r' <"$log"
    else
        fail=$((fail + 1))
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            echo "FAIL $name (exit $rc, timeout)"
        else
            echo "FAIL $name (exit $rc)"
        fi
        tr -d '\r' <"$log" | tail -n 45 | sed 's/^/    /'
    fi
done
echo "isa${ISA_ENGINE:+-$ISA_ENGINE}: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ ${#elfs[@]} -gt 0 ]
