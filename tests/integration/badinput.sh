#!/bin/bash
# Bad input must give a clear message and a nonzero exit, never a crash or
# a hang: malformed programs, runaway guests and bad command-line values.
set -u
VMON=${VMON:-build/vmon}
RISCV_CC=${RISCV_CC:-riscv64-unknown-elf-gcc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# expect NAME WANT_STATUS(nonzero|N) PATTERN -- vmon args...
expect() {
    local name=$1 want=$2 pat=$3
    shift 4
    timeout 30 "$VMON" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    local ok=1
    if [ "$want" = nonzero ]; then
        { [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ $rc -ne 124 ] || [ "$pat" = TIMEOUT ]; } || ok=0
    else
        [ $rc -eq "$want" ] || ok=0
    fi
    [ $rc -ge 128 ] && ok=0 # killed by a signal: a crash
    if [ "$pat" != TIMEOUT ] && [ -n "$pat" ] && ! grep -qiE "$pat" "$tmp/err"; then ok=0; fi
    if [ $ok = 1 ]; then
        pass=$((pass + 1))
        echo "PASS $name"
    else
        fail=$((fail + 1))
        echo "FAIL $name (exit $rc)"
        sed 's/^/    /' "$tmp/err" | head -5
    fi
}

asm() { # name, assembly text
    printf '%s\n' "$2" >"$tmp/$1.S"
    "$RISCV_CC" -march=rv64gc -mabi=lp64d -nostdlib -nostartfiles -Wl,-N,--no-warn-rwx-segments -Wl,-Ttext=0x80000000 \
        -o "$tmp/$1.elf" "$tmp/$1.S"
}

asm pass '.globl _start
_start: li t0, 0x100000; li t1, 0x5555; sw t1, 0(t0); 1: j 1b'
asm failcode '.globl _start
_start: li t0, 0x100000; li t1, (7 << 16) | 0x3333; sw t1, 0(t0); 1: j 1b'
asm jump0 '.globl _start
_start: li t0, 0x40000000; jr t0'
asm illegal '.globl _start
_start: .word 0xffffffff'
asm spin '.globl _start
_start: j _start'
asm wfi '.globl _start
_start: wfi; j _start'

expect pass-exit-0 0 '' -- run --bios "$tmp/pass.elf"
expect finisher-code 7 'fail, code 7' -- run --bios "$tmp/failcode.elf"
expect unmapped-jump nonzero 'unhandled exception: cause 1' -- run --bios "$tmp/jump0.elf"
expect illegal-no-handler nonzero 'unhandled exception: cause 2' -- run --bios "$tmp/illegal.elf"
expect max-insns nonzero 'instruction limit' -- run --bios "$tmp/spin.elf" --max-insns 100000
expect timeout 124 'timeout after' -- run --bios "$tmp/spin.elf" --timeout 0.5
expect timeout-wfi 124 'timeout after' -- run --bios "$tmp/wfi.elf" --timeout 0.5

# flat binary: the same pass program without ELF headers
riscv64-unknown-elf-objcopy -O binary "$tmp/pass.elf" "$tmp/pass.bin"
expect flat-binary 0 '' -- run --bios "$tmp/pass.bin"

# malformed files
expect missing-file nonzero 'No such file' -- run --bios "$tmp/nonexistent"
: >"$tmp/empty"
expect empty-file nonzero 'empty' -- run --bios "$tmp/empty"
head -c 40 "$tmp/pass.elf" >"$tmp/trunc.elf"
expect truncated-header nonzero 'truncated' -- run --bios "$tmp/trunc.elf"
head -c 180 "$tmp/pass.elf" >"$tmp/trunc2.elf"
expect truncated-phdrs nonzero 'program header|past the end' -- run --bios "$tmp/trunc2.elf"
cp "$tmp/pass.elf" "$tmp/x86.elf"
printf '\x3e\x00' | dd of="$tmp/x86.elf" bs=1 seek=18 conv=notrunc status=none
expect wrong-machine nonzero 'not RISC-V' -- run --bios "$tmp/x86.elf"
cp "$tmp/pass.elf" "$tmp/class32.elf"
printf '\x01' | dd of="$tmp/class32.elf" bs=1 seek=4 conv=notrunc status=none
expect elf32 nonzero '64-bit' -- run --bios "$tmp/class32.elf"
"$RISCV_CC" -march=rv64gc -mabi=lp64d -nostdlib -nostartfiles -Wl,-N,--no-warn-rwx-segments -Wl,-Ttext=0x10000 \
    -o "$tmp/lowaddr.elf" "$tmp/pass.S"
expect outside-ram nonzero 'outside guest RAM' -- run --bios "$tmp/lowaddr.elf"
head -c 300000000 /dev/zero >"$tmp/huge.bin" 2>/dev/null
expect too-large nonzero 'too large|do not fit' -- run --bios "$tmp/huge.bin" --mem 64M
rm -f "$tmp/huge.bin"
expect directory nonzero 'not a regular file' -- run --bios "$tmp"

# Linux boot: kernel, initrd and firmware problems are reported before the
# guest starts (uses the demo guest's kernel when it can be found)
. "$(dirname "$0")/guest.sh"
head -c 20000 /dev/urandom >"$tmp/random.bin"
expect kernel-missing nonzero 'No such file' -- run --kernel "$tmp/nonexistent"
# random bytes are a raw binary to vmon as to QEMU: it crashes at once and
# the crash is reported (no handler), never a hang
expect kernel-garbage nonzero 'unhandled exception' -- run --kernel "$tmp/random.bin"
head -c 60 "$KERNEL" >"$tmp/trunc.Image"
expect kernel-truncated nonzero 'not a kernel|truncated' -- run --kernel "$tmp/trunc.Image"
cp "$KERNEL" "$tmp/fat.Image"
printf '\x00\x00\x00\x10\x00\x00\x00\x00' | dd of="$tmp/fat.Image" bs=1 seek=16 conv=notrunc status=none
expect kernel-too-large nonzero 'does not fit' -- run --kernel "$tmp/fat.Image" --mem 64M
cp "$KERNEL" "$tmp/off.Image"
printf '\x00\x00\x00\x00\x00\x00\x00\x40' | dd of="$tmp/off.Image" bs=1 seek=8 conv=notrunc status=none
expect kernel-bad-offset nonzero 'text_offset' -- run --kernel "$tmp/off.Image"
head -c 40000000 /dev/zero >"$tmp/big.initrd"
expect initrd-too-large nonzero 'does not fit|too large' -- run --kernel "$KERNEL" --initrd "$tmp/big.initrd" --mem 32M
rm -f "$tmp/big.initrd"
expect initrd-missing nonzero 'No such file' -- run --kernel "$KERNEL" --initrd "$tmp/nonexistent"
expect initrd-directory nonzero 'not a regular file' -- run --kernel "$KERNEL" --initrd "$tmp"
expect firmware-missing nonzero 'No such file' -- run --bios "$tmp/nonexistent" --kernel "$KERNEL"

# command line
expect no-args nonzero 'usage' --
expect bad-command nonzero 'unknown command' -- frobnicate
expect bad-option nonzero 'unknown option' -- run --frob
expect no-program nonzero 'nothing to run' -- run
expect bad-mem nonzero 'invalid --mem' -- run --bios "$tmp/pass.elf" --mem lots
expect bad-mem-suffix nonzero 'invalid --mem' -- run --bios "$tmp/pass.elf" --mem 12Q
expect mem-too-small nonzero 'invalid --mem' -- run --bios "$tmp/pass.elf" --mem 1K
expect bad-cpus nonzero 'invalid --cpus' -- run --bios "$tmp/pass.elf" --cpus 0
expect many-cpus nonzero 'invalid --cpus' -- run --bios "$tmp/pass.elf" --cpus 99
expect bad-insns nonzero 'invalid --max-insns' -- run --bios "$tmp/pass.elf" --max-insns -5
expect bad-timeout nonzero 'invalid --timeout' -- run --bios "$tmp/pass.elf" --timeout soon
expect missing-value nonzero 'needs a value' -- run --bios

echo "badinput: $pass passed, $fail failed"
[ $fail -eq 0 ]
