libuvactor_la_SOURCES += \
	actors/actor.h \
	actors/self.c \
	actors/spawn.c \
	actors/threads.c \
	actors/pool.c \
	actors/lifeline.h \
	actors/lifeline.c \
	actors/elu.c \
	actors/process_stats.c \
	actors/tpool.h \
	actors/tpool.c \
	actors/tpool_queue.c \
	actors/tpool_spawn.c \
	actors/tpool_worker.c \
	actors/tpool_stats.c \
	actors/record.h \
	actors/record.c \
	actors/link.c \
	actors/monitor.c \
	actors/proxy.c \
	actors/names.c \
	actors/supervisor.c

uvactor_HEADERS += include/uvactor/actor.h include/uvactor/tpool.h include/uvactor/supervise.h \
	include/uvactor/stats.h
