libuvactor_la_SOURCES += \
	serialize/message.h \
	serialize/message.c \
	serialize/decode.c \
	serialize/shared.c \
	serialize/errors.c

uvactor_HEADERS += include/uvactor/common.h include/uvactor/msg.h
