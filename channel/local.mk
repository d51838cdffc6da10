libuvactor_la_SOURCES += \
	channel/end.h \
	channel/end.c \
	channel/handle.h \
	channel/loop.c \
	channel/port.c \
	channel/broadcast.c

uvactor_HEADERS += include/uvactor/port.h
