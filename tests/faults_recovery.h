/* test_faults's scenarios for recovery (include/uvactor/supervise.h): a monitor, names (opened from a loop
 * and from an actor without one) and a supervisor restarting a child that fails once. Included by
 * test_faults.c after its actor scenarios, whose helpers and actor these reuse; the walk itself is
 * test_faults.c's. */

/* ---- (d) monitors -------------------------------------------------------------------------------- */

typedef struct {
  run_t *run;
  uva_monitor_t mon;
  int started;
  int downs;
  int code;
  int had_text;
} walk_watch_t;

static void on_walk_down(uva_monitor_t *mon, int exit_code, const char *text) {
  walk_watch_t *w = mon->data;

  w->downs++;
  w->code = exit_code;
  w->had_text = text != NULL && strcmp(text, "bye") == 0;
}

static void walk_watch(run_t *run, walk_watch_t *w, uv_loop_t *loop, uint64_t id) {
  memset(w, 0, sizeof(*w));
  w->run = run;
  w->mon.data = w;
  w->started = NOTE(run, uva_monitor_start(&w->mon, loop, id, on_walk_down), E_START) == 0;
}

/* The actor of scenario_actor_loop (it fails with 3, "bye"), watched by id; and an id no actor has. */
static void scenario_monitor(run_t *run) {
  uva_actor_options_t options = {.name = "faulty", .exit_cb = on_actor_exit, .error_cb = on_actor_error};
  uv_loop_t *loop = loop_new();
  walk_watch_t w, none;
  actor_ctx_t ctx;
  uva_msg_t *init;

  memset(&ctx, 0, sizeof(ctx));
  ctx.run = run;
  ctx.actor.data = &ctx;
  options.arg = &ctx;
  walk_watch(run, &none, loop, UINT64_MAX);
  if (int_msg(run, 42, &init) != 0) {
    loop_finish(loop);
    return;
  }
  options.init = init;
  if (NOTE(run, uva_actor_spawn(&ctx.actor, loop, actor_main, &options), E_START, UV_EAGAIN) != 0) {
    uva_msg_free(init);
    loop_finish(loop);
    return;
  }
  walk_watch(run, &w, loop, uva_actor_id(&ctx.actor));
  if (post_int(run, uva_actor_port(&ctx.actor), 7, UV_EPIPE) != 0)
    (void)uva_actor_terminate(&ctx.actor);
  loop_finish(loop); /* the monitors keep it alive until their callbacks ran */
  check_exit(&ctx, 3);
  EXPECT(run, !none.started || (none.downs == 1 && none.code == UVA_EXIT_NOPROC));
  if (!w.started)
    return;
  /* An actor that failed at once (a fault in its loop's setup) may have ended before its monitor started:
   * that monitor says UVA_EXIT_NOPROC, as supervise.h promises. */
  EXPECT(run, w.downs == 1 && (w.code == ctx.exit_code || w.code == UVA_EXIT_NOPROC));
  if (ctx.exit_code == 3 && !w.had_text)
    note_degraded(run); /* the record's copy of the text failed: the code still says it */
}

/* ---- (e) names ----------------------------------------------------------------------------------- */

typedef struct {
  run_t *run;
  uva_name_t name;
  uva_port_t accepted[2];
  int naccepted;
  uva_name_req_t req;
  uva_port_t port;
  int opened;
  int status;
  int echoed;
  int waiter_exited;
} walk_names_t;

static void on_walk_echo(uva_port_t *port, uva_msg_t *msg) {
  if (uva_port_post(port, msg) != 0)
    uva_msg_free(msg);
}

static void on_walk_accept(uva_name_t *name) {
  walk_names_t *n = name->data;
  uva_port_t *port;

  if (n->naccepted == 2) {
    note_bad(n->run, "more opens than were made");
    return;
  }
  port = &n->accepted[n->naccepted++];
  EXPECT(n->run, uva_name_accept(name, port) == 0);
  if (NOTE(n->run, uva_port_start(port, name->loop, on_walk_echo, NULL), E_START) != 0)
    EXPECT(n->run, uva_port_close(port) == 0);
}

static void on_walk_opened(uva_name_req_t *req, int status) {
  walk_names_t *n = req->data;

  n->opened++;
  n->status = status;
}

static void on_walk_echoed(uva_port_t *port, uva_msg_t *msg) {
  walk_names_t *n = port->data;

  EXPECT(n->run, msg_int(msg) == 5);
  n->echoed++;
  uva_msg_free(msg);
}

/* An actor without a loop of its own to open from: uva_name_open_wait(), a round trip, a close. */
static int open_wait_main(uva_self_t *self) {
  walk_names_t *n = uva_self_arg(self);
  uva_port_t port;
  uva_msg_t *msg;

  if (NOTE(n->run, uva_name_open_wait("faulty", HANG_GUARD_MS, &port), E_MEM) != 0)
    return 0;
  if (post_int(n->run, &port, 5, UV_EPIPE) == 0) {
    if (NOTE(n->run, uva_port_receive_wait(&port, &msg, HANG_GUARD_MS), UV_EPIPE) == 0) {
      EXPECT(n->run, msg_int(msg) == 5);
      uva_msg_free(msg);
    }
  }
  EXPECT(n->run, uva_port_close(&port) == 0);
  return 0;
}

static void on_waiter_exit(uva_actor_t *actor, int exit_code) {
  walk_names_t *n = actor->data;

  (void)exit_code;
  n->waiter_exited++;
}

static void scenario_names(run_t *run) {
  uva_actor_options_t options = {.name = "faulty", .exit_cb = on_waiter_exit, .error_cb = on_actor_error};
  uv_loop_t *loop = loop_new();
  uva_actor_t waiter;
  walk_names_t n;

  memset(&n, 0, sizeof(n));
  n.run = run;
  n.name.data = &n;
  n.req.data = &n;
  if (NOTE(run, uva_name_register(&n.name, loop, "faulty", on_walk_accept), E_START) != 0) {
    loop_finish(loop);
    return;
  }
  if (NOTE(run, uva_name_open(&n.req, loop, "faulty", on_walk_opened, &n.port), E_START) == 0) {
    if (!run_until(loop, &n.opened, 1))
      note_bad(run, "the open never finished");
    EXPECT(run, n.status == 0);
    n.port.data = &n;
    if (n.status == 0 && NOTE(run, uva_port_start(&n.port, loop, on_walk_echoed, NULL), E_START) == 0) {
      if (post_int(run, &n.port, 5, UV_EPIPE) == 0 && !run_until(loop, &n.echoed, 1))
        note_incomplete(run, "the echo by name");
    }
    if (n.status == 0)
      EXPECT(run, uva_port_close(&n.port) == 0);
  }
  waiter.data = &n;
  options.arg = &n;
  if (NOTE(run, uva_actor_spawn(&waiter, loop, open_wait_main, &options), E_START, UV_EAGAIN) == 0 &&
      !run_until(loop, &n.waiter_exited, 1))
    ck_abort_msg("the waiting actor did not end within %d ms (fault %s)", HANG_GUARD_MS, uva_fault_site());
  EXPECT(run, uva_name_unregister(&n.name) == 0);
  loop_finish(loop);
}

/* ---- (f) a supervisor ---------------------------------------------------------------------------- */

typedef struct {
  run_t *run;
  uva_supervisor_t sup;
  atomic_int instances; /* mains run: the first fails */
  int ready;            /* the second's hello */
  int closed;
} walk_sup_t;

static int walk_child_main(uva_self_t *self) {
  walk_sup_t *c = uva_self_arg(self);
  uva_port_t *port = uva_self_port(self);

  if (atomic_fetch_add(&c->instances, 1) == 0) {
    (void)NOTE(c->run, uva_self_fail(self, 3, "bye"), E_MEM);
    return 0;
  }
  if (NOTE(c->run, uva_port_start(port, uva_self_loop(self), on_walk_echo, NULL), E_START) != 0)
    return ACTOR_GAVE_UP;
  post_int(c->run, port, 1, UV_EPIPE);
  return 0;
}

static walk_sup_t *walk_sup; /* for the child's message callback, which gets the supervisor's handle */

static void on_walk_hello(uva_actor_t *actor, uva_msg_t *msg) {
  (void)actor;
  if (msg_int(msg) == 1)
    walk_sup->ready++;
  uva_msg_free(msg);
}

static void on_walk_event(uva_supervisor_t *sup, const uva_supervisor_event_t *e) {
  walk_sup_t *c = sup->data;

  /* The first instance's failure: its text may be lost to a failed copy (the code says it). */
  if (e->type == UVA_SUPERVISOR_EXITED && e->exit_code == 3 && e->error == NULL)
    note_degraded(c->run);
  if (e->type == UVA_SUPERVISOR_GAVE_UP)
    note_bad(c->run, "the supervisor gave up");
}

static void on_walk_closed(uva_supervisor_t *sup) {
  walk_sup_t *c = sup->data;

  c->closed++;
}

static void scenario_supervisor(run_t *run) {
  uva_supervisor_options_t options = {
      .intensity = 10, .backoff_min_ms = UVA_BACKOFF_OFF, .event_cb = on_walk_event};
  uva_actor_options_t child_options = {.name = "faulty", .message_cb = on_walk_hello};
  uva_child_spec_t spec = {.id = "child", .main_cb = walk_child_main, .options = &child_options};
  uv_loop_t *loop = loop_new();
  walk_sup_t c;

  memset(&c, 0, sizeof(c));
  atomic_init(&c.instances, 0);
  c.run = run;
  c.sup.data = &c;
  walk_sup = &c;
  child_options.arg = &c;
  if (NOTE(run, uva_supervisor_init(&c.sup, loop, &options), E_START) != 0) {
    loop_finish(loop);
    return;
  }
  if (NOTE(run, uva_supervisor_add(&c.sup, &spec), E_MEM) == 0) {
    EXPECT(run, uva_supervisor_start(&c.sup) == 0);
    if (!run_until(loop, &c.ready, 1))
      note_incomplete(run, "the restarted child's hello");
  }
  EXPECT(run, uva_supervisor_close(&c.sup, on_walk_closed) == 0);
  if (!run_until(loop, &c.closed, 1))
    note_bad(run, "the supervisor's close callback never ran");
  loop_finish(loop);
}
