/* The new handles an actor holds, closed when it ends (holder.h). */
#include "channel/endpoint.h"

static __thread uva__holder_t *thread_holder __attribute__((tls_model("initial-exec")));

int uva__holder_init(uva__holder_t *holder) {
  holder->first = NULL;
  return uv_mutex_init(&holder->lock);
}

void uva__holder_destroy(uva__holder_t *holder) {
  assert(holder->first == NULL);
  uv_mutex_destroy(&holder->lock);
}

void uva__holder_set_thread(uva__holder_t *holder) {
  thread_holder = holder;
}

void uva__hold(uva__hold_t *hold) {
  uva__holder_t *holder = thread_holder;

  hold->holder = holder;
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
  uva__endpoint_t *ep;
  uva__hold_t *hold;

  for (;;) {
    uv_mutex_lock(&holder->lock);
    hold = holder->first;
    uv_mutex_unlock(&holder->lock);
    if (hold == NULL)
      return;
    uva__hold_release(hold);
    ep = uva__container_of(hold, uva__endpoint_t, hold_);
    if (ep->type == UVA_PORT)
      (void)uva_port_close((uva_port_t *)ep);
    else
      (void)uva_broadcast_close((uva_broadcast_t *)ep);
  }
}
