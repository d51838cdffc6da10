/* actors/: actor ids, monitors and links (include/uvactor/actor.h, include/uvactor/supervise.h).
 *
 * One test per rule. Threads meet through messages, joins and semaphores; nothing sleeps to order events. A
 * monitor's callback is counted, with what it said, on the test's loop; its "once, after the end" is held by
 * joining or by the exit event before the loop is run for the monitor. Nothing here touches libuv's
 * threadpool (Check forks per test: libuv#4443). */
#include <check.h>
#include <stdlib.h>

#include "supervise_fixture.h"

/* ---- ids ----------------------------------------------------------------------------------------- */

typedef struct {
  uva_actor_t actor;
  int exits;
  int exit_code;
  uint64_t id_in_exit; /* uva_actor_id() in the exit callback */
  int64_t said;        /* the first message: the steered actor's uva_self_id() */
  int messages;
} events_t;

static void on_message(uva_actor_t *actor, uva_msg_t *msg) {
  events_t *ev = actor->data;

  if (ev->messages++ == 0)
    ev->said = msg_int(msg);
  uva_msg_free(msg);
}

static void on_exit_event(uva_actor_t *actor, int code) {
  events_t *ev = actor->data;

  ev->exits++;
  ev->exit_code = code;
  ev->id_in_exit = uva_actor_id(actor);
}

static void spawn_steered(events_t *ev, unsigned int flags) {
  uva_actor_options_t options = {.message_cb = on_message, .exit_cb = on_exit_event, .flags = flags};

  memset(ev, 0, sizeof(*ev));
  ev->actor.data = ev;
  ck_assert_int_eq(uva_actor_spawn(&ev->actor, test_loop, steered_main, &options), 0);
}

/* An id is nonzero, the same seen from the parent and from inside, new for every spawn (never reused, so
 * ids grow), and stays readable on the handle after the exit. */
START_TEST(test_ids_unique_and_kept) {
  uva_actor_t zeroed;
  events_t a, b;
  uint64_t id_a;

  memset(&zeroed, 0, sizeof(zeroed));
  ck_assert_uint_eq(uva_actor_id(NULL), 0);
  ck_assert_uint_eq(uva_actor_id(&zeroed), 0);
  ck_assert_uint_eq(uva_self_id(NULL), 0);
  spawn_steered(&a, 0);
  spawn_steered(&b, 0);
  id_a = uva_actor_id(&a.actor);
  ck_assert_uint_ne(id_a, 0);
  ck_assert_uint_gt(uva_actor_id(&b.actor), id_a);
  ck_assert(run_until(test_loop, &a.messages, 1) && run_until(test_loop, &b.messages, 1));
  ck_assert_uint_eq((uint64_t)a.said, id_a);
  ck_assert_uint_eq((uint64_t)b.said, uva_actor_id(&b.actor));
  ck_assert_int_eq(post_int(uva_actor_port(&a.actor), 0), 0);
  ck_assert_int_eq(post_int(uva_actor_port(&b.actor), 0), 0);
  ck_assert(run_until(test_loop, &a.exits, 1) && run_until(test_loop, &b.exits, 1));
  ck_assert_uint_eq(a.id_in_exit, id_a);
  ck_assert_uint_eq(uva_actor_id(&a.actor), id_a);
  /* Spawned again, the handle names a new actor. */
  spawn_steered(&a, 0);
  ck_assert_uint_gt(uva_actor_id(&a.actor), uva_actor_id(&b.actor));
  ck_assert_int_eq(post_int(uva_actor_port(&a.actor), 0), 0);
  ck_assert(run_until(test_loop, &a.exits, 1));
  assert_actors_ok();
}
END_TEST

/* ---- monitors ------------------------------------------------------------------------------------ */

typedef struct {
  uva_monitor_t mon;
  int downs;
  int code;
  char text[64];
  int had_text;
  int exits_seen; /* the actor's exit events counted before the callback (when it shares the loop) */
  events_t *ev;
} watch_t;

static void on_down(uva_monitor_t *mon, int exit_code, const char *text) {
  watch_t *w = mon->data;

  w->downs++;
  w->code = exit_code;
  w->had_text = text != NULL;
  if (text != NULL)
    snprintf(w->text, sizeof(w->text), "%s", text);
  if (w->ev != NULL)
    w->exits_seen = w->ev->exits;
  ck_assert_ptr_null(mon->loop); /* done: not active any more */
}

static void watch(watch_t *w, uint64_t id) {
  memset(w, 0, sizeof(*w));
  w->mon.data = w;
  ck_assert_int_eq(uva_monitor_start(&w->mon, test_loop, id, on_down), 0);
  ck_assert_int_eq(w->mon.type, UVA_MONITOR);
  ck_assert_ptr_eq(w->mon.loop, test_loop);
}

/* The callback runs once, after the end, with the exit code and the failure's text. */
START_TEST(test_monitor_reports_the_end) {
  events_t ev;
  watch_t w;

  spawn_steered(&ev, 0);
  watch(&w, uva_actor_id(&ev.actor));
  ck_assert(run_until(test_loop, &ev.messages, 1));
  ck_assert_int_eq(w.downs, 0);
  ck_assert_int_eq(post_int(uva_actor_port(&ev.actor), -7), 0); /* fails with 7, "failed" */
  ck_assert(run_until(test_loop, &w.downs, 1));
  ck_assert(run_until(test_loop, &ev.exits, 1));
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(w.downs, 1);
  ck_assert_int_eq(w.code, 7);
  ck_assert(w.had_text);
  ck_assert_str_eq(w.text, "failed");
  ck_assert_int_eq(ev.exit_code, 7);
  ck_assert_int_eq(uva_monitor_stop(&w.mon), UV_EALREADY);
  assert_actors_ok();
}
END_TEST

/* A terminated actor: UVA_EXIT_TERMINATED, no text. An actor that returns: its code, no text. */
START_TEST(test_monitor_terminated_and_returned) {
  events_t a, b;
  watch_t wa, wb;

  spawn_steered(&a, 0);
  spawn_steered(&b, 0);
  watch(&wa, uva_actor_id(&a.actor));
  watch(&wb, uva_actor_id(&b.actor));
  ck_assert_int_eq(uva_actor_terminate(&a.actor), 0);
  ck_assert_int_eq(post_int(uva_actor_port(&b.actor), 4), 0);
  ck_assert(run_until(test_loop, &wa.downs, 1) && run_until(test_loop, &wb.downs, 1));
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(wa.code, UVA_EXIT_TERMINATED);
  ck_assert(!wa.had_text);
  ck_assert_int_eq(wb.code, 4);
  ck_assert(!wb.had_text);
  ck_assert_int_eq(wa.downs + wb.downs, 2);
}
END_TEST

/* noproc: an id no actor has, or one that ended, fires on the loop's next turn, never inside start. */
START_TEST(test_monitor_noproc) {
  events_t ev;
  watch_t unknown, zero, ended;

  spawn_steered(&ev, 0);
  ck_assert_int_eq(post_int(uva_actor_port(&ev.actor), 0), 0);
  ck_assert(run_until(test_loop, &ev.exits, 1));
  watch(&unknown, UINT64_MAX);
  watch(&zero, 0);
  watch(&ended, uva_actor_id(&ev.actor));
  ck_assert_int_eq(unknown.downs + zero.downs + ended.downs, 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(unknown.downs, 1);
  ck_assert_int_eq(unknown.code, UVA_EXIT_NOPROC);
  ck_assert(!unknown.had_text);
  ck_assert_int_eq(zero.downs, 1);
  ck_assert_int_eq(zero.code, UVA_EXIT_NOPROC);
  ck_assert_int_eq(ended.downs, 1);
  ck_assert_int_eq(ended.code, UVA_EXIT_NOPROC);
}
END_TEST

/* A proxy's id is watched as an actor's: its end, from another thread, reaches every monitor once with its
 * code and text; ids of proxies and actors are one sequence; an ended proxy is noproc; the process's count
 * of actors does not count it. */
static void end_proxy_thread(void *arg) {
  uva_actor_proxy_end(arg, -64, "connection lost");
}

START_TEST(test_monitor_proxy) {
  uva_actor_proxy_t *proxy;
  uva_actor_proxy_t *quiet;
  uva_process_stats_t before, after;
  uv_thread_t thread;
  events_t ev;
  watch_t w1, w2, late;
  uint64_t id;

  ck_assert_int_eq(uva_actor_proxy_new(NULL), UV_EINVAL);
  ck_assert_uint_eq(uva_actor_proxy_id(NULL), 0);
  uva_actor_proxy_end(NULL, 0, NULL);
  ck_assert_int_eq(uva_process_stats(&before), 0);
  ck_assert_int_eq(uva_actor_proxy_new(&proxy), 0);
  ck_assert_int_eq(uva_process_stats(&after), 0);
  ck_assert_uint_eq(after.actors, before.actors); /* a proxy is not an actor of this process */
  id = uva_actor_proxy_id(proxy);
  ck_assert_uint_ne(id, 0);
  spawn_steered(&ev, 0);
  ck_assert_uint_gt(uva_actor_id(&ev.actor), id);
  watch(&w1, id);
  watch(&w2, id);
  ck_assert_int_eq(uv_thread_create(&thread, end_proxy_thread, proxy), 0);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  ck_assert(run_until(test_loop, &w1.downs, 1) && run_until(test_loop, &w2.downs, 1));
  ck_assert_int_eq(w1.code, -64);
  ck_assert_str_eq(w1.text, "connection lost");
  ck_assert_int_eq(w2.code, -64);
  ck_assert_str_eq(w2.text, "connection lost");
  watch(&late, id);
  ck_assert(run_until(test_loop, &late.downs, 1));
  ck_assert_int_eq(late.code, UVA_EXIT_NOPROC);
  /* Without a text, and never watched. */
  ck_assert_int_eq(uva_actor_proxy_new(&quiet), 0);
  uva_actor_proxy_end(quiet, 0, NULL);
  ck_assert_int_eq(post_int(uva_actor_port(&ev.actor), 0), 0);
  ck_assert(run_until(test_loop, &ev.exits, 1));
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(w1.downs + w2.downs + late.downs, 3);
  assert_actors_ok();
}
END_TEST

/* A stopped monitor never calls back, even when the actor ended and its signal was already on its way. */
START_TEST(test_monitor_stop) {
  uva_actor_t actor;
  watch_t early, late;
  uva_msg_t *msg;
  int code;

  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, steered_main, NULL), 0);
  ck_assert_int_eq(uva_port_receive_wait(uva_actor_port(&actor), &msg, HANG_GUARD_MS), 0);
  uva_msg_free(msg);
  watch(&early, uva_actor_id(&actor));
  watch(&late, uva_actor_id(&actor));
  ck_assert_int_eq(uva_monitor_stop(&early.mon), 0);
  ck_assert_int_eq(uva_monitor_stop(&early.mon), UV_EALREADY);
  ck_assert_int_eq(post_int(uva_actor_port(&actor), 2), 0);
  /* Joined: the actor's record has closed late's trigger; the loop has not run since. */
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(code, 2);
  ck_assert_int_eq(uva_monitor_stop(&late.mon), 0);
  ck_assert_ptr_null(late.mon.loop);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(early.downs + late.downs, 0);
}
END_TEST

/* One actor, many monitors (two of them on another thread's loop): each fires once. */
typedef struct {
  uint64_t id;
  uv_sem_t started;
  watch_t w[2];
  uv_loop_t loop;
} remote_watch_t;

static void on_remote_down(uva_monitor_t *mon, int exit_code, const char *text) {
  watch_t *w = mon->data;

  (void)text;
  w->downs++;
  w->code = exit_code;
}

static void remote_watcher(void *arg) {
  remote_watch_t *r = arg;
  int i;

  REQUIRE(uv_loop_init(&r->loop) == 0);
  for (i = 0; i < 2; i++) {
    r->w[i].mon.data = &r->w[i];
    REQUIRE(uva_monitor_start(&r->w[i].mon, &r->loop, r->id, on_remote_down) == 0);
  }
  uv_sem_post(&r->started);
  uv_run(&r->loop, UV_RUN_DEFAULT); /* until both fired: they keep the loop alive till then */
  REQUIRE(uv_loop_close(&r->loop) == 0);
}

START_TEST(test_many_monitors_each_once) {
  remote_watch_t r;
  uv_thread_t thread;
  events_t ev;
  watch_t w[3];
  int i;

  spawn_steered(&ev, 0);
  memset(&r, 0, sizeof(r));
  r.id = uva_actor_id(&ev.actor);
  ck_assert_int_eq(uv_sem_init(&r.started, 0), 0);
  ck_assert_int_eq(uv_thread_create(&thread, remote_watcher, &r), 0);
  uv_sem_wait(&r.started);
  for (i = 0; i < 3; i++)
    watch(&w[i], r.id);
  ck_assert_int_eq(post_int(uva_actor_port(&ev.actor), 9), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  uv_sem_destroy(&r.started);
  for (i = 0; i < 3; i++) {
    ck_assert_int_eq(w[i].downs, 1);
    ck_assert_int_eq(w[i].code, 9);
  }
  for (i = 0; i < 2; i++) {
    ck_assert_int_eq(r.w[i].downs, 1);
    ck_assert_int_eq(r.w[i].code, 9);
  }
}
END_TEST

/* The callback may start the same monitor again (here on an id that ended: noproc) or free it. */
static void on_down_restart(uva_monitor_t *mon, int exit_code, const char *text) {
  watch_t *w = mon->data;

  (void)text;
  if (w->downs++ == 0) {
    ck_assert_int_eq(exit_code, 0);
    ck_assert_int_eq(uva_monitor_start(mon, test_loop, uva_actor_id(&w->ev->actor), on_down_restart), 0);
  } else {
    ck_assert_int_eq(exit_code, UVA_EXIT_NOPROC);
  }
}

START_TEST(test_monitor_restarted_in_its_callback) {
  events_t ev;
  watch_t w;

  spawn_steered(&ev, 0);
  memset(&w, 0, sizeof(w));
  w.ev = &ev;
  w.mon.data = &w;
  ck_assert_int_eq(uva_monitor_start(&w.mon, test_loop, uva_actor_id(&ev.actor), on_down_restart), 0);
  ck_assert_int_eq(post_int(uva_actor_port(&ev.actor), 0), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(w.downs, 2);
}
END_TEST

/* An actor monitors its sibling by id; when the watching actor ends first, its monitor goes with its loop,
 * without a callback, and the sibling's later end is nobody's business. */
typedef struct {
  uint64_t target;
  atomic_int downs;
  atomic_int code;
  uv_sem_t down;
  uva_monitor_t mon;
} watcher_t;

static void on_watcher_down(uva_monitor_t *mon, int exit_code, const char *text) {
  watcher_t *w = mon->data;

  (void)text;
  atomic_store(&w->code, exit_code);
  atomic_fetch_add(&w->downs, 1);
  uv_sem_post(&w->down);
}

static void on_watcher_message(uva_port_t *port, uva_msg_t *msg) {
  uva_self_t *self = port->data;

  uva_msg_free(msg);
  uva_self_exit(self, 0); /* the parent says: stop watching */
}

static int watcher_main(uva_self_t *self) {
  watcher_t *w = uva_self_arg(self);

  w->mon.data = w;
  uva_self_port(self)->data = self;
  ACTOR_CHECK(uva_monitor_start(&w->mon, uva_self_loop(self), w->target, on_watcher_down) == 0);
  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), on_watcher_message, NULL) == 0);
  ACTOR_CHECK(post_int(uva_self_port(self), 1) == 0); /* watching */
  return 0;
}

static void wait_watching(uva_actor_t *watcher) {
  uva_msg_t *msg;

  ck_assert_int_eq(uva_port_receive_wait(uva_actor_port(watcher), &msg, HANG_GUARD_MS), 0);
  uva_msg_free(msg);
}

START_TEST(test_monitor_from_an_actor) {
  uva_actor_options_t options = {0};
  uva_actor_t watcher;
  events_t target;
  watcher_t w;
  int code;

  /* It watches its sibling end. */
  spawn_steered(&target, 0);
  memset(&w, 0, sizeof(w));
  ck_assert_int_eq(uv_sem_init(&w.down, 0), 0);
  w.target = uva_actor_id(&target.actor);
  options.arg = &w;
  ck_assert_int_eq(uva_actor_spawn(&watcher, NULL, watcher_main, &options), 0);
  wait_watching(&watcher);
  ck_assert_int_eq(uva_actor_terminate(&target.actor), 0);
  ck_assert(run_until(test_loop, &target.exits, 1));
  uv_sem_wait(&w.down);
  ck_assert_int_eq(atomic_load(&w.code), UVA_EXIT_TERMINATED);
  /* Its monitor kept its loop alive; the callback ran, so only its port does now. */
  ck_assert_int_eq(post_int(uva_actor_port(&watcher), 0), 0);
  ck_assert_int_eq(uva_actor_join(&watcher, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(code, 0);
  uv_sem_destroy(&w.down);

  /* It ends before its sibling: no callback. */
  spawn_steered(&target, 0);
  memset(&w, 0, sizeof(w));
  w.target = uva_actor_id(&target.actor);
  ck_assert_int_eq(uva_actor_spawn(&watcher, NULL, watcher_main, &options), 0);
  wait_watching(&watcher);
  ck_assert_int_eq(post_int(uva_actor_port(&watcher), 0), 0);
  ck_assert_int_eq(uva_actor_join(&watcher, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(uva_actor_terminate(&target.actor), 0);
  ck_assert(run_until(test_loop, &target.exits, 1));
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(atomic_load(&w.downs), 0);
  assert_actors_ok();
}
END_TEST

/* The table keeps only the actors alive and the records monitors still need: thousands of actors, each
 * watched, leave the heap, the threads and the descriptors where they were. */
static int return_main(uva_self_t *self) {
  return (int)(uintptr_t)uva_self_arg(self);
}

static void spawn_watch_join(int rounds) {
  uva_actor_options_t options = {0};
  uva_actor_t actor;
  watch_t w;
  int code;
  int i;

  for (i = 0; i < rounds; i++) {
    options.arg = (void *)(uintptr_t)(i % 3);
    REQUIRE(uva_actor_spawn(&actor, NULL, return_main, &options) == 0);
    memset(&w, 0, sizeof(w));
    w.mon.data = &w;
    REQUIRE(uva_monitor_start(&w.mon, test_loop, uva_actor_id(&actor), on_down) == 0);
    REQUIRE(uva_actor_join(&actor, HANG_GUARD_MS, &code) == 0);
    uv_run(test_loop, UV_RUN_DEFAULT);
    REQUIRE(w.downs == 1 && (w.code == code || w.code == UVA_EXIT_NOPROC));
  }
}

START_TEST(test_records_do_not_grow) {
  size_t heap;
  int threads;
  int fds;

  /* Threads kept for reuse end by themselves once idle (1 s, which valgrind can take between two counts),
   * with their loops' descriptors: none is kept here, so the counts say what the records do. */
  ck_assert_int_eq(uva_actor_set_reuse(0, 0), 0);
  spawn_watch_join(200); /* warm: the recycled messages, libuv's first loop */
  heap = heap_in_use();
  threads = count_threads();
  fds = count_fds();
  spawn_watch_join(2000);
  ck_assert_int_le(threads_settle(threads),
                   threads); /* joined threads may stay listed a moment, either count */
  ck_assert_int_eq(count_fds(), fds);
  /* Some slack for the allocator's own bookkeeping; a record or a monitor's channel kept per actor would be
   * hundreds of kilobytes here. */
  ck_assert_msg(heap_in_use() <= heap + 32 * 1024, "the heap grew from %zu to %zu bytes", heap,
                heap_in_use());
  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_DEFAULT, 0), 0);
}
END_TEST

/* ---- links --------------------------------------------------------------------------------------- */

/* A parent actor that spawns one child with a link and reports: [the child's exit code, whether the parent
 * was told to stop by then]. How the child ends is the test's choice (link_t.how). */
enum { CHILD_RETURNS, CHILD_FAILS, CHILD_TERMINATED_BY_PARENT, CHILD_TERMINATED_ELSEWHERE, CHILD_LOOPLESS };

typedef struct {
  int how;
  int child_code; /* what the child returns */
  int trap;       /* the parent traps exits */
  int unlinked;   /* the child is spawned without UVA_ACTOR_LINK */
  uva_actor_t child;
  uv_sem_t spawned;
  atomic_int seen_code;
  atomic_int stopping_in_exit;   /* uva_self_should_stop() in the child's exit callback */
  atomic_int parent_alive_after; /* the parent's loop turned after the child's exit */
  uv_timer_t timer;
  uva_self_t *self;
} link_t;

static int wait_then_return_main(uva_self_t *self) {
  link_t *l = uva_self_arg(self);

  if (l->how == CHILD_TERMINATED_BY_PARENT || l->how == CHILD_TERMINATED_ELSEWHERE) {
    while (!uva_self_should_stop(self))
      uv_sleep(1); /* spins until terminated: a stand-in for busy work */
    return 0;
  }
  if (l->how == CHILD_FAILS) {
    uva_self_fail(self, l->child_code, "child failed");
    return 0;
  }
  return l->child_code;
}

static void on_timer_alive(uv_timer_t *timer) {
  link_t *l = timer->data;

  atomic_store(&l->parent_alive_after, 1);
  uv_close((uv_handle_t *)timer, NULL);
}

static void on_linked_exit(uva_actor_t *actor, int code) {
  link_t *l = actor->data;

  atomic_store(&l->seen_code, code);
  atomic_store(&l->stopping_in_exit, uva_self_should_stop(l->self));
  /* The parent loop's next turn: reached only if the parent was not ended (a stopped loop runs no timer
   * after the turn that stopped it; the teardown closes it). */
  uv_timer_init(uva_self_loop(l->self), &l->timer);
  l->timer.data = l;
  uv_timer_start(&l->timer, on_timer_alive, 0, 0);
}

static int link_parent_main(uva_self_t *self) {
  link_t *l = uva_self_arg(self);
  uva_actor_options_t options = {
      .arg = l, .exit_cb = on_linked_exit, .flags = l->unlinked ? 0 : UVA_ACTOR_LINK};
  int code;

  l->self = self;
  l->child.data = l;
  ACTOR_CHECK(uva_self_trap_exits(self, l->trap) == 0);
  if (l->how == CHILD_LOOPLESS) {
    options.exit_cb = NULL;
    ACTOR_CHECK(uva_actor_spawn(&l->child, NULL, wait_then_return_main, &options) == 0);
    ACTOR_CHECK(uva_actor_join(&l->child, HANG_GUARD_MS, &code) == 0);
    atomic_store(&l->seen_code, code);
    atomic_store(&l->stopping_in_exit, uva_self_should_stop(self));
    return 0;
  }
  ACTOR_CHECK(uva_actor_spawn(&l->child, uva_self_loop(self), wait_then_return_main, &options) == 0);
  uv_sem_post(&l->spawned);
  if (l->how == CHILD_TERMINATED_BY_PARENT)
    ACTOR_CHECK(uva_actor_terminate(&l->child) == 0);
  return 0;
}

/* Runs the parent; its exit code. */
static int run_link(link_t *l) {
  uva_actor_options_t options = {.arg = l};
  uva_actor_t parent;
  int code;

  atomic_init(&l->seen_code, INT32_MIN);
  ck_assert_int_eq(uv_sem_init(&l->spawned, 0), 0);
  ck_assert_int_eq(uva_actor_spawn(&parent, NULL, link_parent_main, &options), 0);
  if (l->how == CHILD_TERMINATED_ELSEWHERE) {
    uv_sem_wait(&l->spawned);
    ck_assert_int_eq(uva_actor_terminate(&l->child), 0); /* from this thread, not the parent's */
  }
  ck_assert_int_eq(uva_actor_join(&parent, HANG_GUARD_MS, &code), 0);
  uv_sem_destroy(&l->spawned);
  assert_actors_ok();
  return code;
}

START_TEST(test_link_abnormal_end_ends_the_parent) {
  link_t l = {.how = CHILD_RETURNS, .child_code = 3};

  ck_assert_int_eq(run_link(&l), UVA_EXIT_LINKED);
  ck_assert_int_eq(atomic_load(&l.seen_code), 3); /* it still got the exit event */
  ck_assert_int_eq(atomic_load(&l.stopping_in_exit), 1);
  ck_assert_int_eq(atomic_load(&l.parent_alive_after), 0);
}
END_TEST

START_TEST(test_link_failure_ends_the_parent) {
  link_t l = {.how = CHILD_FAILS, .child_code = 5};

  ck_assert_int_eq(run_link(&l), UVA_EXIT_LINKED);
  ck_assert_int_eq(atomic_load(&l.seen_code), 5);
}
END_TEST

START_TEST(test_link_normal_end_does_not) {
  link_t l = {.how = CHILD_RETURNS, .child_code = 0};

  ck_assert_int_eq(run_link(&l), 0);
  ck_assert_int_eq(atomic_load(&l.seen_code), 0);
  ck_assert_int_eq(atomic_load(&l.stopping_in_exit), 0);
  ck_assert_int_eq(atomic_load(&l.parent_alive_after), 1);
}
END_TEST

START_TEST(test_link_trapped_is_only_an_event) {
  link_t l = {.how = CHILD_RETURNS, .child_code = 3, .trap = 1};

  ck_assert_int_eq(run_link(&l), 0);
  ck_assert_int_eq(atomic_load(&l.seen_code), 3);
  ck_assert_int_eq(atomic_load(&l.stopping_in_exit), 0);
  ck_assert_int_eq(atomic_load(&l.parent_alive_after), 1);
}
END_TEST

START_TEST(test_link_unlinked_is_only_an_event) {
  link_t l = {.how = CHILD_RETURNS, .child_code = 3, .unlinked = 1};

  ck_assert_int_eq(run_link(&l), 0);
  ck_assert_int_eq(atomic_load(&l.seen_code), 3);
}
END_TEST

/* The parent's own terminate is its decision: not abnormal. Anyone else's is. */
START_TEST(test_link_terminate_by_the_parent_is_not_abnormal) {
  link_t l = {.how = CHILD_TERMINATED_BY_PARENT};

  ck_assert_int_eq(run_link(&l), 0);
  ck_assert_int_eq(atomic_load(&l.seen_code), UVA_EXIT_TERMINATED);
  ck_assert_int_eq(atomic_load(&l.parent_alive_after), 1);
}
END_TEST

START_TEST(test_link_terminate_from_elsewhere_is_abnormal) {
  link_t l = {.how = CHILD_TERMINATED_ELSEWHERE};

  ck_assert_int_eq(run_link(&l), UVA_EXIT_LINKED);
  ck_assert_int_eq(atomic_load(&l.seen_code), UVA_EXIT_TERMINATED);
}
END_TEST

/* A loop-less child: its join tells the parent, which ends as it would on the exit event. */
START_TEST(test_link_loopless_child) {
  link_t l = {.how = CHILD_LOOPLESS, .child_code = 2};

  ck_assert_int_eq(run_link(&l), UVA_EXIT_LINKED);
  ck_assert_int_eq(atomic_load(&l.seen_code), 2);
  ck_assert_int_eq(atomic_load(&l.stopping_in_exit), 1);
}
END_TEST

/* main is no actor: a linked child's failure is its exit event, nothing more. */
START_TEST(test_link_main_parent_gets_the_event) {
  events_t ev;

  spawn_steered(&ev, UVA_ACTOR_LINK);
  ck_assert_int_eq(post_int(uva_actor_port(&ev.actor), -6), 0);
  ck_assert(run_until(test_loop, &ev.exits, 1));
  ck_assert_int_eq(ev.exit_code, 6);
  uv_run(test_loop, UV_RUN_DEFAULT);
}
END_TEST

START_TEST(test_trap_exits_null) {
  ck_assert_int_eq(uva_self_trap_exits(NULL, 1), UV_EINVAL);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("ids", 0, loop_setup, loop_teardown),
      TEST(test_ids_unique_and_kept),
      TCASE("monitors", 60, loop_setup, loop_teardown),
      TEST(test_monitor_reports_the_end),
      TEST(test_monitor_terminated_and_returned),
      TEST(test_monitor_noproc),
      TEST(test_monitor_proxy),
      TEST(test_monitor_stop),
      TEST(test_many_monitors_each_once),
      TEST(test_monitor_restarted_in_its_callback),
      TEST(test_monitor_from_an_actor),
      TEST(test_records_do_not_grow),
      TCASE("links", 20, loop_setup, loop_teardown),
      TEST(test_link_abnormal_end_ends_the_parent),
      TEST(test_link_failure_ends_the_parent),
      TEST(test_link_normal_end_does_not),
      TEST(test_link_trapped_is_only_an_event),
      TEST(test_link_unlinked_is_only_an_event),
      TEST(test_link_terminate_by_the_parent_is_not_abnormal),
      TEST(test_link_terminate_from_elsewhere_is_abnormal),
      TEST(test_link_loopless_child),
      TEST(test_link_main_parent_gets_the_event),
      TEST(test_trap_exits_null),
  };

  return suite_of_rows("monitor", rows, sizeof(rows) / sizeof(rows[0]));
}
