libuvactor_la_SOURCES += \
	serialize/alloc.h \
	serialize/message.h \
	serialize/message.c \
	serialize/decode.c \
	serialize/shared.c \
	serialize/recycle.c \
	serialize/errors.c

uvactor_HEADERS += include/uvactor/common.h include/uvactor/msg.h

if FAULT_INJECTION
libuvactor_la_SOURCES += serialize/fault.c
endif
EXTRA_DIST += serialize/fault.c
