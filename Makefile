# brasa -- build, test, run, bench. `make help` lists the targets.

PKGS     := libmicrohttpd json-c sqlite3 libcrypto libzip zlib libcurl libxml-2.0 opendkim avro-c libsodium
CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -D_DEFAULT_SOURCE -mpopcnt -Wall -Wextra -Wshadow -Werror
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
# CRoaring and libcsv ship no pkg-config file in bookworm: linked by name. -mpopcnt
# because its bitmap counts are built on it (DESIGN.md §2).
PKG_LIBS   = $(shell pkg-config --libs $(PKGS)) -lroaring -lcsv -lpthread
# Release and bench builds allocate with jemalloc: json-c builds a tree of
# small objects per request, and glibc's malloc (consolidating its fastbins
# on every large allocation) took ~20% of the ingest CPU; jemalloc gives
# +18% /users/track throughput at the same memory per profile
# (docs/benchmarks.md). Sanitizer builds keep the allocator ASan replaces.
MALLOC_LIBS = $(shell pkg-config --libs jemalloc)
SAN      := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
            -DBR_FAULT_INJECTION

SRC      := $(filter-out src/main.c,$(wildcard src/*.c src/*/*.c))
SQL      := $(sort $(wildcard src/store/sql/*.sql))
SQL_PROF := $(sort $(wildcard src/store/sql/profiles/*.sql))
# Generated sources: the migrations, and the dashboard's files
# (dashboard/, with the chart library from npm, pinned by its lockfile).
GEN      := build/gen/migrations.c build/gen/dash_assets.c
DASH     := $(sort $(wildcard dashboard/*.html dashboard/*.js dashboard/*.css dashboard/*.svg))
UPLOT    := dashboard/node_modules/uplot/dist
HDRS     := $(wildcard src/*.h src/*/*.h)
UNIT     := $(wildcard tests/unit/*.c)
DATA_DIR ?= ./brasa-data

.PHONY: all deps run test unit e2e browser liquid-diff deb deb-test bench fuzz clean help
all: build/brasa

help:
	@echo "make          build build/brasa"
	@echo "make deps     install missing Debian packages (apt-get, as root)"
	@echo "make run      deps + build + serve on :8080 with data in $(DATA_DIR)"
	@echo "make test     deps + unit and end-to-end tests under ASan/UBSan, the package test"
	@echo "make bench    deps + benchmarks (bench/), printing figures and ratios"
	@echo "make fuzz     libFuzzer targets (fuzz/), FUZZ_SECONDS each"
	@echo "make deb      build/deb/brasa_VERSION_ARCH.deb: binary, man page, systemd unit"

deps:
	@scripts/deps.sh

build/gen/migrations.c: $(SQL) $(SQL_PROF) scripts/embed-sql.sh
	@mkdir -p $(@D)
	scripts/embed-sql.sh store_migrations $(SQL) -- store_profiles_migrations $(SQL_PROF) > $@

build/gen/dash_assets.c: $(DASH) $(UPLOT)/uPlot.iife.min.js scripts/embed-assets.sh
	@mkdir -p $(@D)
	scripts/embed-assets.sh $(foreach f,$(DASH),$(notdir $(f))=$(f)) \
		uplot.js=$(UPLOT)/uPlot.iife.min.js uplot.css=$(UPLOT)/uPlot.min.css > $@

# npm is needed to build, for this one library; never at run time.
$(UPLOT)/uPlot.iife.min.js: dashboard/package-lock.json
	npm ci --prefix dashboard --no-audit --no-fund --loglevel=error
	@touch $@

build/brasa: $(SRC) src/main.c $(GEN) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(PKG_CFLAGS) -o $@ $(SRC) src/main.c $(GEN) $(PKG_LIBS) $(MALLOC_LIBS)

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

# The webhook receiver of the benchmarks (bench/recv.c) under the
# sanitizers: its own e2e test, and a webhook endpoint for other tests.
build/test/recv: bench/recv.c
	@mkdir -p $(@D)
	$(CC) $(SAN) $(WARN) -o $@ $< -lpthread

# A test stuck past 5 minutes fails, and a file whose test left a handle
# open (a child, a timer) after a failure is ended rather than waited for:
# either way CI reports the failure instead of running out of time.
e2e: build/test/brasa build/test/recv
	BRASA_BIN=$(CURDIR)/build/test/brasa RECV_BIN=$(CURDIR)/build/test/recv \
		node --test --test-concurrency=1 --test-timeout=300000 --test-force-exit tests/e2e/

test: deps
	@$(MAKE) --no-print-directory unit liquid-diff e2e browser deb-test $(if $(FUZZ_C),fuzz)

# The dashboard in Debian's chromium, driven by playwright-core (pinned by
# tests/browser/package-lock.json); screenshots of every page land in
# build/screenshots/.
tests/browser/node_modules/.package-lock.json: tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error

browser: build/test/brasa tests/browser/node_modules/.package-lock.json
	BRASA_BIN=$(CURDIR)/build/test/brasa \
		node --test --test-concurrency=1 --test-timeout=300000 --test-force-exit tests/browser/

# Random templates rendered by brasa and by Shopify's Liquid (Ruby), compared
# (tests/liquid/diff.rb); skipped where ruby or ruby-liquid is missing.
liquid-diff: build/test/brasa
	@if command -v ruby >/dev/null 2>&1; then ruby tests/liquid/diff.rb --bin build/test/brasa; \
	else echo "liquid-diff: skipped (ruby is not installed)"; fi

# The Debian package of the release build (packaging/, scripts/deb.sh), and
# its test: installed on this machine, its service run, then purged
# (tests/deb/install.sh; skipped unless root).
deb: build/brasa
	@scripts/deb.sh build/brasa

deb-test: build/brasa
	@tests/deb/install.sh build/brasa

# Each bench/NAME.c is linked with the project's sources, except those that
# stand alone: json_libs (it compares other JSON libraries), recv and
# recv_client (a webhook receiver and its load generator), smtp_sink (an
# SMTP server that takes everything, and its load generator): sockets only,
# so they build in a second and can run anywhere; naive_sender (the libcurl
# loop the fan-out is compared with) links libcurl alone, and pg_loader
# (ingest into PostgreSQL) libpq. Each bench/*.sh runs one.
BENCH_ALONE := bench/json_libs.c bench/recv.c bench/recv_client.c bench/smtp_sink.c bench/naive_sender.c \
               bench/pg_loader.c
BENCH_C    := $(filter-out $(BENCH_ALONE),$(wildcard bench/*.c))
BENCH_BINS := $(patsubst bench/%.c,build/bench/%,$(BENCH_C)) $(patsubst bench/%.c,build/bench/%,$(BENCH_ALONE))

build/bench/%: bench/%.c $(SRC) $(GEN) $(HDRS)
	@mkdir -p $(@D)
	$(CC) -O2 -g $(WARN) $(PKG_CFLAGS) -Isrc -o $@ $< $(SRC) $(GEN) $(PKG_LIBS) $(MALLOC_LIBS)

build/bench/json_libs: bench/json_libs.c
	@mkdir -p $(@D)
	$(CC) -O2 $(WARN) bench/json_libs.c $(shell pkg-config --cflags --libs json-c jansson libcjson) -ldl -o $@

build/bench/recv build/bench/recv_client build/bench/smtp_sink: build/bench/%: bench/%.c
	@mkdir -p $(@D)
	$(CC) -O2 -g $(WARN) -o $@ $< -lpthread

build/bench/naive_sender: bench/naive_sender.c
	@mkdir -p $(@D)
	$(CC) -O2 -g $(WARN) $(shell pkg-config --cflags libcurl) -o $@ $< $(shell pkg-config --libs libcurl) -lpthread

# The /users/track bodies both ingest load generators send.
build/bench/loadgen build/bench/pg_loader: bench/track_body.h

# PostgreSQL's client library, for the loader bench/ingest.sh compares with.
build/bench/pg_loader: bench/pg_loader.c
	@mkdir -p $(@D)
	$(CC) -O2 -g $(WARN) $(shell pkg-config --cflags libpq json-c) -o $@ $< $(shell pkg-config --libs libpq json-c) -lpthread

# The engines from npm that benchmarks compare brasa with (bench/package.json,
# pinned by bench/package-lock.json; LiquidJS for bench/liquid.sh), installed
# again only when the lockfile changes. Without npm those comparisons are
# skipped, each with a line saying so.
bench/node_modules/.package-lock.json: bench/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix bench --no-audit --no-fund --loglevel=error; \
	else echo "bench: npm is not installed: comparisons with npm packages will be skipped"; fi

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory $(BENCH_BINS) build/brasa bench/node_modules/.package-lock.json \
		tests/browser/node_modules/.package-lock.json
	@for b in bench/*.sh; do [ $$b = bench/lib.sh ] || sh $$b || exit 1; done

# libFuzzer targets: fuzz/NAME.c defines LLVMFuzzerTestOneInput and is run
# for FUZZ_SECONDS on fuzz/corpus/NAME (seeds committed; new finds go to
# build/fuzz/NAME-corpus so the tree stays clean). make test runs them.
FUZZ_C       := $(wildcard fuzz/*.c)
FUZZ_BINS    := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_C))
FUZZ_SECONDS ?= 20
FUZZ_CC      ?= clang

build/fuzz/%: fuzz/%.c $(SRC) $(GEN) $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) -g -O1 -std=c11 -D_DEFAULT_SOURCE -fsanitize=fuzzer,address,undefined \
		$(PKG_CFLAGS) -Isrc -o $@ $< $(SRC) $(GEN) $(PKG_LIBS)

fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); mkdir -p build/fuzz/$$n-corpus; \
		echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/$$n-corpus fuzz/corpus/$$n \
			> build/fuzz/$$n.log 2>&1 || { tail -50 build/fuzz/$$n.log; exit 1; }; \
		grep -E "stat::number_of_executed_units|Done" build/fuzz/$$n.log | tail -2; done

clean:
	rm -rf build
