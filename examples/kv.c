/* kv: a key-value actor answering calls, from a main with a loop and from a main without one.
 *
 * The actor keeps strings by key and answers requests: ["put", key, value] with "ok", ["get", key] with the
 * value or an error reply (404, "no such key: ..."), ["slow-get", key] the same but 200 ms later, and
 * ["sync"] once everything delayed before it was answered. The caller never matches answers itself: each
 * uva_port_call() gets its own callback, with the reply, the callee's error, or UV_ETIMEDOUT.
 *
 * First main runs a loop and calls with callbacks, one after the other, the slow get with a 50 ms timeout:
 * it times out, and its answer, which comes later, is dropped and counted by the port. Then main calls a
 * second kv actor without any loop, with uva_port_call_wait(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvactor.h>

#define KV_NOT_FOUND 404
#define KV_MAX 64
#define SLOW_MS 200

/* ---- messages: arrays of strs ---- */

static uva_msg_t *strs_msg(int n, const char *const *strs) {
  uva_msg_t *msg;
  int i;

  if (uva_msg_new(&msg) != 0)
    return NULL;
  msgpack_pack_array(uva_msg_packer(msg), (size_t)n);
  for (i = 0; i < n; i++)
    msgpack_pack_str_with_body(uva_msg_packer(msg), strs[i], strlen(strs[i]));
  return msg;
}

static uva_msg_t *str_msg(const char *s) {
  uva_msg_t *msg;

  if (uva_msg_new(&msg) != 0)
    return NULL;
  msgpack_pack_str_with_body(uva_msg_packer(msg), s, strlen(s));
  return msg;
}

/* Item i of an array of strs, copied into buf as a C string ("" if missing). */
static const char *item(const msgpack_object *o, uint32_t i, char *buf, size_t size) {
  const msgpack_object *it;

  buf[0] = '\0';
  if (o->type == MSGPACK_OBJECT_ARRAY && i < o->via.array.size) {
    it = &o->via.array.ptr[i];
    if (it->type == MSGPACK_OBJECT_STR && it->via.str.size < size) {
      memcpy(buf, it->via.str.ptr, it->via.str.size);
      buf[it->via.str.size] = '\0';
    }
  }
  return buf;
}

/* A str body as a C string. */
static const char *text_of(uva_msg_t *msg, char *buf, size_t size) {
  msgpack_object o;

  buf[0] = '\0';
  if (uva_msg_object(msg, &o) == 0 && o.type == MSGPACK_OBJECT_STR && o.via.str.size < size) {
    memcpy(buf, o.via.str.ptr, o.via.str.size);
    buf[o.via.str.size] = '\0';
  }
  return buf;
}

/* ---- the actor ---- */

typedef struct {
  char *keys[KV_MAX];
  char *values[KV_MAX];
  int n;
  uva_msg_t *delayed[KV_MAX]; /* slow-gets and syncs, answered in order when the timer fires */
  int ndelayed;
  uv_timer_t timer;
} kv_t;

static const char *kv_get(kv_t *kv, const char *key) {
  int i;

  for (i = 0; i < kv->n; i++)
    if (strcmp(kv->keys[i], key) == 0)
      return kv->values[i];
  return NULL;
}

static int kv_put(kv_t *kv, const char *key, const char *value) {
  int i;

  for (i = 0; i < kv->n && strcmp(kv->keys[i], key) != 0; i++)
    ;
  if (i == KV_MAX)
    return 0;
  if (i == kv->n) {
    kv->keys[kv->n++] = strdup(key);
    kv->values[i] = NULL;
  }
  free(kv->values[i]);
  kv->values[i] = strdup(value);
  return 1;
}

/* Answers a get (slow or not) or a sync. A reply that cannot be sent (the caller's channel closed) is
 * nobody's loss; the request is freed either way. */
static void answer(kv_t *kv, uva_msg_t *req) {
  char op[16], key[64], text[96];
  msgpack_object o;
  const char *value;
  uva_msg_t *reply;

  uva_msg_object(req, &o);
  item(&o, 0, op, sizeof(op));
  value = kv_get(kv, item(&o, 1, key, sizeof(key)));
  if (strcmp(op, "sync") == 0 || value != NULL) {
    reply = str_msg(value != NULL ? value : "synced");
    if (reply != NULL && uva_msg_reply(req, reply) != 0)
      uva_msg_free(reply);
  } else {
    snprintf(text, sizeof(text), "no such key: %s", key);
    uva_msg_reply_error(req, KV_NOT_FOUND, text);
  }
  uva_msg_free(req); /* freed unanswered, it would tell the caller UV_ECONNRESET */
}

static void on_slow_timer(uv_timer_t *timer) {
  kv_t *kv = timer->data;
  int i;

  for (i = 0; i < kv->ndelayed; i++)
    answer(kv, kv->delayed[i]);
  kv->ndelayed = 0;
}

static void on_request(uva_port_t *port, uva_msg_t *req) {
  kv_t *kv = port->data;
  char op[16], key[64], value[64];
  msgpack_object o;
  uva_msg_t *reply;

  if (!uva_msg_is_call(req) || uva_msg_object(req, &o) != 0) {
    uva_msg_free(req);
    return;
  }
  item(&o, 0, op, sizeof(op));
  if (strcmp(op, "put") == 0) {
    if (kv_put(kv, item(&o, 1, key, sizeof(key)), item(&o, 2, value, sizeof(value))) &&
        (reply = str_msg("ok")) != NULL && uva_msg_reply(req, reply) != 0)
      uva_msg_free(reply);
    uva_msg_free(req);
  } else if (strcmp(op, "slow-get") == 0 || (strcmp(op, "sync") == 0 && kv->ndelayed > 0)) {
    if (kv->ndelayed == 0)
      uv_timer_start(&kv->timer, on_slow_timer, SLOW_MS, 0);
    kv->delayed[kv->ndelayed++] = req; /* kept: answered later, from the timer */
  } else {
    answer(kv, req);
  }
}

static void on_timer_closed(uv_handle_t *handle) {
  kv_t *kv = handle->data;
  int i;

  for (i = 0; i < kv->n; i++) {
    free(kv->keys[i]);
    free(kv->values[i]);
  }
  free(kv);
}

/* The channel closed: the actor lets go of everything, and its loop, with nothing left, ends. */
static void on_port_close(uva_port_t *port) {
  kv_t *kv = port->data;
  int i;

  for (i = 0; i < kv->ndelayed; i++)
    uva_msg_free(kv->delayed[i]);
  kv->ndelayed = 0;
  uv_close((uv_handle_t *)&kv->timer, on_timer_closed);
}

static int kv_main(uva_self_t *self) {
  kv_t *kv = calloc(1, sizeof(*kv));

  if (kv == NULL)
    return 1;
  uv_timer_init(uva_self_loop(self), &kv->timer);
  kv->timer.data = kv;
  uva_self_port(self)->data = kv;
  return uva_port_start(uva_self_port(self), uva_self_loop(self), on_request, on_port_close) == 0 ? 0 : 1;
}

/* ---- main with a loop: one call after another, each from the last one's callback ---- */

typedef struct {
  const char *label;
  const char *strs[3];
  int n;
  int64_t timeout_ms;
} step_t;

static const step_t steps[] = {
    {"put a = 1", {"put", "a", "1"}, 3, 1000},
    {"put b = 2", {"put", "b", "2"}, 3, 1000},
    {"get a", {"get", "a"}, 2, 1000},
    {"get c", {"get", "c"}, 2, 1000},
    {"slow get b (timeout 50 ms)", {"slow-get", "b"}, 2, 50},
    {"sync (after the slow answer)", {"sync"}, 1, 1000},
};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

static uva_actor_t loop_kv;
static uva_call_t call;
static size_t step;

static void call_step(void);

static void on_answer(uva_call_t *c, int status, uva_msg_t *reply) {
  uva_port_stats_t stats;
  char text[96];

  (void)c;
  if (status == 0)
    printf("%-30s -> \"%s\"\n", steps[step].label, text_of(reply, text, sizeof(text)));
  else if (status > 0)
    printf("%-30s -> error %d: %s\n", steps[step].label, status, text_of(reply, text, sizeof(text)));
  else
    printf("%-30s -> %s\n", steps[step].label, uva_err_name(status));
  uva_msg_free(reply);
  if (++step < NSTEPS) {
    call_step();
    return;
  }
  /* The slow get's answer came before sync's, after its call had timed out: dropped, and counted. */
  if (uva_port_stats(uva_actor_port(&loop_kv), &stats) == 0)
    printf("late answers the port dropped: %llu\n", (unsigned long long)stats.late_replies);
  uva_port_close(uva_actor_port(&loop_kv)); /* the actor's port closes: it ends */
}

static void call_step(void) {
  uva_msg_t *req = strs_msg(steps[step].n, steps[step].strs);
  int err = req != NULL
                ? uva_port_call(uva_actor_port(&loop_kv), &call, req, steps[step].timeout_ms, on_answer)
                : UV_ENOMEM;

  if (err != 0) {
    fprintf(stderr, "kv: call: %s\n", uva_strerror(err));
    uva_msg_free(req);
    uva_port_close(uva_actor_port(&loop_kv));
  }
}

static void on_exit_cb(uva_actor_t *actor, int code) {
  (void)actor;
  printf("kv exited with code %d\n", code);
}

/* ---- main without a loop: uva_port_call_wait() ---- */

static int call_wait(uva_port_t *port, const char *label, int n, const char *a, const char *b,
                     const char *c) {
  const char *strs[3] = {a, b, c};
  uva_msg_t *reply = NULL;
  char text[96];
  int status = uva_port_call_wait(port, strs_msg(n, strs), 1000, &reply);

  if (status == 0)
    printf("%-30s -> \"%s\"\n", label, text_of(reply, text, sizeof(text)));
  else if (status > 0)
    printf("%-30s -> error %d: %s\n", label, status, text_of(reply, text, sizeof(text)));
  else
    printf("%-30s -> %s\n", label, uva_err_name(status));
  uva_msg_free(reply);
  return status;
}

int main(void) {
  uva_actor_options_t options = {.name = "kv", .exit_cb = on_exit_cb};
  uva_actor_t loopless_kv;
  int code;
  int err;

  printf("--- main with a loop: uva_port_call() ---\n");
  if ((err = uva_actor_spawn(&loop_kv, uv_default_loop(), kv_main, &options)) != 0) {
    fprintf(stderr, "kv: spawn: %s\n", uva_strerror(err));
    return 1;
  }
  call_step();
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);

  printf("--- main without a loop: uva_port_call_wait() ---\n");
  if ((err = uva_actor_spawn(&loopless_kv, NULL, kv_main, NULL)) != 0) {
    fprintf(stderr, "kv: spawn: %s\n", uva_strerror(err));
    return 1;
  }
  call_wait(uva_actor_port(&loopless_kv), "put x = 42", 3, "put", "x", "42");
  call_wait(uva_actor_port(&loopless_kv), "get x", 2, "get", "x", NULL);
  call_wait(uva_actor_port(&loopless_kv), "get y", 2, "get", "y", NULL);
  uva_port_close(uva_actor_port(&loopless_kv)); /* the actor ends when its port closes */
  if ((err = uva_actor_join(&loopless_kv, 5000, &code)) != 0) {
    fprintf(stderr, "kv: join: %s\n", uva_strerror(err));
    return 1;
  }
  printf("kv exited with code %d\n", code);
  return 0;
}
