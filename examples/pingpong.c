/* pingpong: main and one actor pass a message back and forth N times and time the round trips.
 *
 *   usage: pingpong [N]      (default 10000)
 *
 * main posts [seq, "ping"]; the actor answers [seq, "pong"] on its own loop; main posts the next ping from
 * the pong's callback. Each round trip is two posts and two loop wakeups, one on each thread. When all are
 * done main closes its port: the actor sees the close, its loop has nothing left to do, and it ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvactor.h>

static uint64_t rounds = 10000;
static uint64_t started;

/* Posts [seq, word] on port; 0 or an error. A message a post refuses is still ours to free. */
static int post_pair(uva_port_t *port, uint64_t seq, const char *word) {
  msgpack_packer *pk;
  uva_msg_t *msg;
  int err;

  if ((err = uva_msg_new(&msg)) != 0)
    return err;
  pk = uva_msg_packer(msg);
  msgpack_pack_array(pk, 2);
  msgpack_pack_uint64(pk, seq);
  msgpack_pack_str_with_body(pk, word, strlen(word));
  if ((err = uva_port_post(port, msg)) != 0)
    uva_msg_free(msg);
  return err;
}

/* Reads [seq, word]: the seq, or -1 if msg is not such a pair. */
static int64_t seq_of(uva_msg_t *msg, const char *word) {
  msgpack_object o;

  if (uva_msg_object(msg, &o) != 0 || o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != 2 ||
      o.via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
      o.via.array.ptr[1].type != MSGPACK_OBJECT_STR || o.via.array.ptr[1].via.str.size != strlen(word) ||
      memcmp(o.via.array.ptr[1].via.str.ptr, word, strlen(word)))
    return -1;
  return (int64_t)o.via.array.ptr[0].via.u64;
}

/* ---- the actor: answers each ping ---- */

static void on_ping(uva_port_t *port, uva_msg_t *msg) {
  int64_t seq = seq_of(msg, "ping");

  uva_msg_free(msg);
  if (seq >= 0)
    post_pair(port, (uint64_t)seq, "pong");
}

static int ponger_main(uva_self_t *self) {
  /* Started, the port keeps the actor's loop (and so the actor) alive until the channel closes. */
  return uva_port_start(uva_self_port(self), uva_self_loop(self), on_ping, NULL) == 0 ? 0 : 1;
}

/* ---- main ---- */

static void on_pong(uva_actor_t *actor, uva_msg_t *msg) {
  int64_t seq = seq_of(msg, "pong");
  uva_port_t *port = uva_actor_port(actor);
  double us;

  uva_msg_free(msg);
  if (seq < 0) {
    fprintf(stderr, "pingpong: unexpected message\n");
    uva_port_close(port);
  } else if ((uint64_t)seq + 1 < rounds) {
    post_pair(port, (uint64_t)seq + 1, "ping");
  } else {
    us = (uv_hrtime() - started) / 1e3;
    printf("%llu round trips in %.1f ms: %.2f us each, %.0f per second\n", (unsigned long long)rounds,
           us / 1e3, us / rounds, rounds / (us / 1e6));
    uva_port_close(port); /* done: the actor sees its port close and ends */
  }
}

/* The actor's thread runs: start the clock now, so its start-up is not counted. */
static void on_online(uva_actor_t *actor) {
  started = uv_hrtime();
  post_pair(uva_actor_port(actor), 0, "ping");
}

static void on_ponger_exit(uva_actor_t *actor, int exit_code) {
  *(int *)actor->data = exit_code;
}

int main(int argc, char **argv) {
  uva_actor_options_t options = {
      .name = "ponger", .online_cb = on_online, .message_cb = on_pong, .exit_cb = on_ponger_exit};
  uva_actor_t actor;
  int exit_code = -1;
  int err;

  if (argc > 1 && (rounds = strtoull(argv[1], NULL, 10)) == 0) {
    fprintf(stderr, "usage: %s [ROUND_TRIPS]\n", argv[0]);
    return 2;
  }
  actor.data = &exit_code;
  if ((err = uva_actor_spawn(&actor, uv_default_loop(), ponger_main, &options)) != 0) {
    fprintf(stderr, "pingpong: spawn: %s\n", uva_strerror(err));
    return 1;
  }
  uv_run(uv_default_loop(), UV_RUN_DEFAULT); /* until the actor has ended */
  printf("ponger exited with code %d\n", exit_code);
  uv_loop_close(uv_default_loop());
  return exit_code == 0 ? 0 : 1;
}
