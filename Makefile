# brasa -- build, test, run, bench. `make help` lists the targets.

PKGS     := libmicrohttpd json-c sqlite3 libcrypto
CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Wshadow -Werror
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS)) -lpthread
SAN      := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRC      := $(filter-out src/main.c,$(wildcard src/*.c src/*/*.c))
SQL      := $(sort $(wildcard src/store/sql/*.sql))
GEN      := build/gen/migrations.c
HDRS     := $(wildcard src/*.h src/*/*.h)
UNIT     := $(wildcard tests/unit/*.c)
DATA_DIR ?= ./brasa-data

.PHONY: all deps run test unit e2e bench clean help
all: build/brasa

help:
	@echo "make          build build/brasa"
	@echo "make deps     install missing Debian packages (apt-get, as root)"
	@echo "make run      deps + build + serve on :8080 with data in $(DATA_DIR)"
	@echo "make test     deps + unit and end-to-end tests under ASan/UBSan"
	@echo "make bench    deps + benchmarks (bench/), printing figures and ratios"

deps:
	@scripts/deps.sh

$(GEN): $(SQL) scripts/embed-sql.sh
	@mkdir -p $(@D)
	scripts/embed-sql.sh $(SQL) > $@

build/brasa: $(SRC) src/main.c $(GEN) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(PKG_CFLAGS) -o $@ $(SRC) src/main.c $(GEN) $(PKG_LIBS)

# Test builds: sanitizers on, same sources.
build/test/brasa: $(SRC) src/main.c $(GEN) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(SAN) $(WARN) $(PKG_CFLAGS) -o $@ $(SRC) src/main.c $(GEN) $(PKG_LIBS)

build/test/unit: $(SRC) $(GEN) $(HDRS) $(UNIT) tests/unit/test.h
	@mkdir -p $(@D)
	$(CC) $(SAN) $(WARN) $(PKG_CFLAGS) -Isrc -o $@ $(SRC) $(GEN) $(UNIT) $(PKG_LIBS)

run: deps build/brasa
	build/brasa serve --data-dir $(DATA_DIR)

unit: build/test/unit
	build/test/unit

e2e: build/test/brasa
	BRASA_BIN=$(CURDIR)/build/test/brasa node --test --test-concurrency=1 tests/e2e/

test: deps
	@$(MAKE) --no-print-directory unit e2e

BENCH_BINS := build/bench/commit build/bench/json_libs

build/bench/commit: bench/commit.c $(SRC) $(GEN) $(HDRS)
	@mkdir -p $(@D)
	$(CC) -O2 -g $(WARN) $(PKG_CFLAGS) -Isrc -o $@ bench/commit.c $(SRC) $(GEN) $(PKG_LIBS)

build/bench/json_libs: bench/json_libs.c
	@mkdir -p $(@D)
	$(CC) -O2 $(WARN) bench/json_libs.c $(shell pkg-config --cflags --libs json-c jansson libcjson) -ldl -o $@

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory $(BENCH_BINS) build/brasa
	@for b in bench/*.sh; do sh $$b || exit 1; done

clean:
	rm -rf build
