/* Actor ids and records: the table monitors find actors in (record.h). */
#include "actors/record.h"
#include "channel/end.h" /* uva__fork_generation */
#include "common/alloc.h"

/* Records by id, in chains of a fixed number of buckets: ids are given in order, so id % BUCKETS spreads
 * them evenly, and the table's memory is the records of the actors alive, whatever came and went. */
#define BUCKETS 256

/* mon->flags_: on its record's list. */
enum { WATCHING = 1 };

static uv_mutex_t records_lock = UVA__MUTEX_INITIALIZER;
static uva__record_t *buckets[BUCKETS]; /* [records_lock] */
static uint64_t last_id;                /* [records_lock] */
static uint64_t alive;                  /* [records_lock] records of this generation in the table */

/* A forked child keeps the parent's records (a monitor there finds them of another generation: noproc), and
 * a lock some other thread may have held at the fork; none of those actors runs in it. */
static void records_after_fork(void) {
  UVA__MUTEX_RESET(records_lock);
  alive = 0;
}

UVA__AFTER_FORK(records_after_fork)

static uva__record_t **bucket_of(uint64_t id) {
  return &buckets[id % BUCKETS];
}

int uva__record_new(uva__record_t **out, int proxy) {
  uva__record_t *rec = uva__calloc(1, sizeof(*rec));
  uva__record_t **bucket;

  if (rec == NULL)
    return UV_ENOMEM;
  rec->refs = 1;
  rec->generation = uva__fork_generation;
  rec->proxy = proxy;
  uv_mutex_lock(&records_lock);
  rec->id = ++last_id;
  alive += !proxy;
  bucket = bucket_of(rec->id);
  rec->next = *bucket;
  *bucket = rec;
  uv_mutex_unlock(&records_lock);
  *out = rec;
  return 0;
}

void uva__record_fail(uva__record_t *rec, const char *text, size_t len) {
  if (rec->failed)
    return;
  rec->failed = 1;
  /* Without memory the monitors get no text; the exit code still says the actor failed. */
  rec->error = uva__strndup(text, len);
}

/* records_lock held. Drops a reference; the last one frees the record. */
static void unref_locked(uva__record_t *rec) {
  if (--rec->refs > 0)
    return;
  free(rec->error);
  free(rec);
}

void uva__record_end(uva__record_t *rec, int exit_code) {
  uva__record_t **p;
  uva_monitor_t *mon;

  uv_mutex_lock(&records_lock);
  for (p = bucket_of(rec->id); *p != rec; p = &(*p)->next)
    ;
  *p = rec->next;
  if (rec->generation == uva__fork_generation && !rec->proxy)
    alive--;
  rec->exit_code = exit_code;
  rec->ended = 1;
  /* Closed under the lock: a monitor stopped meanwhile either took itself off first, or finds its trigger
   * closed already, so neither side touches the other's memory afterwards. */
  while ((mon = rec->monitors) != NULL) {
    rec->monitors = mon->next_;
    mon->flags_ &= ~WATCHING;
    (void)uva_port_close(&mon->trigger_);
  }
  unref_locked(rec);
  uv_mutex_unlock(&records_lock);
}

uva__record_t *uva__record_watch(uint64_t id, uva_monitor_t *mon) {
  uva__record_t *rec;

  uv_mutex_lock(&records_lock);
  for (rec = *bucket_of(id); rec != NULL && rec->id != id; rec = rec->next)
    ;
  if (rec != NULL && rec->generation == uva__fork_generation) {
    rec->refs++;
    mon->prev_ = NULL;
    mon->next_ = rec->monitors;
    if (rec->monitors != NULL)
      rec->monitors->prev_ = mon;
    rec->monitors = mon;
    mon->flags_ |= WATCHING;
  } else {
    rec = NULL;
  }
  uv_mutex_unlock(&records_lock);
  return rec;
}

int uva__record_unwatch(uva__record_t *rec, uva_monitor_t *mon) {
  int watching;

  uv_mutex_lock(&records_lock);
  watching = (mon->flags_ & WATCHING) != 0;
  if (watching) {
    if (mon->prev_ != NULL)
      mon->prev_->next_ = mon->next_;
    else
      rec->monitors = mon->next_;
    if (mon->next_ != NULL)
      mon->next_->prev_ = mon->prev_;
    mon->flags_ &= ~WATCHING;
  }
  uv_mutex_unlock(&records_lock);
  return watching;
}

void uva__record_unref(uva__record_t *rec) {
  uv_mutex_lock(&records_lock);
  unref_locked(rec);
  uv_mutex_unlock(&records_lock);
}

uint64_t uva__record_alive(void) {
  uint64_t n;

  uv_mutex_lock(&records_lock);
  n = alive;
  uv_mutex_unlock(&records_lock);
  return n;
}
