/* Recycling message objects and large bodies.
 *
 * A stream of messages is allocated on one thread and freed on another, which glibc's malloc pays for with
 * an arena lock on nearly every free. Freed messages go instead to a small cache of the freeing thread; a
 * full cache hands a batch to a process-wide depot under one lock, and a thread whose cache is empty takes
 * a batch back: one lock per BATCH messages, in either direction.
 *
 * A stream of big messages costs more: glibc maps each big body with mmap, the sender's copy into it
 * faults in and zeroes every page, and the receiver's free unmaps it. A few freed big bodies are kept
 * instead (at most BODY_SLOTS, BODY_KEEP_MAX bytes in all) for the next big message, made on any thread.
 *
 * Recycling would hide a use after free from AddressSanitizer and valgrind, so sanitized builds never
 * recycle, and the environment variable UVA_NO_RECYCLE (which `make check-valgrind' sets) turns it off. */
#include <pthread.h>

#include "alloc.h"
#include "message.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RECYCLE_NEVER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define RECYCLE_NEVER 1
#endif
#endif
#ifndef RECYCLE_NEVER
#define RECYCLE_NEVER 0
#endif

#define BATCH 64
#define DEPOT_BATCHES 64

#define BODY_MIN ((size_t)64 << 10) /* smaller bodies come from malloc's own free lists */
#define BODY_SLOTS 4
#define BODY_KEEP_MAX ((size_t)8 << 20)

typedef struct {
  uva_msg_t *head;
  unsigned int count;
  int registered; /* cache_key is set for this thread, so its cache is flushed when it exits */
} cache_t;

/* initial-exec: the library is linked, not dlopen()ed late, and the default model costs a call to
 * __tls_get_addr on every message. */
static __thread cache_t cache __attribute__((tls_model("initial-exec")));

static uv_once_t recycle_once = UV_ONCE_INIT;
static int recycle_on;
static pthread_key_t cache_key;     /* set once a thread caches, so its cache is flushed when it exits */
static uv_mutex_t depot_lock;
static uva_msg_t *depot[DEPOT_BATCHES]; /* [depot_lock] batches of BATCH messages linked by next */
static unsigned int depot_count;        /* [depot_lock] */
static struct {
  char *ptr;
  size_t cap;
} bodies[BODY_SLOTS];                   /* [depot_lock] kept bodies; ptr NULL: free slot */
static size_t body_bytes;               /* [depot_lock] */

static void free_list(uva_msg_t *msg) {
  uva_msg_t *next;

  for (; msg != NULL; msg = next) {
    next = msg->next;
    free(msg);
  }
}

/* Takes the first n messages off the cache as a list. */
static uva_msg_t *cache_cut(unsigned int n) {
  uva_msg_t *head = cache.head;
  uva_msg_t **cut = &cache.head;
  unsigned int i;

  for (i = 0; i < n; i++)
    cut = &(*cut)->next;
  cache.head = *cut;
  *cut = NULL;
  cache.count -= n;
  return head;
}

static void depot_put(uva_msg_t *batch) {
  uv_mutex_lock(&depot_lock);
  if (depot_count < DEPOT_BATCHES) {
    depot[depot_count++] = batch;
    batch = NULL;
  }
  uv_mutex_unlock(&depot_lock);
  free_list(batch);
}

static void cache_flush(void *unused) {
  (void)unused;
  cache.registered = 0;
  while (cache.count >= BATCH)
    depot_put(cache_cut(BATCH));
  free_list(cache_cut(cache.count));
}

/* Makes sure what this thread's cache holds goes back when the thread ends, however it got there. */
static void cache_register(void) {
  if (!cache.registered && pthread_setspecific(cache_key, &cache) == 0)
    cache.registered = 1;
}

static void recycle_init(void) {
  recycle_on = !RECYCLE_NEVER && getenv("UVA_NO_RECYCLE") == NULL && uv_mutex_init(&depot_lock) == 0 &&
               pthread_key_create(&cache_key, cache_flush) == 0;
}

uva_msg_t *uva__msg_alloc(void) {
  uva_msg_t *msg;

  if (UVA__FAULT())
    return NULL;
  uv_once(&recycle_once, recycle_init);
  if (recycle_on && cache.count == 0) {
    uv_mutex_lock(&depot_lock);
    if (depot_count > 0) {
      cache.head = depot[--depot_count];
      cache.count = BATCH;
    }
    uv_mutex_unlock(&depot_lock);
    if (cache.count != 0)
      cache_register();
  }
  if (cache.count == 0)
    return malloc(sizeof(uva_msg_t));
  msg = cache.head;
  cache.head = msg->next;
  cache.count--;
  /* A recycled message was last written by the core that freed it: claim the next one's first two lines
   * now, so that filling it does not stall on fetching them. */
  if (cache.head != NULL) {
    __builtin_prefetch(cache.head, 1);
    __builtin_prefetch((char *)cache.head + 64, 1);
  }
  return msg;
}

void uva__msg_dealloc(uva_msg_t *msg) {
  if (!recycle_on) {
    free(msg);
    return;
  }
  cache_register();
  msg->next = cache.head;
  cache.head = msg;
  if (++cache.count == 2 * BATCH)
    depot_put(cache_cut(BATCH));
}

/* A kept body may be larger than asked for, but not so much that a small message pins a big block. */
char *uva__body_take(size_t *cap) {
  char *body = NULL;
  unsigned int i;

  if (*cap < BODY_MIN)
    return NULL;
  uv_once(&recycle_once, recycle_init);
  if (!recycle_on)
    return NULL;
  uv_mutex_lock(&depot_lock);
  for (i = 0; i < BODY_SLOTS; i++) {
    if (bodies[i].ptr != NULL && bodies[i].cap >= *cap && bodies[i].cap / 4 <= *cap) {
      body = bodies[i].ptr;
      *cap = bodies[i].cap;
      bodies[i].ptr = NULL;
      body_bytes -= *cap;
      break;
    }
  }
  uv_mutex_unlock(&depot_lock);
  return body;
}

void uva__body_free(char *body, size_t cap) {
  unsigned int i;

  if (cap >= BODY_MIN && cap <= BODY_KEEP_MAX && recycle_on) {
    uv_mutex_lock(&depot_lock);
    for (i = 0; i < BODY_SLOTS && body_bytes + cap <= BODY_KEEP_MAX; i++) {
      if (bodies[i].ptr == NULL) {
        bodies[i].ptr = body;
        bodies[i].cap = cap;
        body_bytes += cap;
        body = NULL;
        break;
      }
    }
    uv_mutex_unlock(&depot_lock);
  }
  free(body);
}
