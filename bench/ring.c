/* ring: actors in a ring pass one token (Savina's ThreadRing). Actor i sends to actor i+1 over a channel
 * of their own; main hands actor 0 the token [hops] and hears from whoever takes the last hop. When the
 * token is spent, closing one channel closes the ring, actor by actor. Every actor says "ready" once its
 * ports are started, before the clock: in a ring of thousands, an actor that could not start (out of
 * descriptors) then fails the run with the limit it met instead of leaving the token stuck. */
#include "bench.h"

typedef struct {
  uva_port_t next; /* to the actor after this one */
  uva_port_t prev; /* from the actor before */
  uva_port_t *parent;
  int first;
  int spin_us; /* -S: every port it starts spins this long (0: never); -1: the library's default */
} ring_actor_t;

static void ring_close(uva_port_t *port) {
  ring_actor_t *self = port->data;

  /* The channel from the previous actor closed: pass the close on. */
  if (port == &self->prev) {
    uva_port_close(&self->next);
    if (self->first)
      uva_port_close(self->parent);
  }
}

static void ring_token(uva_port_t *port, uva_msg_t *msg) {
  ring_actor_t *self = port->data;
  msgpack_object view;
  uint64_t hops = bench_msg_seq(msg, &view);

  uva_msg_free(msg);
  if (hops == 0) {
    bench_check(uva_port_post(self->parent, bench_seq_msg(0, "done", 4)), "post done");
    uva_port_close(&self->next);
    return;
  }
  bench_check(uva_port_post(&self->next, bench_seq_msg(hops - 1, "token", 5)), "pass token");
}

static int ring_main(uva_self_t *self_) {
  ring_actor_t *self = uva_self_arg(self_);
  uv_loop_t *loop = uva_self_loop(self_);

  self->parent = uva_self_port(self_);
  self->next.data = self->prev.data = self->parent->data = self;
  bench_check_in_actor(uva_port_start(&self->next, loop, ring_token, ring_close), "start next");
  bench_check_in_actor(uva_port_start(&self->prev, loop, ring_token, ring_close), "start prev");
  if (self->first)
    bench_check_in_actor(uva_port_start(self->parent, loop, ring_token, ring_close), "start parent");
  /* A loop spins as long as the longest of its ports asks: -S sets them all. */
  if (self->spin_us >= 0) {
    bench_check(uva_port_set_spin(&self->next, (unsigned int)self->spin_us), "spin");
    bench_check(uva_port_set_spin(&self->prev, (unsigned int)self->spin_us), "spin");
    if (self->first)
      bench_check(uva_port_set_spin(self->parent, (unsigned int)self->spin_us), "spin");
  }
  bench_check(uva_port_post(self->parent, bench_seq_msg(0, "ready", 5)), "post ready");
  return 0;
}

/* Runs hops hops around a ring of count actors and returns the seconds they took. */
static double ring_run(unsigned int count, uint64_t hops, int spin_us) {
  ring_actor_t *ring = calloc(count, sizeof(*ring));
  uva_actor_t *actors = calloc(count, sizeof(*actors));
  uva_msg_t *msg;
  msgpack_object view;
  uint64_t start;
  double seconds;
  unsigned int i;

  if (ring == NULL || actors == NULL)
    bench_fail("out of memory");
  for (i = 0; i < count; i++)
    bench_check(uva_channel_init(&ring[i].next, &ring[(i + 1) % count].prev), "channel");
  ring[0].first = 1;
  for (i = 0; i < count; i++)
    ring[i].spin_us = spin_us;
  /* Every actor's ports are in place before the token moves: the ports are plain handles until started. */
  for (i = 0; i < count; i++) {
    bench_spawn_counted(&actors[i], "ring", ring_main, &ring[i], i);
    msg = bench_receive_ready(&actors[i], i);
    if (bench_msg_seq(msg, &view) != 0 || view.via.array.ptr[1].type != MSGPACK_OBJECT_STR ||
        view.via.array.ptr[1].via.str.size != 5)
      bench_fail("ring: actor %u did not say ready", i);
    uva_msg_free(msg);
  }
  start = uv_hrtime();
  bench_check(uva_port_post(uva_actor_port(&actors[0]), bench_seq_msg(hops, "token", 5)), "inject");
  /* The last hop lands on actor hops % count; its "done" comes on its own parent port. */
  msg = bench_receive(&actors[hops % count]);
  seconds = bench_seconds(start);
  if (bench_msg_seq(msg, &view) != 0 || view.via.array.ptr[1].type != MSGPACK_OBJECT_STR ||
      view.via.array.ptr[1].via.str.size != 4)
    bench_fail("ring: the last hop's actor did not say done");
  uva_msg_free(msg);
  for (i = 0; i < count; i++)
    bench_join(&actors[i]);
  free(ring);
  free(actors);
  return seconds;
}

void bench_ring(const bench_params_t *params) {
  unsigned int count = params->actors != 0 ? params->actors : 32;

  if (count < 2)
    bench_fail("ring: needs at least 2 actors");
  bench_result("uvactor", "ring", params->n,
               ring_run(count, params->n, params->spin_us) * 1e6 / (double)params->n, "us/hop");
}
