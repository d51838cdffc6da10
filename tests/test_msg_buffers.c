/* serialize/: what a message carries by reference: moved buffers (packed, taken, freed once) and shared
 * buffers (reference counted, across threads). One test per rule of include/uvactor/msg.h; memory rules
 * are asserted with counting free functions, and by running this suite under ASan and valgrind. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "counting_free.h"
#include "msg_helpers.h"

/* ---- moved buffers ------------------------------------------------------------------------------- */

/* Pack, view, take: the same pointer, length and free function come out; nothing was copied. */
START_TEST(test_buffer_moves_without_copy) {
  uva_msg_t *msg = new_msg();
  char *buf = xmalloc(1000);
  uva_free_cb cb = NULL;
  msgpack_object o;
  size_t len = 0;
  void *data = NULL;

  memset(buf, 'm', 1000);
  ck_assert_int_eq(uva_msg_pack_buffer(msg, buf, 1000, counting_free), 0);
  ck_assert_uint_lt(uva_msg_size(msg), 1000); /* the body holds a reference, not the bytes */
  o = view(msg);
  ck_assert_int_eq(o.type, MSGPACK_OBJECT_EXT);
  ck_assert_int_eq(o.via.ext.type, UVA_EXT_BUFFER);
  ck_assert_int_eq(uva_msg_take_buffer(msg, &o, &data, &len, &cb), 0);
  ck_assert_ptr_eq(data, buf);
  ck_assert_uint_eq(len, 1000);
  ck_assert_ptr_eq((void *)cb, (void *)counting_free);
  uva_msg_free(msg);
  free(buf);
}
END_TEST

START_TEST(test_buffer_default_free_function) {
  uva_msg_t *msg = new_msg();
  char *buf = xmalloc(10);
  uva_free_cb cb = NULL;
  msgpack_object o;
  size_t len;
  void *data;

  ck_assert_int_eq(uva_msg_pack_buffer(msg, buf, 10, NULL), 0);
  o = view(msg);
  ck_assert_int_eq(uva_msg_take_buffer(msg, &o, &data, &len, &cb), 0);
  ck_assert_ptr_eq((void *)cb, (void *)free);
  cb(data);
  uva_msg_free(msg);
}
END_TEST

START_TEST(test_buffer_take_twice) {
  uva_msg_t *msg = new_msg();
  char *buf = xmalloc(10);
  msgpack_object o;
  size_t len;
  void *data;

  ck_assert_int_eq(uva_msg_pack_buffer(msg, buf, 10, NULL), 0);
  o = view(msg);
  ck_assert_int_eq(uva_msg_take_buffer(msg, &o, &data, &len, NULL), 0);
  data = NULL;
  ck_assert_int_eq(uva_msg_take_buffer(msg, &o, &data, &len, NULL), UV_EALREADY);
  ck_assert_ptr_null(data);
  uva_msg_free(msg);
  free(buf);
}
END_TEST

START_TEST(test_untaken_buffer_freed_once) {
  uva_msg_t *msg = new_msg();
  char *buf = xmalloc(10);

  frees = 0;
  last_freed = NULL;
  ck_assert_int_eq(uva_msg_pack_buffer(msg, buf, 10, counting_free), 0);
  view(msg);
  uva_msg_free(msg);
  ck_assert_int_eq(frees, 1);
  ck_assert_ptr_eq(last_freed, buf);
}
END_TEST

START_TEST(test_taken_buffer_not_freed) {
  uva_msg_t *msg = new_msg();
  char *buf = xmalloc(10);
  msgpack_object o;
  size_t len;
  void *data;

  frees = 0;
  ck_assert_int_eq(uva_msg_pack_buffer(msg, buf, 10, counting_free), 0);
  o = view(msg);
  ck_assert_int_eq(uva_msg_take_buffer(msg, &o, &data, &len, NULL), 0);
  uva_msg_free(msg);
  ck_assert_int_eq(frees, 0);
  memset(data, 0, len); /* still the caller's, still alive */
  counting_free(data);
  ck_assert_int_eq(frees, 1);
}
END_TEST

/* An ext is only good for the message it came from, even when it names a slot the other has. */
START_TEST(test_take_ext_of_other_message) {
  uva_msg_t *a = new_msg(), *b = new_msg();
  char *buf_a = xmalloc(4), *buf_b = xmalloc(4);
  msgpack_object oa, ob;
  size_t len;
  void *data = NULL;

  frees = 0;
  ck_assert_int_eq(uva_msg_pack_buffer(a, buf_a, 4, counting_free), 0);
  ck_assert_int_eq(uva_msg_pack_buffer(b, buf_b, 4, counting_free), 0);
  oa = view(a);
  ob = view(b);
  /* Both ways round: one body lies below the other in memory, whichever it is. */
  ck_assert_int_eq(uva_msg_take_buffer(a, &ob, &data, &len, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_msg_take_buffer(b, &oa, &data, &len, NULL), UV_EINVAL);
  ck_assert_ptr_null(data);
  ck_assert_int_eq(uva_msg_take_buffer(a, &oa, &data, &len, NULL), 0);
  ck_assert_ptr_eq(data, buf_a);
  free(data);
  uva_msg_free(a);
  uva_msg_free(b); /* b's buffer was never taken: freed now, once */
  ck_assert_int_eq(frees, 1);
}
END_TEST

/* Only a buffer ext names a moved buffer: not a shared ext, an application ext or another object. */
START_TEST(test_take_wrong_kind_of_object) {
  uva_msg_t *msg = new_msg();
  uva_shared_t *shared;
  msgpack_object o;
  size_t len;
  void *data;

  ck_assert_int_eq(uva_shared_new(16, &shared), 0);
  msgpack_pack_array(uva_msg_packer(msg), 3);
  ck_assert_int_eq(uva_msg_pack_shared(msg, shared), 0);
  msgpack_pack_ext_with_body(uva_msg_packer(msg), "\0\0\0\0", 4, 5);
  msgpack_pack_uint32(uva_msg_packer(msg), 0);
  o = view(msg);
  ck_assert_int_eq(uva_msg_take_buffer(msg, &o.via.array.ptr[0], &data, &len, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_msg_take_buffer(msg, &o.via.array.ptr[1], &data, &len, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_msg_take_buffer(msg, &o.via.array.ptr[2], &data, &len, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_msg_take_buffer(msg, &o, &data, &len, NULL), UV_EINVAL);
  uva_shared_unref(shared);
  uva_msg_free(msg);
}
END_TEST

/* A failed pack_buffer leaves the buffer the caller's: the message never frees it. */
START_TEST(test_pack_buffer_failure_keeps_ownership) {
  uva_msg_t *msg = new_msg();
  char *buf = xmalloc(4);

  frees = 0;
  ck_assert_int_eq(msgpack_pack_bin_body(uva_msg_packer(msg), buf, SIZE_MAX), -1);
  ck_assert_int_eq(uva_msg_pack_buffer(msg, buf, 4, counting_free), UV_ENOMEM);
  uva_msg_free(msg);
  ck_assert_int_eq(frees, 0);
  free(buf);
}
END_TEST

/* Many attachments in one message: the side table grows past its inline slot and keeps every entry. */
START_TEST(test_many_attachments) {
  enum { N = 100 };
  uva_msg_t *msg = new_msg();
  char *bufs[N];
  msgpack_object o;
  int i;

  frees = 0;
  msgpack_pack_array(uva_msg_packer(msg), N);
  for (i = 0; i < N; i++) {
    bufs[i] = xmalloc((size_t)i + 1);
    ck_assert_int_eq(uva_msg_pack_buffer(msg, bufs[i], (size_t)i + 1, counting_free), 0);
  }
  o = view(msg);
  ck_assert_uint_eq(o.via.array.size, N);
  /* Take the even ones (out of order: from the back), leave the odd ones to uva_msg_free(). */
  for (i = N - 2; i >= 0; i -= 2) {
    size_t len;
    void *data;
    ck_assert_int_eq(uva_msg_take_buffer(msg, &o.via.array.ptr[i], &data, &len, NULL), 0);
    ck_assert_ptr_eq(data, bufs[i]);
    ck_assert_uint_eq(len, (size_t)i + 1);
    free(data);
  }
  uva_msg_free(msg);
  ck_assert_int_eq(frees, N / 2);
}
END_TEST

/* A message [buffer, 7, buffer] of two counted buffers of 10 and 20 bytes. */
static uva_msg_t *two_buffers_msg(char **a, char **b) {
  uva_msg_t *msg = new_msg();

  *a = xmalloc(10);
  *b = xmalloc(20);
  msgpack_pack_array(uva_msg_packer(msg), 3);
  ck_assert_int_eq(uva_msg_pack_buffer(msg, *a, 10, counting_free), 0);
  msgpack_pack_int(uva_msg_packer(msg), 7);
  ck_assert_int_eq(uva_msg_pack_buffer(msg, *b, 20, NULL), 0);
  return msg;
}

/* Out of the process and back: take_buffers hands out every moved buffer in order (the message no longer
 * frees them), and from_parts makes the same message of the body and those buffers, which it then owns. */
START_TEST(test_take_buffers_then_from_parts) {
  uva_msg_buffer_t out[3];
  uva_msg_t *msg, *again;
  msgpack_object o;
  size_t count = 99;
  size_t len;
  void *data;
  char *a, *b;

  frees = 0;
  msg = two_buffers_msg(&a, &b);
  ck_assert_int_eq(uva_msg_take_buffers(msg, out, 3, &count), 0);
  ck_assert_uint_eq(count, 2);
  ck_assert_ptr_eq(out[0].data, a);
  ck_assert_uint_eq(out[0].len, 10);
  ck_assert_ptr_eq((void *)out[0].free_cb, (void *)counting_free);
  ck_assert_ptr_eq(out[1].data, b);
  ck_assert_uint_eq(out[1].len, 20);
  ck_assert_ptr_eq((void *)out[1].free_cb, (void *)free);
  ck_assert_int_eq(uva_msg_from_parts(&again, uva_msg_data(msg), uva_msg_size(msg), NULL, out, count), 0);
  uva_msg_free(msg);
  ck_assert_int_eq(frees, 0);
  o = view(again);
  ck_assert_uint_eq(o.via.array.size, 3);
  ck_assert_int_eq(o.via.array.ptr[1].via.i64, 7);
  ck_assert_int_eq(uva_msg_take_buffer(again, &o.via.array.ptr[2], &data, &len, NULL), 0);
  ck_assert_ptr_eq(data, b);
  ck_assert_uint_eq(len, 20);
  free(data);
  uva_msg_free(again); /* frees the one not taken, with its own free function */
  ck_assert_int_eq(frees, 1);
  ck_assert_ptr_eq(last_freed, a);
}
END_TEST

/* Too many for out: UV_ENOBUFS with the count, and nothing taken (the message still frees both). A message
 * without buffers: 0 and a count of 0 at once, out may be NULL. */
START_TEST(test_take_buffers_too_many_or_none) {
  uva_msg_buffer_t out[1];
  uva_msg_t *msg;
  size_t count = 0;
  char *a, *b;

  frees = 0;
  msg = two_buffers_msg(&a, &b);
  ck_assert_int_eq(uva_msg_take_buffers(msg, out, 1, &count), UV_ENOBUFS);
  ck_assert_uint_eq(count, 2);
  ck_assert_int_eq(uva_msg_take_buffers(msg, NULL, 0, &count), UV_ENOBUFS);
  uva_msg_free(msg);
  ck_assert_int_eq(frees, 1); /* a; b went to free() */
  msg = new_msg();
  msgpack_pack_int(uva_msg_packer(msg), 1);
  count = 99;
  ck_assert_int_eq(uva_msg_take_buffers(msg, NULL, 0, &count), 0);
  ck_assert_uint_eq(count, 0);
  uva_msg_free(msg);
}
END_TEST

/* What cannot leave the process: a shared buffer, or a buffer a receiver took before. UV_EINVAL, and the
 * message keeps what it has. */
START_TEST(test_take_buffers_refuses_what_cannot_leave) {
  uva_msg_buffer_t out[4];
  uva_shared_t *shared;
  uva_msg_t *msg;
  msgpack_object o;
  size_t count;
  size_t len;
  void *data;
  char *a, *b;

  frees = 0;
  msg = two_buffers_msg(&a, &b);
  o = view(msg);
  ck_assert_int_eq(uva_msg_take_buffer(msg, &o.via.array.ptr[0], &data, &len, NULL), 0);
  ck_assert_int_eq(uva_msg_take_buffers(msg, out, 4, &count), UV_EINVAL);
  free(data);
  uva_msg_free(msg);
  ck_assert_int_eq(frees, 0); /* a was taken; b went to free() */

  msg = new_msg();
  msgpack_pack_array(uva_msg_packer(msg), 2);
  ck_assert_int_eq(uva_msg_pack_buffer(msg, xmalloc(8), 8, counting_free), 0);
  ck_assert_int_eq(uva_shared_new(8, &shared), 0);
  ck_assert_int_eq(uva_msg_pack_shared(msg, shared), 0);
  uva_shared_unref(shared);
  ck_assert_int_eq(uva_msg_take_buffers(msg, out, 4, &count), UV_EINVAL);
  uva_msg_free(msg);
  ck_assert_int_eq(frees, 1);
}
END_TEST

/* ---- shared buffers ------------------------------------------------------------------------------ */

START_TEST(test_shared_new_zeroed_aligned) {
  static const size_t sizes[] = {1, 63, 64, 100, 4096, 100000};
  size_t i, j;

  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    uva_shared_t *shared = NULL;
    unsigned char *data;

    ck_assert_int_eq(uva_shared_new(sizes[i], &shared), 0);
    ck_assert_uint_eq(uva_shared_size(shared), sizes[i]);
    data = uva_shared_data(shared);
    ck_assert_uint_eq((uintptr_t)data % 64, 0);
    for (j = 0; j < sizes[i]; j++)
      ck_assert_uint_eq(data[j], 0);
    memset(data, 0xff, sizes[i]); /* all of it is writable */
    uva_shared_unref(shared);
  }
}
END_TEST

START_TEST(test_shared_new_too_big) {
  uva_shared_t *shared = (uva_shared_t *)UNTOUCHED;
  int err = uva_shared_new(SIZE_MAX, &shared);

  ck_assert(err == UV_EINVAL || err == UV_ENOMEM);
  ck_assert_ptr_eq(shared, (uva_shared_t *)UNTOUCHED);
}
END_TEST

/* Every reference sees the same memory; the buffer lives until the last unref. */
START_TEST(test_shared_ref_unref) {
  uva_shared_t *shared, *again;
  int *data;

  ck_assert_int_eq(uva_shared_new(sizeof(int), &shared), 0);
  again = uva_shared_ref(shared);
  ck_assert_ptr_eq(again, shared);
  data = uva_shared_data(shared);
  uva_shared_unref(shared);
  *data = 42; /* alive: one reference left (ASan/valgrind would see a use after free) */
  ck_assert_int_eq(*(int *)uva_shared_data(again), 42);
  uva_shared_unref(again);
}
END_TEST

/* The message holds its own reference: the caller may drop theirs right after packing. */
START_TEST(test_message_holds_shared_reference) {
  uva_msg_t *msg = new_msg();
  uva_shared_t *shared, *got = NULL;
  msgpack_object o;
  char *data;

  ck_assert_int_eq(uva_shared_new(32, &shared), 0);
  data = uva_shared_data(shared);
  ck_assert_int_eq(uva_msg_pack_shared(msg, shared), 0);
  uva_shared_unref(shared);
  o = view(msg);
  ck_assert_int_eq(o.via.ext.type, UVA_EXT_SHARED);
  ck_assert_int_eq(uva_msg_get_shared(msg, &o, &got), 0);
  ck_assert_ptr_eq(got, shared);
  ck_assert_ptr_eq(uva_shared_data(got), data);
  ck_assert_uint_eq(uva_shared_size(got), 32);
  memcpy(uva_shared_data(got), "still here", 11);
  uva_msg_free(msg); /* drops the message's reference; ours keeps the buffer */
  ck_assert_str_eq(uva_shared_data(got), "still here");
  uva_shared_unref(got);
}
END_TEST

/* get_shared may be called many times, each a new reference; a write through one holder is seen by all.
 * Three messages each drop exactly their own reference (ASan/valgrind: no leak, no double free). */
START_TEST(test_shared_in_three_messages) {
  uva_msg_t *msgs[3];
  uva_shared_t *shared, *got[3];
  int i;

  ck_assert_int_eq(uva_shared_new(sizeof(int), &shared), 0);
  for (i = 0; i < 3; i++) {
    msgs[i] = new_msg();
    ck_assert_int_eq(uva_msg_pack_shared(msgs[i], shared), 0);
  }
  uva_shared_unref(shared);
  for (i = 0; i < 3; i++) {
    msgpack_object o = view(msgs[i]);
    ck_assert_int_eq(uva_msg_get_shared(msgs[i], &o, &got[i]), 0);
    ck_assert_int_eq(uva_msg_get_shared(msgs[i], &o, &got[i]), 0); /* twice: two references */
    uva_shared_unref(got[i]);
  }
  *(int *)uva_shared_data(got[0]) = 7;
  ck_assert_int_eq(*(int *)uva_shared_data(got[2]), 7);
  uva_msg_free(msgs[1]);
  uva_msg_free(msgs[0]);
  for (i = 0; i < 3; i++)
    uva_shared_unref(got[i]);
  ck_assert_int_eq(*(int *)uva_shared_data(got[0]), 7); /* msgs[2] still holds one */
  uva_msg_free(msgs[2]);
}
END_TEST

/* ref and unref from many threads at once: the count stays exact, so the buffer outlives them all and is
 * freed once, by the last unref (ASan/valgrind see a lost or doubled free). */
static void ref_unref_many(void *arg) {
  uva_shared_t *shared = arg;
  int i;

  for (i = 0; i < 100000; i++) {
    uva_shared_unref(uva_shared_ref(uva_shared_ref(shared)));
    uva_shared_unref(shared);
  }
}

START_TEST(test_shared_refs_across_threads) {
  enum { THREADS = 4 };
  uv_thread_t threads[THREADS];
  uva_shared_t *shared;
  int i;

  ck_assert_int_eq(uva_shared_new(sizeof(int), &shared), 0);
  for (i = 0; i < THREADS; i++)
    ck_assert_int_eq(uv_thread_create(&threads[i], ref_unref_many, shared), 0);
  for (i = 0; i < THREADS; i++)
    ck_assert_int_eq(uv_thread_join(&threads[i]), 0);
  *(int *)uva_shared_data(shared) = 1; /* still ours alone */
  uva_shared_unref(shared);
}
END_TEST

START_TEST(test_get_shared_wrong_object) {
  uva_msg_t *a = new_msg(), *b = new_msg();
  uva_shared_t *shared, *got = NULL;
  msgpack_object oa, ob;

  ck_assert_int_eq(uva_shared_new(8, &shared), 0);
  msgpack_pack_array(uva_msg_packer(a), 2);
  ck_assert_int_eq(uva_msg_pack_shared(a, shared), 0);
  ck_assert_int_eq(uva_msg_pack_buffer(a, xmalloc(4), 4, NULL), 0);
  ck_assert_int_eq(uva_msg_pack_shared(b, shared), 0);
  oa = view(a);
  ob = view(b);
  ck_assert_int_eq(uva_msg_get_shared(a, &oa.via.array.ptr[1], &got), UV_EINVAL); /* a buffer ext */
  ck_assert_int_eq(uva_msg_get_shared(a, &ob, &got), UV_EINVAL);                  /* b's ext */
  ck_assert_int_eq(uva_msg_get_shared(a, &oa, &got), UV_EINVAL);                  /* the array */
  ck_assert_ptr_null(got);
  uva_shared_unref(shared);
  uva_msg_free(a);
  uva_msg_free(b);
}
END_TEST

/* A hand-packed shared ext naming a moved buffer's slot makes the message invalid (its view is refused, so
 * no get can be asked of it; the slot keeps its kind), and the buffer is freed once, with the message. */
START_TEST(test_get_shared_on_buffer_slot) {
  static const char slot0[4] = {0, 0, 0, 0};
  msgpack_object obj;
  uva_msg_t *msg;

  frees = 0;
  ck_assert_int_eq(uva_msg_new(&msg), 0);
  msgpack_pack_array(uva_msg_packer(msg), 2);
  ck_assert_int_eq(uva_msg_pack_buffer(msg, xmalloc(8), 8, counting_free), 0);
  msgpack_pack_ext_with_body(uva_msg_packer(msg), slot0, sizeof(slot0), UVA_EXT_SHARED);
  ck_assert_int_eq(uva_msg_object(msg, &obj), UVA_EBADEXT);
  uva_msg_free(msg);
  ck_assert_int_eq(frees, 1);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("buffer", 60, NULL, NULL),
      TEST(test_buffer_moves_without_copy),
      TEST(test_buffer_default_free_function),
      TEST(test_buffer_take_twice),
      TEST(test_untaken_buffer_freed_once),
      TEST(test_taken_buffer_not_freed),
      TEST(test_take_ext_of_other_message),
      TEST(test_take_wrong_kind_of_object),
      TEST(test_pack_buffer_failure_keeps_ownership),
      TEST(test_many_attachments),
      TEST(test_take_buffers_then_from_parts),
      TEST(test_take_buffers_too_many_or_none),
      TEST(test_take_buffers_refuses_what_cannot_leave),

      TCASE("shared", 60, NULL, NULL),
      TEST(test_shared_new_zeroed_aligned),
      TEST(test_shared_new_too_big),
      TEST(test_shared_ref_unref),
      TEST(test_message_holds_shared_reference),
      TEST(test_shared_in_three_messages),
      TEST(test_shared_refs_across_threads),
      TEST(test_get_shared_wrong_object),
      TEST(test_get_shared_on_buffer_slot),
  };

  return suite_of_rows("msg_buffers", rows, sizeof(rows) / sizeof(rows[0]));
}
