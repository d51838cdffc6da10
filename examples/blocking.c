/* blocking: a plain main() that runs no loop drives an actor with blocking calls.
 *
 * The actor is spawned with loop NULL, so no callbacks: main posts with uva_port_post(), waits for answers
 * with uva_port_receive_wait() and for the actor's end with uva_actor_join(), each with a timeout. The actor
 * itself has a loop as usual: it squares numbers until told to exit, with the code main asks for. */
#include <stdio.h>
#include <string.h>

#include <uvactor.h>

/* Posts [op, n]. */
static int post(uva_port_t *port, const char *op, int64_t n) {
  uva_msg_t *msg;
  int err;

  if ((err = uva_msg_new(&msg)) != 0)
    return err;
  msgpack_pack_array(uva_msg_packer(msg), 2);
  msgpack_pack_str_with_body(uva_msg_packer(msg), op, strlen(op));
  msgpack_pack_int64(uva_msg_packer(msg), n);
  if ((err = uva_port_post(port, msg)) != 0)
    uva_msg_free(msg);
  return err;
}

/* Reads [op, n]: n, and whether op is the one expected. */
static int read_op(uva_msg_t *msg, const char *op, int64_t *n) {
  msgpack_object o, *a;

  if (uva_msg_object(msg, &o) != 0 || o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != 2)
    return 0;
  a = o.via.array.ptr;
  *n = a[1].via.i64;
  return a[0].type == MSGPACK_OBJECT_STR && a[0].via.str.size == strlen(op) &&
         memcmp(a[0].via.str.ptr, op, a[0].via.str.size) == 0;
}

/* ---- the actor: ["square", n] -> ["squared", n * n]; ["exit", code] ends it with that code ---- */

static void on_request(uva_port_t *port, uva_msg_t *msg) {
  uva_self_t *self = port->data;
  int64_t n;

  if (read_op(msg, "square", &n))
    post(port, "squared", n * n);
  else if (read_op(msg, "exit", &n))
    uva_self_exit(self, (int)n); /* the loop stops at its next turn */
  uva_msg_free(msg);
}

static int squarer_main(uva_self_t *self) {
  uva_self_port(self)->data = self;
  return uva_port_start(uva_self_port(self), uva_self_loop(self), on_request, NULL) == 0 ? 0 : 1;
}

/* ---- main: no loop anywhere ---- */

int main(void) {
  uva_actor_options_t options = {.name = "squarer"};
  uva_actor_t actor;
  uva_port_t *port;
  uva_msg_t *msg;
  int64_t i, n;
  int err, code;

  if ((err = uva_actor_spawn(&actor, NULL, squarer_main, &options)) != 0) {
    fprintf(stderr, "blocking: spawn: %s\n", uva_strerror(err));
    return 1;
  }
  port = uva_actor_port(&actor);

  /* Nothing was asked yet, so nothing comes: the wait ends with UV_ETIMEDOUT. */
  err = uva_port_receive_wait(port, &msg, 100);
  printf("receive before asking: %s after 100 ms\n", uva_err_name(err));
  if (err == 0)
    uva_msg_free(msg);

  for (i = 1; i <= 5; i++)
    post(port, "square", i * 111);
  for (i = 1; i <= 5; i++) { /* answers come back in order: a port is FIFO */
    if ((err = uva_port_receive_wait(port, &msg, 1000)) != 0) {
      fprintf(stderr, "blocking: no answer: %s\n", uva_strerror(err));
      return 1;
    }
    if (read_op(msg, "squared", &n))
      printf("%4lld squared is %6lld\n", (long long)(i * 111), (long long)n);
    uva_msg_free(msg);
  }

  /* The actor runs until told otherwise: joining now times out, and the actor is still there. */
  err = uva_actor_join(&actor, 50, &code);
  printf("join before exit: %s after 50 ms\n", uva_err_name(err));

  post(port, "exit", 3);
  if ((err = uva_actor_join(&actor, 5000, &code)) != 0) {
    fprintf(stderr, "blocking: join: %s\n", uva_strerror(err));
    return 1;
  }
  printf("squarer exited with code %d\n", code);
  return code == 3 ? 0 : 1;
}
