# kheaders: build, test and install. `make help` lists the targets.

VERSION := 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := liblzma libarchive libcrypto libxxhash

# SAN=1 builds with ASan and UBSan, into its own directory so that
# plain and sanitized objects never mix.
ifeq ($(SAN),1)
BUILD := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
else
BUILD := build/plain
SANFLAGS :=
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wno-format-nonliteral -Wvla
CFLAGS ?= -O2 -g
KH_CFLAGS := -std=c11 -D_GNU_SOURCE -DKH_VERSION='"$(VERSION)"' \
	-Ilib -Igen -Imanifest -Ikernel -Icli $(WARN) $(SANFLAGS) \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
KH_LDLIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lpthread
KH_LDFLAGS := $(SANFLAGS)

# Library modules: everything but the front end. kernel/ also holds
# kernel-side sources (built by Kbuild, not here): only its kh_*.c are ours.
LIB_SRC := $(wildcard lib/*.c gen/*.c manifest/*.c kernel/kh_*.c)
CLI_SRC := $(wildcard cli/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_BIN := $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(wildcard tests/tools/kh-*.c))

BIN := bin/kheaders

.PHONY: all deps deps-test demo check unit golden install uninstall \
	clean help pkgcheck
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
		$(LIB_OBJ) $(KH_LDLIBS)

# Small test tools (tests/tools/kh-*.c): library pieces behind a CLI.
$(BUILD)/tests/kh-%: tests/tools/kh-%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(KH_CFLAGS) $(CFLAGS) $(KH_LDFLAGS) -o $@ $< $(LIB_OBJ) \
		$(KH_LDLIBS)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

deps:
	@scripts/deps build

deps-test:
	@scripts/deps test

# The main job on the built-in example: golden/sample -> demo/.
demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo

unit: all $(UNIT_BIN) $(HELPER_BIN)

# Every test; ends with "N passed, N failed".
check: deps-test
	@$(MAKE) --no-print-directory unit
	@KH_BUILD=$(BUILD) tests/run

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
	@echo "make golden     regenerate golden expected outputs"
	@echo "make install    PREFIX=$(PREFIX) DESTDIR=..."
