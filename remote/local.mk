# libuvactor-remote: ports and actors across processes over ZeroMQ (include/uvactor/remote.h,
# docs/remote.md). A library of its own, built when configure found libzmq (--with-remote): the core
# library never links libzmq. Its sources are listed whether or not it is built, so that they ship.
if BUILD_REMOTE
lib_LTLIBRARIES += libuvactor-remote.la
pkgconfig_DATA += uvactor-remote.pc
uvactor_HEADERS += include/uvactor/remote.h
endif
EXTRA_DIST += include/uvactor/remote.h uvactor-remote.pc.in

REMOTE_SOURCES = \
	remote/wire.h \
	remote/wire.c \
	remote/transport.h \
	remote/transport.c \
	remote/sockets.c \
	remote/peer.c \
	remote/channel.c \
	remote/batch.c \
	remote/held.c \
	remote/auth.c \
	remote/node.c \
	remote/ractor.c
libuvactor_remote_la_SOURCES = $(REMOTE_SOURCES)
libuvactor_remote_la_CFLAGS = $(AM_CFLAGS) $(ZMQ_CFLAGS)
libuvactor_remote_la_LIBADD = libuvactor.la $(ZMQ_LIBS) $(UV_LIBS) $(MSGPACK_LIBS) $(PTHREAD_LIBS)
# Only uva_* names, as for libuvactor (tests/symbols.sh checks both).
libuvactor_remote_la_LDFLAGS = $(AM_LDFLAGS) -version-info $(UVA_LT_VERSION) -no-undefined \
	-export-symbols-regex '^uva_[a-z0-9]'
