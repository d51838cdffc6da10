/* Moved buffers whose frees are counted, by index: each must be freed once (the actor suites). */
#ifndef UVA_TESTS_COUNTED_BUFFERS_H
#define UVA_TESTS_COUNTED_BUFFERS_H

#include <check.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "uvactor.h"

/* Each buffer holds its index. */
#define MAX_COUNTED 256
static atomic_int counted_frees;
static atomic_int counted_freed[MAX_COUNTED];

static inline void counting_free(void *ptr) {
  int index = *(int *)ptr;

  if (index >= 0 && index < MAX_COUNTED)
    atomic_fetch_add(&counted_freed[index], 1);
  atomic_fetch_add(&counted_frees, 1);
  free(ptr);
}

static inline void reset_counted(void) {
  int i;

  atomic_store(&counted_frees, 0);
  for (i = 0; i < MAX_COUNTED; i++)
    atomic_store(&counted_freed[i], 0);
}

static inline int *counted_buffer(int index) {
  int *buf = malloc(sizeof(*buf));

  ck_assert_ptr_nonnull(buf);
  *buf = index;
  return buf;
}

/* A message carrying one counted moved buffer, [index, buffer]. */
static inline uva_msg_t *counted_msg(int index) {
  uva_msg_t *msg = NULL;
  int *buf = counted_buffer(index);

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  msgpack_pack_array(uva_msg_packer(msg), 2);
  msgpack_pack_int(uva_msg_packer(msg), index);
  ck_assert_int_eq(uva_msg_pack_buffer(msg, buf, sizeof(*buf), counting_free), 0);
  return msg;
}

#endif /* UVA_TESTS_COUNTED_BUFFERS_H */
