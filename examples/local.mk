# Example programs: small real programs a user can read in five minutes each. Built unless configure
# was given --disable-examples (Makefile.am includes this file under BUILD_EXAMPLES); never installed.
# They use only the public API, as an outside program would.
noinst_PROGRAMS += examples/msgdemo

examples_msgdemo_SOURCES = examples/msgdemo.c
examples_msgdemo_CPPFLAGS = $(AM_CPPFLAGS) -UUVA_BUILDING
examples_msgdemo_LDADD = libuvactor.la $(UV_LIBS) $(MSGPACK_LIBS) $(PTHREAD_LIBS)
