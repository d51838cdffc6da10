/* restart: a supervised child ends; its replacement is online and reachable by name again.
 *
 * A supervisor on main's loop (one_for_one, no backoff) runs one child. The child registers the name
 * "bench-restart", then says "ready" to its parent. main opens the name, tells the child to end through the
 * channel it got, and closes it; the supervisor restarts the child, whose "ready" starts the next round. One
 * round is one restart: the child's end, its exit event, the new spawn, the registration and an open that
 * succeeds at the first try (the name is registered before "ready"; a refused open fails the run). The
 * spawn workload is its reference: a restart does a spawn and a join, plus the name and the supervisor. */
#include <string.h>

#include "bench.h"

#define NAME "bench-restart"

static struct {
  uva_supervisor_t sup;
  uva_name_req_t req;
  uva_port_t port;
  uint64_t rounds;
  uint64_t want;
  uint64_t restarts;
  uint64_t start;
  uint64_t end;
  int closed;
} r;

/* The child: holds the name; a message on an accepted channel ends it. */
typedef struct {
  uva_name_t name;
  uva_port_t accepted;
  uva_self_t *self;
} svc_t;

static void on_quit(uva_port_t *port, uva_msg_t *msg) {
  svc_t *svc = port->data;

  uva_msg_free(msg);
  uva_self_exit(svc->self, 0);
}

static void on_accept(uva_name_t *name) {
  svc_t *svc = name->data;

  bench_check(uva_name_accept(name, &svc->accepted), "accept");
  svc->accepted.data = svc;
  bench_check(uva_port_start(&svc->accepted, name->loop, on_quit, NULL), "start the accepted port");
}

static svc_t svc; /* one instance at a time: the next starts after this one ended */

static int svc_main(uva_self_t *self) {
  memset(&svc, 0, sizeof(svc));
  svc.self = self;
  svc.name.data = &svc;
  bench_check(uva_name_register(&svc.name, uva_self_loop(self), NAME, on_accept), "register");
  bench_check(uva_port_post(uva_self_port(self), bench_seq_msg(0, "ready", 5)), "post ready");
  return 0;
}

static void on_opened(uva_name_req_t *req, int status) {
  (void)req;
  bench_check(status, "open the name (it must be held: the child registers before it says ready)");
  if (r.rounds == 1)
    r.start = uv_hrtime(); /* the clock runs from the first end */
  bench_check(uva_port_post(&r.port, bench_seq_msg(r.rounds, "quit", 4)), "post quit");
  bench_check(uva_port_close(&r.port), "close");
}

static void on_closed(uva_supervisor_t *sup) {
  (void)sup;
  r.closed = 1;
}

/* The child's "ready": the name is held; open it, or stop after the last round. */
static void on_ready(uva_actor_t *actor, uva_msg_t *msg) {
  (void)actor;
  uva_msg_free(msg);
  if (r.rounds++ == r.want) {
    r.end = uv_hrtime();
    bench_check(uva_supervisor_close(&r.sup, on_closed), "close the supervisor");
    return;
  }
  bench_check(uva_name_open(&r.req, uv_default_loop(), NAME, on_opened, &r.port), "open");
}

static void on_event(uva_supervisor_t *sup, const uva_supervisor_event_t *event) {
  (void)sup;
  if (event->type == UVA_SUPERVISOR_RESTARTED)
    r.restarts++;
  else if (event->type == UVA_SUPERVISOR_GAVE_UP)
    bench_fail("the supervisor gave up");
}

void bench_restart(const bench_params_t *params) {
  uva_supervisor_options_t options = {.intensity = UVA_INTENSITY_MAX,
                                      .period_ms = 1,
                                      .backoff_min_ms = UVA_BACKOFF_OFF,
                                      .event_cb = on_event};
  uva_actor_options_t child = {.name = "svc", .message_cb = on_ready};
  uva_child_spec_t spec = {.id = "svc", .main_cb = svc_main, .options = &child};
  double seconds;

  if (params->n == 0)
    bench_fail("restart: -n must be at least 1");
  memset(&r, 0, sizeof(r));
  r.want = params->n;
  bench_check(uva_supervisor_init(&r.sup, uv_default_loop(), &options), "supervisor");
  bench_check(uva_supervisor_add(&r.sup, &spec), "add");
  bench_check(uva_supervisor_start(&r.sup), "start");
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  seconds = (double)(r.end - r.start) / 1e9;
  if (!r.closed || r.restarts != r.want)
    bench_fail("restart: %llu restarts for %llu rounds", (unsigned long long)r.restarts,
               (unsigned long long)r.want);
  bench_result("uvactor", "restart", r.want, seconds * 1e6 / (double)r.want, "us/restart");
}
