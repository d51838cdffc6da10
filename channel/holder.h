/* Internal: the new handles an actor holds, closed when it ends.
 *
 * Node closes every port a worker holds when the worker ends, so its peer hears the close. A started port
 * closes with its loop; a port or broadcast member an actor made (uva_channel_init(), uva_broadcast_init())
 * or took from a message (uva_msg_take_port()) and never started, transferred or closed belongs to no loop,
 * so the actor's thread keeps a list of them (its holder, set by the actor layer) and closes what is still
 * on it when the actor ends. The same list holds the actors it spawned without a loop and the task pools it
 * made without one: its end terminates and joins (closes and joins) those it did not join itself. A thread
 * with no holder (one that is not an actor's) keeps none.
 *
 * A new handle belongs to the thread that used it last: a call on it from another thread (any but a post,
 * which any thread may make at any time) moves it to that thread's list, or off every list. One lock for
 * all lists makes the move and the ending actor's close exclusive: a handle is either moved before the
 * close, and the close leaves it alone, or closed before the move, and the call finds it closed. */
#ifndef UVA_CHANNEL_HOLDER_H
#define UVA_CHANNEL_HOLDER_H

#include "uvactor.h"

typedef struct uva__hold_s uva__hold_t;

typedef struct uva__holder_s {
  uva__hold_t *first; /* [the holders' lock] */
} uva__holder_t;

void uva__holder_init(uva__holder_t *holder);

/* The calling thread's holder from now on (NULL: none). */
void uva__holder_set_thread(uva__holder_t *holder);

/* A new handle (hold is its hold_) made or taken on the calling thread: on the thread's list, if it has one.
 */
void uva__hold(uva__hold_t *hold, void *handle);

/* A call on a held handle from the calling thread: the handle moves to its list, or off every list. */
void uva__hold_claim(uva__hold_t *hold);

/* The handle is no longer held: started, closed, transferred, joined. */
void uva__hold_release(uva__hold_t *hold);

/* The handle is the library's own (an actor's private ports): no actor holds it, and no call on it from any
 * thread makes one its holder. Before the handle is shared. */
void uva__hold_pin(uva__hold_t *hold);

/* Closes every port and member still on the list, terminates and joins every actor on it, and closes and
 * joins every task pool (the holder's actor is ending), on the holder's thread. */
void uva__holder_close_all(uva__holder_t *holder);

/* The actor layer's part of that: terminates and joins a loop-less actor the ending actor did not join. */
void uva__actor_reap(uva_actor_t *actor);

/* And a task pool without a loop it made and did not join: closes it cancelling, joins and frees it. */
void uva__tpool_reap(uva_tpool_t *pool);

#endif /* UVA_CHANNEL_HOLDER_H */
