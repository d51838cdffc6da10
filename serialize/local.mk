libuvactor_la_SOURCES += \
	serialize/message.h \
	serialize/message.c \
	serialize/decode.c \
	serialize/shared.c \
	serialize/recycle.c

uvactor_HEADERS += include/uvactor/msg.h
