/* Recycling message objects and bodies.
 *
 * A stream of messages is allocated on one thread and freed on another, which glibc's malloc pays for with
 * an arena lock on nearly every free. Freed messages, and bodies too big for a message's inline buffer but
 * at most SMALL_MAX, go instead to a small cache of the freeing thread; a full cache hands a batch to a
 * process-wide depot under one lock, and a thread whose cache is empty takes a batch back: one lock per
 * batch, in either direction.
 *
 * The depot of message objects is deep, and why: with more threads than cores, a sink that gets a time
 * slice frees messages faster than the producers left running take them, and what the depot cannot hold
 * goes to free(). Those are chunks of the producers' glibc arenas, whose lock a producer holds while its
 * arena grows (an mprotect() and a page fault per 4 KiB page, for 9 or 10 messages, in any arena but the
 * main one): the sink slept on that lock hundreds of times a run, fell behind, and every message then came
 * from fresh memory (issue 17's fanin at 4 and 8 producers: 0.5-1.0 M msg/s, 200-340 MiB of RSS).
 * DEPOT_MSG_BATCHES holds 8 ms of a sink freeing with no producer taking (0.13 us a message), more than a
 * time slice; the other pools keep DEPOT_BATCHES.
 *
 * A stream of big messages costs more: glibc maps each big body with mmap, the sender's copy into it
 * faults in and zeroes every page, and the receiver's free unmaps it. A few freed big bodies are kept
 * instead (at most BODY_SLOTS, BODY_KEEP_MAX bytes in all) for the next big message, made on any thread.
 *
 * Recycling would hide a use after free from AddressSanitizer and valgrind, so sanitized builds never
 * recycle, and the environment variable UVA_NO_RECYCLE (which `make check-valgrind' sets) turns it off. */
#include <pthread.h>
#include <string.h>

#include "common/alloc.h"
#include "common/prefetch.h"
#include "serialize/message.h"

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

#define DEPOT_BATCHES 64
#define DEPOT_MSG_BATCHES 1024 /* 64 Ki messages, 26 MiB at 416 bytes each */

#define BODY_MIN ((size_t)64 << 10) /* big bodies: from here to BODY_KEEP_MAX */
#define BODY_SLOTS 4
#define BODY_KEEP_MAX ((size_t)8 << 20)

/* A pool of blocks of one size: messages, or small bodies of one size class. Each thread keeps a cache of
 * free blocks per pool, linked through their first word; a cache of 2 * batch hands batch blocks to the
 * pool's depot, and an empty one takes a batch back. Small bodies come in powers of two, which is how a
 * body grows (message.c), from twice the inline buffer to SMALL_MAX; a batch is 16 KiB of them. */
typedef struct {
  size_t size;
  unsigned int batch;
  unsigned int depot_max;   /* batches the depot keeps, at most */
  void **depot;             /* [depot_lock] batches of batch blocks */
  unsigned int depot_count; /* [depot_lock] */
} pool_t;

#define SMALL_MIN ((size_t)UVA__MSG_INLINE_BYTES * 2)
#define SMALL_MAX ((size_t)4096)
#define POOL_MSG 0

static void *msg_depot[DEPOT_MSG_BATCHES];
static void *body_depots[5][DEPOT_BATCHES];

/* clang-format off */
static pool_t pools[] = {
    {sizeof(uva_msg_t), 64, DEPOT_MSG_BATCHES, msg_depot, 0}, /* POOL_MSG */
    {SMALL_MIN, 64, DEPOT_BATCHES, body_depots[0], 0},
    {SMALL_MIN * 2, 32, DEPOT_BATCHES, body_depots[1], 0},
    {SMALL_MIN * 4, 16, DEPOT_BATCHES, body_depots[2], 0},
    {SMALL_MIN * 8, 8, DEPOT_BATCHES, body_depots[3], 0},
    {SMALL_MIN * 16, 4, DEPOT_BATCHES, body_depots[4], 0},
};
/* clang-format on */

#define NPOOLS (sizeof(pools) / sizeof(pools[0]))
_Static_assert(SMALL_MIN >= 192 && sizeof(uva_msg_t) >= 192,
               "pool_take() prefetches a block's first 192 bytes");
_Static_assert(offsetof(uva_msg_t, buf_inline) + UVA__MSG_INLINE_BYTES <= 192,
               "pool_take() prefetches a message's header and small body");
_Static_assert(SMALL_MIN * 16 == SMALL_MAX, "the small body pools run from SMALL_MIN to SMALL_MAX");
_Static_assert(NPOOLS == 1 + sizeof(body_depots) / sizeof(body_depots[0]), "a depot for each body pool");

typedef struct {
  void *head;
  unsigned int count;
} cache_t;

/* initial-exec: the library is linked, not dlopen()ed late, and the default model costs a call to
 * __tls_get_addr on every message. */
static __thread struct {
  int registered; /* cache_key is set for this thread, so its caches are flushed when it exits */
  cache_t caches[NPOOLS];
} local __attribute__((tls_model("initial-exec")));

static uv_once_t recycle_once = UV_ONCE_INIT;
static int recycle_on;
static pthread_key_t cache_key; /* set once a thread caches, so its caches are flushed when it exits */
static uv_mutex_t depot_lock = UVA__MUTEX_INITIALIZER;
static struct {
  char *ptr;
  size_t cap;
} bodies[BODY_SLOTS];     /* [depot_lock] kept big bodies; ptr NULL: free slot */
static size_t body_bytes; /* [depot_lock] */

/* A free block's first word links it to the next. */
static void *block_next(const void *block) {
  void *next;

  memcpy(&next, block, sizeof(next));
  return next;
}

static void block_set_next(void *block, void *next) {
  memcpy(block, &next, sizeof(next));
}

static void free_list(void *block) {
  void *next;

  for (; block != NULL; block = next) {
    next = block_next(block);
    free(block);
  }
}

/* Takes the first n blocks off a cache as a list. */
static void *cache_cut(cache_t *cache, unsigned int n) {
  void *head = cache->head;
  void *last = NULL;
  void *block = head;
  unsigned int i;

  for (i = 0; i < n; i++) {
    last = block;
    block = block_next(block);
  }
  cache->head = block;
  if (last != NULL)
    block_set_next(last, NULL);
  cache->count -= n;
  return n > 0 ? head : NULL;
}

static void depot_put(pool_t *pool, void *batch) {
  uv_mutex_lock(&depot_lock);
  if (pool->depot_count < pool->depot_max) {
    pool->depot[pool->depot_count++] = batch;
    batch = NULL;
  }
  uv_mutex_unlock(&depot_lock);
  free_list(batch);
}

static void cache_flush(void *unused) {
  unsigned int p;

  (void)unused;
  local.registered = 0;
  for (p = 0; p < NPOOLS; p++) {
    while (local.caches[p].count >= pools[p].batch)
      depot_put(&pools[p], cache_cut(&local.caches[p], pools[p].batch));
    free_list(cache_cut(&local.caches[p], local.caches[p].count));
  }
}

/* Makes sure what this thread's caches hold goes back when the thread ends, however it got there. */
static void cache_register(void) {
  if (!local.registered && pthread_setspecific(cache_key, &local) == 0)
    local.registered = 1;
}

static void recycle_init(void) {
  recycle_on =
      !RECYCLE_NEVER && getenv("UVA_NO_RECYCLE") == NULL && pthread_key_create(&cache_key, cache_flush) == 0;
}

/* In a forked child the depot may be half way through a change another thread of the parent was making:
 * it starts empty there (what it held is the parent's copy, left to the child's exit). */
static void depot_after_fork(void) {
  unsigned int p;

  UVA__MUTEX_RESET(depot_lock);
  for (p = 0; p < NPOOLS; p++)
    pools[p].depot_count = 0;
  memset(bodies, 0, sizeof(bodies));
  body_bytes = 0;
}

UVA__AFTER_FORK(depot_after_fork)

/* A block of pool p from this thread's cache, refilled from the depot when empty; NULL if both are. */
static inline __attribute__((always_inline)) void *pool_take(unsigned int p) {
  cache_t *cache = &local.caches[p];
  pool_t *pool = &pools[p];
  void *block;

  if (cache->count == 0) {
    if (!recycle_on)
      return NULL;
    uv_mutex_lock(&depot_lock);
    if (pool->depot_count > 0) {
      cache->head = pool->depot[--pool->depot_count];
      cache->count = pool->batch;
    }
    uv_mutex_unlock(&depot_lock);
    if (cache->count == 0)
      return NULL;
    cache_register();
  }
  block = cache->head;
  cache->head = block_next(block);
  cache->count--;
  /* A recycled block was last written by the core that freed it: claim the first lines of the next one
   * now, so that filling it does not stall on taking them back. A message writes its first three: the
   * header and a small body (message.h's layout); a body block its first bytes. */
  if (cache->head != NULL) {
    uva__prefetch_write(cache->head);
    uva__prefetch_write((char *)cache->head + 64);
    uva__prefetch_write((char *)cache->head + 128);
  }
  return block;
}

static inline __attribute__((always_inline)) void pool_give(unsigned int p, void *block) {
  cache_t *cache = &local.caches[p];

  if (!recycle_on) {
    free(block);
    return;
  }
  cache_register();
  block_set_next(block, cache->head);
  cache->head = block;
  if (++cache->count == 2 * pools[p].batch)
    depot_put(&pools[p], cache_cut(cache, pools[p].batch));
}

/* The small body pool for cap bytes: the smallest that holds them (exact: only a block of its size). */
static unsigned int small_pool(size_t cap, int exact) {
  unsigned int p;

  for (p = POOL_MSG + 1; p < NPOOLS; p++)
    if (exact ? pools[p].size == cap : pools[p].size >= cap)
      return p;
  return POOL_MSG; /* none */
}

uva_msg_t *uva__msg_alloc(void) {
  uva_msg_t *msg;

  if (UVA__FAULT())
    return NULL;
  uv_once(&recycle_once, recycle_init);
  msg = pool_take(POOL_MSG);
  if (msg == NULL && (msg = malloc(sizeof(uva_msg_t))) != NULL)
    uva__msg_construct(msg);
  return msg;
}

void uva__msg_dealloc(uva_msg_t *msg) {
  pool_give(POOL_MSG, msg);
}

/* A small body comes from its size class's pool. A kept big body may be larger than asked for, but not so
 * much that a small message pins a big block. */
char *uva__body_take(size_t *cap) {
  char *body = NULL;
  unsigned int i;

  uv_once(&recycle_once, recycle_init);
  if (*cap <= SMALL_MAX) {
    i = small_pool(*cap, 0);
    *cap = pools[i].size;
    return pool_take(i);
  }
  if (*cap < BODY_MIN || !recycle_on)
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
  unsigned int i = small_pool(cap, 1);

  if (i != POOL_MSG) {
    pool_give(i, body);
    return;
  }
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
