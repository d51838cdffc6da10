/* pipeline: three actors in a row, parse -> transform -> sink, that talk to each other directly. main makes
 * the channels and hands each stage its ports in its init message (Node's workerData with a transferList), so
 * items go from stage to stage, not through main. main posts a shopping list and closes its port; a stage
 * closes its output when its input closes, so the end flows down the pipe and the sink reports to main. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvactor.h>

static const char *const lines[] = {"3 apples 0.40", "1 bread 2.20", "2 milk 0.95", "12 eggs 0.25",
                                    "1 coffee 6.50"};
static int failed;

typedef struct {
  uva_port_t in,
      next;        /* from the stage before (first: a port is its stage), to the next (parse, transform) */
  char kind;       /* 'p'arse, 't'ransform or 's'ink */
  uva_port_t *out; /* &next, or the sink's port to main */
  double total;    /* the sink's sum and text */
  char receipt[1024];
} stage_t;

/* Every message is an item: [quantity, name, price]. */
static void post(uva_port_t *port, int64_t qty, const char *name, size_t len, double price) {
  uva_msg_t *msg;

  if (uva_msg_new(&msg) != 0)
    return;
  msgpack_pack_array(uva_msg_packer(msg), 3);
  msgpack_pack_int64(uva_msg_packer(msg), qty);
  msgpack_pack_str_with_body(uva_msg_packer(msg), name, len);
  msgpack_pack_double(uva_msg_packer(msg), price);
  if (uva_port_post(port, msg) != 0)
    uva_msg_free(msg); /* the other side is gone */
}

static void on_input(uva_port_t *port, uva_msg_t *msg) {
  stage_t *st = (stage_t *)port;
  msgpack_object o, *a;
  char line[64], name[32];
  double qty, price;

  if (uva_msg_object(msg, &o) == 0 && o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 3 &&
      (a = o.via.array.ptr)[1].type == MSGPACK_OBJECT_STR && a[1].via.str.size < sizeof(line)) {
    if (st->kind == 'p') {                               /* [0, "3 apples 0.40", 0] -> [3, "apples", 0.4] */
      memcpy(line, a[1].via.str.ptr, a[1].via.str.size); /* the view's string has no NUL: copy it */
      line[a[1].via.str.size] = '\0';
      if (sscanf(line, "%lf %31s %lf", &qty, name, &price) == 3)
        post(st->out, (int64_t)qty, name, strlen(name), price);
    } else if (st->kind == 't') { /* [3, "apples", 0.4] -> [3, "apples", 1.2]: the price of the line */
      post(st->out, a[0].via.i64, a[1].via.str.ptr, a[1].via.str.size, a[0].via.i64 * a[2].via.f64);
    } else { /* the sink: a line of the receipt */
      size_t n = strlen(st->receipt);
      snprintf(st->receipt + n, sizeof(st->receipt) - n, "  %3d x %-10.*s %7.2f\n", (int)a[0].via.i64,
               (int)a[1].via.str.size, a[1].via.str.ptr, a[2].via.f64);
      st->total += a[2].via.f64;
    }
  }
  uva_msg_free(msg);
}

/* The stage before is done, and so are we: pass the end on (the sink passes its result to main). */
static void on_input_closed(uva_port_t *port) {
  stage_t *st = (stage_t *)port;

  if (st->kind == 's')
    post(st->out, 0, st->receipt, strlen(st->receipt), st->total);
  else
    uva_port_close(st->out);
  free(st);
}

static int stage_main(uva_self_t *self) {
  uva_msg_t *init = uva_self_init(self);
  stage_t *st = calloc(1, sizeof(*st));
  msgpack_object o;
  int err = st != NULL ? uva_msg_object(init, &o) : UV_ENOMEM;

  /* init is [input port, output port or nil]: take the ports out of it, then it can go. */
  if (err == 0) {
    st->kind = uva_self_name(self)[0];
    st->out = st->kind == 's' ? uva_self_port(self) : &st->next;
    err = uva_msg_take_port(init, &o.via.array.ptr[0], &st->in);
    if (err == 0 && st->kind != 's')
      err = uva_msg_take_port(init, &o.via.array.ptr[1], &st->next);
    if (err == 0) /* an output port is only posted to: it needs no loop */
      err = uva_port_start(&st->in, uva_self_loop(self), on_input, on_input_closed);
  }
  uva_msg_free(init);           /* closes any port not taken */
  if (err != 0 && st != NULL) { /* close what was taken, so the neighbours see the end */
    uva_port_close(&st->in);
    uva_port_close(&st->next);
    free(st);
  }
  if (err != 0)
    uva_self_fail(self, 1, uva_strerror(err)); /* main hears why */
  return err != 0;
}

/* Spawns a stage (its name says which) whose init message, [in, out or nil], carries its ports. */
static int spawn(uva_actor_t *actor, const char *name, uva_port_t *in, uva_port_t *out,
                 uva_actor_options_t opt) {
  int err = uva_msg_new(&opt.init);

  if (err != 0)
    return err;
  msgpack_pack_array(uva_msg_packer(opt.init), 2);
  if ((err = uva_msg_pack_port(opt.init, in)) == 0)
    err = out != NULL ? uva_msg_pack_port(opt.init, out) : msgpack_pack_nil(uva_msg_packer(opt.init));
  opt.name = name;
  if (err == 0)
    err = uva_actor_spawn(actor, uv_default_loop(), stage_main, &opt);
  if (err != 0)
    uva_msg_free(opt.init); /* a spawn that fails leaves init with us */
  return err;
}

/* The sink's result: [0, receipt, total]. */
static void on_result(uva_actor_t *actor, uva_msg_t *msg) {
  msgpack_object o, *a;

  if (uva_msg_object(msg, &o) == 0 && o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 3 &&
      (a = o.via.array.ptr)[1].type == MSGPACK_OBJECT_STR)
    printf("%s reports:\n%.*s  %-16s %7.2f\n", (const char *)actor->data, (int)a[1].via.str.size,
           a[1].via.str.ptr, "total", a[2].via.f64);
  uva_msg_free(msg);
}

static void on_stage_exit(uva_actor_t *actor, int exit_code) {
  printf("%s exited with code %d\n", (const char *)actor->data, exit_code);
  failed |= exit_code != 0;
}

int main(void) {
  uva_port_t feed, parse_in, parse_out, transform_in, transform_out, sink_in;
  uva_actor_options_t opt = {.message_cb = on_result, .exit_cb = on_stage_exit};
  uva_actor_t parse = {.data = "parse"}, transform = {.data = "transform"}, sink = {.data = "sink"};

  /* main -> parse -> transform -> sink. (On failure a real program would close what it made.) */
  if (uva_channel_init(&feed, &parse_in) != 0 || uva_channel_init(&parse_out, &transform_in) != 0 ||
      uva_channel_init(&transform_out, &sink_in) != 0 || spawn(&parse, "parse", &parse_in, &parse_out, opt) ||
      spawn(&transform, "transform", &transform_in, &transform_out, opt) ||
      spawn(&sink, "sink", &sink_in, NULL, opt))
    return fprintf(stderr, "pipeline: cannot set up the stages\n"), 1;
  /* feed is never started: main only posts to it, then closes it to say the list is over. */
  for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
    post(&feed, 0, lines[i], strlen(lines[i]), 0);
  uva_port_close(&feed);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT); /* until the three have ended */
  uv_loop_close(uv_default_loop());
  return failed;
}
