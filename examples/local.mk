# Example programs: small real programs a user can read in five minutes each. Built unless configure
# was given --disable-examples (Makefile.am includes this file under BUILD_EXAMPLES); never installed.
# They use only the public API, as an outside program would.
noinst_PROGRAMS += examples/msgdemo

examples_msgdemo_SOURCES = examples/msgdemo.c
examples_msgdemo_CPPFLAGS = $(AM_CPPFLAGS) -UUVA_BUILDING
examples_msgdemo_LDADD = libuvactor.la $(UV_LIBS) $(MSGPACK_LIBS) $(PTHREAD_LIBS)

# The actor examples (each one program, one source file). wordfreq, the showcase, counts this project's own
# sources when run without arguments: it is told where they are.
noinst_PROGRAMS += examples/wordfreq examples/pingpong examples/pipeline examples/broadcast \
	examples/lookup examples/blocking examples/mandel examples/supervised examples/kv
EXAMPLE_CPPFLAGS = $(AM_CPPFLAGS) -UUVA_BUILDING
EXAMPLE_LDADD = libuvactor.la $(UV_LIBS) $(MSGPACK_LIBS) $(PTHREAD_LIBS)

examples_wordfreq_SOURCES = examples/wordfreq.c
examples_wordfreq_CPPFLAGS = $(EXAMPLE_CPPFLAGS) -DWORDFREQ_SRCDIR='"$(abs_top_srcdir)"'
examples_wordfreq_LDADD = $(EXAMPLE_LDADD)
# With the remote transport, wordfreq -r runs its counters on two more processes (nodes of its own).
if BUILD_REMOTE
examples_wordfreq_CPPFLAGS += -DWORDFREQ_REMOTE
examples_wordfreq_LDADD += libuvactor-remote.la
endif
examples_pingpong_SOURCES = examples/pingpong.c
examples_pingpong_CPPFLAGS = $(EXAMPLE_CPPFLAGS)
examples_pingpong_LDADD = $(EXAMPLE_LDADD)
examples_pipeline_SOURCES = examples/pipeline.c
examples_pipeline_CPPFLAGS = $(EXAMPLE_CPPFLAGS)
examples_pipeline_LDADD = $(EXAMPLE_LDADD)
examples_broadcast_SOURCES = examples/broadcast.c
examples_broadcast_CPPFLAGS = $(EXAMPLE_CPPFLAGS)
examples_broadcast_LDADD = $(EXAMPLE_LDADD)
examples_lookup_SOURCES = examples/lookup.c
examples_lookup_CPPFLAGS = $(EXAMPLE_CPPFLAGS)
examples_lookup_LDADD = $(EXAMPLE_LDADD)
examples_blocking_SOURCES = examples/blocking.c
examples_blocking_CPPFLAGS = $(EXAMPLE_CPPFLAGS)
examples_blocking_LDADD = $(EXAMPLE_LDADD)
examples_kv_SOURCES = examples/kv.c
examples_kv_CPPFLAGS = $(EXAMPLE_CPPFLAGS)
examples_kv_LDADD = $(EXAMPLE_LDADD)
examples_mandel_SOURCES = examples/mandel.c
examples_mandel_CPPFLAGS = $(EXAMPLE_CPPFLAGS)
examples_mandel_LDADD = $(EXAMPLE_LDADD)
examples_supervised_SOURCES = examples/supervised.c
examples_supervised_CPPFLAGS = $(EXAMPLE_CPPFLAGS)
examples_supervised_LDADD = $(EXAMPLE_LDADD)
