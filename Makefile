# vinted-pipeline - build every program into bin/, run the suite with `make test`.
#   make            build bin/vinted-*
#   make test       the whole suite (unit self-tests + end to end with real PostgreSQL and
#                   real processes), once against bin/ and once against the ASan+UBSan build,
#                   and each fuzz harness for 12 s (once)
#   make test-quick the suite against bin/ only
#   make asan       the same programs built with ASan+UBSan into bin-asan/
#   make protocol-doc  rewrite proto/PROTOCOL.md's generated tables from the message table
#   make test-asan  the whole suite against the sanitizer build only (make test runs a subset there)
#   make bench      the benchmarks (tests/bench/, BENCHMARKS.md): replay against the bare load,
#                   capture efficiency, broker routing, footprint; figures printed (~10 min)
#   make bench-long the replay benchmark on 1,000,000 item records
#   make chaos      the long chaos run (tests/chaos.py; CHAOS_ARGS="--items N --minutes M" to change it)
#   make deps       install the Debian packages needed to build and test (as root)
#   make run-sim    run the whole pipeline here against the simulator (make run: the live site)
#   make fuzz       libFuzzer harnesses (tests/fuzz/) built with clang into bin-fuzz/, each run
#                   FUZZ_SECONDS (default 15); make fuzz-long runs each for an hour

# Build with every core unless -j was given (make 4.3 honours -j set here); only at
# the top level: a sub-make (make asan) shares its jobserver.
ifeq ($(MAKELEVEL),0)
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif
endif

CC      ?= cc
SAN     ?= 0
PKGS     = libczmq libzmq libcurl msgpack libcjson libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(filter-out libmicrohttpd,$(PKGS)) 2>/dev/null)
PG_INC     := $(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)

ifeq ($(SAN),1)
BUILD   ?= build-asan
BIN     ?= bin-asan
OPT      = -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD   ?= build
BIN     ?= bin
OPT      = -O2
endif

CFLAGS  += -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Werror $(PKG_CFLAGS) -I$(PG_INC) -I.
LDFLAGS += -Wl,--as-needed $(if $(filter 1,$(SAN)),-fsanitize=address$(,)undefined)
LDLIBS  += $(PKG_LIBS) -lpq -lcrypto -lz -lm -lpthread -ldl
, := ,

# proto/protodoc.c is a program of its own (vinted-protodoc), not part of the library
PROTO_SRC   = $(filter-out proto/protodoc.c,$(wildcard proto/*.c))
COMMON_SRC  = $(wildcard common/*.c) $(PROTO_SRC)
BROKER_SRC  = $(filter-out broker/main.c,$(wildcard broker/*.c))
FETCH_SRC   = $(filter-out workers/fetcher/main.c,$(wildcard workers/fetcher/*.c))
XFORM_SRC   = $(filter-out workers/transformer/main.c,$(wildcard workers/transformer/*.c))
SINK_SRC    = $(filter-out workers/pg-sink/main.c,$(wildcard workers/pg-sink/*.c))
S3UP_SRC    = $(filter-out workers/s3-uploader/main.c,$(wildcard workers/s3-uploader/*.c))
CTL_SRC     = $(filter-out ctl/main.c,$(wildcard ctl/*.c))
MIGRATIONS  = $(sort $(wildcard deploy/migrations/*.sql))

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
# common/ and proto/ go into one static archive: a program takes only the modules it
# uses, and with --as-needed loads only the shared libraries those need (the
# transformer does not map libcurl, libpq and libcrypto: 3 MB less resident memory)
COMMON_LIB  = $(BUILD)/libvinted.a
COMMON_OBJ  = $(COMMON_LIB)

PROGRAMS = $(BIN)/vinted-broker $(BIN)/vinted-fetcher $(BIN)/vinted-transformer \
           $(BIN)/vinted-pg-sink $(BIN)/vinted-s3-uploader $(BIN)/vinted-ctl $(BIN)/vinted-selftest \
           $(BIN)/vinted-objstore-probe $(BIN)/vinted-rogue-peer $(BIN)/vinted-protodoc
# benchmark tools (tests/bench/): built with everything so that they always compile
BENCH_PROGRAMS = $(BIN)/vinted-bench-stages $(BIN)/vinted-bench-routing $(BIN)/vinted-bench-schedule

all: $(PROGRAMS) $(BENCH_PROGRAMS)

$(BIN)/vinted-broker: $(call obj,broker/main.c $(BROKER_SRC)) $(COMMON_OBJ)
$(BIN)/vinted-fetcher: $(call obj,workers/fetcher/main.c $(FETCH_SRC)) $(COMMON_OBJ)
$(BIN)/vinted-transformer: $(call obj,workers/transformer/main.c $(XFORM_SRC)) $(COMMON_OBJ)
$(BIN)/vinted-pg-sink: $(call obj,workers/pg-sink/main.c $(SINK_SRC)) $(COMMON_OBJ)
$(BIN)/vinted-s3-uploader: $(call obj,workers/s3-uploader/main.c $(S3UP_SRC)) $(COMMON_OBJ)
$(BIN)/vinted-ctl: $(call obj,ctl/main.c $(CTL_SRC)) $(COMMON_OBJ)
$(BIN)/vinted-objstore-probe: $(call obj,tests/objstore_probe.c) $(COMMON_OBJ)
$(BIN)/vinted-rogue-peer: $(call obj,tests/rogue_peer.c) $(COMMON_OBJ)
$(BIN)/vinted-protodoc: $(call obj,proto/protodoc.c) $(COMMON_OBJ)
$(BIN)/vinted-selftest: $(call obj,tests/selftest.c $(BROKER_SRC) $(FETCH_SRC) $(XFORM_SRC) $(SINK_SRC) $(S3UP_SRC) $(CTL_SRC)) $(COMMON_OBJ)

$(BIN)/vinted-bench-stages: $(call obj,tests/bench/stages.c $(XFORM_SRC)) $(COMMON_OBJ)
$(BIN)/vinted-bench-routing: $(call obj,tests/bench/routing.c) $(COMMON_OBJ)
$(BIN)/vinted-bench-schedule: $(call obj,tests/bench/schedule.c broker/schedule.c) $(COMMON_OBJ)

$(PROGRAMS) $(BENCH_PROGRAMS):
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(COMMON_LIB): $(call obj,$(COMMON_SRC)) $(BUILD)/migrations.o
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# SQL migrations are embedded in the programs that apply them (common/migrate.c).
$(BUILD)/migrations.c: $(MIGRATIONS) deploy/embed-migrations.sh
	@mkdir -p $(dir $@)
	sh deploy/embed-migrations.sh $(MIGRATIONS) > $@
$(BUILD)/migrations.o: $(BUILD)/migrations.c
	$(CC) $(CFLAGS) -c -o $@ $<

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Fuzzing (tests/fuzz/): libFuzzer harnesses, built with clang and ASan+UBSan into bin-fuzz/.
FUZZ_CC      ?= clang-14
FUZZ_BUILD    = build-fuzz
FUZZ_BIN      = bin-fuzz
FUZZ_SECONDS ?= 15
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
                $(PKG_CFLAGS) -I.
FUZZ_LIBS     = -lmsgpackc -lcjson -lz -lm
FUZZ_TARGETS  = parse proto raw text
FUZZ_LIB_SRC  = $(PROTO_SRC) common/raw.c common/jsontext.c common/utf8.c tests/fuzz/page_input.c $(filter-out workers/transformer/main.c,$(wildcard workers/transformer/*.c))
FUZZ_LIB_OBJ  = $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(FUZZ_LIB_SRC))
FUZZ_PROGRAMS = $(patsubst %,$(FUZZ_BIN)/fuzz_%,$(FUZZ_TARGETS)) $(FUZZ_BIN)/fuzz-seed

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<
$(FUZZ_BIN)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(FUZZ_LIBS)
$(FUZZ_BIN)/fuzz-seed: $(FUZZ_BUILD)/tests/fuzz/seed.o $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=address,undefined -o $@ $^ $(FUZZ_LIBS)

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)

fuzz-build: $(FUZZ_PROGRAMS)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh $(FUZZ_BIN)

fuzz-long:
	$(MAKE) fuzz FUZZ_SECONDS=3600

# Regenerate the seed corpus from the simulator and the protocol encoder (tests/fuzz/seed.py).
fuzz-corpus: fuzz-build
	python3 tests/fuzz/seed.py $(FUZZ_BIN)

asan:
	$(MAKE) SAN=1

deps:
	sh tests/install-deps.sh

SAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# The ASan lane of make test runs a subset chosen to cover every program's code paths
# (catalog flow on both generations, faults, bad input, all three flows, replay, stalls);
# make test-asan runs the whole suite under ASan+UBSan.
ASAN_SUBSET = test_catalog test_faults test_badinput test_flows test_replay test_stalls test_cli test_split test_identities
# and the longest modules against bin/ run in the lane that fuzzes (done early), so the lanes end together
E2E_ONCE = test_chaos test_schedule test_market
test: all asan fuzz-build
	$(SAN_ENV) E2E_ONCE="$(E2E_ONCE)" E2E_ONLY_2="$(ASAN_SUBSET)" sh tests/run.sh $(BIN) bin-asan

test-quick: all fuzz-build
	sh tests/run.sh $(BIN)

test-asan: asan fuzz-build
	$(SAN_ENV) sh tests/run.sh bin-asan

# The benchmarks print figures; they are not tests (nothing fails on a slow machine).
# Archives are cached under $$VINTED_BENCH_DIR (default $$TMPDIR/vinted-bench, or /tmp).
bench: all
	python3 tests/bench/replay.py --items 100000 --scale 1,2,4 --repeat 2
	python3 tests/bench/capture.py
	python3 tests/bench/capture.py --scenario market
	python3 tests/bench/routing.py
	python3 tests/bench/catalog_throughput.py --catalogs 40

bench-long: all
	python3 tests/bench/replay.py --items 1000000 --scale 1,2 --repeat 1

CHAOS_ARGS ?= --items 300000 --minutes 15 --broker-kills 6
chaos: all
	python3 tests/chaos.py $(CHAOS_ARGS)

# The docker compose deployment for real (root, Docker engine; tests/compose/run.sh
# installs and starts what is missing): images built, the stack scaled and broken.
test-compose:
	sh tests/compose/run.sh

# PROTOCOL.md's field tables, rendered again from the message table (proto/proto_table.c);
# tests/run.sh checks them (vinted-protodoc --check), so a change of layout fails until this is run.
protocol-doc: $(BIN)/vinted-protodoc
	$(BIN)/vinted-protodoc --write proto/PROTOCOL.md

run:     # the whole pipeline here against the live site (deploy/run-local.sh --help)
	deploy/run-local.sh
run-sim: # the same against the simulated Vinted, offline
	deploy/run-local.sh --simulate

clean:
	rm -rf build build-asan bin bin-asan build-fuzz bin-fuzz

.PHONY: all asan deps protocol-doc test test-quick test-asan test-compose bench bench-long chaos clean run run-sim fuzz fuzz-build fuzz-long fuzz-corpus
