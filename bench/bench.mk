# Benchmarks (see bench/README.md). Included by the top-level Makefile.
BENCH_BUILD := $(if $(BUILD),$(BUILD),build)/bench
BENCH_SCALE ?= 16
BENCH_CFLAGS := -march=rv64gc -mabi=lp64d -mcmodel=medany -nostdlib -ffreestanding \
	-fno-math-errno -fno-builtin-printf -O2 -g -Wall -Wextra -DSCALE=$(BENCH_SCALE)

$(BENCH_BUILD)/cpu.elf: bench/cpu.c bench/start.S bench/link.ld bench/bench.mk
	@mkdir -p $(dir $@)
	$(RISCV_CC) $(BENCH_CFLAGS) -T bench/link.ld -Wl,--build-id=none -o $@ bench/start.S bench/cpu.c -lgcc

$(BENCH_BUILD)/cpu.elf: bench/kernels.h

# The same kernels built for the host (scalar, as the guest's): the ceiling.
$(BENCH_BUILD)/native: bench/native.c bench/kernels.h bench/bench.mk
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -fno-tree-vectorize -fno-math-errno -Wall -Wextra -DSCALE=$(BENCH_SCALE) \
		-o $@ bench/native.c -lm

bench-cpu: $(VMON) $(BENCH_BUILD)/cpu.elf $(BENCH_BUILD)/native
	bench/cpu.sh $(VMON) $(BENCH_BUILD)/cpu.elf $(BENCH_BUILD)/native

bench: bench-cpu

.PHONY: bench bench-cpu

# Boot time and memory: the demo guest on vmon and QEMU (see bench/boot.py).
bench-boot: $(VMON)
	bash -c '. tests/integration/guest.sh && bench/boot.py $(VMON) "$$KERNEL" "$$INITRD"'

bench: bench-boot
.PHONY: bench-boot

# Network: TCP throughput through user networking, both directions, vmon and
# QEMU (see bench/net.sh; BENCH_NET_MB sets the transfer size).
bench-net: $(VMON)
	bash -c '. tests/integration/guest.sh && bench/net.sh $(VMON) "$$KERNEL" "$$INITRD"'

bench: bench-net
.PHONY: bench-net

# Block: sequential virtio-blk read/write MB/s with dd (O_DIRECT) in the
# guest, raw and qcow2, vmon and QEMU (see bench/blk.sh; BENCH_BLK_MB sets
# the size).
bench-blk: $(VMON)
	bash -c '. tests/integration/guest.sh && bench/blk.sh $(VMON) "$$KERNEL" "$$INITRD"'

bench: bench-blk
.PHONY: bench-blk

# SMP under load: many short processes on 4 and 8 vCPUs (see bench/smp.sh).
bench-smp: $(VMON)
	bash -c '. tests/integration/guest.sh && bench/smp.sh $(VMON) "$$KERNEL" "$$INITRD"'

bench: bench-smp
.PHONY: bench-smp

# A CPU-bound program in the demo guest, vmon against QEMU (see bench/guestcpu.sh).
$(BENCH_BUILD)/guestcpu: bench/guest_cpu.c
	@mkdir -p $(dir $@)
	riscv64-linux-gnu-gcc -O2 -static -o $@ $<

bench-guestcpu: $(VMON) $(BENCH_BUILD)/guestcpu
	bash -c '. tests/integration/guest.sh && bench/guestcpu.sh $(VMON) "$$KERNEL" "$$INITRD" $(BENCH_BUILD)/guestcpu'

bench: bench-guestcpu
.PHONY: bench-guestcpu

# Snapshots: save time, size and restore latency of the running demo guest,
# vmon against QEMU's migration to a file (see bench/snapshot.py).
bench-snapshot: $(VMON)
	bash -c '. tests/integration/guest.sh && bench/snapshot.py $(VMON) "$$KERNEL" "$$INITRD"'

bench: bench-snapshot
.PHONY: bench-snapshot

# Live migration: total time and downtime of the demo guest, idle and busy,
# vmon against QEMU (see bench/migrate.py).
bench-migrate: $(VMON)
	bash -c '. tests/integration/guest.sh && bench/migrate.py $(VMON) "$$KERNEL" "$$INITRD"'

bench: bench-migrate
.PHONY: bench-migrate

# Clone density: 10 VMs restored from one snapshot at once, memory per VM,
# vmon against QEMU (see bench/clones.py).
bench-clones: $(VMON)
	bash -c '. tests/integration/guest.sh && bench/clones.py $(VMON) "$$KERNEL" "$$INITRD"'

bench: bench-clones
.PHONY: bench-clones

# Page sharing between VMs: 10 demo VMs under one service with share_pages
# and without, memory per VM against QEMU (see bench/sharing.py).
bench-sharing: $(VMON)
	bash -c '. tests/integration/guest.sh && bench/sharing.py $(VMON) "$$KERNEL" "$$INITRD"'

bench: bench-sharing
.PHONY: bench-sharing

# The host service: create->init latency, API latency, idle density and the
# scheduler's fairness and cap errors (see bench/service.py).
bench-service: $(VMON)
	bash -c '. tests/integration/guest.sh && bench/service.py $(VMON) "$$KERNEL" "$$INITRD"'

bench: bench-service
.PHONY: bench-service
