/* The requests a channel sent to its peer and holds until their replies come: ids to messages.
 *
 * Open addressing with linear probing, the capacity a power of two at most half full; a removal shifts
 * the entries after it back, so no tombstones. Ids are given in order by the channel, so they spread. */
#include <stdlib.h>

#include "remote/transport.h"

static size_t slot_of(const held_t *t, uint64_t id) {
  return (size_t)(id * 0x9E3779B97F4A7C15ull) & (t->cap - 1);
}

static int grow(held_t *t) {
  size_t cap = t->cap == 0 ? 16 : t->cap * 2;
  held_entry_t *old = t->slots;
  size_t old_cap = t->cap;
  size_t i;
  size_t j;

  t->slots = uva__calloc(cap, sizeof(*t->slots));
  if (t->slots == NULL) {
    t->slots = old;
    return UV_ENOMEM;
  }
  t->cap = cap;
  for (i = 0; i < old_cap; i++) {
    if (old[i].request == NULL)
      continue;
    for (j = slot_of(t, old[i].id); t->slots[j].request != NULL; j = (j + 1) & (cap - 1))
      ;
    t->slots[j] = old[i];
  }
  free(old);
  return 0;
}

int held_put(held_t *t, uint64_t id, uva_msg_t *request) {
  size_t i;
  int err;

  if (2 * (t->count + 1) > t->cap && (err = grow(t)) != 0)
    return err;
  for (i = slot_of(t, id); t->slots[i].request != NULL; i = (i + 1) & (t->cap - 1))
    ;
  t->slots[i].id = id;
  t->slots[i].request = request;
  t->count++;
  return 0;
}

uva_msg_t *held_take(held_t *t, uint64_t id) {
  uva_msg_t *request;
  size_t i;
  size_t j;
  size_t home;

  if (t->count == 0)
    return NULL;
  for (i = slot_of(t, id); t->slots[i].request != NULL && t->slots[i].id != id; i = (i + 1) & (t->cap - 1))
    ;
  request = t->slots[i].request;
  if (request == NULL)
    return NULL;
  t->slots[i].request = NULL;
  t->count--;
  /* Entries after it that could sit in its place move back, so that every probe still finds them. */
  for (j = (i + 1) & (t->cap - 1); t->slots[j].request != NULL; j = (j + 1) & (t->cap - 1)) {
    home = slot_of(t, t->slots[j].id);
    if (((j - home) & (t->cap - 1)) >= ((j - i) & (t->cap - 1))) {
      t->slots[i] = t->slots[j];
      t->slots[j].request = NULL;
      i = j;
    }
  }
  return request;
}

void held_free_all(held_t *t) {
  size_t i;

  for (i = 0; i < t->cap; i++)
    uva_msg_free(t->slots[i].request); /* unanswered: the caller's call completes, or already failed */
  free(t->slots);
  t->slots = NULL;
  t->cap = t->count = 0;
}
