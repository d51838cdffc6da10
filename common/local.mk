# The internal core every module uses: allocation and its fault points, lists, a heap, the in-flight guard,
# the process-wide locks, error texts, handle types' names.
libuvactor_la_SOURCES += \
	common/alloc.h \
	common/clock.h \
	common/counter.h \
	common/guard.h \
	common/heap.h \
	common/list.h \
	common/once.h \
	common/prefetch.h \
	common/spin.h \
	common/errors.c \
	common/handles.c \
	common/heap.c \
	common/prefetch.c \
	common/spin.c

uvactor_HEADERS += include/uvactor/common.h

if FAULT_INJECTION
libuvactor_la_SOURCES += common/fault.c
endif
EXTRA_DIST += common/fault.c
