# vmon ISA tests (bare-metal RISC-V programs). Included by the top-level
# Makefile. Each tests/isa/NAME.c or NAME.S (except the runtime files) is one
# test program, built to $(ISA_BUILD)/NAME.elf with the shared runtime.
RISCV_CC ?= riscv64-unknown-elf-gcc
ISA_DIR := tests/isa
ISA_BUILD := $(if $(BUILD),$(BUILD),build)/isa
ISA_RUNTIME := $(ISA_DIR)/crt.S $(ISA_DIR)/lib.c
ISA_SRCS := $(filter-out $(ISA_RUNTIME),$(sort $(wildcard $(ISA_DIR)/*.c $(ISA_DIR)/*.S)))
ISA_NAMES := $(basename $(notdir $(ISA_SRCS)))
ISA_ELFS := $(ISA_NAMES:%=$(ISA_BUILD)/%.elf)
ISA_CFLAGS := -march=rv64gc -mabi=lp64d -mcmodel=medany -nostdlib -ffreestanding \
	-fno-builtin -fno-pic -fno-stack-protector -O2 -g -Wall -Wno-unused-function \
	-I$(ISA_DIR)
ISA_LDFLAGS := -nostdlib -static -T $(ISA_DIR)/link.ld -Wl,--no-relax -Wl,--build-id=none \
	-Wl,--no-warn-rwx-segments
ISA_DEPS := $(ISA_RUNTIME) $(ISA_DIR)/common.h $(ISA_DIR)/link.ld $(wildcard $(ISA_DIR)/*.h)

$(ISA_BUILD)/%.elf: $(ISA_DIR)/%.c $(ISA_DEPS)
	@mkdir -p $(dir $@)
	$(RISCV_CC) $(ISA_CFLAGS) $(ISA_LDFLAGS) -o $@ $(ISA_RUNTIME) $< -lgcc

$(ISA_BUILD)/%.elf: $(ISA_DIR)/%.S $(ISA_DEPS)
	@mkdir -p $(dir $@)
	$(RISCV_CC) $(ISA_CFLAGS) $(ISA_LDFLAGS) -o $@ $(ISA_RUNTIME) $< -lgcc

isa: $(ISA_ELFS)

# Run every ISA test on QEMU (the reference).
isa-qemu: $(ISA_ELFS)
	ISA_DIR=$(ISA_BUILD) $(ISA_DIR)/run.sh qemu

# Run every ISA test on vmon.
isa-vmon: $(ISA_ELFS) $(VMON)
	ISA_DIR=$(ISA_BUILD) $(ISA_DIR)/run.sh vmon $(VMON)

.PHONY: isa isa-qemu isa-vmon
