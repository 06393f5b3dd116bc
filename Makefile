# kheaders: build, test and install. `make help` lists the targets.

VERSION := 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := liblzma libarchive libcrypto libxxhash zlib liblz4 libzstd lzo2
# The decompressors of extract/kh_decomp.c, loaded when an image needs
# them (lib/kh_dl.h); tests link them to compress. libbz2 has no .pc
# file on Debian 12 (libbz2-dev ships only the header and libbz2.so).
KH_PAYLOAD_LIBS := $(shell $(PKG_CONFIG) --libs zlib liblz4 libzstd lzo2 2>/dev/null) -lbz2

# libarchive and libcrypto are dlopen'ed when first needed (lib/kh_dl.h:
# a no-op `gen` needs neither, and loading them cost it ~4 ms), by the
# SONAME of the very library pkg-config names. The binary links only
# what every run uses; tests may link the rest directly.
kh_soname = $(shell objdump -p "$$($(PKG_CONFIG) --variable=libdir $(1))/$(2).so" \
	2>/dev/null | sed -n 's/^ *SONAME *//p')
# The decompressors: the library the linker would take (libbz2 has no
# .pc file, and libzstd's names another libdir on Debian 12).
kh_cc_soname = $(shell objdump -p "$$($(CC) -print-file-name=$(1).so)" \
	2>/dev/null | sed -n 's/^ *SONAME *//p')
KH_DL_DEFS := -DKH_DL_ARCHIVE_SONAME='"$(call kh_soname,libarchive,libarchive)"' \
	-DKH_DL_CRYPTO_SONAME='"$(call kh_soname,libcrypto,libcrypto)"' \
	-DKH_DL_ZLIB_SONAME='"$(call kh_cc_soname,libz)"' \
	-DKH_DL_LZ4_SONAME='"$(call kh_cc_soname,liblz4)"' \
	-DKH_DL_ZSTD_SONAME='"$(call kh_cc_soname,libzstd)"' \
	-DKH_DL_LZO_SONAME='"$(call kh_cc_soname,liblzo2)"' \
	-DKH_DL_BZ2_SONAME='"$(call kh_cc_soname,libbz2)"'

# SAN=1 builds with ASan and UBSan, into its own directory so that
# plain and sanitized objects never mix.
# The sanitized binary is build/san/kheaders: bin/kheaders is always the
# plain one, so that a SAN=1 run never leaves a slow binary to install
# or to be picked up by the next plain `make check`.
# SAN=thread builds with ThreadSanitizer into build/tsan (binary
# build/tsan/kheaders); its `make SAN=thread check` runs only the tests
# that drive threads (tests/run --threaded), since TSan costs 5 to 15
# times the time and the other tests run one thread.
ifeq ($(SAN),1)
BUILD := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
BIN := $(BUILD)/kheaders
else ifeq ($(SAN),thread)
BUILD := build/tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
BIN := $(BUILD)/kheaders
else
BUILD := build/plain
SANFLAGS :=
BIN := bin/kheaders
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wno-format-nonliteral -Wvla
CFLAGS ?= -O2 -g
KH_CFLAGS := -std=c11 -D_GNU_SOURCE -DKH_VERSION='"$(VERSION)"' \
	-I. $(WARN) $(SANFLAGS) $(KH_DL_DEFS) \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
KH_LDLIBS := $(shell $(PKG_CONFIG) --libs liblzma libxxhash 2>/dev/null) \
	-ldl -lpthread
KH_TEST_LDLIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) $(KH_PAYLOAD_LIBS) -ldl -lpthread
KH_LDFLAGS := $(SANFLAGS)

# Library modules: everything but the front end, one folder per layer
# (README, Architecture; tests/t-layers.sh checks the rule). kernel/
# holds the kernel module only, built by Kbuild, not here.
LIB_SRC := $(wildcard lib/*.c gen/*.c manifest/*.c extract/*.c)
CLI_SRC := $(wildcard cli/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_BIN := $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(wildcard tests/tools/kh-*.c))
# LD_PRELOAD shims for fault tests (tests/tools/shim-*.c).
SHIM_SO := $(patsubst tests/tools/shim-%.c,$(BUILD)/tests/shim-%.so,$(wildcard tests/tools/shim-*.c))
# Fuzz targets (tests/fuzz/fuzz_NAME.c): replayed over their corpora by
# `make check` as test_fuzz_NAME, run under libFuzzer by `make fuzz`.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
REPLAY_BIN := $(FUZZ_NAMES:%=$(BUILD)/tests/test_fuzz_%)

.PHONY: all deps deps-test demo check unit golden install uninstall \
	clean help pkgcheck fuzz fuzz-merge deps-fuzz
.DEFAULT_GOAL := all

all: pkgcheck $(BIN)

# Fail early and clearly when a library is missing.
pkgcheck:
	@$(PKG_CONFIG) --exists $(PKGS) || { \
	  echo "kheaders: missing libraries ($(PKGS)); run 'scripts/deps build'" >&2; \
	  exit 1; }

$(BIN): $(LIB_OBJ) $(CLI_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(KH_LDFLAGS) $(LDFLAGS) -o $@ $^ $(KH_LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(KH_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ) tests/unit/kh_test.h
	@mkdir -p $(dir $@)
	$(CC) $(KH_CFLAGS) -Itests/unit $(CFLAGS) $(KH_LDFLAGS) -o $@ $< \
		$(LIB_OBJ) $(KH_TEST_LDLIBS)

# Small test tools (tests/tools/kh-*.c): library pieces behind a CLI.
$(BUILD)/tests/kh-%: tests/tools/kh-%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(KH_CFLAGS) $(CFLAGS) $(KH_LDFLAGS) -o $@ $< $(LIB_OBJ) \
		$(KH_LDLIBS)

# The shims wrap libc calls: no sanitizer runtime of their own.
$(BUILD)/tests/shim-%.so: tests/tools/shim-%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

$(BUILD)/tests/test_fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c \
		tests/fuzz/fuzz.h $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(KH_CFLAGS) -Itests/fuzz $(CFLAGS) \
		-DKH_FUZZ_CORPUS='"tests/fuzz/corpus/$*"' $(KH_LDFLAGS) -o $@ \
		$< tests/fuzz/replay.c $(LIB_OBJ) $(KH_LDLIBS)

# libFuzzer binaries; only built by `make fuzz` (BUILD=build/fuzz, clang).
$(BUILD)/fuzz/fuzz-%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(KH_CFLAGS) -Itests/fuzz $(CFLAGS) $(KH_LDFLAGS) \
		-fsanitize=fuzzer -o $@ $< $(LIB_OBJ) $(KH_LDLIBS)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

deps:
	@scripts/deps build

deps-test:
	@scripts/deps test

deps-fuzz:
	@scripts/deps fuzz

# The main job on the built-in example: golden/sample -> demo/.
demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo

unit: all $(UNIT_BIN) $(HELPER_BIN) $(SHIM_SO) $(REPLAY_BIN)

# Every test; ends with "N passed, N failed". SAN=thread: the threaded
# ones only (tests/run --threaded), and any race report fails a test.
check: deps-test
	@$(MAKE) --no-print-directory unit
	@KH_BUILD=$(BUILD) KH_SAN=$(SAN) \
		KHEADERS="$${KHEADERS:-$(CURDIR)/$(BIN)}" \
		tests/run $(if $(filter thread,$(SAN)),--threaded)

# Fuzz every target for FUZZ_SECONDS each (libFuzzer, ASan, UBSan),
# starting from tests/fuzz/corpus/NAME; crashes land in build/fuzz/.
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
fuzz: deps-fuzz
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=$(FUZZ_CC) \
		SANFLAGS='$(FUZZ_SAN)' \
		$(FUZZ_NAMES:%=build/fuzz/fuzz/fuzz-%)
	@tests/fuzz/run build/fuzz $(FUZZ_SECONDS) $(FUZZ_NAMES)

# Fold what `make fuzz` found into the corpora, minimised; review it.
fuzz-merge: deps-fuzz
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=$(FUZZ_CC) \
		SANFLAGS='$(FUZZ_SAN)' \
		$(FUZZ_NAMES:%=build/fuzz/fuzz/fuzz-%)
	@tests/fuzz/run --merge build/fuzz 0 $(FUZZ_NAMES)

# Rewrite golden/*/expected from the current binary; review the diff.
golden: all
	@tests/golden-update

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/kheaders
	install -m 0644 doc/kheaders.1 $(DESTDIR)$(MANDIR)/man1/kheaders.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/kheaders $(DESTDIR)$(MANDIR)/man1/kheaders.1

clean:
	rm -rf build bin demo

help:
	@echo "make            build bin/kheaders"
	@echo "make demo       install deps, build, run on golden/sample"
	@echo "make check      install test deps, run every test (SAN=1: sanitizers)"
	@echo "make SAN=thread check   the threaded tests under ThreadSanitizer"
	@echo "make fuzz       fuzz every parser for FUZZ_SECONDS=$(FUZZ_SECONDS) each (clang)"
	@echo "make golden     regenerate golden expected outputs"
	@echo "make install    PREFIX=$(PREFIX) DESTDIR=..."
