/* broadcast: actors join a BroadcastChannel; one announces, every other member hears it.
 * Each actor joins the group "news" and tells main. Once all have joined (a message reaches only those who
 * are members when it is posted), main tells the announcer to go. The announcer posts once; each listener
 * reports what it heard to main and leaves the group, which leaves its loop idle, so the actor ends. A
 * member never hears its own posts: the announcer hears nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvactor.h>

#define MEMBERS 4

typedef struct {
  uva_broadcast_t bc;
  uva_self_t *self;
  uva_msg_t *news; /* the announcer's text, from its init message; NULL for a listener */
} member_t;

/* Posts [kind, text] on port. */
static void post(uva_port_t *port, const char *kind, const char *text, size_t len) {
  uva_msg_t *msg;

  if (uva_msg_new(&msg) != 0)
    return;
  msgpack_pack_array(uva_msg_packer(msg), 2);
  msgpack_pack_str_with_body(uva_msg_packer(msg), kind, strlen(kind));
  msgpack_pack_str_with_body(uva_msg_packer(msg), text, len);
  if (uva_port_post(port, msg) != 0)
    uva_msg_free(msg);
}

static void on_left(uva_broadcast_t *bc) {
  member_t *m = bc->data;

  uva_msg_free(m->news);
  free(m);
}

/* A listener hears the news (a string), tells main, and leaves. */
static void on_news(uva_broadcast_t *bc, uva_msg_t *msg) {
  member_t *m = bc->data;
  msgpack_object o;

  if (uva_msg_object(msg, &o) == 0 && o.type == MSGPACK_OBJECT_STR)
    post(uva_self_port(m->self), "heard", o.via.str.ptr, o.via.str.size);
  uva_msg_free(msg);
  uva_broadcast_close(bc);
}

/* The announcer hears "go" from main: everyone has joined. */
static void on_go(uva_port_t *port, uva_msg_t *msg) {
  member_t *m = port->data;
  msgpack_object o;
  int err;

  uva_msg_free(msg);
  if (uva_msg_object(m->news, &o) == 0 && o.type == MSGPACK_OBJECT_STR) /* before the post consumes it */
    post(port, "announced", o.via.str.ptr, o.via.str.size);
  if ((err = uva_broadcast_post(&m->bc, m->news)) == 0) /* every other member gets a copy */
    m->news = NULL;
  else
    uva_self_fail(m->self, 1, uva_strerror(err));
  uva_broadcast_close(&m->bc);
  uva_port_close(port); /* nothing more to hear from main: the actor can end */
}

static int member_main(uva_self_t *self) {
  member_t *m = calloc(1, sizeof(*m));
  int err = m != NULL ? uva_broadcast_init(&m->bc, "news") : UV_ENOMEM;

  if (err == 0) {
    m->self = self;
    m->news = uva_self_init(self);
    m->bc.data = m;
    uva_self_port(self)->data = m;
    if ((err = uva_broadcast_start(&m->bc, uva_self_loop(self), on_news, on_left)) != 0) {
      uva_broadcast_close(&m->bc); /* not started: closed at once, with no callback */
      on_left(&m->bc);
    } else if (m->news != NULL) /* the announcer also listens to main, for "go"; on failure on_left frees m */
      err = uva_port_start(uva_self_port(self), uva_self_loop(self), on_go, NULL);
  } else {
    free(m);
  }
  if (err != 0) {
    uva_self_fail(self, 1, uva_strerror(err));
    return 1;
  }
  post(uva_self_port(self), "joined", "", 0);
  return 0;
}

/* ---- main ---- */

static struct {
  uva_actor_t actor;
  char name[24], said[64]; /* room for any int: gcc -O1 checks the %d */
  int exit_code;
} members[MEMBERS];
static int joined;

static void on_member_message(uva_actor_t *actor, uva_msg_t *msg) {
  int i = (int)(intptr_t)actor->data;
  msgpack_object o, *a;

  if (uva_msg_object(msg, &o) == 0 && o.type == MSGPACK_OBJECT_ARRAY &&
      (a = o.via.array.ptr)->type == MSGPACK_OBJECT_STR) {
    if (a->via.str.size == 6 && memcmp(a->via.str.ptr, "joined", 6) == 0) {
      if (++joined == MEMBERS) /* all are members now: the announcer can go */
        post(uva_actor_port(&members[0].actor), "go", "", 0);
    } else if (o.via.array.size == 2 && a[1].type == MSGPACK_OBJECT_STR) { /* [what, text]: what it said */
      snprintf(members[i].said, sizeof(members[i].said), "%.*s \"%.*s\"", (int)a->via.str.size,
               a->via.str.ptr, (int)a[1].via.str.size, a[1].via.str.ptr);
    }
  }
  uva_msg_free(msg);
}

static void on_member_exit(uva_actor_t *actor, int exit_code) {
  members[(intptr_t)actor->data].exit_code = exit_code;
}

int main(void) {
  static const char news[] = "the build is green";
  uva_actor_options_t options = {.message_cb = on_member_message, .exit_cb = on_member_exit};
  int i, err, failed = 0;

  for (i = 0; i < MEMBERS; i++) {
    snprintf(members[i].name, sizeof(members[i].name), "member-%d", i + 1);
    options.name = members[i].name;
    options.init = NULL;
    if (i == 0 && uva_msg_new(&options.init) == 0) /* the announcer's init message is the news itself */
      msgpack_pack_str_with_body(uva_msg_packer(options.init), news, strlen(news));
    members[i].actor.data = (void *)(intptr_t)i;
    if ((err = uva_actor_spawn(&members[i].actor, uv_default_loop(), member_main, &options)) != 0) {
      fprintf(stderr, "broadcast: spawn %s: %s\n", members[i].name, uva_strerror(err));
      return 1;
    }
  }
  uv_run(uv_default_loop(), UV_RUN_DEFAULT); /* until every member has ended */
  for (i = 0; i < MEMBERS; i++) {
    printf("%-10s %-34s exit code %d\n", members[i].name,
           members[i].said[0] ? members[i].said : "heard nothing", members[i].exit_code);
    failed |= members[i].exit_code != 0 || members[i].said[0] == '\0';
  }
  printf("(%s never hears its own post: a broadcast reaches every member but the sender)\n", members[0].name);
  uv_loop_close(uv_default_loop());
  return failed;
}
