# The benchmark tool: built by make, never run by make check (timings are not assertions).
noinst_PROGRAMS += bench/uvactor-bench
bench_uvactor_bench_SOURCES = \
	bench/bench.h \
	bench/common.c \
	bench/main.c \
	bench/pingpong.c \
	bench/call.c \
	bench/stream.c \
	bench/ring.c \
	bench/spawn.c \
	bench/scale.c \
	bench/restart.c \
	bench/floor.c \
	bench/floorstream.c \
	bench/limits.c \
	bench/tpool.c
bench_uvactor_bench_CPPFLAGS = $(AM_CPPFLAGS) -UUVA_BUILDING
bench_uvactor_bench_LDADD = libuvactor.la $(UV_LIBS) $(MSGPACK_LIBS)
# The remote workloads (bench/remote.c), when the remote library is built: they need it and libzmq.
if BUILD_REMOTE
bench_uvactor_bench_SOURCES += bench/remote.c
bench_uvactor_bench_CPPFLAGS += -DUVA_BENCH_REMOTE $(ZMQ_CFLAGS)
bench_uvactor_bench_LDADD += libuvactor-remote.la $(ZMQ_LIBS)
endif
EXTRA_DIST += bench/remote.c
# uvactor-top: a busy actor system and a table of its actors, once a second (uvactor/stats.h).
noinst_PROGRAMS += bench/uvactor-top
bench_uvactor_top_SOURCES = bench/top.c
bench_uvactor_top_CPPFLAGS = $(AM_CPPFLAGS) -UUVA_BUILDING
bench_uvactor_top_LDADD = libuvactor.la $(UV_LIBS) $(MSGPACK_LIBS)
# The Node.js twin, the comparison and sweep scripts and their plots (run by hand, see docs/benchmarks.md).
EXTRA_DIST += \
	bench/node/bench.js \
	bench/node/tpool.js \
	bench/node/tpool-worker.js \
	bench/compare.py \
	bench/sweep.py \
	bench/counts.py \
	bench/plots/common.gp \
	bench/plots/payload.gp \
	bench/plots/fanin.gp \
	bench/plots/ring.gp \
	bench/plots/idle.gp \
	bench/plots/tpool.gp \
	bench/plots/remote.gp
# The benchmarks page, its figures and the data they were drawn from.
EXTRA_DIST += \
	docs/benchmarks.md \
	docs/bench-payload.svg \
	docs/bench-fanin.svg \
	docs/bench-ring.svg \
	docs/bench-idle.svg \
	docs/bench-tpool.svg \
	docs/round2 \
	docs/bench-remote.svg \
	docs/bench-data
