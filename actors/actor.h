/* Internal: what an actor's thread and its parent share. */
#ifndef UVA_ACTORS_ACTOR_H
#define UVA_ACTORS_ACTOR_H

#include <stdatomic.h>

#include "actors/record.h"
#include "channel/endpoint.h"

/* Control messages on the private channel from actor to parent: [kind] or [kind, text]. */
enum { UVA__CONTROL_ONLINE = 0, UVA__CONTROL_ERROR = 1 };

struct uva_self_s {
  struct uva__actor_shared_s *actor;
  uv_loop_t loop;
  uv_async_t stop_async; /* wakes the loop to stop it, from terminate */
  uva_port_t port;       /* to the parent */
  uva_port_t control;    /* to the parent, private: online, error; closed last, as the thread ends */
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

/* What an actor's thread and its parent share: made by spawn, freed by the join. */
typedef struct uva__actor_shared_s {
  uv_thread_t thread;
  uv_mutex_t lock;
  atomic_int stop;         /* asked to stop: terminate or uva_self_exit() */
  atomic_int failed;       /* uva_self_fail() was called: the parent reports an error even if its text
                              could not be sent */
  int terminated;          /* [lock] the stop came from terminate */
  int running;             /* [lock] the loop may be woken through self.stop_async */
  int ended;               /* [lock] the thread is past its loop: terminate is too late */
  int exit_code;           /* written by the thread before it closes control; read after that */
  unsigned int generation; /* the process generation it was spawned in: a forked child's copy refuses */
  uva__cancel_t cancel;    /* fired by terminate and uva_self_exit(): ends the thread's blocking waits */
  uva__holder_t holder;    /* the new ports and members the thread holds, closed as it ends */
  uva__record_t *record;   /* its entry in the table of actors by id; ended by the thread (self.c) */
  uint64_t id;
  struct uva_self_s self;
} uva__actor_shared_t;

/* The actor thread's body (self.c). */
void uva__actor_thread(void *arg);

/* Packs a control message; text may be NULL. */
int uva__control_msg(int kind, const char *text, uva_msg_t **msgp);

/* The actor whose thread this is, or NULL (self.c). */
uva_self_t *uva__self_current(void);

/* Whether the calling thread is an actor that is ending (asked to stop, or tearing down its loop): code
 * reacting to an event must then start nothing new on the loop (self.c). */
int uva__self_ending(void);

/* Whether the options are ones uva_actor_spawn() takes with loop (spawn.c). */
int uva__actor_options_valid(uv_loop_t *loop, const uva_actor_options_t *options);

/* Links (link.c). A linked child ended with exit_code; stopped_here says the parent's own thread terminated
 * it. Called on the parent's thread, which ends if it is an actor that does not trap exits and the end was
 * abnormal. */
void uva__link_child_ended(int exit_code, int stopped_here);

#endif /* UVA_ACTORS_ACTOR_H */
