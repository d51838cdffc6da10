/* Links: a child spawned with UVA_ACTOR_LINK that ends abnormally ends its parent, unless the parent traps
 * exits (Erlang's link and trap_exit, one way: a parent's end already ends its children).
 *
 * The parent learns of the child's end on its own thread, where its exit event is delivered (or where it
 * joins a loop-less child), so the parent ends there, as if it had called uva_self_exit(): at its loop's next
 * turn, with no thread reaching into another's state. */
#include "actors/actor.h"

/* Abnormal: any exit code but 0, except a terminate the parent's own thread asked for (the parent decided
 * the child's end; its own teardown terminating its children is one such). */
static int abnormal(int exit_code, int stopped_here) {
  return exit_code != 0 && !(exit_code == UVA_EXIT_TERMINATED && stopped_here);
}

void uva__link_child_ended(int exit_code, int stopped_here) {
  uva_self_t *self = uva__self_current();

  /* A parent that is not an actor (a plain main) is never ended by the library: it has the exit event. One
   * in its teardown is ending already (its end joins the loop-less children it did not join). */
  if (self == NULL || self->trap_exits || self->tearing_down || !abnormal(exit_code, stopped_here))
    return;
  /* The first reason to end counts: an actor already ending keeps its own exit code. */
  (void)uva_self_exit(self, UVA_EXIT_LINKED);
}

int uva_self_trap_exits(uva_self_t *self, int on) {
  if (self == NULL)
    return UV_EINVAL;
  self->trap_exits = on != 0;
  return 0;
}
