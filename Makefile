# vmon build. `make` builds build/vmon; `make check` runs every test;
# `make SANITIZE=1 check` does the same under ASan/UBSan (in build/san);
# `make SANITIZE=thread` builds a ThreadSanitizer vmon (in build/tsan).
CC ?= cc
RISCV_CC ?= riscv64-unknown-elf-gcc
SANITIZE ?= 0
WERROR ?= 1

ifeq ($(SANITIZE),1)
BUILD := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(SANITIZE),thread)
BUILD := build/tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
else
BUILD := build
SANFLAGS :=
endif

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wno-unused-parameter \
	-Wshadow -Wstrict-prototypes -Wno-missing-field-initializers -Isrc -pthread $(SANFLAGS)
ifeq ($(WERROR),1)
CFLAGS_BASE += -Werror
endif
CFLAGS ?=
ALL_CFLAGS := $(CFLAGS_BASE) $(CFLAGS)
LDFLAGS_ALL := -pthread $(SANFLAGS) $(LDFLAGS)
# vmon loads capstone itself when --jit-dump asks for it (jit/dump.c), and
# libmicrohttpd when the service starts its API (api/mhd.c); the unit tests
# link capstone.
LIBS := -lfdt -lm -lslirp -lz -llzma -lzstd -ljson-c -lseccomp -ldl
TEST_LIBS := $(LIBS) -lcapstone

SRCS := $(sort $(wildcard src/*/*.c))
OBJS := $(SRCS:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libvmon.a
VMON := $(BUILD)/vmon

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

all: $(VMON)

$(BUILD)/src/cpu/fpu.o: ALL_CFLAGS += -frounding-math
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(VMON): $(BUILD)/src/main.o $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

VMON_VERSION := 0.2.0$(shell git rev-parse --short HEAD 2>/dev/null | sed 's/^/+g/')
$(BUILD)/src/main.o: src/main.c $(wildcard .git/HEAD .git/index)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DVMON_VERSION='"$(VMON_VERSION)"' -MMD -MP -c $< -o $@
# GET /v1/version answers the same.
$(BUILD)/src/api/version.o: src/api/version.c $(wildcard .git/HEAD .git/index)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DVMON_VERSION='"$(VMON_VERSION)"' -MMD -MP -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -frounding-math -o $@ $< $(LIB) $(LDFLAGS_ALL) $(TEST_LIBS)

-include tests/isa/isa.mk
-include bench/bench.mk


unit: $(UNIT_BINS)

check: $(VMON) $(UNIT_BINS) $(ISA_ELFS)
	@VMON=$(VMON) BUILD=$(BUILD) tests/run_all.sh

FORMAT_FILES = $(SRCS) src/main.c $(wildcard src/*/*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c)
format:
	clang-format -i $(FORMAT_FILES)

# Fails when a C file differs from what clang-format (.clang-format) makes of it.
format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

clean:
	rm -rf build

# make install PREFIX=/usr/local (DESTDIR for staging): the binary, the man
# page and the bash completion.
PREFIX ?= /usr/local
install: $(VMON)
	install -D -m 755 $(VMON) $(DESTDIR)$(PREFIX)/bin/vmon
	install -D -m 644 doc/vmon.1 $(DESTDIR)$(PREFIX)/share/man/man1/vmon.1
	install -D -m 644 scripts/vmon.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/vmon

# ThreadSanitizer: a 4-vCPU guest with every virtio device busy (tests/tsan.sh).
tsan-check:
	$(MAKE) SANITIZE=thread all
	VMON=build/tsan/vmon tests/tsan.sh

.PHONY: all check unit clean format format-check tsan-check install
-include $(OBJS:.o=.d) $(BUILD)/src/main.d

# Demo guest: the in-tree prebuilt one (see guest/README.md).
GUEST_DIR := build/guest
guest-image: $(GUEST_DIR)/Image $(GUEST_DIR)/initramfs.cpio.gz
$(GUEST_DIR)/Image: guest/prebuilt/Image.xz
	@mkdir -p $(dir $@)
	xz -dc $< > $@
$(GUEST_DIR)/initramfs.cpio.gz: guest/prebuilt/initramfs.cpio.gz
	@mkdir -p $(dir $@)
	cp $< $@

# Set up, build and boot the demo guest to a shell (Ctrl-A x quits).
demo:
	scripts/setup.sh build
	$(MAKE) all guest-image
	$(VMON) run --kernel $(GUEST_DIR)/Image --initrd $(GUEST_DIR)/initramfs.cpio.gz \
		--mem 256M --cpus 2 --append "console=ttyS0"

.PHONY: guest-image demo

# libFuzzer targets (clang): build/fuzz/fuzz_NAME from tests/fuzz/fuzz_NAME.c,
# linked with every vmon source but main.c. Run one with
# `build/fuzz/fuzz_virtq -max_total_time=60`.
FUZZ_CC ?= clang
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -Isrc -Itests/unit -pthread \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
build/fuzz/%: tests/fuzz/%.c $(SRCS) $(wildcard src/*/*.h) tests/unit/virtio_driver.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(SRCS) $(LIBS)
fuzz: $(FUZZ_BINS)
.PHONY: fuzz
