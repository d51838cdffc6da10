libuvactor_la_SOURCES += \
	actors/actor.h \
	actors/self.c \
	actors/spawn.c \
	actors/pool.c

uvactor_HEADERS += include/uvactor/actor.h
