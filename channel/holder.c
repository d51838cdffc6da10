/* The new handles an actor holds, closed when it ends (holder.h). */
#include "holder.h"

static __thread uva__holder_t *thread_holder __attribute__((tls_model("initial-exec")));

int uva__holder_init(uva__holder_t *holder) {
  holder->first = NULL;
  return uv_mutex_init(&holder->lock);
}

void uva__holder_destroy(uva__holder_t *holder) {
  uv_mutex_destroy(&holder->lock);
}

void uva__holder_set_thread(uva__holder_t *holder) {
  thread_holder = holder;
}

static void hold(uva__hold_t *hold, int kind) {
  uva__holder_t *holder = thread_holder;

  hold->holder = holder;
  hold->kind = kind;
  if (holder == NULL)
    return;
  uv_mutex_lock(&holder->lock);
  hold->prev = NULL;
  hold->next = holder->first;
  if (holder->first != NULL)
    holder->first->prev = hold;
  holder->first = hold;
  uv_mutex_unlock(&holder->lock);
}

void uva__hold_port(uva_port_t *port) {
  hold(&port->hold_, UVA__HOLD_PORT);
}

void uva__hold_broadcast(uva_broadcast_t *bc) {
  hold(&bc->hold_, UVA__HOLD_BROADCAST);
}

void uva__hold_release(uva__hold_t *hold) {
  uva__holder_t *holder = hold->holder;

  if (holder == NULL)
    return;
  uv_mutex_lock(&holder->lock);
  if (hold->prev != NULL)
    hold->prev->next = hold->next;
  else
    holder->first = hold->next;
  if (hold->next != NULL)
    hold->next->prev = hold->prev;
  uv_mutex_unlock(&holder->lock);
  hold->holder = NULL;
}

void uva__holder_close_all(uva__holder_t *holder) {
  uva__hold_t *hold;

  for (;;) {
    uv_mutex_lock(&holder->lock);
    hold = holder->first;
    uv_mutex_unlock(&holder->lock);
    if (hold == NULL)
      return;
    uva__hold_release(hold);
    if (hold->kind == UVA__HOLD_PORT)
      (void)uva_port_close((uva_port_t *)((char *)hold - offsetof(uva_port_t, hold_)));
    else
      (void)uva_broadcast_close((uva_broadcast_t *)((char *)hold - offsetof(uva_broadcast_t, hold_)));
  }
}
