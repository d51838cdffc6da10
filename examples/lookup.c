/* lookup: several actors resolve host names with uv_getaddrinfo, each on its own loop.
 *
 *   usage: lookup [NAME...]      resolves localhost, 127.0.0.1 and ::1, then each NAME given
 *
 * getaddrinfo blocks, so libuv runs it on its threadpool, and that pool is one per process. Here three
 * resolver actors start all their lookups at once on a pool of two threads: the lookups queue for those two,
 * and a lookup's time includes its wait for a free pool thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvactor.h>

#define RESOLVERS 3
#define POOL 2
#define MAX_NAMES 32

typedef struct {
  uv_getaddrinfo_t req;
  uva_self_t *self;
  uint32_t index; /* the name's place in the list */
  uint64_t start;
  char name[256];
} lookup_t;

/* Tells main [index, "name  addresses (time)"]: main prints the lines in order once all are in. */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  lookup_t *l = (lookup_t *)req;
  char line[512], addrs[384] = "", addr[64];
  struct addrinfo *ai;
  size_t len = 0;
  uva_msg_t *msg;

  for (ai = res; ai != NULL && len < sizeof(addrs); ai = ai->ai_next) {
    if (ai->ai_family == AF_INET6)
      uv_ip6_name((const struct sockaddr_in6 *)ai->ai_addr, addr, sizeof(addr));
    else
      uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, addr, sizeof(addr));
    len += (size_t)snprintf(addrs + len, sizeof(addrs) - len, "%s%s", len > 0 ? " " : "", addr);
  }
  /* The line is for reading: a long list of addresses may be cut short. */
  if (snprintf(line, sizeof(line), "  %-14s %-28s %7.2f ms", l->name,
               status != 0 ? uv_strerror(status) : addrs, (uv_hrtime() - l->start) / 1e6) < 0)
    line[0] = '\0';
  uv_freeaddrinfo(res);
  if (uva_msg_new(&msg) == 0) {
    msgpack_pack_array(uva_msg_packer(msg), 2);
    msgpack_pack_uint32(uva_msg_packer(msg), l->index);
    msgpack_pack_str_with_body(uva_msg_packer(msg), line, strlen(line));
    if (uva_port_post(uva_self_port(l->self), msg) != 0)
      uva_msg_free(msg);
  }
  free(l);
}

/* The init message is the list of names. Every lookup starts now; the loop ends when all are answered. */
static int resolver_main(uva_self_t *self) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}; /* one entry per address */
  uva_msg_t *init = uva_self_init(self);
  msgpack_object o, *s;
  lookup_t *l;
  uint32_t i;
  int err;

  if (uva_msg_object(init, &o) != 0 || o.type != MSGPACK_OBJECT_ARRAY) {
    uva_msg_free(init);
    uva_self_fail(self, 1, "the init message is not a list of names");
    return 1;
  }
  for (i = 0; i < o.via.array.size && (l = malloc(sizeof(*l))) != NULL; i++) {
    s = &o.via.array.ptr[i];
    snprintf(l->name, sizeof(l->name), "%.*s", (int)s->via.str.size,
             s->via.str.ptr); /* the view has no NUL */
    l->self = self;
    l->index = i;
    l->start = uv_hrtime();
    err = uv_getaddrinfo(uva_self_loop(self), &l->req, on_resolved, l->name, NULL, &hints);
    if (err != 0)
      on_resolved(&l->req, err, NULL); /* could not even start: report it the same way */
  }
  uva_msg_free(init);
  return 0;
}

/* ---- main ---- */

static char *lines[RESOLVERS][MAX_NAMES];
static int failed;

static void on_line(uva_actor_t *actor, uva_msg_t *msg) {
  char **slot = lines[(intptr_t)actor->data];
  msgpack_object o, *a;

  if (uva_msg_object(msg, &o) == 0 && o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 2 &&
      (a = o.via.array.ptr)[0].via.u64 < MAX_NAMES && slot[a[0].via.u64] == NULL)
    slot[a[0].via.u64] = strndup(a[1].via.str.ptr, a[1].via.str.size);
  uva_msg_free(msg);
}

static void on_resolver_exit(uva_actor_t *actor, int exit_code) {
  failed |= exit_code != 0;
  (void)actor;
}

int main(int argc, char **argv) {
  const char *names[MAX_NAMES] = {"localhost", "127.0.0.1", "::1"};
  uva_actor_options_t options = {.message_cb = on_line, .exit_cb = on_resolver_exit};
  uva_actor_t resolvers[RESOLVERS];
  char rnames[RESOLVERS][24]; /* room for any int: gcc -O1 checks the %d */
  int i, r, n = 3, err;

  for (i = 1; i < argc && n < MAX_NAMES; i++)
    names[n++] = argv[i];
  uva_pool_init(POOL); /* before any loop uses the pool (if it already runs, its size stays) */
  printf("%d resolvers x %d names: %d lookups at once on one pool of %u threads\n\n", RESOLVERS, n,
         RESOLVERS * n, uva_pool_size());
  for (r = 0; r < RESOLVERS; r++) {
    if ((err = uva_msg_new(&options.init)) != 0)
      return 1;
    msgpack_pack_array(uva_msg_packer(options.init), n);
    for (i = 0; i < n; i++)
      msgpack_pack_str_with_body(uva_msg_packer(options.init), names[i], strlen(names[i]));
    snprintf(rnames[r], sizeof(rnames[r]), "resolver-%d", r + 1);
    options.name = rnames[r];
    resolvers[r].data = (void *)(intptr_t)r;
    if ((err = uva_actor_spawn(&resolvers[r], uv_default_loop(), resolver_main, &options)) != 0) {
      fprintf(stderr, "lookup: spawn %s: %s\n", rnames[r], uva_strerror(err));
      return 1;
    }
  }
  uv_run(uv_default_loop(), UV_RUN_DEFAULT); /* until every resolver has ended */
  for (r = 0; r < RESOLVERS; r++) {
    printf("%s\n", rnames[r]);
    for (i = 0; i < n; i++) {
      printf("%s\n", lines[r][i] != NULL ? lines[r][i] : "  (no answer)");
      failed |= lines[r][i] == NULL;
      free(lines[r][i]);
    }
  }
  uv_loop_close(uv_default_loop());
  return failed;
}
