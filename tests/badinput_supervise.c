/* The bad-input rows of include/uvactor/supervise.h: monitors, names and supervisors (the ids and links of
 * actor.h are in badinput_actor.c). Run by tests/test_badinput.c, which also shows them in docs/errors.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "badinput.h"
#include "run_until.h"

/* ---- monitors ------------------------------------------------------------------------------------ */

static int monitor_start_with(fx_t *fx, uva_monitor_t *mon, uv_loop_t *loop, uva_monitor_cb cb) {
  int err = uva_monitor_start(mon, loop, UINT64_MAX, cb);

  if (err == 0)
    ck_assert_int_eq(uva_monitor_stop(mon), 0);
  (void)fx;
  return err;
}

static int monitor_start_null(fx_t *fx) {
  return monitor_start_with(fx, NULL, fx->loop, on_fx_down);
}
static int monitor_start_null_loop(fx_t *fx) {
  return monitor_start_with(fx, &fx->mon, NULL, on_fx_down);
}
static int monitor_start_null_cb(fx_t *fx) {
  return monitor_start_with(fx, &fx->mon, fx->loop, NULL);
}
static int monitor_start(fx_t *fx) {
  return monitor_start_with(fx, &fx->mon, fx->loop, on_fx_down);
}

static int monitor_stop_null(fx_t *fx) {
  (void)fx;
  return uva_monitor_stop(NULL);
}

static int monitor_stop_zeroed(fx_t *fx) {
  uva_monitor_t zeroed;

  (void)fx;
  memset(&zeroed, 0, sizeof(zeroed));
  return uva_monitor_stop(&zeroed);
}

static int monitor_stop(fx_t *fx) {
  return uva_monitor_stop(&fx->mon);
}

static int monitor_stop_twice(fx_t *fx) {
  ck_assert_int_eq(uva_monitor_stop(&fx->mon), 0);
  return uva_monitor_stop(&fx->mon);
}

static int proxy_new_null(fx_t *fx) {
  (void)fx;
  return uva_actor_proxy_new(NULL);
}

static int proxy_id_null(fx_t *fx) {
  (void)fx;
  return uva_actor_proxy_id(NULL) == 0 ? 0 : R_VALUE;
}

static int proxy_end_null(fx_t *fx) {
  (void)fx;
  uva_actor_proxy_end(NULL, 0, "ignored");
  return R_NOTHING;
}

static const row_t monitor_rows[] = {
    {"uva_monitor_start", "mon NULL", S_NONE, monitor_start_null, UV_EINVAL},
    {"uva_monitor_start", "loop NULL", S_NONE, monitor_start_null_loop, UV_EINVAL},
    {"uva_monitor_start", "down_cb NULL", S_NONE, monitor_start_null_cb, UV_EINVAL},
    {"uva_monitor_start", NULL, A_LOOP_TAKEN, monitor_start, UV_EPERM},
    {"uva_monitor_start", "an id no actor has (its callback says UVA_EXIT_NOPROC)", S_NONE, monitor_start, 0},

    {"uva_monitor_stop", "mon NULL", S_NONE, monitor_stop_null, UV_EINVAL},
    {"uva_monitor_stop", "zeroed monitor, never started", S_NONE, monitor_stop_zeroed, UV_EINVAL},
    {"uva_monitor_stop", NULL, M_ACTIVE, monitor_stop, 0},
    {"uva_monitor_stop", "stopped before", M_ACTIVE, monitor_stop_twice, UV_EALREADY},
    {"uva_monitor_stop", NULL, M_DONE, monitor_stop, UV_EALREADY},
    {"uva_monitor_stop", NULL, M_OTHER_THREAD, monitor_stop, UV_EPERM},

    {"uva_actor_proxy_new", "proxyp NULL", S_NONE, proxy_new_null, UV_EINVAL},
    {"uva_actor_proxy_id", "proxy NULL (0)", S_NONE, proxy_id_null, 0},
    {"uva_actor_proxy_end", "proxy NULL (ignored)", S_NONE, proxy_end_null, R_NOTHING},
};

/* ---- names --------------------------------------------------------------------------------------- */

static char long_name[UVA_NAME_MAX + 2];

/* A name of len bytes. */
static const char *name_of(size_t len) {
  memset(long_name, 'n', len);
  long_name[len] = '\0';
  return long_name;
}

static int register_with(fx_t *fx, uva_name_t *name, uv_loop_t *loop, const char *text,
                         uva_name_accept_cb cb) {
  int err = uva_name_register(name, loop, text, cb);

  if (err == 0)
    ck_assert_int_eq(uva_name_unregister(name), 0);
  (void)fx;
  return err;
}

static int register_null(fx_t *fx) {
  return register_with(fx, NULL, fx->loop, "x", on_fx_accept);
}
static int register_null_loop(fx_t *fx) {
  return register_with(fx, &fx->name, NULL, "x", on_fx_accept);
}
static int register_null_text(fx_t *fx) {
  return register_with(fx, &fx->name, fx->loop, NULL, on_fx_accept);
}
static int register_null_cb(fx_t *fx) {
  return register_with(fx, &fx->name, fx->loop, "x", NULL);
}
static int register_empty(fx_t *fx) {
  return register_with(fx, &fx->name, fx->loop, "", on_fx_accept);
}
static int register_max(fx_t *fx) {
  return register_with(fx, &fx->name, fx->loop, name_of(UVA_NAME_MAX), on_fx_accept);
}
static int register_over(fx_t *fx) {
  return register_with(fx, &fx->name, fx->loop, name_of(UVA_NAME_MAX + 1), on_fx_accept);
}
static int register_x(fx_t *fx) {
  return register_with(fx, &fx->name, fx->loop, "x", on_fx_accept);
}

static int register_taken(fx_t *fx) {
  uva_name_t other;

  return register_with(fx, &other, fx->loop, "uva-test-badinput", on_fx_accept);
}

/* The fixture's name, registered, registered again: refused, and it keeps its text (another name cannot
 * take it). */
static int register_registered(fx_t *fx, const char *text) {
  uva_name_t other;
  int err = uva_name_register(&fx->name, fx->loop, text, on_fx_accept);

  ck_assert_int_eq(register_with(fx, &other, fx->loop, "uva-test-badinput", on_fx_accept), UV_EADDRINUSE);
  return err;
}
static int register_registered_same(fx_t *fx) {
  return register_registered(fx, "uva-test-badinput");
}
static int register_registered_other(fx_t *fx) {
  return register_registered(fx, "another");
}

static int accept_null(fx_t *fx) {
  uva_port_t port;

  (void)fx;
  return uva_name_accept(NULL, &port);
}

static int accept_zeroed(fx_t *fx) {
  uva_name_t zeroed;
  uva_port_t port;

  (void)fx;
  memset(&zeroed, 0, sizeof(zeroed));
  return uva_name_accept(&zeroed, &port);
}

static int accept_outside(fx_t *fx) {
  uva_port_t port;

  return uva_name_accept(&fx->name, &port);
}

static int accept_null_port(fx_t *fx) {
  return uva_name_accept(&fx->name, NULL);
}

static int unregister_null(fx_t *fx) {
  (void)fx;
  return uva_name_unregister(NULL);
}

static int unregister_zeroed(fx_t *fx) {
  uva_name_t zeroed;

  (void)fx;
  memset(&zeroed, 0, sizeof(zeroed));
  return uva_name_unregister(&zeroed);
}

static int unregister(fx_t *fx) {
  return uva_name_unregister(&fx->name);
}

static int unregister_twice(fx_t *fx) {
  ck_assert_int_eq(uva_name_unregister(&fx->name), 0);
  return uva_name_unregister(&fx->name);
}

static void on_fx_opened(uva_name_req_t *req, int status) {
  fx_t *fx = req->data;

  (void)status;
  fx->downs++;
}

/* Opens text; one that was started is run to its end (refused: nobody accepts). */
static int open_with(fx_t *fx, uva_name_req_t *req, uv_loop_t *loop, const char *text, uva_name_open_cb cb,
                     uva_port_t *port) {
  int err;

  if (req != NULL)
    req->data = fx;
  err = uva_name_open(req, loop, text, cb, port);
  if (err == 0 && !fx->other_thread)
    ck_assert(run_until(fx->loop, &fx->downs, 1));
  return err;
}

static uva_name_req_t fx_req;
static uva_port_t fx_port;

static int open_null_req(fx_t *fx) {
  return open_with(fx, NULL, fx->loop, "x", on_fx_opened, &fx_port);
}
static int open_null_loop(fx_t *fx) {
  return open_with(fx, &fx_req, NULL, "x", on_fx_opened, &fx_port);
}
static int open_null_text(fx_t *fx) {
  return open_with(fx, &fx_req, fx->loop, NULL, on_fx_opened, &fx_port);
}
static int open_null_cb(fx_t *fx) {
  return open_with(fx, &fx_req, fx->loop, "x", NULL, &fx_port);
}
static int open_null_port(fx_t *fx) {
  return open_with(fx, &fx_req, fx->loop, "x", on_fx_opened, NULL);
}
static int open_empty(fx_t *fx) {
  return open_with(fx, &fx_req, fx->loop, "", on_fx_opened, &fx_port);
}
static int open_over(fx_t *fx) {
  return open_with(fx, &fx_req, fx->loop, name_of(UVA_NAME_MAX + 1), on_fx_opened, &fx_port);
}
static int open_x(fx_t *fx) {
  return open_with(fx, &fx_req, fx->loop, "x", on_fx_opened, &fx_port);
}

static int open_wait_null_port(fx_t *fx) {
  (void)fx;
  return uva_name_open_wait("x", 0, NULL);
}
static int open_wait_null_text(fx_t *fx) {
  (void)fx;
  return uva_name_open_wait(NULL, 0, &fx_port);
}
static int open_wait_over(fx_t *fx) {
  (void)fx;
  return uva_name_open_wait(name_of(UVA_NAME_MAX + 1), 0, &fx_port);
}
static int open_wait_nobody(fx_t *fx) {
  (void)fx;
  return uva_name_open_wait("nobody", 0, &fx_port);
}
static int open_wait_unanswered(fx_t *fx) {
  (void)fx;
  return uva_name_open_wait("uva-test-badinput", 0, &fx_port);
}

static const row_t name_rows[] = {
    {"uva_name_register", "name NULL", S_NONE, register_null, UV_EINVAL},
    {"uva_name_register", "loop NULL", S_NONE, register_null_loop, UV_EINVAL},
    {"uva_name_register", "text NULL", S_NONE, register_null_text, UV_EINVAL},
    {"uva_name_register", "accept_cb NULL", S_NONE, register_null_cb, UV_EINVAL},
    {"uva_name_register", "text empty", S_NONE, register_empty, UV_EINVAL},
    {"uva_name_register", "text of UVA_NAME_MAX + 1 bytes", S_NONE, register_over, UV_EINVAL},
    {"uva_name_register", "text of UVA_NAME_MAX bytes (the longest allowed)", S_NONE, register_max, 0},
    {"uva_name_register", "text held by another name", N_REGISTERED, register_taken, UV_EADDRINUSE},
    {"uva_name_register", "a registered name, its text again", N_REGISTERED, register_registered_same,
     UV_EBUSY},
    {"uva_name_register", "a registered name, another text", N_REGISTERED, register_registered_other,
     UV_EBUSY},
    {"uva_name_register", NULL, A_LOOP_TAKEN, register_x, UV_EPERM},

    {"uva_name_accept", "name NULL", S_NONE, accept_null, UV_EINVAL},
    {"uva_name_accept", "zeroed name, never registered", S_NONE, accept_zeroed, UV_EINVAL},
    {"uva_name_accept", "outside accept_cb", N_REGISTERED, accept_outside, UV_EINVAL},
    {"uva_name_accept", "port NULL", N_REGISTERED, accept_null_port, UV_EINVAL},
    {"uva_name_accept", NULL, N_OTHER_THREAD, accept_outside, UV_EPERM},

    {"uva_name_unregister", "name NULL", S_NONE, unregister_null, UV_EINVAL},
    {"uva_name_unregister", "zeroed name, never registered", S_NONE, unregister_zeroed, UV_EINVAL},
    {"uva_name_unregister", "unregistered before", N_REGISTERED, unregister_twice, UV_EINVAL},
    {"uva_name_unregister", NULL, N_OTHER_THREAD, unregister, UV_EPERM},

    {"uva_name_open", "req NULL", S_NONE, open_null_req, UV_EINVAL},
    {"uva_name_open", "loop NULL", S_NONE, open_null_loop, UV_EINVAL},
    {"uva_name_open", "text NULL", S_NONE, open_null_text, UV_EINVAL},
    {"uva_name_open", "open_cb NULL", S_NONE, open_null_cb, UV_EINVAL},
    {"uva_name_open", "port NULL", S_NONE, open_null_port, UV_EINVAL},
    {"uva_name_open", "text empty", S_NONE, open_empty, UV_EINVAL},
    {"uva_name_open", "text of UVA_NAME_MAX + 1 bytes", S_NONE, open_over, UV_EINVAL},
    {"uva_name_open", NULL, A_LOOP_TAKEN, open_x, UV_EPERM},
    {"uva_name_open", "nobody holds it (open_cb gets UV_ECONNREFUSED)", S_NONE, open_x, 0},

    {"uva_name_open_wait", "port NULL", S_NONE, open_wait_null_port, UV_EINVAL},
    {"uva_name_open_wait", "text NULL", S_NONE, open_wait_null_text, UV_EINVAL},
    {"uva_name_open_wait", "text of UVA_NAME_MAX + 1 bytes", S_NONE, open_wait_over, UV_EINVAL},
    {"uva_name_open_wait", "nobody holds it, timeout 0", S_NONE, open_wait_nobody, UV_ECONNREFUSED},
    {"uva_name_open_wait", "its holder's loop does not run, timeout 0", N_REGISTERED, open_wait_unanswered,
     UV_ETIMEDOUT},
};

/* ---- supervisors --------------------------------------------------------------------------------- */

static int sup_init_with(fx_t *fx, uva_supervisor_t *sup, uv_loop_t *loop,
                         const uva_supervisor_options_t *options) {
  int err = uva_supervisor_init(sup, loop, options);

  if (err == 0)
    ck_assert_int_eq(uva_supervisor_close(sup, NULL), 0);
  (void)fx;
  return err;
}

static int sup_init_null(fx_t *fx) {
  return sup_init_with(fx, NULL, fx->loop, NULL);
}
static int sup_init_null_loop(fx_t *fx) {
  return sup_init_with(fx, &fx->sup, NULL, NULL);
}
static int sup_init(fx_t *fx) {
  return sup_init_with(fx, &fx->sup, fx->loop, NULL);
}

static int sup_init_options(fx_t *fx, uva_supervisor_options_t options) {
  return sup_init_with(fx, &fx->sup, fx->loop, &options);
}

static int sup_init_strategy(fx_t *fx) {
  return sup_init_options(fx, (uva_supervisor_options_t){.strategy = 3});
}
static int sup_init_intensity(fx_t *fx) {
  return sup_init_options(fx, (uva_supervisor_options_t){.intensity = UVA_INTENSITY_MAX + 1});
}
static int sup_init_intensity_max(fx_t *fx) {
  return sup_init_options(fx, (uva_supervisor_options_t){.intensity = UVA_INTENSITY_MAX});
}
static int sup_init_jitter(fx_t *fx) {
  return sup_init_options(fx, (uva_supervisor_options_t){.backoff_jitter = 101});
}
static int sup_init_reserved(fx_t *fx) {
  return sup_init_options(fx, (uva_supervisor_options_t){.reserved = {fx}});
}

/* Adds spec (its options if given) to the fixture's supervisor. */
static int add_with(fx_t *fx, uva_child_spec_t spec, const uva_actor_options_t *options) {
  spec.options = options;
  return uva_supervisor_add(&fx->sup, &spec);
}

static int add_ok(fx_t *fx) {
  return add_with(fx, (uva_child_spec_t){.id = "c", .main_cb = main_return}, NULL);
}
static int add_null_sup(fx_t *fx) {
  uva_child_spec_t spec = {.id = "c", .main_cb = main_return};

  (void)fx;
  return uva_supervisor_add(NULL, &spec);
}
static int add_zeroed_sup(fx_t *fx) {
  uva_child_spec_t spec = {.id = "c", .main_cb = main_return};
  uva_supervisor_t zeroed;

  (void)fx;
  memset(&zeroed, 0, sizeof(zeroed));
  return uva_supervisor_add(&zeroed, &spec);
}
static int add_null_spec(fx_t *fx) {
  return uva_supervisor_add(&fx->sup, NULL);
}
static int add_null_id(fx_t *fx) {
  return add_with(fx, (uva_child_spec_t){.main_cb = main_return}, NULL);
}
static int add_empty_id(fx_t *fx) {
  return add_with(fx, (uva_child_spec_t){.id = "", .main_cb = main_return}, NULL);
}
static int add_long_id(fx_t *fx) {
  return add_with(fx, (uva_child_spec_t){.id = name_of(UVA_CHILD_ID_MAX + 1), .main_cb = main_return}, NULL);
}
static int add_null_main(fx_t *fx) {
  return add_with(fx, (uva_child_spec_t){.id = "c"}, NULL);
}
static int add_bad_restart(fx_t *fx) {
  return add_with(fx, (uva_child_spec_t){.id = "c", .main_cb = main_return, .restart = 3}, NULL);
}
static int add_with_init(fx_t *fx) {
  uva_actor_options_t options = {.init = fx->msg};
  return add_with(fx, (uva_child_spec_t){.id = "c", .main_cb = main_return}, &options);
}
static int add_with_exit_cb(fx_t *fx) {
  uva_actor_options_t options = {.exit_cb = on_fx_exit};
  return add_with(fx, (uva_child_spec_t){.id = "c", .main_cb = main_return}, &options);
}
static int add_with_link(fx_t *fx) {
  uva_actor_options_t options = {.flags = UVA_ACTOR_LINK};
  return add_with(fx, (uva_child_spec_t){.id = "c", .main_cb = main_return}, &options);
}
static int add_with_small_stack(fx_t *fx) {
  uva_actor_options_t options = {.stack_size = 1};
  return add_with(fx, (uva_child_spec_t){.id = "c", .main_cb = main_return}, &options);
}
static int add_reserved(fx_t *fx) {
  return add_with(fx, (uva_child_spec_t){.id = "c", .main_cb = main_return, .reserved = {fx}}, NULL);
}
static int add_twice(fx_t *fx) {
  ck_assert_int_eq(add_ok(fx), 0);
  return add_ok(fx);
}

static int sup_start(fx_t *fx) {
  return uva_supervisor_start(&fx->sup);
}
static int sup_start_null(fx_t *fx) {
  (void)fx;
  return uva_supervisor_start(NULL);
}
static int sup_child(fx_t *fx) {
  return ptr_result(uva_supervisor_child(&fx->sup, "c"));
}
static int sup_child_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_supervisor_child(NULL, "c"));
}
static int sup_child_null_id(fx_t *fx) {
  return ptr_result(uva_supervisor_child(&fx->sup, NULL));
}
static int sup_close(fx_t *fx) {
  return uva_supervisor_close(&fx->sup, NULL);
}
static int sup_close_null(fx_t *fx) {
  (void)fx;
  return uva_supervisor_close(NULL, NULL);
}

static int sup_close_zeroed(fx_t *fx) {
  uva_supervisor_t zeroed;

  (void)fx;
  memset(&zeroed, 0, sizeof(zeroed));
  return uva_supervisor_close(&zeroed, NULL);
}

static const row_t supervisor_rows[] = {
    {"uva_supervisor_init", "sup NULL", S_NONE, sup_init_null, UV_EINVAL},
    {"uva_supervisor_init", "loop NULL", S_NONE, sup_init_null_loop, UV_EINVAL},
    {"uva_supervisor_init", "strategy 3", S_NONE, sup_init_strategy, UV_EINVAL},
    {"uva_supervisor_init", "intensity UVA_INTENSITY_MAX + 1", S_NONE, sup_init_intensity, UV_EINVAL},
    {"uva_supervisor_init", "intensity UVA_INTENSITY_MAX (the most allowed)", S_NONE, sup_init_intensity_max,
     0},
    {"uva_supervisor_init", "backoff_jitter 101", S_NONE, sup_init_jitter, UV_EINVAL},
    {"uva_supervisor_init", "a nonzero reserved slot", S_NONE, sup_init_reserved, UV_EINVAL},
    {"uva_supervisor_init", NULL, A_LOOP_TAKEN, sup_init, UV_EPERM},

    {"uva_supervisor_add", "sup NULL", S_NONE, add_null_sup, UV_EINVAL},
    {"uva_supervisor_add", "zeroed supervisor, never initialized", S_NONE, add_zeroed_sup, UV_EINVAL},
    {"uva_supervisor_add", "spec NULL", V_IDLE, add_null_spec, UV_EINVAL},
    {"uva_supervisor_add", "id NULL", V_IDLE, add_null_id, UV_EINVAL},
    {"uva_supervisor_add", "id empty", V_IDLE, add_empty_id, UV_EINVAL},
    {"uva_supervisor_add", "id of UVA_CHILD_ID_MAX + 1 bytes", V_IDLE, add_long_id, UV_EINVAL},
    {"uva_supervisor_add", "main_cb NULL", V_IDLE, add_null_main, UV_EINVAL},
    {"uva_supervisor_add", "restart 3", V_IDLE, add_bad_restart, UV_EINVAL},
    {"uva_supervisor_add", "options with an init message (it stays the caller's)", V_IDLE, add_with_init,
     UV_EINVAL},
    {"uva_supervisor_add", "options with an exit_cb", V_IDLE, add_with_exit_cb, UV_EINVAL},
    {"uva_supervisor_add", "options with UVA_ACTOR_LINK", V_IDLE, add_with_link, UV_EINVAL},
    {"uva_supervisor_add", "options uva_actor_spawn() refuses (stack_size 1)", V_IDLE, add_with_small_stack,
     UV_EINVAL},
    {"uva_supervisor_add", "a nonzero reserved slot", V_IDLE, add_reserved, UV_EINVAL},
    {"uva_supervisor_add", "an id it has", V_IDLE, add_twice, UV_EEXIST},
    {"uva_supervisor_add", NULL, V_CLOSING, add_ok, UV_ECANCELED},
    {"uva_supervisor_add", NULL, V_OTHER_THREAD, add_ok, UV_EPERM},

    {"uva_supervisor_start", "sup NULL", S_NONE, sup_start_null, UV_EINVAL},
    {"uva_supervisor_start", NULL, V_STARTED, sup_start, UV_EALREADY},
    {"uva_supervisor_start", NULL, V_CLOSING, sup_start, UV_ECANCELED},
    {"uva_supervisor_start", NULL, V_OTHER_THREAD, sup_start, UV_EPERM},

    {"uva_supervisor_child", "sup NULL", S_NONE, sup_child_null, R_NULL},
    {"uva_supervisor_child", "id NULL", V_STARTED, sup_child_null_id, R_NULL},
    {"uva_supervisor_child", "no such child", V_STARTED, sup_child, R_NULL},
    {"uva_supervisor_child", NULL, V_OTHER_THREAD, sup_child, R_NULL},

    {"uva_supervisor_close", "sup NULL", S_NONE, sup_close_null, UV_EINVAL},
    {"uva_supervisor_close", "zeroed supervisor, never initialized", S_NONE, sup_close_zeroed, UV_EINVAL},
    {"uva_supervisor_close", NULL, V_CLOSING, sup_close, UV_EALREADY},
    {"uva_supervisor_close", NULL, V_OTHER_THREAD, sup_close, UV_EPERM},
};

const table_t monitor_table = TABLE("Monitors", monitor_rows);
const table_t name_table = TABLE("Names", name_rows);
const table_t supervisor_table = TABLE("Supervisors", supervisor_rows);
