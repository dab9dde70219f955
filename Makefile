# SPDX-License-Identifier: GPL-2.0-or-later
#
# Layout: lib/ is shared by every binary; each binary directory holds a
# main.c plus modules of its own. Unit tests (tests/unit/test_*.c, cmocka)
# link everything except the main.c files, built with ASan+UBSan.

CC       ?= cc
CFLAGS   ?= -O2 -g
PKGS     := libcurl jansson libmnl libnftnl libsodium libmicrohttpd yaml-0.1
DEPCFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEPLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -Ilib $(DEPCFLAGS) $(CFLAGS) -MMD -MP
LDFLAGS  ?=
ALL_LDFLAGS = -Wl,--as-needed $(LDFLAGS)
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# A binary is built once its directory has a main.c.
BINS     := $(if $(wildcard cni-plugin/main.c),bin/skein) \
            $(if $(wildcard cni-launcher/main.c),bin/skein-launcher) \
            $(if $(wildcard node-agent/main.c),bin/skein-agent) \
            $(if $(wildcard skeinctl/main.c),bin/skeinctl)
LIB_SRC  := $(wildcard lib/*.c)
CNI_SRC  := $(wildcard cni-plugin/*.c)
LAUNCHER_SRC := $(wildcard cni-launcher/*.c)
AGENT_SRC := $(wildcard node-agent/*.c)
CTL_SRC  := $(wildcard skeinctl/*.c)
TEST_SRC := $(wildcard tests/unit/test_*.c)
NONMAIN_SRC := $(LIB_SRC) $(filter-out %/main.c,$(CNI_SRC) $(AGENT_SRC) $(CTL_SRC))

obj      = $(patsubst %.c,build/obj/%.o,$(1))
sanobj   = $(patsubst %.c,build/san/%.o,$(1))

VERSION  := $(shell sed -n 's/^\#define SKEIN_VERSION "\(.*\)"$$/\1/p' lib/version.h)
# The plugin as the host gets it (docs/cni.md#on-the-host): the launcher
# and the versioned bundle, which skein-agent --install-cni copies.
CNI_STAGE := build/cni

.PHONY: all test check unit bench demo fuzz fuzz-build soak clean install-deps image
all: $(BINS) $(if $(LAUNCHER_SRC),$(CNI_STAGE)/skein)

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

build/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -c $< -o $@

build/libskein.a: $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

build/libskein-san.a: $(call sanobj,$(NONMAIN_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

bin/skein: $(call obj,$(CNI_SRC)) build/libskein.a
	@mkdir -p bin
	$(CC) $(CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(DEPLIBS)

# The launcher is static (libc.a, from libc6-dev) so that it needs nothing
# from the host; it is told the bundled loader's name at build time.
build/gen/cni_loader.h: bin/skein hack/cni-bundle.sh
	@mkdir -p $(dir $@)
	hack/cni-bundle.sh loader-header bin/skein $@

$(call obj,$(LAUNCHER_SRC)): build/gen/cni_loader.h
$(call obj,$(LAUNCHER_SRC)): ALL_CFLAGS += -Ibuild/gen

bin/skein-launcher: $(call obj,$(LAUNCHER_SRC)) build/libskein.a
	@mkdir -p bin
	$(CC) $(CFLAGS) $(ALL_LDFLAGS) -static -o $@ $^

$(CNI_STAGE)/skein: bin/skein bin/skein-launcher hack/cni-bundle.sh lib/version.h
	hack/cni-bundle.sh stage bin/skein bin/skein-launcher $(VERSION) $(CNI_STAGE)

bin/skein-agent: $(call obj,$(AGENT_SRC)) build/libskein.a
	@mkdir -p bin
	$(CC) $(CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(DEPLIBS)

bin/skeinctl: $(call obj,$(CTL_SRC)) build/libskein.a
	@mkdir -p bin
	$(CC) $(CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(DEPLIBS)

build/tests/%: tests/unit/%.c build/libskein-san.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -o $@ $< build/libskein-san.a $(DEPLIBS) -lcmocka

UNIT_BINS := $(patsubst tests/unit/%.c,build/tests/%,$(TEST_SRC))
unit: $(UNIT_BINS)

# Small drivers that integration tests run (tests/tools/*.c), and C
# benchmarks (bench/bench_*.c): optimized, linked like the binaries.
TOOL_BINS := $(patsubst tests/tools/%.c,build/tools/%,$(wildcard tests/tools/*.c))
BENCH_BINS := $(patsubst bench/%.c,build/bench/%,$(wildcard bench/bench_*.c))
NONMAIN_OBJ := $(call obj,$(filter-out lib/%,$(NONMAIN_SRC)))

build/tools/%: tests/tools/%.c build/libskein.a $(NONMAIN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(NONMAIN_OBJ) build/libskein.a $(DEPLIBS)

build/bench/%: bench/%.c build/libskein.a $(NONMAIN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(NONMAIN_OBJ) build/libskein.a $(DEPLIBS)

# libFuzzer harnesses (fuzz/fuzz_*.c), built with clang against the same
# sources instrumented for coverage and ASan+UBSan. `make fuzz` runs each
# for FUZZ_SECONDS; tests/integration/test_fuzz_smoke.sh runs each briefly.
FUZZ_CC  ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_BINS := $(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/fuzz_*.c))

build/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(ALL_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -O1 -c $< -o $@

build/libskein-fuzz.a: $(patsubst %.c,build/fuzzobj/%.o,$(NONMAIN_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

build/fuzz/%: fuzz/%.c $(wildcard fuzz/*.h) build/libskein-fuzz.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(ALL_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -O1 -o $@ $< build/libskein-fuzz.a $(DEPLIBS)

fuzz-build: $(FUZZ_BINS)
fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_SECONDS)

# The soak tests at full size (make test runs them smaller; see each script).
soak: all
	SOAK_CNI_CYCLES=10000 tests/run.sh test_soak

# `make test` works on a fresh Debian 12: it installs what is missing first,
# then builds and tests in a new make (pkg-config answers only after the
# install). `make check` skips the install. T=pattern runs only the tests
# whose name contains pattern.
test: install-deps
	$(MAKE) check

check: all unit $(TOOL_BINS)
	tests/run.sh $(T)

# bench/veth_floor.c: the kernel's own veth deletion cost, for bench_cni.sh.
bench: all $(TOOL_BINS) $(BENCH_BINS) build/bench/veth_floor
	bench/run.sh $(B)

demo: 
	hack/install-deps.sh
	$(MAKE) all
	hack/demo.sh

install-deps:
	hack/install-deps.sh

# The container image (podman or buildah), tagged with lib/version.h's version.
# IMAGE_FROM=debian|scratch picks the Containerfile (hack/image.sh says which).
image: all
	hack/image.sh $(IMAGE_FROM)

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' -type f 2>/dev/null)
