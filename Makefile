# Makefile - builds ./newsletter, its tests, benchmarks and the demo.
# Plain make + pkg-config. `make help` lists the targets.

PREFIX ?= /usr/local
CC ?= cc
PKGS := libcurl libcmark-gfm yaml-0.1 uuid libcrypto gmime-3.0 libmicrohttpd
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral \
	-Wcast-qual -Wwrite-strings
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE $(WARN) $(WERROR) -Iinclude $(CFLAGS) $(SANFLAGS) \
	-DNL_DATADIR='"$(PREFIX)/share/newsletter"'
LDLIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lresolv
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
# Fuzz harnesses: tests/fuzz/fuzz_NAME.c with a seed corpus in tests/fuzz/corpus/NAME/.
# `make check` replays each corpus through the harness (build/test_fuzz_NAME);
# `make fuzz` runs libFuzzer on each for FUZZ_TIME seconds (clang).
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
REPLAY := $(FUZZ_NAMES:%=$(B)/test_fuzz_%)
FUZZ_TIME ?= 600
CORE_SRC := $(filter-out src/main.c src/cmd_%.c,$(SRC))
PY := /usr/bin/python3

.PHONY: all deps check check-asan unit demo bench install clean help fuzz fuzz-build

all: $(BIN)

$(BIN): $(OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $(OBJ) $(LDLIBS)

$(B)/%.o: src/%.c $(wildcard include/*.h) | $(B)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS_PKG) -c -o $@ $<

$(B)/test_%: tests/unit/test_%.c tests/unit/t.h $(CORE) $(wildcard include/*.h)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS_PKG) -Itests/unit -o $@ $< $(CORE) $(LDLIBS)

$(B)/test_fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(CORE)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS_PKG) -DFUZZ_NAME='"$*"' -o $@ $< tests/fuzz/replay.c $(CORE) $(LDLIBS)

$(B)/bench_render: bench/bench_render.c $(CORE)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS_PKG) -o $@ $< $(CORE) $(LDLIBS)

$(B):
	mkdir -p $@

unit: $(UNIT) $(REPLAY)

# Installs the Debian packages that are missing (needs root or sudo).
deps:
	@sh tests/deps.sh

# Every test, against the normal build, then again under ASan+UBSan.
check: deps
	$(MAKE) WERROR=-Werror all unit
	NEWSLETTER=./newsletter UNITDIR=build $(PY) tests/run.py
	$(MAKE) check-asan

check-asan: deps
	$(MAKE) SAN=1 WERROR=-Werror all unit
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	NEWSLETTER=./build-asan/newsletter UNITDIR=build-asan NL_SANITIZED=1 $(PY) tests/run.py

demo: deps all
	@sh examples/demo.sh

bench: deps all $(B)/bench_render
	@sh bench/run.sh
	@sh bench/site.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/newsletter/templates \
		$(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 newsletter $(DESTDIR)$(PREFIX)/bin/newsletter
	install -m 644 templates/* $(DESTDIR)$(PREFIX)/share/newsletter/templates/
	install -m 644 docs/newsletter.1 $(DESTDIR)$(PREFIX)/share/man/man1/newsletter.1

# Every harness under libFuzzer for FUZZ_TIME seconds each, one after another (needs clang);
# `make fuzz FUZZ_NAMES=list` runs one. Findings are written to build-fuzz/; once fixed, add
# them to tests/fuzz/corpus/NAME/, which make check replays.
FUZZ_CFLAGS = -g -O1 -std=c17 -D_GNU_SOURCE -DNL_DATADIR='"$(PREFIX)/share/newsletter"' -Iinclude \
	$(CPPFLAGS_PKG) -fsanitize=address,undefined
FUZZ_OBJ := $(CORE_SRC:src/%.c=build-fuzz/%.o)

build-fuzz/%.o: src/%.c $(wildcard include/*.h)
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(LDLIBS)

# The objects outlive each harness build (make would delete them as intermediates).
.SECONDARY: $(FUZZ_OBJ)

fuzz-build: $(FUZZ_NAMES:%=build-fuzz/fuzz_%)

fuzz: deps fuzz-build
	for n in $(FUZZ_NAMES); do \
	  mkdir -p build-fuzz/corpus-$$n && cp tests/fuzz/corpus/$$n/* build-fuzz/corpus-$$n/; \
	  (cd build-fuzz && ./fuzz_$$n -max_total_time=$(FUZZ_TIME) -max_len=65536 -timeout=20 \
	    -print_final_stats=1 corpus-$$n) || exit 1; \
	done

clean:
	rm -rf build build-asan build-fuzz newsletter out

help:
	@echo "make           build ./newsletter"
	@echo "make demo      install what is missing, build, run the example"
	@echo "make check     install what is missing, build, run every test (and again under ASan+UBSan)"
	@echo "make bench     render and send benchmarks"
	@echo "make install   PREFIX=$(PREFIX)"
