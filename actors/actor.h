/* Internal: what an actor's thread and its parent share. */
#ifndef UVA_ACTORS_ACTOR_H
#define UVA_ACTORS_ACTOR_H

#include <signal.h>
#include <stdatomic.h>

#include "actors/record.h"
#include "channel/endpoint.h"
#include "common/spin.h"

/* Control messages on the private channel from actor to parent: [kind] or [kind, text]. */
enum { UVA__CONTROL_ONLINE = 0, UVA__CONTROL_ERROR = 1 };

/* The parent's handle's state_ while the actor runs, and once it is joined (spawn.c). */
enum { UVA__ACTOR_RUNNING = 0x75610101, UVA__ACTOR_ENDED };

/* Whether an actor handle in state still points to its actor (common/guard.h). */
static inline int uva__actor_running(unsigned int state) {
  return state == UVA__ACTOR_RUNNING;
}

/* Whether the actor's loop measures its utilization (elu.c): off until someone asks. */
enum { UVA__MEASURE_OFF = 0, UVA__MEASURE_ASKED, UVA__MEASURE_ON };

struct uva_self_s {
  struct uva__actor_shared_s *actor;
  uv_loop_t *loop;     /* its thread's (threads.c) */
  uva__loop_t *wakeup; /* its loop's wakeup (channel/loop.c), held while the loop runs: other threads poke
                           it to stop the loop (terminate), or to start measuring (uva_actor_elu()) */
  uva_port_t port;     /* to the parent */
  uva_port_t control;  /* to the parent, private: online, error; closed last, as the thread ends */
  uva_msg_t *init;
  uva_msg_t *online; /* made at spawn, so the online event cannot be lost to a failed allocation */
  void *arg;
  uva_actor_main_cb main_cb;
  int exit_code;
  int exit_called;
  int trap_exits;   /* uva_self_trap_exits() */
  int tearing_down; /* its loop is being torn down: nothing new may start on it */
  char name[64];
};

/* Linux keeps 15 bytes of a thread's name and the NUL. */
#define UVA__THREAD_NAME_LEN 16

/* A thread actors run on (threads.c). */
typedef struct uva__thread_s uva__thread_t;

/* What an actor's thread and its parent share: made by spawn, freed by the join. */
typedef struct uva__actor_shared_s {
  uva__thread_t *thread;
  sigset_t spawner_mask;                   /* a kept thread takes these, as a new one inherits them */
  char spawner_name[UVA__THREAD_NAME_LEN]; /* (threads.c) */
  uv_mutex_t lock;
  atomic_int stop;         /* asked to stop: terminate or uva_self_exit() */
  atomic_int failed;       /* uva_self_fail() was called: the parent reports an error even if its text
                              could not be sent */
  int terminated;          /* [lock] the stop came from terminate */
  int running;             /* [lock] the loop may be poked through self.wakeup */
  int ended;               /* [lock] the thread is past its loop: terminate is too late */
  int exit_code;           /* written by the thread before it closes control; read after that */
  unsigned int generation; /* the process generation it was spawned in: a forked child's copy refuses */
  uva__cancel_t cancel;    /* fired by terminate and uva_self_exit(): ends the thread's blocking waits */
  uva__holder_t holder;    /* the new ports and members the thread holds, closed as it ends */
  uva__record_t *record;   /* its entry in the table of actors by id; ended by the thread (self.c) */
  uint64_t id;
  uva__spin_account_t spin; /* the time its thread spun (common/spin.h): written by its thread */
  int measure;              /* [lock] UVA__MEASURE_*: whether its loop measures idle time */
  int loop_closed;          /* [lock] the loop is gone: the figures below are its last */
  uint64_t measure_start;   /* [lock] uv_hrtime() when measuring started */
  uint64_t spin_base;       /* [lock] spin_ns then */
  uint64_t measure_end;     /* [lock] uv_hrtime() when the loop closed, measuring; else 0 */
  uint64_t last_idle;       /* [lock] its idle time then */
  uint64_t last_spin;       /* [lock] and its spinning */
  struct uva_self_s self;
} uva__actor_shared_t;

/* The actor's body, on its thread (self.c): when it returns, the thread is done with actor. */
void uva__actor_thread(uva__actor_shared_t *actor);

/* Starts actor on a thread (threads.c): a kept one with stack_size if keep and there is one, else a new one,
 * which is kept after the actor if keep. 0, UV_ENOMEM or UV_EAGAIN (no thread could be made). */
int uva__thread_start(uva__actor_shared_t *actor, size_t stack_size, int keep);

/* The actor's loop, on its thread: the one its thread kept from its last actor, or a new one. Sets
 * actor->self.loop. 0, or what uv_loop_init() returned. */
int uva__thread_loop_open(uva__actor_shared_t *actor);

/* The actor is done with its loop, whose handles are closed and run: kept for the thread's next actor if it
 * proves as empty as a new one (reusable: it never measured its idle time), else closed. */
void uva__thread_loop_close(uva__actor_shared_t *actor, int reusable);

/* Watches for a moment, spinning, for the actor's thread to be done with actor (uva__thread_join() then waits
 * for nothing): for a joiner about to block. */
void uva__thread_spin_done(uva__actor_shared_t *actor);

/* Waits until the actor's thread is done with actor (uva__actor_thread() returned), then keeps the thread
 * for another actor or ends and joins it. */
void uva__thread_join(uva__actor_shared_t *actor);

/* While held (the calls nest), no kept thread ends by itself and none that ended is left unjoined, so the
 * process's thread count moves only with what others do (uva_pool_init() counts threads). */
void uva__threads_hold(void);
void uva__threads_release(void);

/* Packs a control message; text may be NULL. */
int uva__control_msg(int kind, const char *text, uva_msg_t **msgp);

/* The actor whose thread this is, or NULL (self.c). */
uva_self_t *uva__self_current(void);

/* Whether the calling thread is an actor that is ending (asked to stop, or tearing down its loop): code
 * reacting to an event must then start nothing new on the loop (self.c). */
int uva__self_ending(void);

/* Loop utilization (elu.c). Called on the actor's thread with actor->lock held: the loop starts measuring
 * if it was asked to (or, with now, at once), and says whether it did; the loop is closing, so its figures
 * stop. */
int uva__elu_start_locked(uva__actor_shared_t *actor, int now);
void uva__elu_stop_locked(uva__actor_shared_t *actor);

/* Whether the options are ones uva_actor_spawn() takes with loop (spawn.c). */
int uva__actor_options_valid(uv_loop_t *loop, const uva_actor_options_t *options);

/* Links (link.c). A linked child ended with exit_code; stopped_here says the parent's own thread terminated
 * it. Called on the parent's thread, which ends if it is an actor that does not trap exits and the end was
 * abnormal. */
void uva__link_child_ended(int exit_code, int stopped_here);

#endif /* UVA_ACTORS_ACTOR_H */
