libuvactor_la_SOURCES += \
	actors/actor.h \
	actors/self.c \
	actors/spawn.c \
	actors/pool.c \
	actors/tpool.h \
	actors/tpool.c \
	actors/tpool_queue.c \
	actors/tpool_spawn.c \
	actors/tpool_worker.c \
	actors/tpool_stats.c

uvactor_HEADERS += include/uvactor/actor.h include/uvactor/tpool.h
