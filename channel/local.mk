libuvactor_la_SOURCES += \
	channel/cancel.h \
	channel/cancel.c \
	channel/call.h \
	channel/call.c \
	channel/end.h \
	channel/end.c \
	channel/fork.c \
	channel/endpoint.h \
	channel/endpoint.c \
	channel/holder.h \
	channel/holder.c \
	channel/loop.c \
	channel/port.c \
	channel/transit.c \
	channel/queue_stats.c \
	channel/broadcast.c

uvactor_HEADERS += include/uvactor/port.h include/uvactor/call.h
