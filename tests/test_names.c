/* actors/names.c: the name registry (include/uvactor/supervise.h, "names").
 *
 * One test per rule. The holders are actors or the test's own loop; openers are the test's loop or a thread
 * without one. Threads meet through messages, joins and semaphores; nothing sleeps to order events. Nothing
 * touches libuv's threadpool (Check forks per test: libuv#4443). */
#include <check.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "forked.h"
#include "supervise_fixture.h"

/* ---- a holder actor: registers its name, echoes on every channel it accepts -------------------------- */

#define MAX_ACCEPTED 8

typedef struct {
  const char *text;
  int refuse;               /* accept nothing */
  int unregister_in_accept; /* unregister inside accept_cb (after accepting, unless refuse) */
  uva_name_t name;
  uva_port_t accepted[MAX_ACCEPTED];
  atomic_int naccepted;
  atomic_int calls; /* accept_cb calls */
  uva_self_t *self;
} holder_t;

static void on_echo(uva_port_t *port, uva_msg_t *msg) {
  if (uva_port_post(port, msg) != 0)
    uva_msg_free(msg);
}

static void on_accept(uva_name_t *name) {
  holder_t *h = name->data;
  int n = atomic_load(&h->naccepted);

  atomic_fetch_add(&h->calls, 1);
  if (!h->refuse && n < MAX_ACCEPTED) {
    ACTOR_CHECK(uva_name_accept(name, &h->accepted[n]) == 0);
    ACTOR_CHECK(uva_name_accept(name, &h->accepted[n]) == UV_EINVAL); /* once */
    ACTOR_CHECK(uva_port_start(&h->accepted[n], name->loop, on_echo, NULL) == 0);
    atomic_store(&h->naccepted, n + 1);
  }
  if (h->unregister_in_accept)
    ACTOR_CHECK(uva_name_unregister(name) == 0);
}

/* Registers on loop; 0 or the error. */
static int holder_register(holder_t *h, uv_loop_t *loop) {
  h->name.data = h;
  return uva_name_register(&h->name, loop, h->text, on_accept);
}

static void on_holder_message(uva_port_t *port, uva_msg_t *msg) {
  holder_t *h = port->data;

  uva_msg_free(msg);
  uva_self_exit(h->self, 0);
}

/* Posts 1 once registered (or the error), then holds until the parent posts anything. */
static int holder_main(uva_self_t *self) {
  holder_t *h = uva_self_arg(self);
  int err;

  h->self = self;
  uva_self_port(self)->data = h;
  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), on_holder_message, NULL) == 0);
  err = holder_register(h, uva_self_loop(self));
  ACTOR_CHECK(post_int(uva_self_port(self), err == 0 ? 1 : err) == 0);
  return 0;
}

/* Spawns a holder without a loop parent and waits until it registered; its registration's result. */
static int spawn_holder(uva_actor_t *actor, holder_t *h) {
  uva_actor_options_t options = {.arg = h};
  uva_msg_t *msg;
  int64_t said;

  ck_assert_int_eq(uva_actor_spawn(actor, NULL, holder_main, &options), 0);
  ck_assert_int_eq(uva_port_receive_wait(uva_actor_port(actor), &msg, HANG_GUARD_MS), 0);
  said = msg_int(msg);
  uva_msg_free(msg);
  return said == 1 ? 0 : (int)said;
}

static void end_holder(uva_actor_t *actor) {
  int code;

  ck_assert_int_eq(post_int(uva_actor_port(actor), 0), 0);
  ck_assert_int_eq(uva_actor_join(actor, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(code, 0);
}

/* ---- an opener on the test's loop ---------------------------------------------------------------- */

typedef struct {
  uva_name_req_t req;
  uva_port_t port;
  int done;
  int status;
  int echoes;
  int64_t echoed;
} opener_t;

static void on_opened(uva_name_req_t *req, int status) {
  opener_t *o = req->data;

  o->done++;
  o->status = status;
  ck_assert_ptr_null(req->loop);
}

static void open_name(opener_t *o, const char *text) {
  memset(o, 0, sizeof(*o));
  o->req.data = o;
  ck_assert_int_eq(uva_name_open(&o->req, test_loop, text, on_opened, &o->port), 0);
  ck_assert_int_eq(o->req.type, UVA_NAME_REQ);
  ck_assert_int_eq(o->done, 0); /* never inside the call */
}

static void on_echoed(uva_port_t *port, uva_msg_t *msg) {
  opener_t *o = port->data;

  o->echoes++;
  o->echoed = msg_int(msg);
  uva_msg_free(msg);
}

/* The opened channel works: a message goes to the holder and comes back; then it is closed. */
static void check_round_trip(opener_t *o, int64_t value) {
  o->port.data = o;
  ck_assert_int_eq(uva_port_start(&o->port, test_loop, on_echoed, NULL), 0);
  ck_assert_int_eq(post_int(&o->port, value), 0);
  ck_assert(run_until(test_loop, &o->echoes, 1));
  ck_assert_int_eq(o->echoed, value);
  ck_assert_int_eq(uva_port_close(&o->port), 0);
}

/* ---- tests ---------------------------------------------------------------------------------------- */

START_TEST(test_open_reaches_the_holder) {
  holder_t h = {.text = "svc"};
  uva_actor_t holder;
  opener_t a, b;

  ck_assert_int_eq(spawn_holder(&holder, &h), 0);
  open_name(&a, "svc");
  open_name(&b, "svc");
  ck_assert(run_until(test_loop, &a.done, 1) && run_until(test_loop, &b.done, 1));
  ck_assert_int_eq(a.status, 0);
  ck_assert_int_eq(b.status, 0);
  check_round_trip(&a, 11);
  check_round_trip(&b, 22);
  uv_run(test_loop, UV_RUN_DEFAULT);
  end_holder(&holder);
  ck_assert_int_eq(atomic_load(&h.calls), 2);
  assert_actors_ok();
}
END_TEST

/* Nobody holds the name: refused, on the loop's next turn; the port given is closed. */
START_TEST(test_nobody_holds_the_name) {
  opener_t o;

  open_name(&o, "nobody");
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(o.done, 1);
  ck_assert_int_eq(o.status, UV_ECONNREFUSED);
  ck_assert_int_eq(uva_port_close(&o.port), UV_EBADF);
}
END_TEST

START_TEST(test_holder_refuses) {
  holder_t h = {.text = "svc", .refuse = 1};
  uva_actor_t holder;
  opener_t o;

  ck_assert_int_eq(spawn_holder(&holder, &h), 0);
  open_name(&o, "svc");
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(o.status, UV_ECONNREFUSED);
  end_holder(&holder);
  ck_assert_int_eq(atomic_load(&h.calls), 1);
  assert_actors_ok();
}
END_TEST

/* One holder per name; unregistered, the name is free again. */
START_TEST(test_name_in_use) {
  holder_t h1 = {.text = "one"}, h2 = {.text = "one"};

  ck_assert_int_eq(holder_register(&h1, test_loop), 0);
  ck_assert_int_eq(h1.name.type, UVA_NAME);
  ck_assert_ptr_eq(h1.name.loop, test_loop);
  ck_assert_int_eq(holder_register(&h2, test_loop), UV_EADDRINUSE);
  ck_assert_int_eq(uva_name_unregister(&h1.name), 0);
  ck_assert_ptr_null(h1.name.loop);
  ck_assert_int_eq(uva_name_unregister(&h1.name), UV_EINVAL);
  ck_assert_int_eq(holder_register(&h2, test_loop), 0);
  ck_assert_int_eq(uva_name_unregister(&h2.name), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
}
END_TEST

/* The holder's actor ends: its name is released by its teardown, before its exit is reported, so another
 * can register it at once, and opens reach the new holder. */
START_TEST(test_name_released_when_the_holder_ends) {
  holder_t h = {.text = "svc"}, again = {.text = "svc"};
  uva_actor_t holder;
  opener_t o;

  ck_assert_int_eq(spawn_holder(&holder, &h), 0);
  end_holder(&holder);
  open_name(&o, "svc");
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(o.status, UV_ECONNREFUSED);
  ck_assert_int_eq(spawn_holder(&holder, &again), 0);
  open_name(&o, "svc");
  ck_assert(run_until(test_loop, &o.done, 1));
  ck_assert_int_eq(o.status, 0);
  check_round_trip(&o, 5);
  uv_run(test_loop, UV_RUN_DEFAULT);
  end_holder(&holder);
  ck_assert_int_eq(atomic_load(&again.calls), 1);
  assert_actors_ok();
}
END_TEST

/* Requests queued when the name is released are refused; accept_cb never runs for them. */
START_TEST(test_unregister_refuses_the_queue) {
  holder_t h = {.text = "q"};
  opener_t a, b;

  ck_assert_int_eq(holder_register(&h, test_loop), 0);
  open_name(&a, "q");
  open_name(&b, "q");
  ck_assert_int_eq(uva_name_unregister(&h.name), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(a.status, UV_ECONNREFUSED);
  ck_assert_int_eq(b.status, UV_ECONNREFUSED);
  ck_assert_int_eq(atomic_load(&h.calls), 0);
}
END_TEST

/* Unregistered inside accept_cb: an accepted channel stands, a refused one is refused, the next request
 * queued is refused, and nothing touches the name's memory after the callback. */
START_TEST(test_unregister_inside_accept) {
  holder_t *h = calloc(1, sizeof(*h));
  opener_t a, b;

  ck_assert_ptr_nonnull(h);
  h->text = "u";
  h->unregister_in_accept = 1;
  ck_assert_int_eq(holder_register(h, test_loop), 0);
  open_name(&a, "u");
  open_name(&b, "u");
  ck_assert(run_until(test_loop, &a.done, 1) && run_until(test_loop, &b.done, 1));
  ck_assert_int_eq(a.status, 0);
  ck_assert_int_eq(b.status, UV_ECONNREFUSED);
  ck_assert_int_eq(atomic_load(&h->calls), 1);
  check_round_trip(&a, 3);
  uv_run(test_loop, UV_RUN_DEFAULT); /* the accepted port closes with the opener's */
  free(h);
}
END_TEST

/* ---- without a loop ---------------------------------------------------------------------------------- */

START_TEST(test_open_wait) {
  holder_t h = {.text = "w"}, here = {.text = "here"};
  uva_actor_t holder;
  uva_port_t port;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_name_open_wait("nobody", 0, &port), UV_ECONNREFUSED);
  ck_assert_int_eq(uva_name_open_wait("nobody", UVA_WAIT_FOREVER, &port), UV_ECONNREFUSED);
  ck_assert_int_eq(spawn_holder(&holder, &h), 0);
  ck_assert_int_eq(uva_name_open_wait("w", HANG_GUARD_MS, &port), 0);
  ck_assert_int_eq(post_int(&port, 8), 0);
  ck_assert_int_eq(uva_port_receive_wait(&port, &msg, HANG_GUARD_MS), 0);
  ck_assert_int_eq(msg_int(msg), 8);
  uva_msg_free(msg);
  ck_assert_int_eq(uva_port_close(&port), 0);
  end_holder(&holder);
  /* A holder whose loop does not run cannot answer: the wait times out (0: at once), and the channel the
   * holder accepts later finds its peer gone. */
  ck_assert_int_eq(holder_register(&here, test_loop), 0);
  ck_assert_int_eq(uva_name_open_wait("here", 0, &port), UV_ETIMEDOUT);
  ck_assert_int_eq(uva_name_open_wait("here", 1, &port), UV_ETIMEDOUT);
  while (atomic_load(&here.calls) < 2)
    uv_run(test_loop, UV_RUN_ONCE);
  ck_assert_int_eq(uva_name_unregister(&here.name), 0);
  uv_run(test_loop, UV_RUN_DEFAULT); /* the accepted ports see their peers closed */
  assert_actors_ok();
}
END_TEST

/* ---- an opener that ends ------------------------------------------------------------------------- */

typedef struct {
  uva_name_req_t req;
  uva_port_t port;
  atomic_int status;
  atomic_int done;
} ending_opener_t;

static void on_ending_opened(uva_name_req_t *req, int status) {
  ending_opener_t *o = req->data;

  atomic_store(&o->status, status);
  atomic_fetch_add(&o->done, 1);
}

/* Opens "stuck" (held by the test's loop, which does not run) and ends at once. */
static int ending_opener_main(uva_self_t *self) {
  ending_opener_t *o = uva_self_arg(self);

  o->req.data = o;
  ACTOR_CHECK(uva_name_open(&o->req, uva_self_loop(self), "stuck", on_ending_opened, &o->port) == 0);
  uva_self_exit(self, 0);
  return 0;
}

START_TEST(test_open_canceled_when_the_opener_ends) {
  holder_t h = {.text = "stuck"};
  uva_actor_options_t options = {0};
  ending_opener_t o;
  uva_actor_t actor;
  int code;

  memset(&o, 0, sizeof(o));
  ck_assert_int_eq(holder_register(&h, test_loop), 0);
  options.arg = &o;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, ending_opener_main, &options), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(atomic_load(&o.done), 1);
  ck_assert_int_eq(atomic_load(&o.status), UV_ECANCELED);
  uv_run(test_loop, UV_RUN_NOWAIT); /* the holder gets a request whose opener is gone */
  ck_assert_int_eq(uva_name_unregister(&h.name), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  assert_actors_ok();
}
END_TEST

/* ---- fork ----------------------------------------------------------------------------------------- */

/* A forked child's registry is its own: the parent's holder is not there to accept, so the child may
 * register the name, and an open there refuses rather than waits; the parent's registration stands. */
START_TEST(test_forked_child_has_names_of_its_own) {
  holder_t h = {.text = "forked"};
  opener_t o;
  forked_t child;

  ck_assert_int_eq(holder_register(&h, test_loop), 0);
  if (forked_start(&child)) {
    holder_t mine = {.text = "forked"};
    uva_port_t port;
    uv_loop_t loop;
    int bad = uv_loop_init(&loop) != 0;

    bad |= uva_name_open_wait("forked", 0, &port) != UV_ECONNREFUSED;
    bad |= holder_register(&mine, &loop) != 0 || uva_name_unregister(&mine.name) != 0;
    uv_run(&loop, UV_RUN_DEFAULT);
    forked_end(&child, bad);
  }
  ck_assert_int_eq(forked_wait(&child), 0);
  open_name(&o, "forked");
  ck_assert(run_until(test_loop, &o.done, 1));
  ck_assert_int_eq(o.status, 0);
  check_round_trip(&o, 6);
  ck_assert_int_eq(uva_name_unregister(&h.name), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  assert_actors_ok();
}
END_TEST

static void on_noproc(uva_monitor_t *mon, int exit_code, const char *error_text) {
  (void)error_text;
  *(int *)mon->data = exit_code;
}

static void on_supervisor_closed(uva_supervisor_t *sup) {
  *(int *)sup->data = 1;
}

/* What a child inherits of names, monitors and supervisors is its parent's: every call on it in the child
 * says UVA_EFORKED (an unregister there read a registry the child no longer has, and crashed). */
START_TEST(test_forked_child_refuses_inherited_recovery_handles) {
  static const uva_child_spec_t spec = {.id = "c", .main_cb = steered_main};
  holder_t h = {.text = "inherited"};
  uva_monitor_t mon;
  uva_supervisor_t sup;
  int down = 0;
  int closed = 0;
  forked_t child;

  ck_assert_int_eq(holder_register(&h, test_loop), 0);
  mon.data = &down;
  ck_assert_int_eq(uva_monitor_start(&mon, test_loop, UINT64_MAX, on_noproc), 0); /* fires next turn */
  ck_assert_int_eq(uva_supervisor_init(&sup, test_loop, NULL), 0);
  sup.data = &closed;
  if (forked_start(&child)) {
    uva_port_t port;
    int bad = 0;

    bad |= uva_name_unregister(&h.name) != UVA_EFORKED;
    bad |= uva_name_accept(&h.name, &port) != UVA_EFORKED;
    bad |= uva_monitor_stop(&mon) != UVA_EFORKED;
    bad |= uva_supervisor_add(&sup, &spec) != UVA_EFORKED;
    bad |= uva_supervisor_start(&sup) != UVA_EFORKED;
    bad |= uva_supervisor_child(&sup, "c") != NULL;
    bad |= uva_supervisor_close(&sup, NULL) != UVA_EFORKED;
    forked_end(&child, bad);
  }
  ck_assert_int_eq(forked_wait(&child), 0);
  /* The parent's handles are untouched. */
  ck_assert_int_eq(uva_name_unregister(&h.name), 0);
  ck_assert_int_eq(uva_supervisor_close(&sup, on_supervisor_closed), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(down, UVA_EXIT_NOPROC);
  ck_assert_int_eq(closed, 1);
  assert_actors_ok();
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("names", 20, loop_setup, loop_teardown),
      TEST(test_open_reaches_the_holder),
      TEST(test_nobody_holds_the_name),
      TEST(test_holder_refuses),
      TEST(test_name_in_use),
      TEST(test_name_released_when_the_holder_ends),
      TEST(test_unregister_refuses_the_queue),
      TEST(test_unregister_inside_accept),
      TEST(test_open_wait),
      TEST(test_open_canceled_when_the_opener_ends),
      TEST(test_forked_child_has_names_of_its_own),
      TEST(test_forked_child_refuses_inherited_recovery_handles),
  };

  return suite_of_rows("names", rows, sizeof(rows) / sizeof(rows[0]));
}
