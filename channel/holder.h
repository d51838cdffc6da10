/* Internal: the new handles an actor holds, closed when it ends.
 *
 * Node closes every port a worker holds when the worker ends, so its peer hears the close. A started port
 * closes with its loop; a port or broadcast member an actor made (uva_channel_init(), uva_broadcast_init())
 * or took from a message (uva_msg_take_port()) and never started, transferred or closed belongs to no loop,
 * so the actor's thread keeps a list of them (its holder, set by the actor layer) and closes what is still
 * on it when the actor ends. A handle leaves the list when it stops being new. A thread with no holder
 * (one that is not an actor's) keeps no list. */
#ifndef UVA_CHANNEL_HOLDER_H
#define UVA_CHANNEL_HOLDER_H

#include "uvactor.h"

typedef struct uva__hold_s uva__hold_t;

typedef struct uva__holder_s {
  uv_mutex_t lock;
  uva__hold_t *first; /* [lock] */
} uva__holder_t;

int uva__holder_init(uva__holder_t *holder);
void uva__holder_destroy(uva__holder_t *holder);

/* The calling thread's holder from now on (NULL: none). */
void uva__holder_set_thread(uva__holder_t *holder);

/* A new endpoint made or taken on the calling thread (hold is its hold_): on its holder's list, if the
 * thread has one. */
void uva__hold(uva__hold_t *hold);

/* The endpoint is no longer new (started, closed, transferred): off its holder's list. */
void uva__hold_release(uva__hold_t *hold);

/* Closes every endpoint still on the list (the actor is ending), on the holder's thread. */
void uva__holder_close_all(uva__holder_t *holder);

#endif /* UVA_CHANNEL_HOLDER_H */
