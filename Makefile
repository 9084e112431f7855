# Makefile - builds ./newsletter, its tests, benchmarks and the demo.
# Plain make + pkg-config. `make help` lists the targets.

PREFIX ?= /usr/local
CC ?= cc
PKGS := libcurl libcmark-gfm yaml-0.1 uuid
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE $(WARN) -Iinclude $(CFLAGS) $(SANFLAGS) \
	-DNL_DATADIR='"$(PREFIX)/share/newsletter"'
LDLIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
CPPFLAGS_PKG = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)

# `make SAN=1` builds with AddressSanitizer + UBSan into build-asan/.
ifeq ($(SAN),1)
B := build-asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
BIN := $(B)/newsletter
else
B := build
BIN := newsletter
endif

SRC := $(wildcard src/*.c)
OBJ := $(SRC:src/%.c=$(B)/%.o)
# The core, without the command line: what unit tests and benchmarks link.
CORE := $(filter-out $(B)/main.o $(B)/cmd_%.o,$(OBJ))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT := $(UNIT_SRC:tests/unit/%.c=$(B)/%)
PY := /usr/bin/python3

.PHONY: all deps check check-asan unit demo bench install clean help fuzz

all: $(BIN)

$(BIN): $(OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $(OBJ) $(LDLIBS)

$(B)/%.o: src/%.c $(wildcard include/*.h) | $(B)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS_PKG) -c -o $@ $<

$(B)/test_%: tests/unit/test_%.c tests/unit/t.h $(CORE)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS_PKG) -Itests/unit -o $@ $< $(CORE) $(LDLIBS)

$(B)/bench_render: bench/bench_render.c $(CORE)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS_PKG) -o $@ $< $(CORE) $(LDLIBS)

$(B):
	mkdir -p $@

unit: $(UNIT)

# Installs the Debian packages that are missing (needs root or sudo).
deps:
	@sh tests/deps.sh

# Every test, against the normal build, then again under ASan+UBSan.
check: deps
	$(MAKE) all unit
	NEWSLETTER=./newsletter UNITDIR=build $(PY) tests/run.py
	$(MAKE) check-asan

check-asan: deps
	$(MAKE) SAN=1 all unit
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	NEWSLETTER=./build-asan/newsletter UNITDIR=build-asan NL_SANITIZED=1 $(PY) tests/run.py

demo: deps all
	@sh examples/demo.sh

bench: deps all $(B)/bench_render
	@sh bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/newsletter/templates \
		$(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 newsletter $(DESTDIR)$(PREFIX)/bin/newsletter
	install -m 644 templates/* $(DESTDIR)$(PREFIX)/share/newsletter/templates/
	install -m 644 docs/newsletter.1 $(DESTDIR)$(PREFIX)/share/man/man1/newsletter.1

# Fuzz the CSV reader and writer with libFuzzer (needs clang).
fuzz:
	clang -g -O1 -std=c17 -D_GNU_SOURCE -Iinclude -fsanitize=fuzzer,address,undefined \
	  -o build/fuzz_csv tests/fuzz/fuzz_csv.c src/csv.c src/buf.c src/error.c
	mkdir -p build/fuzz-corpus && cp tests/fixtures/import/* build/fuzz-corpus/
	./build/fuzz_csv -max_total_time=120 -max_len=4096 build/fuzz-corpus

clean:
	rm -rf build build-asan newsletter out

help:
	@echo "make           build ./newsletter"
	@echo "make demo      install what is missing, build, run the example"
	@echo "make check     install what is missing, build, run every test (and again under ASan+UBSan)"
	@echo "make bench     render and send benchmarks"
	@echo "make install   PREFIX=$(PREFIX)"
