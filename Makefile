# xact - distributed transaction coordinator.  Plain make; see README.md.
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR    = $(PREFIX)/bin
LIBDIR    = $(PREFIX)/lib
INCDIR    = $(PREFIX)/include
MANDIR    = $(PREFIX)/share/man
CC       ?= cc
CFLAGS   ?= -O2 -g
B        ?= build

XCFLAGS  = -std=c11 -D_GNU_SOURCE -Wall -Wextra -pthread -MMD -MP \
           -Ishared -Icoordinator -Iparticipant -Itests/harness -I$(B)/gen -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
LDLIBS   = -lnng -lprotobuf-c -linih -lsqlite3 -lpq -pthread
ifneq ($(CI),)
XCFLAGS += -Werror
endif
ifneq ($(SANITIZER),)
XCFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZER)
endif

DEB_PACKAGES = libnng-dev libcmocka-dev libprotobuf-c-dev protobuf-c-compiler \
               libinih-dev libsqlite3-dev sqlite3 libpq-dev postgresql

GEN      = $(B)/gen/xact.pb-c.c $(B)/gen/journal_schema.c $(B)/gen/sqlite_schema.c
LIB_SRC  = $(wildcard shared/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(B)/%.o) $(B)/gen/xact.pb-c.o
COORD_OBJ = $(B)/coordinator/txn.o $(B)/coordinator/journal.o \
            $(B)/coordinator/coord.o $(B)/coordinator/coord_config.o \
            $(B)/gen/journal_schema.o
PART_OBJ = $(B)/participant/agent.o \
           $(B)/participant/part_config.o $(B)/participant/pgbackend.o \
           $(B)/participant/sqlguard.o $(B)/participant/sqlitebackend.o \
           $(B)/participant/noopbackend.o \
           $(B)/participant/result.o $(B)/participant/termlog.o \
           $(B)/gen/sqlite_schema.o
HARNESS_OBJ = $(patsubst %.c,$(B)/%.o,$(wildcard tests/harness/*.c))
BINS     = $(B)/xact-coordinator $(B)/xact-participant $(B)/xactctl $(B)/xact-harness \
           $(B)/xact-bench
UNIT     = $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
TESTBINS = $(B)/tests/rawsend $(B)/tests/abandon
MANS     = $(wildcard docs/*.1 docs/*.8)

.PHONY: all test unit integration chaos-test chaos demo deps check-deps install uninstall clean \
        bench bench-protocols bench-noop bench-scale bench-one-phase
.SECONDARY:
all: $(BINS) $(B)/libxact.a

# Installs the Debian packages the project needs (root), or says how.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all packages present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	else echo "deps: missing:$$missing"; \
	  echo "deps: run as root: apt-get update && apt-get install -y$$missing"; exit 1; fi

# Runs `deps` only when a tool or header is missing (cheap check).
check-deps:
	@command -v protoc-c >/dev/null && [ -f /usr/include/nng/nng.h ] && \
	 [ -f /usr/include/cmocka.h ] && [ -f /usr/include/ini.h ] && \
	 [ -f /usr/include/sqlite3.h ] && [ -f /usr/include/protobuf-c/protobuf-c.h ] && \
	 command -v pg_config >/dev/null && command -v sqlite3 >/dev/null && [ -d /usr/lib/postgresql ] || $(MAKE) --no-print-directory deps

$(B)/gen/xact.pb-c.c: shared/xact.proto | check-deps
	@mkdir -p $(B)/gen
	protoc-c --proto_path=shared --c_out=$(B)/gen shared/xact.proto
$(B)/gen/xact.pb-c.h: $(B)/gen/xact.pb-c.c

# sql/journal.sql becomes a C string: the schema has one source.
$(B)/gen/journal_schema.c: sql/journal.sql
	@mkdir -p $(B)/gen
	{ echo 'const char journal_schema_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; echo ';'; } > $@

# The participants' side logs, termination log and in-database tables, likewise.
$(B)/gen/sqlite_schema.c: sql/sidelog.sql sql/markers.sql sql/pgmarkers.sql sql/termlog.sql
	@mkdir -p $(B)/gen
	{ for f in sidelog markers pgmarkers termlog; do echo "const char $${f}_schema_sql[] ="; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' sql/$$f.sql; echo ';'; done; } > $@

$(B)/%.o: %.c $(B)/gen/xact.pb-c.h | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(CFLAGS) -c -o $@ $<
$(B)/gen/%.o: $(B)/gen/%.c
	$(CC) $(XCFLAGS) $(CFLAGS) -w -c -o $@ $<

$(B)/libxact.a: $(LIB_OBJ)
	$(AR) rcs $@ $^
$(B)/xact-coordinator: $(B)/coordinator/main.o $(COORD_OBJ) $(B)/libxact.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/xact-participant: $(B)/participant/main.o $(PART_OBJ) $(B)/libxact.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/xactctl: $(B)/coordinator/xactctl.o $(B)/coordinator/journal.o \
    $(B)/gen/journal_schema.o $(B)/libxact.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/xact-bench: $(B)/coordinator/bench.o $(B)/libxact.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lm
$(B)/xact-harness: $(HARNESS_OBJ) $(B)/coordinator/journal.o $(B)/gen/journal_schema.o \
    $(B)/libxact.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/tests/test_%: $(B)/tests/unit/test_%.o $(COORD_OBJ) $(PART_OBJ) \
    $(filter-out %/main.o,$(HARNESS_OBJ)) $(B)/libxact.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
$(B)/tests/%: $(B)/tests/integration/%.o $(B)/libxact.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

test: unit integration chaos-test
unit: $(UNIT)
	@fail=0; for t in $(UNIT); do echo "== $$t"; $$t || fail=1; done; exit $$fail
integration: all $(TESTBINS)
	@sh tests/integration/run.sh $(B)

# Random faults with checked invariants: two-phase commit
# (tests/scenarios/chaos.ini) 50 runs in `make test`, 500 in `make chaos`;
# three-phase commit (tests/scenarios/chaos3pc.ini) 20 and 200.
# CHAOS_SEED picks the runs.
CHAOS_SEED ?= 1
chaos-test: all
	$(B)/xact-harness chaos tests/scenarios/chaos.ini --runs 50 --seed $(CHAOS_SEED)
	$(B)/xact-harness chaos tests/scenarios/chaos3pc.ini --runs 20 --seed $(CHAOS_SEED)
chaos: all
	$(B)/xact-harness chaos tests/scenarios/chaos.ini --runs 500 --seed $(CHAOS_SEED)
	$(B)/xact-harness chaos tests/scenarios/chaos3pc.ini --runs 200 --seed $(CHAOS_SEED)

# xact against hand-rolled 2PC and a single-database transaction at 1, 8,
# 32 and 64 clients; the table goes to docs/performance.md (not a test).
bench: all
	@XT_BUILD=$(B) bash tests/bench/sweep.sh

# 2PC against 3PC: latency and blocking after a coordinator crash (not a test).
bench-protocols: all
	@XT_BUILD=$(B) bash tests/bench/protocols.sh

# The coordinator and agents alone (no-op backend): throughput by clients and
# by participants, and the recovery of 100,000 transactions in doubt.
bench-noop: all
	@XT_BUILD=$(B) bash tests/bench/noop.sh

# 2, 4 and 8 PostgreSQL participants: xact against hand-rolled 2PC (not a test).
bench-scale: all
	@XT_BUILD=$(B) bash tests/bench/scale.sh

# One-phase against two-phase commit for transactions on one database.
bench-one-phase: all
	@XT_BUILD=$(B) bash tests/bench/one_phase.sh

demo: all
	@XT_BUILD=$(B) bash tests/demo.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 $(B)/libxact.a $(DESTDIR)$(LIBDIR)
	install -m 644 shared/xact.h $(DESTDIR)$(INCDIR)
	for m in $(MANS); do s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s; done
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(BINS))) \
	  $(DESTDIR)$(LIBDIR)/libxact.a $(DESTDIR)$(INCDIR)/xact.h
	for m in $(MANS); do s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$$(basename $$m); done
clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
