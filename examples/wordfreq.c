/* wordfreq: count the words of directory trees with N actors in parallel.
 *
 *   usage: wordfreq [-j N] [-r] [PATH...]   N: the number of CPUs; PATH: this project's own sources
 *
 * -r runs the counters on two more processes, over the remote transport (uvactor/remote.h, when the
 * library was built with it): wordfreq starts itself twice as nodes w1 and w2 that serve the counter's main
 * by name, and spawns the counters there with uva_remote_spawn(); the messages, the events and the output
 * are the same as with local counters.
 *
 * main walks the trees asynchronously (uv_fs_scandir on its loop) and hands file paths to N counter actors.
 * The counters pull: each asks for paths only when it runs low, so a fast counter gets more work and none
 * piles up in a slow one. A counter reads its files with uv_fs_open/read/close on its own loop (the calls run
 * on libuv's threadpool, which all actors share), counts words into its own hash table and, once main has no
 * more paths, sends the table back. main merges the tables and prints what each counter did, the top 20
 * words and the throughput.
 *
 * A word is a run of ASCII letters, digits and '_' that does not start with a digit, lowercased. A file with
 * a NUL byte in its first block is binary and skipped. A file that cannot be read is reported and the run
 * goes on; the exit status is then 1, as with wc.
 *
 * Messages are msgpack arrays whose first element names them:
 *   counter -> main   ["more"]   ["error", path, errno]   ["words", {word: count, ...}]   ["stats", n, ...]
 *   main -> counter   ["files", [path, ...]]   ["done"]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uvactor.h>
#ifdef WORDFREQ_REMOTE
#include <spawn.h>
#include <sys/wait.h>
#include <uvactor/remote.h>
#endif

#define READ_SIZE (64 * 1024)
#define MAX_WORD 64        /* a longer word is counted by its first 64 bytes */
#define JOBS 2             /* files a counter has open: it counts one block while the pool reads the other */
#define LOW_WATER 4        /* a counter asks for more when it holds fewer files than this */
#define BATCH 8            /* paths in one ["files", ...] */
#define WORDS_PER_MSG 8192 /* words in one ["words", ...]: a post checks a message against size limits */
#define TOP 20

/* What a counter reports, in ["stats", ...] and in the table main prints. */
enum { FILES, BINARY, ERRORS, BYTES, WORDS, BUSY_NS, NSTATS };
static const char *const stat_names[NSTATS] = {"files", "binary", "errors", "bytes", "words", "busy ms"};

/* ---- a hash table of words (open addressing), one in each counter and one in main ------------------------
 */

typedef struct {
  char *word; /* not NUL-terminated; NULL: a free slot */
  uint32_t len, hash;
  uint64_t count;
} entry_t;

typedef struct {
  entry_t *slots;
  size_t cap, size; /* cap: a power of two, or 0 */
} table_t;

static uint32_t hash_word(const char *s, size_t len) {
  uint32_t h = 2166136261u; /* FNV-1a */

  while (len-- > 0)
    h = (h ^ (unsigned char)*s++) * 16777619u;
  return h;
}

/* Adds n to the count of word, which is copied if new. Returns 0 or UV_ENOMEM. */
static int table_add(table_t *t, const char *word, size_t len, uint64_t n) {
  uint32_t h = hash_word(word, len);
  size_t i, j, cap;
  entry_t *e, *slots;

  if ((t->size + 1) * 4 > t->cap * 3) { /* keep it at most 3/4 full, so probe chains stay short */
    cap = t->cap != 0 ? t->cap * 2 : 1024;
    if ((slots = calloc(cap, sizeof(*slots))) == NULL)
      return UV_ENOMEM;
    for (i = 0; i < t->cap; i++) {
      if (t->slots[i].word == NULL)
        continue;
      for (j = t->slots[i].hash & (cap - 1); slots[j].word != NULL; j = (j + 1) & (cap - 1))
        ;
      slots[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
  }
  for (i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
    e = &t->slots[i];
    if (e->word == NULL)
      break;
    if (e->hash == h && e->len == len && memcmp(e->word, word, len) == 0) {
      e->count += n;
      return 0;
    }
  }
  if ((e->word = malloc(len)) == NULL)
    return UV_ENOMEM;
  memcpy(e->word, word, len);
  e->len = (uint32_t)len;
  e->hash = h;
  e->count = n;
  t->size++;
  return 0;
}

static void table_free(table_t *t) {
  size_t i;

  for (i = 0; i < t->cap; i++)
    free(t->slots[i].word);
  free(t->slots);
}

/* ---- message helpers -------------------------------------------------------------------------------------
 */

static void pack_str(msgpack_packer *pk, const char *s) {
  msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* A new message holding [kind] or the start of [kind, ...] (n elements in all), or NULL. */
static uva_msg_t *msg_start(const char *kind, uint32_t n) {
  uva_msg_t *msg;

  if (uva_msg_new(&msg) != 0)
    return NULL;
  msgpack_pack_array(uva_msg_packer(msg), n);
  pack_str(uva_msg_packer(msg), kind);
  return msg;
}

/* Posts msg; if that fails (the other side is gone) frees it: a message is never leaked. */
static int post(uva_port_t *port, uva_msg_t *msg) {
  int err = msg != NULL ? uva_port_post(port, msg) : UV_ENOMEM;

  if (err != 0)
    uva_msg_free(msg);
  return err;
}

/* Whether msg is [kind, ...] with n elements; *o is its view. */
static int is_msg(uva_msg_t *msg, msgpack_object *o, const char *kind, uint32_t n) {
  const msgpack_object *k;

  return uva_msg_object(msg, o) == 0 && o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == n &&
         (k = o->via.array.ptr)->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(kind) &&
         memcmp(k->via.str.ptr, kind, k->via.str.size) == 0;
}

/* ---- the counter actor -----------------------------------------------------------------------------------
 */

/* What a byte is to the tokenizer: 0 a separator, 1 a letter or '_', 2 a digit. Filled in by main before
 * any actor starts; read-only afterwards, so the threads can share it. */
static unsigned char char_class[256];

typedef struct counter_s counter_t;

typedef struct {
  uv_fs_t req; /* first: the callbacks get the job from their req */
  counter_t *counter;
  char *path; /* NULL: the job is idle */
  uv_file fd;
  int status; /* the error that ends the file, or 0 */
  int64_t offset;
  size_t len; /* bytes of the word being read: a word may span two blocks */
  int number; /* the run being read started with a digit */
  char word[MAX_WORD];
  char buf[READ_SIZE];
} job_t;

struct counter_s {
  uva_self_t *self;
  uva_port_t *parent;
  char *paths[LOW_WATER + BATCH]; /* a ring of paths not yet opened: we ask only below LOW_WATER */
  unsigned int first, npaths;
  job_t jobs[JOBS];
  unsigned int active; /* jobs with a file */
  int asked, no_more, reported, nomem;
  table_t words;
  uint64_t stats[NSTATS];
};

static void pump(counter_t *c);

static void end_word(counter_t *c, job_t *job) {
  if (!job->number) {
    if (table_add(&c->words, job->word, job->len < MAX_WORD ? job->len : MAX_WORD, 1) != 0)
      c->nomem = 1;
    c->stats[WORDS]++;
  }
  job->len = 0;
}

static void count_words(counter_t *c, job_t *job, const unsigned char *p, size_t n) {
  size_t i;

  for (i = 0; i < n; i++) {
    if (char_class[p[i]] == 0) {
      if (job->len > 0)
        end_word(c, job);
      continue;
    }
    if (job->len == 0)
      job->number = char_class[p[i]] == 2;
    if (job->len < MAX_WORD)
      job->word[job->len] = p[i] >= 'A' && p[i] <= 'Z' ? p[i] + ('a' - 'A') : p[i];
    job->len++;
  }
}

/* The file is done (status 0) or failed: tell main about a failure, then take the next file. */
static void job_finish(job_t *job, int status) {
  counter_t *c = job->counter;
  uva_msg_t *msg;

  if (status < 0) {
    c->stats[ERRORS]++;
    if ((msg = msg_start("error", 3)) != NULL) {
      pack_str(uva_msg_packer(msg), job->path);
      msgpack_pack_int(uva_msg_packer(msg), status);
    }
    post(c->parent, msg);
  }
  free(job->path);
  job->path = NULL;
  c->active--;
  pump(c);
}

static void on_close(uv_fs_t *req) {
  uv_fs_req_cleanup(req);
  job_finish((job_t *)req, ((job_t *)req)->status);
}

static void job_close(job_t *job, int status) {
  job->status = status;
  if (uv_fs_close(uva_self_loop(job->counter->self), &job->req, job->fd, on_close) != 0)
    job_finish(job, status);
}

static void on_read(uv_fs_t *req) {
  job_t *job = (job_t *)req;
  counter_t *c = job->counter;
  ssize_t n = req->result;
  uv_buf_t buf = uv_buf_init(job->buf, sizeof(job->buf));
  uint64_t start;
  int err;

  uv_fs_req_cleanup(req);
  if (n < 0) {
    job_close(job, (int)n);
    return;
  }
  if (n == 0 || (job->offset == 0 && memchr(job->buf, '\0', (size_t)n) != NULL)) {
    if (n == 0 && job->len > 0) /* the end of the file ends its last word */
      end_word(c, job);
    c->stats[n == 0 ? FILES : BINARY]++;
    job_close(job, 0);
    return;
  }
  start = uv_hrtime();
  count_words(c, job, (const unsigned char *)job->buf, (size_t)n);
  c->stats[BUSY_NS] += uv_hrtime() - start;
  c->stats[BYTES] += (uint64_t)n;
  job->offset += n;
  err = uv_fs_read(uva_self_loop(c->self), req, job->fd, &buf, 1, job->offset, on_read);
  if (err != 0)
    job_close(job, err);
}

static void on_open(uv_fs_t *req) {
  job_t *job = (job_t *)req;
  uv_buf_t buf = uv_buf_init(job->buf, sizeof(job->buf));
  int err = (int)req->result;

  uv_fs_req_cleanup(req);
  if (err < 0) {
    job_finish(job, err);
    return;
  }
  job->fd = err;
  err = uv_fs_read(uva_self_loop(job->counter->self), req, job->fd, &buf, 1, 0, on_read);
  if (err != 0)
    job_close(job, err);
}

/* The table goes back in slices, then the stats. Closing our port then tells main we are done, and leaves
 * our loop with nothing to wait for, so the actor ends. */
static void send_results(counter_t *c) {
  msgpack_packer *pk;
  uva_msg_t *msg;
  size_t i = 0, left, n, k;

  c->reported = 1;
  if (c->nomem) {
    uva_self_fail(c->self, 1, "out of memory while counting");
    return;
  }
  for (left = c->words.size; left > 0; left -= n) {
    n = left < WORDS_PER_MSG ? left : WORDS_PER_MSG;
    if ((msg = msg_start("words", 2)) == NULL) {
      uva_self_fail(c->self, 1, "out of memory while reporting");
      return;
    }
    pk = uva_msg_packer(msg);
    msgpack_pack_map(pk, n);
    for (k = 0; k < n; i++) {
      if (c->words.slots[i].word != NULL) {
        msgpack_pack_str_with_body(pk, c->words.slots[i].word, c->words.slots[i].len);
        msgpack_pack_uint64(pk, c->words.slots[i].count);
        k++;
      }
    }
    post(c->parent, msg);
  }
  if ((msg = msg_start("stats", 1 + NSTATS)) != NULL)
    for (k = 0; k < NSTATS; k++)
      msgpack_pack_uint64(uva_msg_packer(msg), c->stats[k]);
  post(c->parent, msg);
  uva_port_close(c->parent);
}

/* Keeps the jobs busy, asks for more paths in time, and reports once there are no more and all is counted. */
static void pump(counter_t *c) {
  job_t *job;
  unsigned int i;
  int err;

  for (i = 0; i < JOBS && c->npaths > 0; i++) {
    job = &c->jobs[i];
    if (job->path != NULL)
      continue;
    job->path = c->paths[c->first];
    c->first = (c->first + 1) % (LOW_WATER + BATCH);
    c->npaths--;
    job->offset = 0;
    job->len = 0;
    c->active++;
    err = uv_fs_open(uva_self_loop(c->self), &job->req, job->path, O_RDONLY, 0, on_open);
    if (err != 0)
      job_finish(job, err);
  }
  if (c->npaths + c->active < LOW_WATER && !c->asked && !c->no_more) {
    c->asked = 1;
    if (post(c->parent, msg_start("more", 1)) != 0)
      c->no_more = 1; /* main cannot hear us: finish what we have */
  }
  if (c->no_more && c->npaths == 0 && c->active == 0 && !c->reported)
    send_results(c);
}

static void on_parent_message(uva_port_t *port, uva_msg_t *msg) {
  counter_t *c = port->data;
  msgpack_object o, *path;
  uint32_t i;

  if (is_msg(msg, &o, "files", 2) && o.via.array.ptr[1].type == MSGPACK_OBJECT_ARRAY) {
    for (i = 0; i < o.via.array.ptr[1].via.array.size && c->npaths < LOW_WATER + BATCH; i++) {
      path = &o.via.array.ptr[1].via.array.ptr[i];
      if (path->type != MSGPACK_OBJECT_STR)
        continue;
      /* The view's strings live in the message, freed below: keep a NUL-terminated copy. */
      if ((c->paths[(c->first + c->npaths) % (LOW_WATER + BATCH)] =
               strndup(path->via.str.ptr, path->via.str.size)) != NULL)
        c->npaths++;
      else
        c->nomem = 1;
    }
    c->asked = 0;
  } else if (is_msg(msg, &o, "done", 1)) {
    c->no_more = 1;
  }
  uva_msg_free(msg);
  pump(c);
}

/* We closed the port after the results, when no file was open any more: nothing refers to c. */
static void on_parent_close(uva_port_t *port) {
  counter_t *c = port->data;

  table_free(&c->words);
  free(c);
}

static int counter_main(uva_self_t *self) {
  counter_t *c = calloc(1, sizeof(*c));
  unsigned int i;
  int err = UV_ENOMEM;

  if (c != NULL) {
    c->self = self;
    c->parent = uva_self_port(self);
    c->parent->data = c;
    for (i = 0; i < JOBS; i++)
      c->jobs[i].counter = c;
    err = uva_port_start(c->parent, uva_self_loop(self), on_parent_message, on_parent_close);
  }
  if (err != 0) {
    free(c);
    uva_self_fail(self, 1, uva_strerror(err));
    return 1;
  }
  pump(c); /* the first ["more"] */
  return 0;
}

/* ---- main: the walk, the hand-out, the merge -------------------------------------------------------------
 */

typedef struct {
  uva_actor_t actor;
#ifdef WORDFREQ_REMOTE
  uva_remote_actor_t ra; /* -r: the counter runs on another node */
#endif
  int remote;
  char name[24];
  int waiting; /* asked while no path was ready: served as soon as one is */
  int reported;
  int exit_code;
  uint64_t stats[NSTATS];
} worker_t;

static struct {
  uv_loop_t *loop;
  worker_t *workers;
  unsigned int running; /* counters not ended yet */
  unsigned int nworkers;
  char **queue; /* paths found and not yet handed out, FIFO from head to tail */
  size_t head, tail, cap;
  unsigned int walking; /* scandir and stat requests in flight */
  int walked;           /* the walk is over */
  uint64_t walk_errors;
  table_t words;
  int nomem;
} wf;

static uva_port_t *worker_port(worker_t *w) {
#ifdef WORDFREQ_REMOTE
  if (w->remote)
    return uva_remote_actor_port(&w->ra);
#endif
  return uva_actor_port(&w->actor);
}

/* Sends w up to BATCH paths; with none ready, ["done"] if the walk is over, else w waits for the next. */
static void give_work(worker_t *w) {
  size_t n = wf.tail - wf.head < BATCH ? wf.tail - wf.head : BATCH, i;
  uva_msg_t *msg;

  w->waiting = n == 0 && !wf.walked;
  if (w->waiting)
    return;
  msg = msg_start(n > 0 ? "files" : "done", n > 0 ? 2 : 1);
  if (msg == NULL) {
    w->waiting = 1; /* out of memory: try again with the next path */
    return;
  }
  if (n > 0)
    msgpack_pack_array(uva_msg_packer(msg), n);
  for (i = 0; i < n; i++)
    pack_str(uva_msg_packer(msg), wf.queue[wf.head + i]);
  if (post(worker_port(w), msg) != 0)
    return; /* the counter has failed (its exit says so); the paths stay for the others */
  for (i = 0; i < n; i++)
    free(wf.queue[wf.head++]);
  if (wf.head == wf.tail) /* drained: reuse the array from its start */
    wf.head = wf.tail = 0;
}

static void serve_waiting(void) {
  unsigned int i;

  for (i = 0; i < wf.nworkers; i++)
    if (wf.workers[i].waiting && (wf.head < wf.tail || wf.walked))
      give_work(&wf.workers[i]);
}

static void add_path(char *path) {
  char **q = wf.queue;

  if (wf.tail == wf.cap && (q = realloc(wf.queue, (wf.cap ? wf.cap * 2 : 256) * sizeof(*q))) != NULL) {
    wf.queue = q;
    wf.cap = wf.cap ? wf.cap * 2 : 256;
  }
  if (q == NULL) {
    free(path);
    wf.nomem = 1;
    return;
  }
  wf.queue[wf.tail++] = path;
  serve_waiting();
}

static void walk_error(const char *path, const char *why) {
  fprintf(stderr, "wordfreq: %s: %s\n", path, why);
  wf.walk_errors++;
}

static void walk_step_done(uv_fs_t *req) {
  uv_fs_req_cleanup(req);
  free(req);
  if (--wf.walking == 0) {
    wf.walked = 1;
    serve_waiting(); /* those waiting hear ["done"] now */
  }
}

static char *join(const char *dir, const char *name) {
  size_t dlen = strlen(dir);
  char *path = malloc(dlen + strlen(name) + 2);

  if (path != NULL)
    sprintf(path, "%s%s%s", dir, dlen > 0 && dir[dlen - 1] == '/' ? "" : "/", name);
  return path;
}

static void on_scandir(uv_fs_t *req);
static void on_stat(uv_fs_t *req);

/* Starts looking at path: what = 's' lists a directory, 'f' stats (follows a symbolic link: for paths named
 * on the command line), 'l' lstats (does not: for what a directory holds). */
static void walk(const char *path, char what) {
  uv_fs_t *req = malloc(sizeof(*req));
  int err = UV_ENOMEM;

  if (req != NULL) {
    req->data = what == 'f' ? req : NULL;
    if (what == 's')
      err = uv_fs_scandir(wf.loop, req, path, 0, on_scandir);
    else
      err = (what == 'f' ? uv_fs_stat : uv_fs_lstat)(wf.loop, req, path, on_stat);
  }
  if (err != 0) {
    free(req);
    walk_error(path, uv_strerror(err));
    return;
  }
  wf.walking++;
}

static void on_scandir(uv_fs_t *req) {
  uv_dirent_t ent;
  char *child;

  if (req->result < 0)
    walk_error(req->path, uv_strerror((int)req->result));
  while (req->result >= 0 && uv_fs_scandir_next(req, &ent) != UV_EOF) {
    /* Hidden names (.git, .libs, .deps) are skipped, and so are build directories. */
    if (ent.name[0] == '.' || (ent.type == UV_DIRENT_DIR &&
                               (strcmp(ent.name, "build") == 0 || strcmp(ent.name, "autom4te.cache") == 0)))
      continue;
    if ((child = join(req->path, ent.name)) == NULL) {
      wf.nomem = 1;
      break;
    }
    if (ent.type == UV_DIRENT_FILE) {
      add_path(child); /* the queue owns it now */
      continue;
    }
    if (ent.type == UV_DIRENT_DIR)
      walk(child, 's');
    else if (ent.type == UV_DIRENT_UNKNOWN) /* some file systems do not say: ask */
      walk(child, 'l');
    free(child); /* symbolic links, sockets and devices are neither followed nor read */
  }
  walk_step_done(req);
}

static void on_stat(uv_fs_t *req) {
  char *copy;

  if (req->result < 0)
    walk_error(req->path, uv_strerror((int)req->result));
  else if (S_ISDIR(req->statbuf.st_mode))
    walk(req->path, 's');
  else if (S_ISREG(req->statbuf.st_mode) && (copy = strdup(req->path)) != NULL)
    add_path(copy);
  else if (req->data != NULL) /* named on the command line: say why it is not counted */
    walk_error(req->path, "not a regular file or directory");
  walk_step_done(req);
}

static void worker_message(worker_t *w, uva_msg_t *msg) {
  msgpack_object o, *a;
  uint32_t i;

  if (is_msg(msg, &o, "more", 1)) {
    give_work(w);
  } else if (is_msg(msg, &o, "error", 3) && (a = o.via.array.ptr)[1].type == MSGPACK_OBJECT_STR) {
    fprintf(stderr, "wordfreq: %.*s: %s\n", (int)a[1].via.str.size, a[1].via.str.ptr,
            uv_strerror((int)a[2].via.i64));
  } else if (is_msg(msg, &o, "words", 2) && (a = o.via.array.ptr)[1].type == MSGPACK_OBJECT_MAP) {
    for (i = 0; i < a[1].via.map.size; i++) { /* merge */
      msgpack_object_kv *kv = &a[1].via.map.ptr[i];
      if (kv->key.type == MSGPACK_OBJECT_STR && kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
          table_add(&wf.words, kv->key.via.str.ptr, kv->key.via.str.size, kv->val.via.u64) != 0)
        wf.nomem = 1;
    }
  } else if (is_msg(msg, &o, "stats", 1 + NSTATS)) {
    for (i = 0; i < NSTATS; i++)
      w->stats[i] = o.via.array.ptr[1 + i].via.u64;
    w->reported = 1;
  }
  uva_msg_free(msg);
}

static void worker_error(worker_t *w, const char *text) {
  fprintf(stderr, "wordfreq: %s failed: %s\n", w->name, text);
}

static void worker_exit(worker_t *w, int exit_code);

static void on_worker_message(uva_actor_t *actor, uva_msg_t *msg) {
  worker_message(actor->data, msg);
}

static void on_worker_error(uva_actor_t *actor, const char *text) {
  worker_error(actor->data, text);
}

static void on_worker_exit(uva_actor_t *actor, int exit_code) {
  worker_exit(actor->data, exit_code);
}

/* ---- -r: the counters on two more processes, nodes of the remote transport -------------------------------
 */

#ifdef WORDFREQ_REMOTE
#define NODES 2

extern char **environ;

static struct {
  uva_node_t node;
  pid_t pids[NODES];
  int ins[NODES]; /* their stdin: closing it ends them */
  char dir[32];   /* where their ipc:// endpoints are */
  uv_pipe_t stdin_pipe;
} rn;

static void on_remote_message(uva_remote_actor_t *ra, uva_msg_t *msg) {
  worker_message(ra->data, msg);
}

static void on_remote_error(uva_remote_actor_t *ra, const char *text) {
  worker_error(ra->data, text);
}

static void on_remote_exit(uva_remote_actor_t *ra, int exit_code) {
  worker_exit(ra->data, exit_code);
}

static void on_node_event(uva_node_t *node, const uva_node_event_t *ev) {
  (void)node;
  if (ev->type != UVA_NODE_PEER_UP)
    fprintf(stderr, "wordfreq: node %s: %s\n", ev->peer != NULL ? ev->peer : "?", ev->text);
}

static void endpoint_of(char *buf, size_t size, int i) {
  snprintf(buf, size, "ipc://%s/w%d", rn.dir, i + 1);
}

/* Starts this program twice as nodes (wordfreq --serve NAME ENDPOINT), waits until each listens, and makes
 * this process the node "main", connected to both. 0, or -1 (said on stderr). */
static int start_nodes(void) {
  uva_node_options_t options = {.name = "main", .plaintext = 1, .event_cb = on_node_event};
  posix_spawn_file_actions_t fa;
  char endpoint[64], name[8], line[64];
  int in[2], out[2], i, err;
  FILE *f;

  snprintf(rn.dir, sizeof(rn.dir), "/tmp/wordfreq-XXXXXX");
  if (mkdtemp(rn.dir) == NULL)
    return -1;
  for (i = 0; i < NODES; i++) {
    char *argv[] = {"wordfreq", "--serve", name, endpoint, NULL};
    snprintf(name, sizeof(name), "w%d", i + 1);
    endpoint_of(endpoint, sizeof(endpoint), i);
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
      return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    err = posix_spawn(&rn.pids[i], "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    rn.ins[i] = in[1];
    f = fdopen(out[0], "r");
    if (err != 0 || f == NULL || fgets(line, sizeof(line), f) == NULL || strcmp(line, "ready\n") != 0) {
      fprintf(stderr, "wordfreq: node %s did not start\n", name);
      return -1;
    }
    fclose(f);
  }
  if ((err = uva_node_init(&rn.node, wf.loop, &options)) != 0) {
    fprintf(stderr, "wordfreq: uva_node_init: %s\n", uva_strerror(err));
    return -1;
  }
  for (i = 0; i < NODES; i++) {
    endpoint_of(endpoint, sizeof(endpoint), i);
    if ((err = uva_node_connect(&rn.node, endpoint, NULL)) != 0) {
      fprintf(stderr, "wordfreq: connect %s: %s\n", endpoint, uva_strerror(err));
      return -1;
    }
  }
  return 0;
}

/* Counter i, spawned by name on node w1 or w2 (the other process finds counter_main by its name). */
static int spawn_remote(worker_t *w, unsigned int i) {
  uva_remote_actor_options_t options = {0};
  char peer[8];

  snprintf(peer, sizeof(peer), "w%u", i % NODES + 1);
  options.name = w->name;
  options.message_cb = on_remote_message;
  options.error_cb = on_remote_error;
  options.exit_cb = on_remote_exit;
  w->remote = 1;
  w->ra.data = w;
  return uva_remote_spawn(&w->ra, wf.loop, &rn.node, peer, "counter", &options);
}

/* The nodes end once their stdin closes. */
static void stop_nodes(void) {
  char path[64];
  int i;

  for (i = 0; i < NODES; i++) {
    if (rn.ins[i] > 0)
      close(rn.ins[i]);
    if (rn.pids[i] > 0)
      waitpid(rn.pids[i], NULL, 0);
    snprintf(path, sizeof(path), "%s/w%d", rn.dir, i + 1);
    unlink(path);
  }
  rmdir(rn.dir);
}

static void on_serve_stdin(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  free(buf->base);
  if (nread >= 0)
    return;
  uv_close((uv_handle_t *)stream, NULL);
  uva_node_close(&rn.node, NULL);
}

static void serve_alloc(uv_handle_t *handle, size_t size, uv_buf_t *buf) {
  (void)handle;
  buf->base = malloc(size);
  buf->len = buf->base != NULL ? size : 0;
}

/* wordfreq --serve NAME ENDPOINT: a node that serves counter_main by the name "counter", until its stdin
 * closes. */
static int serve(const char *name, const char *endpoint) {
  static const uva_remote_main_t mains[] = {{"counter", counter_main}};
  uva_node_options_t options = {.name = name, .plaintext = 1, .mains = mains, .nmains = 1};
  uv_loop_t *loop = uv_default_loop();
  int err;

  (void)uva_pool_init(uv_available_parallelism());
  if ((err = uva_node_init(&rn.node, loop, &options)) != 0 ||
      (err = uva_node_listen(&rn.node, endpoint, NULL, 0)) != 0) {
    fprintf(stderr, "wordfreq --serve %s: %s\n", name, uva_strerror(err));
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  uv_pipe_init(loop, &rn.stdin_pipe, 0);
  uv_pipe_open(&rn.stdin_pipe, 0);
  uv_read_start((uv_stream_t *)&rn.stdin_pipe, serve_alloc, on_serve_stdin);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return 0;
}
#endif

/* A counter ended; once every one has, with -r, the node closes, and main's loop runs out. */
static void worker_exit(worker_t *w, int exit_code) {
  w->exit_code = exit_code;
  wf.running--;
#ifdef WORDFREQ_REMOTE
  if (wf.running == 0 && w->remote)
    uva_node_close(&rn.node, NULL);
#endif
}

/* ---- what to count by default ----------------------------------------------------------------------------
 */

/* This project's source directories: under the current directory, or where the build came from (the
 * build passes WORDFREQ_SRCDIR). Returns how many exist and sets *root; 0 if there is no project. */
static int project_paths(char **paths, const char **root) {
  static const char *const dirs[] = {"include",  "serialize", "channel", "actors",
                                     "examples", "tests",     "bench"};
  const char *roots[] = {".",
#ifdef WORDFREQ_SRCDIR
                         WORDFREQ_SRCDIR,
#endif
                         NULL};
  unsigned int i, n = 0;
  char *probe;

  for (*root = NULL, i = 0; *root == NULL && roots[i] != NULL; i++) {
    if ((probe = join(roots[i], "include/uvactor.h")) != NULL && access(probe, R_OK) == 0)
      *root = roots[i];
    free(probe);
  }
  for (i = 0; *root != NULL && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
    paths[n] = strcmp(*root, ".") == 0 ? strdup(dirs[i]) : join(*root, dirs[i]);
    if (paths[n] != NULL && access(paths[n], F_OK) == 0)
      n++;
    else
      free(paths[n]);
  }
  return (int)n;
}

/* No source tree at hand: a corpus of made-up text in a temporary directory (removed at the end). */
static char *make_corpus(void) {
  static const char *const vocab[16] = {"the",     "a",       "of",    "to",     "and",  "actor",
                                        "message", "port",    "loop",  "thread", "pool", "queue",
                                        "post",    "receive", "close", "wakeup"};
  char dir[] = "/tmp/wordfreq-XXXXXX", name[64];
  uint32_t seed = 12345, u;
  int f, i;
  FILE *fp;

  if (mkdtemp(dir) == NULL)
    return NULL;
  for (f = 0; f < 32; f++) {
    snprintf(name, sizeof(name), "%s/text-%02d.txt", dir, f);
    if ((fp = fopen(name, "w")) == NULL)
      break;
    for (i = 0; i < 5000; i++) {
      seed = seed * 1103515245u + 12345u;
      u = (seed >> 8) % 1024; /* uniform; squared, it favours the front of the list as real text does */
      fprintf(fp, "%s%c", vocab[u * u / (1024 * 1024 / 16)], i % 12 == 11 ? '\n' : ' ');
    }
    fclose(fp);
  }
  return strdup(dir);
}

static void remove_corpus(const char *dir) {
  char name[64];
  int f;

  for (f = 0; f < 32; f++) {
    snprintf(name, sizeof(name), "%s/text-%02d.txt", dir, f);
    unlink(name);
  }
  rmdir(dir);
}

/* ---- the report ------------------------------------------------------------------------------------------
 */

static int by_count(const void *a, const void *b) {
  const entry_t *x = *(const entry_t *const *)a, *y = *(const entry_t *const *)b;
  int c = memcmp(x->word, y->word, x->len < y->len ? x->len : y->len);

  if (x->count != y->count)
    return x->count > y->count ? -1 : 1;
  return c != 0 ? c : (int)x->len - (int)y->len;
}

/* Prints the tables; returns the number of errors. */
static uint64_t print_report(uint64_t wall_ns) {
  worker_t total = {.name = "total"};
  entry_t **top;
  unsigned int i, k;
  size_t n = 0;

  printf("%-12s", "counter");
  for (k = 0; k < NSTATS; k++)
    printf(" %*s", k == BYTES ? 11 : 9, stat_names[k]);
  printf("\n");
  for (i = 0; i <= wf.nworkers; i++) {
    worker_t *w = i < wf.nworkers ? &wf.workers[i] : &total;
    printf("%-12s", w->name);
    for (k = 0; k < NSTATS; k++) {
      if (k == BUSY_NS)
        printf(" %9.1f", w->stats[k] / 1e6);
      else
        printf(" %*llu", k == BYTES ? 11 : 9, (unsigned long long)w->stats[k]);
      total.stats[k] += w != &total ? w->stats[k] : 0;
    }
    printf("%s\n", w == &total || w->reported ? "" : "  (failed: no report)");
  }

  /* The top words: pointers to the merged table's entries, sorted. */
  if ((top = malloc((wf.words.size + 1) * sizeof(*top))) != NULL) {
    for (i = 0; i < wf.words.cap; i++)
      if (wf.words.slots[i].word != NULL)
        top[n++] = &wf.words.slots[i];
    qsort(top, n, sizeof(*top), by_count);
    printf("\ntop %d of %zu distinct words\n", n < TOP ? (int)n : TOP, n);
    for (i = 0; i < n && i < TOP; i++)
      printf("%4u  %-24.*s %10llu %6.2f%%\n", i + 1, (int)top[i]->len, top[i]->word,
             (unsigned long long)top[i]->count, 100.0 * top[i]->count / total.stats[WORDS]);
    free(top);
  }

  printf("\n%llu files (%llu binary, skipped), %.2f MB, %llu words, %llu errors in %.1f ms: %.1f MB/s\n",
         (unsigned long long)total.stats[FILES], (unsigned long long)total.stats[BINARY],
         total.stats[BYTES] / 1e6, (unsigned long long)total.stats[WORDS],
         (unsigned long long)(total.stats[ERRORS] + wf.walk_errors), wall_ns / 1e6,
         total.stats[BYTES] / 1e6 / (wall_ns / 1e9));
  return total.stats[ERRORS] + wf.walk_errors;
}

int main(int argc, char **argv) {
  char *defaults[8], *corpus = NULL;
  const char *root = NULL;
  uva_actor_options_t options;
  unsigned int i, jobs = uv_available_parallelism();
  uint64_t start;
  int n = 0, err, opt, ok = 1, remote = 0;

  for (i = 0; i < 256; i++)
    char_class[i] = (i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z') || i == '_' ? 1
                    : i >= '0' && i <= '9'                                       ? 2
                                                                                 : 0;
#ifdef WORDFREQ_REMOTE
  if (argc == 4 && strcmp(argv[1], "--serve") == 0)
    return serve(argv[2], argv[3]);
#endif
  while ((opt = getopt(argc, argv, "j:rh")) != -1) {
    if (opt == 'r') {
      remote = 1;
      continue;
    }
    if (opt != 'j' || atoi(optarg) <= 0 || atoi(optarg) > 1024) {
      fprintf(stderr,
              "usage: %s [-j N] [-r] [PATH...]\n"
              "counts the words of the files under each PATH (default: this project's sources)\n"
              "with N actors (default: %u, the CPUs); -r: on two more processes (remote transport)\n",
              argv[0], uv_available_parallelism());
      return opt == 'h' ? 0 : 2;
    }
    jobs = (unsigned int)atoi(optarg);
  }
#ifndef WORDFREQ_REMOTE
  if (remote) {
    fprintf(stderr, "wordfreq: -r needs the remote transport, which this build does not have\n");
    return 2;
  }
#endif

  /* Size the shared pool before anything uses it: a thread per counter keeps each one's reads flowing. */
  if ((err = uva_pool_init(jobs)) != 0)
    fprintf(stderr, "wordfreq: uva_pool_init(%u): %s\n", jobs, uva_strerror(err));

  /* What to count: the arguments, else this project's sources, else a generated corpus. */
  if (optind == argc && (n = project_paths(defaults, &root)) == 0) {
    if ((corpus = make_corpus()) == NULL || (defaults[0] = strdup(corpus)) == NULL) {
      fprintf(stderr, "wordfreq: no source tree found, and no corpus could be written in /tmp\n");
      return 1;
    }
    n = 1;
  }
  printf("wordfreq: %u counter%s%s, a pool of %u thread%s\ncounting:", jobs, jobs == 1 ? "" : "s",
         remote ? " on two more processes (nodes w1 and w2)" : "", uva_pool_size(),
         uva_pool_size() == 1 ? "" : "s");
  if (corpus != NULL)
    printf(" %s (made up: no source tree was found)", corpus);
  for (i = 0; corpus == NULL && i < (unsigned int)n; i++) /* the project's directories, without the root */
    printf(" %s", defaults[i] + (strcmp(root, ".") == 0 ? 0 : strlen(root) + 1));
  if (corpus == NULL && n > 0)
    printf(" (this project's sources, in %s)", strcmp(root, ".") == 0 ? "the current directory" : root);
  for (i = optind; i < (unsigned int)argc; i++)
    printf(" %s", argv[i]);
  printf("\n\n");
  fflush(stdout); /* before the threads start */

  wf.loop = uv_default_loop();
  if ((wf.workers = calloc(jobs, sizeof(*wf.workers))) == NULL)
    return 1;
  start = uv_hrtime();
#ifdef WORDFREQ_REMOTE
  if (remote && start_nodes() != 0) {
    stop_nodes();
    return 1;
  }
#endif
  for (wf.nworkers = 0; wf.nworkers < jobs; wf.nworkers++) {
    worker_t *w = &wf.workers[wf.nworkers];
    snprintf(w->name, sizeof(w->name), "counter-%u", wf.nworkers + 1);
    memset(&options, 0, sizeof(options));
    options.name = w->name; /* the thread's name, as top -H and gdb show it */
    options.message_cb = on_worker_message;
    options.error_cb = on_worker_error;
    options.exit_cb = on_worker_exit;
    w->actor.data = w;
#ifdef WORDFREQ_REMOTE
    if (remote)
      err = spawn_remote(w, wf.nworkers);
    else
#endif
      err = uva_actor_spawn(&w->actor, wf.loop, counter_main, &options);
    if (err != 0) {
      fprintf(stderr, "wordfreq: cannot start %s: %s\n", w->name, uva_strerror(err));
      ok = 0;
      break; /* go on with those that started */
    }
    wf.running++;
  }
#ifdef WORDFREQ_REMOTE
  if (remote && wf.running == 0)
    uva_node_close(&rn.node, NULL);
#endif
  for (i = optind; i < (unsigned int)argc; i++)
    walk(argv[i], 'f');
  for (i = 0; i < (unsigned int)n; i++)
    walk(defaults[i], 'f');
  if (wf.walking == 0) { /* nothing could even be looked at */
    wf.walked = 1;
    serve_waiting();
  }

  /* Runs until the walk is over and every counter has reported and ended. */
  uv_run(wf.loop, UV_RUN_DEFAULT);
#ifdef WORDFREQ_REMOTE
  if (remote)
    stop_nodes();
#endif
  if (print_report(uv_hrtime() - start) > 0)
    ok = 0; /* the counts are right for what could be read; the exit status says not all could */

  for (i = 0; i < wf.nworkers; i++)
    if (!wf.workers[i].reported || wf.workers[i].exit_code != 0)
      ok = 0;
  if (wf.nomem) {
    fprintf(stderr, "wordfreq: out of memory: the counts are incomplete\n");
    ok = 0;
  }
  if (wf.head < wf.tail) {
    fprintf(stderr, "wordfreq: %zu files were not counted: no counter was left\n", wf.tail - wf.head);
    ok = 0;
  }
  while (wf.head < wf.tail)
    free(wf.queue[wf.head++]);
  free(wf.queue);
  table_free(&wf.words);
  free(wf.workers);
  while (n > 0)
    free(defaults[--n]);
  if (corpus != NULL)
    remove_corpus(corpus);
  free(corpus);
  uv_loop_close(wf.loop);
  return ok ? 0 : 1;
}
