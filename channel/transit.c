/* Ports in transit, and the cycles they could make.
 *
 * A port packed into a message belongs to that message; a message in a queue belongs to the end it is
 * queued on. If a port's own queue came to hold, through such links, the message that carries it, nobody
 * could ever take it: posts to it would succeed and never be delivered, and its memory would never go. Two
 * actors that hand each other one end of two channels at the same moment do exactly that. So every post
 * of a message that carries a port walks up from the receiving end (the message carrying it, the end that
 * message is queued on, ...) and refuses the post (UV_ELOOP) if the walk meets a port the message carries.
 *
 * The links are kept for messages that carry ports only, under one lock taken after any end's lock; a
 * message of plain bytes or buffers never takes it. */
#include "channel/end.h"

static uv_mutex_t transit_lock = UVA__MUTEX_INITIALIZER;

static void transit_after_fork(void) {
  UVA__MUTEX_RESET(transit_lock);
}

UVA__AFTER_FORK(transit_after_fork)

/* Whether msg carries a port it has not given up. */
static int carries_ports(const uva_msg_t *msg) {
  uint32_t i;

  for (i = 0; i < msg->nattach; i++)
    if (msg->attach[i].type != NULL && msg->attach[i].ext == UVA_EXT_PORT)
      return 1;
  return 0;
}

/* transit_lock held. Whether msg carries the end that, or whose transit, holds dest. */
static int would_cycle(const uva__end_t *dest, const uva_msg_t *msg) {
  const uva__end_t *end;
  uint32_t i;

  for (end = dest; end != NULL; end = end->transit_msg != NULL ? end->transit_msg->queued_on : NULL)
    for (i = 0; i < msg->nattach; i++)
      if (msg->attach[i].type != NULL && msg->attach[i].ext == UVA_EXT_PORT && msg->attach[i].ptr == end)
        return 1;
  return 0;
}

int uva__transit_arrive_slow(uva__end_t *dest, uva_msg_t *msg) {
  int err = 0;

  if (!carries_ports(msg))
    return 0;
  uv_mutex_lock(&transit_lock);
  if (would_cycle(dest, msg))
    err = UV_ELOOP;
  else
    msg->queued_on = dest;
  uv_mutex_unlock(&transit_lock);
  return err;
}

void uva__transit_depart_slow(uva_msg_t *msg) {
  uv_mutex_lock(&transit_lock);
  msg->queued_on = NULL;
  uv_mutex_unlock(&transit_lock);
}

void uva__transit_depart_all(uva_msg_t *chain) {
  for (; chain != NULL; chain = chain->next)
    uva__transit_depart(chain);
}

void uva__transit_carry(uva__end_t *end, uva_msg_t *msg) {
  uv_mutex_lock(&transit_lock);
  end->transit_msg = msg;
  uv_mutex_unlock(&transit_lock);
}
