/* supervised: a service that fails now and then, a supervisor that restarts it, and a client that keeps
 * working across the restarts by reaching the service by name.
 *
 *   usage: supervised [COUNT]      the client squares 1..COUNT (default 10, at most 20)
 *
 * The squarer registers the name "squarer" and answers n with n * n; each instance gives up on its third
 * request (uva_self_fail), without answering it. main's supervisor restarts it (one_for_one), and the new
 * instance registers the name again. The client opens "squarer" by name; when its channel closes under it,
 * it opens the name again (a moment later if the new instance has not registered yet) and asks again what
 * was not answered. More than eight restarts within five seconds are more than the supervisor allows (COUNT
 * 20 needs nine): it gives up, and main ends the client. Everything is printed by main, in the order its loop
 * hears it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvactor.h>

/* ---- the squarer ------------------------------------------------------------------------------- */

typedef struct {
  uva_self_t *self;
  uva_name_t name;
  uva_port_t client;
  int served;
} squarer_t;

static squarer_t squarer; /* one instance at a time: a restart comes after the last one ended */

static void on_request(uva_port_t *port, uva_msg_t *msg) {
  msgpack_object obj;
  uva_msg_t *reply;
  uint64_t n;

  if (uva_msg_object(msg, &obj) != 0 || obj.type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
    uva_msg_free(msg);
    return;
  }
  n = obj.via.u64;
  uva_msg_free(msg);
  if (++squarer.served == 3) {
    uva_self_fail(squarer.self, 3, "third request: this instance gives up");
    return;
  }
  if (uva_msg_new(&reply) == 0) {
    msgpack_pack_array(uva_msg_packer(reply), 2);
    msgpack_pack_uint64(uva_msg_packer(reply), n);
    msgpack_pack_uint64(uva_msg_packer(reply), n * n);
    if (uva_port_post(port, reply) != 0)
      uva_msg_free(reply);
  }
}

/* A client opened "squarer": one client at a time is all this service takes. */
static void on_accept(uva_name_t *name) {
  if (uva_name_accept(name, &squarer.client) == 0)
    uva_port_start(&squarer.client, name->loop, on_request, NULL);
}

static int squarer_main(uva_self_t *self) {
  memset(&squarer, 0, sizeof(squarer));
  squarer.self = self;
  return uva_name_register(&squarer.name, uva_self_loop(self), "squarer", on_accept) == 0 ? 0 : 1;
}

/* ---- the client -------------------------------------------------------------------------------- */

typedef struct {
  uva_self_t *self;
  uva_name_req_t req;
  uva_port_t port;
  uv_timer_t retry;
  uint64_t next; /* the number it waits for the square of */
  uint64_t count;
} client_t;

static client_t client;

/* A line for main to print. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char line[160];
  uva_msg_t *msg;
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (uva_msg_new(&msg) != 0)
    return;
  msgpack_pack_str_with_body(uva_msg_packer(msg), line, strlen(line));
  if (uva_port_post(uva_self_port(client.self), msg) != 0)
    uva_msg_free(msg);
}

static void ask(void) {
  uva_msg_t *msg;

  if (uva_msg_new(&msg) != 0)
    return;
  msgpack_pack_uint64(uva_msg_packer(msg), client.next);
  if (uva_port_post(&client.port, msg) != 0)
    uva_msg_free(msg); /* the channel closed: its close callback opens the name again */
}

static void open_squarer(void);

static void on_answer(uva_port_t *port, uva_msg_t *msg) {
  msgpack_object obj;

  if (uva_msg_object(msg, &obj) == 0 && obj.type == MSGPACK_OBJECT_ARRAY && obj.via.array.size == 2)
    say("client: %llu squared is %llu", (unsigned long long)obj.via.array.ptr[0].via.u64,
        (unsigned long long)obj.via.array.ptr[1].via.u64);
  uva_msg_free(msg);
  if (++client.next <= client.count)
    ask();
  else
    uva_port_close(port); /* done: the close callback ends the client */
}

/* The channel closed: either we are done, or the squarer ended under us. */
static void on_channel_closed(uva_port_t *port) {
  (void)port;
  if (client.next > client.count) {
    uv_close((uv_handle_t *)&client.retry, NULL);
    uva_port_close(uva_self_port(client.self)); /* the loop has nothing left: the client ends */
    return;
  }
  say("client: the squarer went away while %llu was asked; opening \"squarer\" again",
      (unsigned long long)client.next);
  open_squarer();
}

static void on_retry(uv_timer_t *timer) {
  (void)timer;
  open_squarer();
}

static void on_opened(uva_name_req_t *req, int status) {
  (void)req;
  if (status == UV_ECONNREFUSED) {
    uv_timer_start(&client.retry, on_retry, 1, 0); /* not registered yet: the restart is on its way */
    return;
  }
  if (status != 0) {
    say("client: cannot open \"squarer\": %s", uva_strerror(status));
    return;
  }
  uva_port_start(&client.port, uva_self_loop(client.self), on_answer, on_channel_closed);
  ask();
}

static void open_squarer(void) {
  if (uva_name_open(&client.req, uva_self_loop(client.self), "squarer", on_opened, &client.port) != 0)
    say("client: cannot open \"squarer\"");
}

static void on_parent(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

static int client_main(uva_self_t *self) {
  client.self = self;
  client.count = (uint64_t)(uintptr_t)uva_self_arg(self);
  client.next = 1;
  uv_timer_init(uva_self_loop(self), &client.retry);
  uva_port_start(uva_self_port(self), uva_self_loop(self), on_parent, NULL);
  open_squarer();
  return 0;
}

/* ---- main: the supervisor and the printing ------------------------------------------------------ */

static uva_supervisor_t sup;
static uva_actor_t client_actor;

static void on_event(uva_supervisor_t *s, const uva_supervisor_event_t *e) {
  (void)s;
  switch (e->type) {
  case UVA_SUPERVISOR_STARTED:
    printf("supervisor: %s started (actor %llu)\n", e->child, (unsigned long long)e->actor_id);
    break;
  case UVA_SUPERVISOR_EXITED:
    printf("supervisor: %s ended with %d: %s\n", e->child, e->exit_code, e->error != NULL ? e->error : "-");
    break;
  case UVA_SUPERVISOR_RESTARTED:
    printf("supervisor: %s restarted (actor %llu, restart %u, because %s ended with %d)\n", e->child,
           (unsigned long long)e->actor_id, e->restarts, e->cause, e->exit_code);
    break;
  case UVA_SUPERVISOR_STOPPED:
    printf("supervisor: %s stopped\n", e->child);
    break;
  case UVA_SUPERVISOR_STOP_TIMEOUT:
    printf("supervisor: %s does not stop\n", e->child);
    break;
  case UVA_SUPERVISOR_GAVE_UP:
    printf("supervisor: gave up, too many restarts (the last because %s ended with %d)\n", e->cause,
           e->exit_code);
    uva_actor_terminate(&client_actor); /* nobody will hold the name again */
    break;
  }
}

static void on_client_line(uva_actor_t *actor, uva_msg_t *msg) {
  msgpack_object obj;

  (void)actor;
  if (uva_msg_object(msg, &obj) == 0 && obj.type == MSGPACK_OBJECT_STR)
    printf("%.*s\n", (int)obj.via.str.size, obj.via.str.ptr);
  uva_msg_free(msg);
}

static void on_client_exit(uva_actor_t *actor, int exit_code) {
  (void)actor;
  printf("client: done (exit %d); closing the supervisor\n", exit_code);
  uva_supervisor_close(&sup, NULL);
}

int main(int argc, char **argv) {
  uva_supervisor_options_t options = {
      .strategy = UVA_ONE_FOR_ONE, .intensity = 8, .period_ms = 5000, .event_cb = on_event};
  uva_child_spec_t spec = {.id = "squarer", .main_cb = squarer_main, .restart = UVA_PERMANENT};
  uva_actor_options_t client_options = {
      .name = "client", .message_cb = on_client_line, .exit_cb = on_client_exit};
  uv_loop_t *loop = uv_default_loop();
  long count = argc > 1 ? strtol(argv[1], NULL, 10) : 10;

  if (count < 1 || count > 20) {
    fprintf(stderr, "usage: supervised [COUNT (1..20)]\n");
    return 2;
  }
  if (uva_supervisor_init(&sup, loop, &options) != 0 || uva_supervisor_add(&sup, &spec) != 0 ||
      uva_supervisor_start(&sup) != 0) {
    fprintf(stderr, "supervised: cannot start the supervisor\n");
    return 1;
  }
  client_options.arg = (void *)(uintptr_t)count;
  if (uva_actor_spawn(&client_actor, loop, client_main, &client_options) != 0) {
    fprintf(stderr, "supervised: cannot spawn the client\n");
    return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
