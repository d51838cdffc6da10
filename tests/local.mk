# The test harness. Everything in TESTS speaks TAP and runs through automake's parallel harness:
#   tests/test_*    Check suites, one binary per module (TAP on stdout through CK_TAP_LOG_FILE_NAME=-);
#                   each lists its tests in one table, and UVA_TEST=name runs one (tests/check_main.h)
#   tests/*.sh      shell tests of the built artefacts (exported symbols, an installed consumer) and of the
#                   sources (format.sh: formatted as .clang-format says)
# `make check-valgrind' (--enable-valgrind) runs every Check suite under valgrind, `make fuzz-smoke'
# (--enable-fuzz) runs every fuzz target for a short while over its corpus.
TEST_EXTENSIONS = .sh
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
SH_LOG_DRIVER = $(LOG_DRIVER)
SH_LOG_COMPILER = $(SHELL)
# A shell test says everything in TAP (tests/tap.sh): a failure is a "not ok" line or "Bail out!", a crash a
# missing plan or too few results. Its exit status is 77 when it skips, which the driver would count as an
# error.
AM_SH_LOG_DRIVER_FLAGS = --ignore-exit

# What the shell tests need to know about this build. Sanitized code runs slower: Check's timeouts scale.
AM_TESTS_ENVIRONMENT = \
	CK_TAP_LOG_FILE_NAME=-; export CK_TAP_LOG_FILE_NAME; \
	: $${CK_TIMEOUT_MULTIPLIER:=$(CK_TIMEOUT_MULTIPLIER)}; export CK_TIMEOUT_MULTIPLIER; \
	UBSAN_OPTIONS=$${UBSAN_OPTIONS-print_stacktrace=1}; export UBSAN_OPTIONS; \
	TSAN_OPTIONS=$${TSAN_OPTIONS-suppressions=$(abs_top_srcdir)/tests/tsan.supp}; export TSAN_OPTIONS; \
	UVA_TOP_SRCDIR='$(abs_top_srcdir)'; export UVA_TOP_SRCDIR; \
	UVA_TOP_BUILDDIR='$(abs_top_builddir)'; export UVA_TOP_BUILDDIR; \
	UVA_MAKE='$(MAKE)'; export UVA_MAKE; \
	UVA_CC='$(CC)'; export UVA_CC; \
	UVA_CFLAGS='$(CFLAGS) $(SAN_CFLAGS)'; export UVA_CFLAGS; \
	UVA_LDFLAGS='$(LDFLAGS) $(SAN_LDFLAGS)'; export UVA_LDFLAGS; \
	UVA_PKG_CONFIG='$(PKG_CONFIG)'; export UVA_PKG_CONFIG; \
	UVA_NM='$(NM)'; export UVA_NM; \
	UVA_OBJDUMP='$(OBJDUMP)'; export UVA_OBJDUMP; \
	UVA_PYTHON_PEER='$(PYTHON_PEER)'; export UVA_PYTHON_PEER; \
	UVA_LIBDIR='$(libdir)'; export UVA_LIBDIR; \
	UVA_INCLUDEDIR='$(includedir)'; export UVA_INCLUDEDIR; \
	UVA_VERSION='$(PACKAGE_VERSION)'; export UVA_VERSION;
if FAULT_INJECTION
AM_TESTS_ENVIRONMENT += UVA_FAULT_INJECTION=yes; export UVA_FAULT_INJECTION;
endif
if BUILD_REMOTE
AM_TESTS_ENVIRONMENT += UVA_REMOTE=yes; export UVA_REMOTE;
endif

TEST_CPPFLAGS = $(AM_CPPFLAGS) -UUVA_BUILDING
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
TEST_LDADD = libuvactor.la $(UV_LIBS) $(MSGPACK_LIBS) $(CHECK_LIBS) $(PTHREAD_LIBS)

EXTRA_DIST += tests/check_main.h tests/deps.sh tests/tsan.supp tests/pool_helpers.h tests/port_fixture.h tests/sanitizers.h \
	tests/random.h tests/stress.h tests/run_until.h tests/msg_helpers.h tests/counting_free.h tests/actor_check.h \
	tests/actor_mains.h tests/actor_record.h tests/counted_buffers.h tests/int_msg.h tests/port_msgs.h \
	tests/port_sink.h tests/loop_thread.h tests/badinput.h tests/forked.h \
	tests/faults_recovery.h

# ---- Check suites ---------------------------------------------------------------------------------
# A Check suite is a test program named tests/test_*: check-valgrind finds them by that name.

if HAVE_CHECK
check_PROGRAMS += tests/test_msg
TESTS += tests/test_msg
else
# Without Check there would be no suites to run, and a `make check' that passes while testing nothing.
# This file is never made: asking for it stops `make check' before any test runs.
check_DATA = tests/check-is-missing
tests/check-is-missing:
	@echo "make check: the Check unit-test framework was not found when configure ran." >&2
	@echo "make check: install the Debian packages check and libsubunit-dev, then run configure again." >&2
	@exit 1
endif

tests_test_msg_SOURCES = tests/test_msg.c
tests_test_msg_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_msg_CFLAGS = $(TEST_CFLAGS)
tests_test_msg_LDADD = $(TEST_LDADD)

# ---- messages and errors (serialize/) -------------------------------------------------------------
# test_msg: building and reading messages; test_msg_from_bytes: outside bytes and their limits;
# test_msg_buffers: moved and shared buffers; test_errors: error texts and the version.

if HAVE_CHECK
check_PROGRAMS += tests/test_msg_from_bytes tests/test_msg_buffers tests/test_errors
TESTS += tests/test_msg_from_bytes tests/test_msg_buffers tests/test_errors
endif
tests_test_msg_from_bytes_SOURCES = tests/test_msg_from_bytes.c
tests_test_msg_from_bytes_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_msg_from_bytes_CFLAGS = $(TEST_CFLAGS)
tests_test_msg_from_bytes_LDADD = $(TEST_LDADD)

tests_test_msg_buffers_SOURCES = tests/test_msg_buffers.c
tests_test_msg_buffers_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_msg_buffers_CFLAGS = $(TEST_CFLAGS)
tests_test_msg_buffers_LDADD = $(TEST_LDADD)

tests_test_errors_SOURCES = tests/test_errors.c
tests_test_errors_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_errors_CFLAGS = $(TEST_CFLAGS)
tests_test_errors_LDADD = $(TEST_LDADD)

# ---- the ABI -------------------------------------------------------------------------------------
# test_abi pins the size and alignment of every public type (see include/uvactor/common.h, "Handles").
if HAVE_CHECK
check_PROGRAMS += tests/test_abi
TESTS += tests/test_abi
endif
tests_test_abi_SOURCES = tests/test_abi.c
tests_test_abi_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_abi_CFLAGS = $(TEST_CFLAGS)
tests_test_abi_LDADD = $(TEST_LDADD)

# ---- the internal core (common/) -----------------------------------------------------------------
# test_heap: the min-heap, built into the test from its source (the library does not export it). Its
# fault points stay out: uva__fault() is the library's, and not exported either.
if HAVE_CHECK
check_PROGRAMS += tests/test_heap
TESTS += tests/test_heap
endif
tests_test_heap_SOURCES = tests/test_heap.c common/heap.c
tests_test_heap_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_heap_CFLAGS = $(TEST_CFLAGS) -UUVA_FAULT_INJECTION
tests_test_heap_LDADD = $(CHECK_LIBS)

# ---- shell tests ----------------------------------------------------------------------------------

TESTS += tests/symbols.sh tests/consumer.sh tests/format.sh
EXTRA_DIST += tests/symbols.sh tests/consumer.sh tests/format.sh tests/tap.sh .clang-format
clean-local: clean-local-tests
clean-local-tests:
	-rm -rf tests/consumer.dir

# ---- valgrind -------------------------------------------------------------------------------------
# The suites run through the same harness with valgrind in front (through libtool, so valgrind sees the
# real binary rather than libtool's wrapper script). CK_FORK=no keeps each suite in one process, so a
# leak is a leak of the test and not of a fork Check threw away.

# A forked child (the fork tests) leaves what the parent's other threads held: its own report is not the
# suite's (the tests read a child's verdict from a pipe, not from its exit status).
# --fair-sched=yes: valgrind runs one thread at a time, and by default hands the CPU back to the thread that
# let it go; a thread in a spin (the library's, or a test's busy actor) then kept the others from running
# for seconds (test_elu_busy_actor: its reader ran only after the actor's 10 s deadline, in 8 of 10 runs).
VALGRIND_FLAGS = --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1 \
	--num-callers=30 --child-silent-after-fork=yes --fair-sched=yes

if ENABLE_VALGRIND
check-valgrind: all
	@suites=; for t in $(TESTS); do case $$t in tests/test_*) suites="$$suites $$t";; esac; done; \
	test -n "$$suites" || { echo "check-valgrind: no Check suites were built" >&2; exit 1; }; \
	$(MAKE) $(AM_MAKEFLAGS) check TESTS="$$suites" TEST_SUITE_LOG=test-suite-valgrind.log \
	  LOG_COMPILER='$(LIBTOOL) --mode=execute $(VALGRIND) $(VALGRIND_FLAGS)' \
	  TESTS_ENVIRONMENT='CK_FORK=no UVA_NO_RECYCLE=1 UVA_VALGRIND=1; export CK_FORK UVA_NO_RECYCLE UVA_VALGRIND;'
else
check-valgrind:
	@echo "check-valgrind: configure with --enable-valgrind first" >&2; exit 1
endif

# ---- fuzzing --------------------------------------------------------------------------------------
# Each fuzz target is its own source plus the library's sources compiled again with libFuzzer's
# instrumentation, ASan and UBSan (FUZZ_CFLAGS): one program, nothing shared with the normal build.
# Its seed corpus is tests/corpus/<target>/; fuzz-smoke runs each target for FUZZ_SECONDS over it.

FUZZ_SECONDS = 30
FUZZ_TARGETS = tests/fuzz_msg tests/fuzz_wire
FUZZ_LDADD = $(UV_LIBS) $(MSGPACK_LIBS) $(PTHREAD_LIBS) -lm

tests_fuzz_msg_SOURCES = tests/fuzz_msg.c $(libuvactor_la_SOURCES)
tests_fuzz_msg_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_msg_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_msg_LDADD = $(FUZZ_LDADD)

# fuzz_wire: the remote transport's frame decoder (remote/wire.c needs no libzmq, so it is always built).
tests_fuzz_wire_SOURCES = tests/fuzz_wire.c remote/wire.c $(libuvactor_la_SOURCES)
tests_fuzz_wire_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_wire_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_wire_LDADD = $(FUZZ_LDADD)
EXTRA_DIST += tests/corpus

if ENABLE_FUZZ
noinst_PROGRAMS += $(FUZZ_TARGETS)

# libFuzzer writes what it finds into the first corpus directory, so that one is in the build tree (the
# source tree may be read-only); a crash leaves its input in tests/fuzz.dir/<target>/.
fuzz-smoke: $(FUZZ_TARGETS)
	@fail=0; for t in $(FUZZ_TARGETS); do \
	  name=`basename $$t`; work=tests/fuzz.dir/$$name; seeds=$(srcdir)/tests/corpus/$$name; \
	  rm -rf $$work; mkdir -p $$work/new; \
	  test -d $$seeds || { echo "fuzz-smoke: $$seeds is missing" >&2; fail=1; continue; }; \
	  echo "fuzz-smoke: $$name for $(FUZZ_SECONDS)s over $$seeds"; \
	  if ./$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	       -artifact_prefix=$$work/ $$work/new $$seeds > $$work/log 2>&1; then \
	    echo "PASS: $$name (`grep -c . $$work/log` log lines, `ls $$work/new | wc -l` new inputs)"; \
	  else \
	    fail=1; tail -n 60 $$work/log; echo "FAIL: $$name: see $$work/log and $$work/crash-*" >&2; \
	  fi; \
	done; exit $$fail
else
fuzz-smoke:
	@echo "fuzz-smoke: configure with CC=clang --enable-fuzz first" >&2; exit 1
endif

clean-local-tests: clean-local-fuzz
clean-local-fuzz:
	-rm -rf tests/fuzz.dir

.PHONY: check-valgrind fuzz-smoke clean-local-tests clean-local-fuzz

# ---- ports and channels (channel/) ----------------------------------------------------------------
# One Check test per rule of include/uvactor/port.h. test_port: delivery, close, transfer, the handle;
# test_port_wait: receive, bounded ports and the calls that wait; test_broadcast_basics: the
# BroadcastChannel's basic rules; test_broadcast: the rest (members on actors' loops, bounds, receive, ref).
# stress_port: threads, loops, transfers and closes at random, checking that nothing is lost, duplicated or
# reordered; it speaks TAP itself (no Check), runs for a moment by default, UVA_STRESS_SECONDS=N for longer,
# UVA_STRESS_SEED=S to replay a run.

if HAVE_CHECK
check_PROGRAMS += tests/test_port
TESTS += tests/test_port
endif
tests_test_port_SOURCES = tests/test_port.c
tests_test_port_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_port_CFLAGS = $(TEST_CFLAGS)
tests_test_port_LDADD = $(TEST_LDADD)

if HAVE_CHECK
check_PROGRAMS += tests/test_port_wait tests/test_broadcast_basics
TESTS += tests/test_port_wait tests/test_broadcast_basics
endif
tests_test_port_wait_SOURCES = tests/test_port_wait.c
tests_test_port_wait_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_port_wait_CFLAGS = $(TEST_CFLAGS)
tests_test_port_wait_LDADD = $(TEST_LDADD)

tests_test_broadcast_basics_SOURCES = tests/test_broadcast_basics.c
tests_test_broadcast_basics_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_broadcast_basics_CFLAGS = $(TEST_CFLAGS)
tests_test_broadcast_basics_LDADD = $(TEST_LDADD)

if HAVE_CHECK
check_PROGRAMS += tests/test_broadcast
TESTS += tests/test_broadcast
endif
tests_test_broadcast_SOURCES = tests/test_broadcast.c
tests_test_broadcast_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_broadcast_CFLAGS = $(TEST_CFLAGS)
tests_test_broadcast_LDADD = $(TEST_LDADD)

check_PROGRAMS += tests/stress_port
TESTS += tests/stress_port
tests_stress_port_SOURCES = tests/stress_port.c
tests_stress_port_CPPFLAGS = $(TEST_CPPFLAGS)
tests_stress_port_CFLAGS = $(AM_CFLAGS)
tests_stress_port_LDADD = libuvactor.la $(UV_LIBS) $(MSGPACK_LIBS) $(PTHREAD_LIBS)

# ---- actors and the worker pool (actors/) ---------------------------------------------------------
# test_actor, test_actor_end, test_actor_nesting: one Check test per rule of include/uvactor/actor.h (spawn
# and the parent's events; terminate, join and ref; actors of actors); they never touch libuv's threadpool,
# so Check may fork per test. test_pool and test_pool_late test the process-wide worker pool, which can be
# started once: each runs its tests in order in one process (UVA_TEST_NOFORK, see check_main.h), and
# test_pool_late is its own program because it starts the pool before uva_pool_init() is called.

if HAVE_CHECK
check_PROGRAMS += tests/test_actor tests/test_actor_end tests/test_actor_nesting tests/test_pool \
	tests/test_pool_late
TESTS += tests/test_actor tests/test_actor_end tests/test_actor_nesting tests/test_pool tests/test_pool_late
endif
tests_test_actor_SOURCES = tests/test_actor.c
tests_test_actor_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_actor_CFLAGS = $(TEST_CFLAGS)
tests_test_actor_LDADD = $(TEST_LDADD)

tests_test_actor_end_SOURCES = tests/test_actor_end.c
tests_test_actor_end_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_actor_end_CFLAGS = $(TEST_CFLAGS)
tests_test_actor_end_LDADD = $(TEST_LDADD)

tests_test_actor_nesting_SOURCES = tests/test_actor_nesting.c
tests_test_actor_nesting_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_actor_nesting_CFLAGS = $(TEST_CFLAGS)
tests_test_actor_nesting_LDADD = $(TEST_LDADD)

tests_test_pool_SOURCES = tests/test_pool.c
tests_test_pool_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_pool_CFLAGS = $(TEST_CFLAGS)
tests_test_pool_LDADD = $(TEST_LDADD)

tests_test_pool_late_SOURCES = tests/test_pool_late.c
tests_test_pool_late_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_pool_late_CFLAGS = $(TEST_CFLAGS)
tests_test_pool_late_LDADD = $(TEST_LDADD)

# ---- the task pool (actors/tpool*.c) --------------------------------------------------------------
# test_tpool: one Check test per rule of include/uvactor/tpool.h (workers are actors, not libuv's
# threadpool: Check may fork). stress_tpool: tasks submitted, cancelled, timed out, failing and killing
# their workers while pools close at random; speaks TAP, UVA_STRESS_SECONDS and UVA_STRESS_SEED as above.

if HAVE_CHECK
check_PROGRAMS += tests/test_tpool
TESTS += tests/test_tpool
endif
tests_test_tpool_SOURCES = tests/test_tpool.c
tests_test_tpool_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_tpool_CFLAGS = $(TEST_CFLAGS)
tests_test_tpool_LDADD = $(TEST_LDADD)

check_PROGRAMS += tests/stress_tpool
TESTS += tests/stress_tpool
tests_stress_tpool_SOURCES = tests/stress_tpool.c
tests_stress_tpool_CPPFLAGS = $(TEST_CPPFLAGS)
tests_stress_tpool_CFLAGS = $(AM_CFLAGS)
tests_stress_tpool_LDADD = libuvactor.la $(UV_LIBS) $(MSGPACK_LIBS) $(PTHREAD_LIBS)

# ---- examples -------------------------------------------------------------------------------------
# examples.sh runs every example program (examples/local.mk) and checks that it exits 0; it is in TESTS
# only when the examples are built.

if BUILD_EXAMPLES
TESTS += tests/examples.sh
endif
EXTRA_DIST += tests/examples.sh

# ---- fault injection and bad input ----------------------------------------------------------------
# test_faults walks every fault point of a build configured with --enable-fault-injection (serialize/
# alloc.h): each one fails once under a scenario, which must see the error, leak nothing and leave the
# library usable. It runs in one process (its tests share the list of sites walked) and reads the
# library's sources to know every fault point there is. test_badinput is the table of wrong arguments
# and malformed input against the error codes the headers document (docs/errors.md is the same table); its
# rows are in one file per public header (tests/badinput_*.c).

if FAULT_INJECTION
if HAVE_CHECK
check_PROGRAMS += tests/test_faults
TESTS += tests/test_faults
endif
endif
tests_test_faults_SOURCES = tests/test_faults.c
tests_test_faults_CPPFLAGS = $(TEST_CPPFLAGS) -DUVA_SRCDIR='"$(abs_top_srcdir)"'
tests_test_faults_CFLAGS = $(TEST_CFLAGS)
tests_test_faults_LDADD = $(TEST_LDADD)
# With the remote transport, its scenario too (faults_remote.h): a node that connects to itself.
if BUILD_REMOTE
tests_test_faults_CPPFLAGS += -DUVA_FAULTS_REMOTE
tests_test_faults_LDADD += libuvactor-remote.la
endif
EXTRA_DIST += tests/faults_remote.h

if HAVE_CHECK
check_PROGRAMS += tests/test_badinput
TESTS += tests/test_badinput
endif
tests_test_badinput_SOURCES = tests/test_badinput.c tests/badinput_msg.c tests/badinput_port.c \
	tests/badinput_actor.c tests/badinput_tpool.c tests/badinput_supervise.c tests/badinput_call.c \
	tests/badinput_stats.c
tests_test_badinput_CPPFLAGS = $(TEST_CPPFLAGS) -DUVA_SRCDIR='"$(abs_top_srcdir)"'
tests_test_badinput_CFLAGS = $(TEST_CFLAGS)
tests_test_badinput_LDADD = $(TEST_LDADD)
# With the remote transport, its rows too (badinput_remote.c), linked with libuvactor-remote.
if BUILD_REMOTE
tests_test_badinput_SOURCES += tests/badinput_remote.c
tests_test_badinput_CPPFLAGS += -DUVA_BADINPUT_REMOTE
tests_test_badinput_LDADD += libuvactor-remote.la
endif
EXTRA_DIST += tests/badinput_remote.c
# test_badinput checks that docs/errors.md shows its tables: the page is test data too.
EXTRA_DIST += docs/errors.md

# ---- the API docs -------------------------------------------------------------------------------------
# apidocs.sh: the API sections of docs/*.md are what tests/apidocs.py generates from the headers' comments
# (python3; skipped without it). Regenerate them with `python3 tests/apidocs.py --write'.

TESTS += tests/apidocs.sh
EXTRA_DIST += tests/apidocs.sh tests/apidocs.py

# ---- stats (include/uvactor/stats.h) ---------------------------------------------------------------
# test_stats: port and member counters, loop utilization, process-wide counts. top.sh runs bench/uvactor-top
# for two seconds and checks its table.

if HAVE_CHECK
check_PROGRAMS += tests/test_stats
TESTS += tests/test_stats
endif
tests_test_stats_SOURCES = tests/test_stats.c
tests_test_stats_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_stats_CFLAGS = $(TEST_CFLAGS)
tests_test_stats_LDADD = $(TEST_LDADD)

TESTS += tests/top.sh
EXTRA_DIST += tests/top.sh

# ---- actor mesh stress ----------------------------------------------------------------------------
# stress_mesh: actors spawned, terminated and respawned at random while channels between them carry
# numbered messages, move from actor to actor and close; every message posted must be delivered once and
# in order or dropped with its end. It speaks TAP itself, runs UVA_STRESS_SECONDS (default 4), and
# UVA_STRESS_SEED=S (or argv[1]) replays a run.

check_PROGRAMS += tests/stress_mesh
TESTS += tests/stress_mesh
tests_stress_mesh_SOURCES = tests/stress_mesh.c
tests_stress_mesh_CPPFLAGS = $(TEST_CPPFLAGS)
tests_stress_mesh_CFLAGS = $(AM_CFLAGS)
tests_stress_mesh_LDADD = libuvactor.la $(UV_LIBS) $(MSGPACK_LIBS) $(PTHREAD_LIBS)

# ---- API regressions ------------------------------------------------------------------------------
# test_api_regress: the smallest programs that showed a library bug (found by stress_mesh and fuzz_api).

if HAVE_CHECK
check_PROGRAMS += tests/test_api_regress
TESTS += tests/test_api_regress
endif
tests_test_api_regress_SOURCES = tests/test_api_regress.c
tests_test_api_regress_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_api_regress_CFLAGS = $(TEST_CFLAGS)
tests_test_api_regress_LDADD = $(TEST_LDADD)

# test_actor_regress: the same for actors/ (the core under attack: ref/unref to the exit, waits that terminate
# ends, ports an ending actor holds, stack sizes, error texts, fork).

if HAVE_CHECK
check_PROGRAMS += tests/test_actor_regress
TESTS += tests/test_actor_regress

# test_actor_reuse: threads kept from ended actors (uva_actor_set_reuse()): what an actor on one sees, the
# bound, idle threads ending, stack sizes, fork, concurrent spawns.
check_PROGRAMS += tests/test_actor_reuse
TESTS += tests/test_actor_reuse
tests_test_actor_reuse_SOURCES = tests/test_actor_reuse.c
tests_test_actor_reuse_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_actor_reuse_CFLAGS = $(TEST_CFLAGS)
tests_test_actor_reuse_LDADD = $(TEST_LDADD)
endif
tests_test_actor_regress_SOURCES = tests/test_actor_regress.c
tests_test_actor_regress_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_actor_regress_CFLAGS = $(TEST_CFLAGS)
tests_test_actor_regress_LDADD = $(TEST_LDADD)

# ---- API fuzzing ----------------------------------------------------------------------------------
# fuzz_api: the port and message API driven by a program read from the input, on one thread with two
# loops (no actors, no threadpool); built like fuzz_msg and run by fuzz-smoke over tests/corpus/fuzz_api/.

FUZZ_TARGETS += tests/fuzz_api
tests_fuzz_api_SOURCES = tests/fuzz_api.c $(libuvactor_la_SOURCES)
tests_fuzz_api_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_api_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_api_LDADD = $(FUZZ_LDADD)

# ---- recovery: ids, monitors, links, names, supervisors (actors/) ------------------------------------
# test_monitor: actor ids, monitors and links; test_names: the name registry; test_supervisor: supervisors,
# their strategies, intensity, backoff, trees. stress_supervise: a supervision tree whose children fail at
# random, checking every restart against the strategy, the intensity limit, and that threads, descriptors
# and memory do not grow; TAP itself, UVA_STRESS_SECONDS (default 3) and UVA_STRESS_SEED=S to replay.

if HAVE_CHECK
check_PROGRAMS += tests/test_monitor tests/test_names tests/test_supervisor
TESTS += tests/test_monitor tests/test_names tests/test_supervisor
endif
tests_test_monitor_SOURCES = tests/test_monitor.c
tests_test_monitor_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_monitor_CFLAGS = $(TEST_CFLAGS)
tests_test_monitor_LDADD = $(TEST_LDADD)
tests_test_names_SOURCES = tests/test_names.c
tests_test_names_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_names_CFLAGS = $(TEST_CFLAGS)
tests_test_names_LDADD = $(TEST_LDADD)
tests_test_supervisor_SOURCES = tests/test_supervisor.c
tests_test_supervisor_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_supervisor_CFLAGS = $(TEST_CFLAGS)
tests_test_supervisor_LDADD = $(TEST_LDADD)
EXTRA_DIST += tests/supervise_fixture.h tests/proc_counts.h

check_PROGRAMS += tests/stress_supervise
TESTS += tests/stress_supervise
tests_stress_supervise_SOURCES = tests/stress_supervise.c
tests_stress_supervise_CPPFLAGS = $(TEST_CPPFLAGS)
tests_stress_supervise_CFLAGS = $(AM_CFLAGS)
tests_stress_supervise_LDADD = libuvactor.la $(UV_LIBS) $(MSGPACK_LIBS) $(PTHREAD_LIBS)

# ---- calls (channel/call.c) -----------------------------------------------------------------------
# test_call: one Check test per rule of include/uvactor/call.h. stress_call: callers, callees and forwarders
# on actors, with random timeouts, cancels, closes and terminates; every call completes once, with its own
# answer or a documented status (TAP itself, UVA_STRESS_SECONDS and UVA_STRESS_SEED as stress_mesh).
# test_call_recovery: calls meet supervise.h (ports opened by name, callees that fail, supervised restarts).

if HAVE_CHECK
check_PROGRAMS += tests/test_call tests/test_call_recovery
TESTS += tests/test_call tests/test_call_recovery
endif
tests_test_call_SOURCES = tests/test_call.c
tests_test_call_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_call_CFLAGS = $(TEST_CFLAGS)
tests_test_call_LDADD = $(TEST_LDADD)
tests_test_call_recovery_SOURCES = tests/test_call_recovery.c
tests_test_call_recovery_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_call_recovery_CFLAGS = $(TEST_CFLAGS)
tests_test_call_recovery_LDADD = $(TEST_LDADD)

check_PROGRAMS += tests/stress_call
TESTS += tests/stress_call
tests_stress_call_SOURCES = tests/stress_call.c
tests_stress_call_CPPFLAGS = $(TEST_CPPFLAGS)
tests_stress_call_CFLAGS = $(AM_CFLAGS)
tests_stress_call_LDADD = libuvactor.la $(UV_LIBS) $(MSGPACK_LIBS) $(PTHREAD_LIBS)

# ---- the remote transport (remote/) ---------------------------------------------------------------
# remote_node: a node the remote tests start as another process (it serves actor mains, see its top).

if BUILD_REMOTE
check_PROGRAMS += tests/remote_node
endif
tests_remote_node_SOURCES = tests/remote_node.c tests/remote_timing.h
tests_remote_node_CPPFLAGS = $(TEST_CPPFLAGS)
tests_remote_node_CFLAGS = $(AM_CFLAGS)
tests_remote_node_LDADD = libuvactor-remote.la libuvactor.la $(UV_LIBS) $(MSGPACK_LIBS) $(PTHREAD_LIBS)

# test_remote: one Check test per rule of include/uvactor/remote.h, against remote_node processes on
# loopback (tests/remote_helpers.h starts, kills and pauses them).
if BUILD_REMOTE
if HAVE_CHECK
check_PROGRAMS += tests/test_remote
TESTS += tests/test_remote
endif
endif
tests_test_remote_SOURCES = tests/test_remote.c tests/remote_helpers.h tests/node_proc.h tests/remote_timing.h \
	tests/tcp_proxy.h
tests_test_remote_CPPFLAGS = $(TEST_CPPFLAGS) $(ZMQ_CFLAGS)
tests_test_remote_CFLAGS = $(TEST_CFLAGS)
tests_test_remote_LDADD = libuvactor-remote.la $(TEST_LDADD) $(ZMQ_LIBS)

# test_remote_loop: the same tests with every node's transport on its program's loop (uva_node_options_t
# .on_loop: this process's and the remote_node processes'), but those that need a transport running while
# the test's loop does not, and the rules of that mode.
if BUILD_REMOTE
if HAVE_CHECK
check_PROGRAMS += tests/test_remote_loop
TESTS += tests/test_remote_loop
endif
endif
tests_test_remote_loop_SOURCES = $(tests_test_remote_SOURCES)
tests_test_remote_loop_CPPFLAGS = $(tests_test_remote_CPPFLAGS) -DUVA_TEST_REMOTE_LOOP
# (the tests it leaves out are defined and unused there; test_remote's build warns of any other)
tests_test_remote_loop_CFLAGS = $(TEST_CFLAGS) -Wno-unused-variable -Wno-unused-function
tests_test_remote_loop_LDADD = $(tests_test_remote_LDADD)

# stress_remote: chains of remote ports and actors across 3 processes (this one and two remote_node), one of
# which is killed and started again, with stress_mesh's exact accounting.
if BUILD_REMOTE
check_PROGRAMS += tests/stress_remote
TESTS += tests/stress_remote
endif
tests_stress_remote_SOURCES = tests/stress_remote.c tests/node_proc.h tests/remote_timing.h
tests_stress_remote_CPPFLAGS = $(TEST_CPPFLAGS)
tests_stress_remote_CFLAGS = $(AM_CFLAGS)
tests_stress_remote_LDADD = libuvactor-remote.la libuvactor.la $(UV_LIBS) $(MSGPACK_LIBS) $(PTHREAD_LIBS)

# remote_peer: the cross-language test, a node in Python (tests/remote_peer.py) against remote_node, when
# configure found a python3 with zmq and msgpack (tests/remote_peer.sh skips, saying so, without one);
# remote_peer_loop: the same against a remote_node whose transport runs on its loop.
if BUILD_REMOTE
TESTS += tests/remote_peer.sh tests/remote_peer_loop.sh
endif
EXTRA_DIST += tests/remote_peer.sh tests/remote_peer_loop.sh tests/remote_peer.py

# remote_partition: two nodes in two network namespaces, the link between them cut and restored (root and
# iproute2; skipped, saying why, where namespaces cannot be made).
if BUILD_REMOTE
TESTS += tests/remote_partition.sh
endif
EXTRA_DIST += tests/remote_partition.sh
