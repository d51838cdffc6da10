/* The bad-input rows of include/uvactor/msg.h: messages, outside bytes, malformed bodies posted. Run by
 * tests/test_badinput.c, which also shows them in docs/errors.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "badinput.h"

/* ---- messages (msg.h) ---------------------------------------------------------------------------- */

static int msg_new_null(fx_t *fx) {
  (void)fx;
  return uva_msg_new(NULL);
}

static int msg_free_null(fx_t *fx) {
  (void)fx;
  uva_msg_free(NULL);
  return R_NOTHING;
}

static int msg_packer_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_msg_packer(NULL));
}

static int msg_data_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_msg_data(NULL));
}

static int msg_size_null(fx_t *fx) {
  (void)fx;
  return size_result(uva_msg_size(NULL));
}

static int validate_null(fx_t *fx) {
  (void)fx;
  return uva_msg_validate(NULL, NULL);
}

static int validate_depth_over(fx_t *fx) {
  uva_msg_limits_t limits = {.max_depth = UVA_MSG_MAX_DEPTH + 1};
  return uva_msg_validate(fx->msg, &limits);
}

static int validate_depth_max(fx_t *fx) {
  uva_msg_limits_t limits = {.max_depth = UVA_MSG_MAX_DEPTH};
  return uva_msg_validate(fx->msg, &limits);
}

static int validate_over_size(fx_t *fx) {
  uva_msg_limits_t limits = {.max_size = 4};
  return uva_msg_validate(fx->msg, &limits);
}

static int validate_empty(fx_t *fx) {
  uva_msg_t *msg = raw_msg(NULL, 0);
  int err = uva_msg_validate(msg, NULL);

  (void)fx;
  uva_msg_free(msg);
  return err;
}

static int validate_failed_pack(fx_t *fx) {
  uva_msg_t *msg = failed_pack_msg();
  int err = uva_msg_validate(msg, NULL);

  (void)fx;
  uva_msg_free(msg);
  return err;
}

static int object_null_msg(fx_t *fx) {
  msgpack_object obj;

  (void)fx;
  return uva_msg_object(NULL, &obj);
}

static int object_null_out(fx_t *fx) {
  return uva_msg_object(fx->msg, NULL);
}

static int object_failed_pack(fx_t *fx) {
  uva_msg_t *msg = failed_pack_msg();
  msgpack_object obj;
  int err = uva_msg_object(msg, &obj);

  (void)fx;
  uva_msg_free(msg);
  return err;
}

static int object_two_objects(fx_t *fx) {
  static const unsigned char two[] = {0xc0, 0xc0};
  uva_msg_t *msg = raw_msg(two, sizeof(two));
  msgpack_object obj;
  int err = uva_msg_object(msg, &obj);

  (void)fx;
  uva_msg_free(msg);
  return err;
}

/* pack_buffer: on failure the buffer stays the caller's (freed here; valgrind sees a double free). */
static int pack_buffer_with(uva_msg_t *msg, int null_data) {
  void *data = null_data ? NULL : malloc(16);
  int err = uva_msg_pack_buffer(msg, data, 16, NULL);

  if (err != 0)
    free(data);
  return err;
}

static int pack_buffer_null_msg(fx_t *fx) {
  (void)fx;
  return pack_buffer_with(NULL, 0);
}

static int pack_buffer_null_data(fx_t *fx) {
  size_t before = uva_msg_size(fx->msg);
  int err = pack_buffer_with(fx->msg, 1);

  return uva_msg_size(fx->msg) == before ? err : R_VALUE; /* the body is unchanged */
}

static int pack_buffer_failed_pack(fx_t *fx) {
  uva_msg_t *msg = failed_pack_msg();
  int err = pack_buffer_with(msg, 0);

  (void)fx;
  uva_msg_free(msg);
  return err;
}

/* take_buffer and friends on the message attached_msg() makes. */
enum { T_NULL_MSG, T_NULL_EXT, T_NULL_OUT, T_NULL_LEN, T_OTHER_MSG, T_WRONG_KIND, T_INT, T_TWICE };

static int take_buffer_case(int which) {
  msgpack_object view;
  msgpack_object other_view;
  uva_msg_t *msg = attached_msg(&view);
  uva_msg_t *other = NULL;
  void *data = NULL;
  size_t len;
  int err;

  switch (which) {
  case T_NULL_MSG:
    err = uva_msg_take_buffer(NULL, BUFFER_EXT(view), &data, &len, NULL);
    break;
  case T_NULL_EXT:
    err = uva_msg_take_buffer(msg, NULL, &data, &len, NULL);
    break;
  case T_NULL_OUT:
    err = uva_msg_take_buffer(msg, BUFFER_EXT(view), NULL, &len, NULL);
    break;
  case T_NULL_LEN:
    err = uva_msg_take_buffer(msg, BUFFER_EXT(view), &data, NULL, NULL);
    break;
  case T_OTHER_MSG:
    other = attached_msg(&other_view);
    err = uva_msg_take_buffer(msg, BUFFER_EXT(other_view), &data, &len, NULL);
    break;
  case T_WRONG_KIND:
    err = uva_msg_take_buffer(msg, SHARED_EXT(view), &data, &len, NULL);
    break;
  case T_INT:
    err = uva_msg_take_buffer(msg, INT_OBJ(view), &data, &len, NULL);
    break;
  default:
    ck_assert_int_eq(uva_msg_take_buffer(msg, BUFFER_EXT(view), &data, &len, NULL), 0);
    free(data);
    data = NULL;
    err = uva_msg_take_buffer(msg, BUFFER_EXT(view), &data, &len, NULL);
    break;
  }
  if (err == 0)
    free(data);
  uva_msg_free(other);
  uva_msg_free(msg);
  return err;
}

static int take_buffer_null_msg(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_NULL_MSG);
}
static int take_buffer_null_ext(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_NULL_EXT);
}
static int take_buffer_null_data(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_NULL_OUT);
}
static int take_buffer_null_len(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_NULL_LEN);
}
static int take_buffer_other_msg(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_OTHER_MSG);
}
static int take_buffer_shared_ext(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_WRONG_KIND);
}
static int take_buffer_int(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_INT);
}
static int take_buffer_twice(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_TWICE);
}

/* take_buffers and from_parts: a message out of the process and back (remote transport). */
static int take_buffers_null_msg(fx_t *fx) {
  size_t count;

  (void)fx;
  return uva_msg_take_buffers(NULL, NULL, 0, &count);
}

static int take_buffers_null_count(fx_t *fx) {
  uva_msg_buffer_t out[1];

  return uva_msg_take_buffers(fx->msg, out, 1, NULL);
}

static int take_buffers_null_out(fx_t *fx) {
  size_t count;

  return uva_msg_take_buffers(fx->msg, NULL, 1, &count);
}

static int take_buffers_shared(fx_t *fx) {
  uva_msg_buffer_t out[4];
  msgpack_object view;
  uva_msg_t *msg = attached_msg(&view);
  size_t count;
  int err;

  (void)fx;
  err = uva_msg_take_buffers(msg, out, 4, &count);
  uva_msg_free(msg);
  return err;
}

static int take_buffers_over_max(fx_t *fx) {
  uva_msg_t *msg;
  size_t count;
  int err;

  (void)fx;
  ck_assert_int_eq(uva_msg_new(&msg), 0);
  ck_assert_int_eq(uva_msg_pack_buffer(msg, malloc(8), 8, NULL), 0);
  err = uva_msg_take_buffers(msg, NULL, 0, &count);
  uva_msg_free(msg);
  return err;
}

/* Makes the message of the body of [buffer, buffer] with buffers[0..count); the buffers stay ours. */
static int from_parts_case(const uva_msg_buffer_t *buffers, size_t count) {
  uva_msg_t *body;
  uva_msg_t *msg = NULL;
  int err;

  ck_assert_int_eq(uva_msg_new(&body), 0);
  msgpack_pack_array(uva_msg_packer(body), 2);
  ck_assert_int_eq(uva_msg_pack_buffer(body, malloc(8), 8, NULL), 0);
  ck_assert_int_eq(uva_msg_pack_buffer(body, malloc(8), 8, NULL), 0);
  err = uva_msg_from_parts(&msg, uva_msg_data(body), uva_msg_size(body), NULL, buffers, count);
  uva_msg_free(body);
  if (err == 0)
    uva_msg_free(msg);
  return err;
}

static int from_parts_null_buffers(fx_t *fx) {
  (void)fx;
  return from_parts_case(NULL, 2);
}

static int from_parts_null_data(fx_t *fx) {
  static char byte;
  uva_msg_buffer_t buffers[2] = {{&byte, 1, NULL}, {NULL, 1, NULL}};

  (void)fx;
  return from_parts_case(buffers, 2);
}

static int from_parts_index_over(fx_t *fx) {
  static char byte;
  uva_msg_buffer_t buffers[1] = {{&byte, 1, NULL}};

  (void)fx;
  return from_parts_case(buffers, 1); /* the body names buffer 1 too */
}

static int get_shared_case(int which) {
  msgpack_object view;
  uva_msg_t *msg = attached_msg(&view);
  uva_shared_t *shared = NULL;
  int err;

  switch (which) {
  case T_NULL_MSG:
    err = uva_msg_get_shared(NULL, SHARED_EXT(view), &shared);
    break;
  case T_NULL_EXT:
    err = uva_msg_get_shared(msg, NULL, &shared);
    break;
  case T_NULL_OUT:
    err = uva_msg_get_shared(msg, SHARED_EXT(view), NULL);
    break;
  default:
    err = uva_msg_get_shared(msg, BUFFER_EXT(view), &shared);
    break;
  }
  if (err == 0)
    uva_shared_unref(shared);
  uva_msg_free(msg);
  return err;
}

static int get_shared_null_msg(fx_t *fx) {
  (void)fx;
  return get_shared_case(T_NULL_MSG);
}
static int get_shared_null_ext(fx_t *fx) {
  (void)fx;
  return get_shared_case(T_NULL_EXT);
}
static int get_shared_null_out(fx_t *fx) {
  (void)fx;
  return get_shared_case(T_NULL_OUT);
}
static int get_shared_buffer_ext(fx_t *fx) {
  (void)fx;
  return get_shared_case(T_WRONG_KIND);
}

static int pack_shared_null_msg(fx_t *fx) {
  uva_shared_t *shared;
  int err;

  (void)fx;
  ck_assert_int_eq(uva_shared_new(8, &shared), 0);
  err = uva_msg_pack_shared(NULL, shared);
  uva_shared_unref(shared); /* the caller's one reference: a leak or a double free shows under valgrind */
  return err;
}

static int pack_shared_null_shared(fx_t *fx) {
  return uva_msg_pack_shared(fx->msg, NULL);
}

static int shared_new_null(fx_t *fx) {
  (void)fx;
  return uva_shared_new(8, NULL);
}

static int shared_new_huge(fx_t *fx) {
  uva_shared_t *shared = NULL;
  int err = uva_shared_new(SIZE_MAX, &shared);

  (void)fx;
  if (err == 0)
    uva_shared_unref(shared);
  return err;
}

static int shared_data_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_shared_data(NULL));
}

static int shared_size_null(fx_t *fx) {
  (void)fx;
  return size_result(uva_shared_size(NULL));
}

static int shared_ref_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_shared_ref(NULL));
}

static int shared_unref_null(fx_t *fx) {
  (void)fx;
  uva_shared_unref(NULL);
  return R_NOTHING;
}

static int take_port_case(fx_t *fx, int which) {
  msgpack_object view;
  msgpack_object other;
  uva_msg_t *msg = port_msg(fx, &view);
  uva_msg_t *buffers = NULL;
  uva_port_t taken;
  int err;

  switch (which) {
  case T_NULL_MSG:
    err = uva_msg_take_port(NULL, &view.via.array.ptr[0], &taken);
    break;
  case T_NULL_EXT:
    err = uva_msg_take_port(msg, NULL, &taken);
    break;
  case T_NULL_OUT:
    err = uva_msg_take_port(msg, &view.via.array.ptr[0], NULL);
    break;
  case T_WRONG_KIND:
    buffers = attached_msg(&other);
    err = uva_msg_take_port(buffers, BUFFER_EXT(other), &taken);
    break;
  default:
    ck_assert_int_eq(uva_msg_take_port(msg, &view.via.array.ptr[0], &taken), 0);
    ck_assert_int_eq(uva_port_close(&taken), 0);
    err = uva_msg_take_port(msg, &view.via.array.ptr[0], &taken);
    break;
  }
  if (err == 0)
    ck_assert_int_eq(uva_port_close(&taken), 0);
  uva_msg_free(buffers);
  uva_msg_free(msg); /* closes b if it is still in there */
  return err;
}

static int take_port_null_msg(fx_t *fx) {
  return take_port_case(fx, T_NULL_MSG);
}
static int take_port_null_ext(fx_t *fx) {
  return take_port_case(fx, T_NULL_EXT);
}
static int take_port_null_port(fx_t *fx) {
  return take_port_case(fx, T_NULL_OUT);
}
static int take_port_buffer_ext(fx_t *fx) {
  return take_port_case(fx, T_WRONG_KIND);
}
static int take_port_twice(fx_t *fx) {
  return take_port_case(fx, T_TWICE);
}

static const row_t message_rows[] = {
    {"uva_msg_new", "msgp NULL", S_NONE, msg_new_null, UV_EINVAL},
    {"uva_msg_free", "msg NULL", S_NONE, msg_free_null, R_NOTHING},
    {"uva_msg_packer", "msg NULL", S_NONE, msg_packer_null, R_NULL},
    {"uva_msg_data", "msg NULL", S_NONE, msg_data_null, R_NULL},
    {"uva_msg_size", "msg NULL", S_NONE, msg_size_null, 0},
    {"uva_msg_validate", "msg NULL", S_NONE, validate_null, UV_EINVAL},
    {"uva_msg_validate", "limits.max_depth UVA_MSG_MAX_DEPTH + 1", S_NONE, validate_depth_over, UV_EINVAL},
    {"uva_msg_validate", "limits.max_depth UVA_MSG_MAX_DEPTH (the largest allowed)", S_NONE,
     validate_depth_max, 0},
    {"uva_msg_validate", "body over limits.max_size", S_NONE, validate_over_size, UV_E2BIG},
    {"uva_msg_validate", "empty body (nothing packed)", S_NONE, validate_empty, UVA_ETRUNC},
    {"uva_msg_validate", "a pack that could not grow the body", S_NONE, validate_failed_pack, UV_ENOMEM},
    {"uva_msg_object", "msg NULL", S_NONE, object_null_msg, UV_EINVAL},
    {"uva_msg_object", "out NULL", S_NONE, object_null_out, UV_EINVAL},
    {"uva_msg_object", "a pack that could not grow the body", S_NONE, object_failed_pack, UV_ENOMEM},
    {"uva_msg_object", "body of two objects", S_NONE, object_two_objects, UVA_ETRAILING},
    {"uva_msg_pack_buffer", "msg NULL (data stays the caller's)", S_NONE, pack_buffer_null_msg, UV_EINVAL},
    {"uva_msg_pack_buffer", "data NULL (body unchanged)", S_NONE, pack_buffer_null_data, UV_EINVAL},
    {"uva_msg_pack_buffer", "after a pack that could not grow the body (data stays the caller's)", S_NONE,
     pack_buffer_failed_pack, UV_ENOMEM},
    {"uva_msg_take_buffer", "msg NULL", S_NONE, take_buffer_null_msg, UV_EINVAL},
    {"uva_msg_take_buffer", "ext NULL", S_NONE, take_buffer_null_ext, UV_EINVAL},
    {"uva_msg_take_buffer", "data NULL", S_NONE, take_buffer_null_data, UV_EINVAL},
    {"uva_msg_take_buffer", "len NULL", S_NONE, take_buffer_null_len, UV_EINVAL},
    {"uva_msg_take_buffer", "ext of another message", S_NONE, take_buffer_other_msg, UV_EINVAL},
    {"uva_msg_take_buffer", "ext naming a shared buffer", S_NONE, take_buffer_shared_ext, UV_EINVAL},
    {"uva_msg_take_buffer", "an integer object", S_NONE, take_buffer_int, UV_EINVAL},
    {"uva_msg_take_buffer", "buffer taken before", S_NONE, take_buffer_twice, UV_EALREADY},
    {"uva_msg_take_buffers", "msg NULL", S_NONE, take_buffers_null_msg, UV_EINVAL},
    {"uva_msg_take_buffers", "count NULL", S_NONE, take_buffers_null_count, UV_EINVAL},
    {"uva_msg_take_buffers", "out NULL with max 1", S_NONE, take_buffers_null_out, UV_EINVAL},
    {"uva_msg_take_buffers", "a message with a shared buffer", S_NONE, take_buffers_shared, UV_EINVAL},
    {"uva_msg_take_buffers", "more buffers than max (nothing taken)", S_NONE, take_buffers_over_max,
     UV_ENOBUFS},
    {"uva_msg_from_parts", "buffers NULL with count 2", S_NONE, from_parts_null_buffers, UV_EINVAL},
    {"uva_msg_from_parts", "a buffer whose data is NULL", S_NONE, from_parts_null_data, UV_EINVAL},
    {"uva_msg_from_parts", "a body naming buffer 1 of 1", S_NONE, from_parts_index_over, UVA_EBADEXT},
    {"uva_msg_pack_shared", "msg NULL (the reference stays the caller's)", S_NONE, pack_shared_null_msg,
     UV_EINVAL},
    {"uva_msg_pack_shared", "shared NULL", S_NONE, pack_shared_null_shared, UV_EINVAL},
    {"uva_msg_get_shared", "msg NULL", S_NONE, get_shared_null_msg, UV_EINVAL},
    {"uva_msg_get_shared", "ext NULL", S_NONE, get_shared_null_ext, UV_EINVAL},
    {"uva_msg_get_shared", "out NULL", S_NONE, get_shared_null_out, UV_EINVAL},
    {"uva_msg_get_shared", "ext naming a moved buffer", S_NONE, get_shared_buffer_ext, UV_EINVAL},
    {"uva_shared_new", "out NULL", S_NONE, shared_new_null, UV_EINVAL},
    {"uva_shared_new", "size SIZE_MAX", S_NONE, shared_new_huge, UV_EINVAL},
    {"uva_shared_data", "shared NULL", S_NONE, shared_data_null, R_NULL},
    {"uva_shared_size", "shared NULL", S_NONE, shared_size_null, 0},
    {"uva_shared_ref", "shared NULL", S_NONE, shared_ref_null, R_NULL},
    {"uva_shared_unref", "shared NULL", S_NONE, shared_unref_null, R_NOTHING},
    {"uva_msg_take_port", "msg NULL", S_NONE, take_port_null_msg, UV_EINVAL},
    {"uva_msg_take_port", "ext NULL", S_NONE, take_port_null_ext, UV_EINVAL},
    {"uva_msg_take_port", "port NULL", S_NONE, take_port_null_port, UV_EINVAL},
    {"uva_msg_take_port", "ext naming a moved buffer", S_NONE, take_port_buffer_ext, UV_EINVAL},
    {"uva_msg_take_port", "port taken before", S_NONE, take_port_twice, UV_EALREADY},
};

/* ---- outside bytes (uva_msg_from_bytes) and malformed bodies ------------------------------------- */

/* n nested one-element arrays around a nil. */
static unsigned char *nested(size_t n, size_t *len) {
  unsigned char *bytes = malloc(n + 1);

  ck_assert_ptr_nonnull(bytes);
  memset(bytes, 0x91, n);
  bytes[n] = 0xc0;
  *len = n + 1;
  return bytes;
}

/* An array of 5 arrays of 1 Mi nils: 5 Mi + 6 objects, over the default 4 Mi, each container within the
 * default 1 Mi elements. */
static unsigned char *many_objects(size_t *len) {
  const size_t per = (size_t)1 << 20;
  unsigned char *bytes = malloc(1 + 5 * (5 + per));
  unsigned char *p = bytes;
  int i;

  ck_assert_ptr_nonnull(bytes);
  *p++ = 0x95;
  for (i = 0; i < 5; i++) {
    *p++ = 0xdd;
    *p++ = (unsigned char)(per >> 24);
    *p++ = (unsigned char)(per >> 16);
    *p++ = (unsigned char)(per >> 8);
    *p++ = (unsigned char)per;
    memset(p, 0xc0, per);
    p += per;
  }
  *len = (size_t)(p - bytes);
  return bytes;
}

/* from_bytes: on error *msgp is untouched. */
#define UNTOUCHED ((uva_msg_t *)(uintptr_t)0x5a5a5a5a)

static int from_bytes(const void *data, size_t len, const uva_msg_limits_t *limits) {
  uva_msg_t *msg = UNTOUCHED;
  int err = uva_msg_from_bytes(&msg, data, len, limits);

  if (err == 0)
    uva_msg_free(msg);
  else if (msg != UNTOUCHED)
    return R_VALUE; /* wrote *msgp although it failed */
  return err;
}

#define FROM_BYTES_ROW_FN(name, bytes, ...)                                                              \
  static int name(fx_t *fx) {                                                                            \
    uva_msg_limits_t limits = {__VA_ARGS__};                                                             \
    static const uva_msg_limits_t zero;                                                                  \
    (void)fx;                                                                                            \
    return from_bytes(bytes, sizeof(bytes), memcmp(&limits, &zero, sizeof(zero)) != 0 ? &limits : NULL); \
  }

FROM_BYTES_ROW_FN(fb_trunc_array, trunc_array, 0)
FROM_BYTES_ROW_FN(fb_trunc_str, trunc_str, 0)
FROM_BYTES_ROW_FN(fb_bad_byte, bad_byte, 0)
FROM_BYTES_ROW_FN(fb_trailing, trailing, 0)
FROM_BYTES_ROW_FN(fb_count_over, count_over, 0)
FROM_BYTES_ROW_FN(fb_map_over_limit, map_of_3, .max_container = 2)
FROM_BYTES_ROW_FN(fb_port_ext, port_ext, 0)
FROM_BYTES_ROW_FN(fb_reserved_ext, reserved_ext, 0)
FROM_BYTES_ROW_FN(fb_objects_over_limit, five_nils, .max_objects = 5)
FROM_BYTES_ROW_FN(fb_size_over_limit, five_nils, .max_size = 5)
FROM_BYTES_ROW_FN(fb_depth_max_over, five_nils, .max_depth = UVA_MSG_MAX_DEPTH + 1)

static int fb_null_msgp(fx_t *fx) {
  (void)fx;
  return uva_msg_from_bytes(NULL, five_nils, sizeof(five_nils), NULL);
}

static int fb_null_data(fx_t *fx) {
  (void)fx;
  return from_bytes(NULL, 1, NULL);
}

static int fb_empty(fx_t *fx) {
  (void)fx;
  return from_bytes(NULL, 0, NULL);
}

static int fb_depth_default(fx_t *fx) {
  size_t len;
  unsigned char *bytes = nested(65, &len);
  int err = from_bytes(bytes, len, NULL);

  (void)fx;
  free(bytes);
  return err;
}

static int fb_depth_limit(fx_t *fx) {
  uva_msg_limits_t limits = {.max_depth = 2};
  size_t len;
  unsigned char *bytes = nested(3, &len);
  int err = from_bytes(bytes, len, &limits);

  (void)fx;
  free(bytes);
  return err;
}

static int fb_objects_default(fx_t *fx) {
  size_t len;
  unsigned char *bytes = many_objects(&len);
  int err = from_bytes(bytes, len, NULL);

  (void)fx;
  free(bytes);
  return err;
}

static const row_t bytes_rows[] = {
    {"uva_msg_from_bytes", "msgp NULL", S_NONE, fb_null_msgp, UV_EINVAL},
    {"uva_msg_from_bytes", "data NULL, len 1", S_NONE, fb_null_data, UV_EINVAL},
    {"uva_msg_from_bytes", "limits.max_depth UVA_MSG_MAX_DEPTH + 1", S_NONE, fb_depth_max_over, UV_EINVAL},
    {"uva_msg_from_bytes", "len over limits.max_size", S_NONE, fb_size_over_limit, UV_E2BIG},
    {"uva_msg_from_bytes", "empty input (data NULL, len 0)", S_NONE, fb_empty, UVA_ETRUNC},
    {"uva_msg_from_bytes", "array of 2 with 1 element", S_NONE, fb_trunc_array, UVA_ETRUNC},
    {"uva_msg_from_bytes", "str of 5 bytes with 2", S_NONE, fb_trunc_str, UVA_ETRUNC},
    {"uva_msg_from_bytes", "byte 0xc1", S_NONE, fb_bad_byte, UVA_EBADBYTE},
    {"uva_msg_from_bytes", "two objects", S_NONE, fb_trailing, UVA_ETRAILING},
    {"uva_msg_from_bytes", "65 nested arrays (default max_depth 64)", S_NONE, fb_depth_default, UVA_EDEPTH},
    {"uva_msg_from_bytes", "3 nested arrays, limits.max_depth 2", S_NONE, fb_depth_limit, UVA_EDEPTH},
    {"uva_msg_from_bytes", "array header claiming 1 Mi + 1 elements (default max_container 1 Mi)", S_NONE,
     fb_count_over, UVA_ECOUNT},
    {"uva_msg_from_bytes", "map of 3 pairs, limits.max_container 2", S_NONE, fb_map_over_limit, UVA_ECOUNT},
    {"uva_msg_from_bytes", "ext of type UVA_EXT_PORT", S_NONE, fb_port_ext, UVA_EBADEXT},
    {"uva_msg_from_bytes", "ext of reserved type 120", S_NONE, fb_reserved_ext, UVA_EBADEXT},
    {"uva_msg_from_bytes", "6 objects, limits.max_objects 5", S_NONE, fb_objects_over_limit, UVA_EOBJECTS},
    {"uva_msg_from_bytes", "5 Mi objects (default max_objects 4 Mi)", S_NONE, fb_objects_default,
     UVA_EOBJECTS},
};

/* Posting a hand-packed body: refused at the sender with the code validation gives, the message unchanged
 * and still the caller's. */
static int post_raw(fx_t *fx, const void *bytes, size_t len) {
  uva_msg_t *msg = raw_msg(bytes, len);
  int err = uva_port_post(&fx->a, msg);

  if (err == 0)
    return 0;
  if (uva_msg_size(msg) != len || (len > 0 && memcmp(uva_msg_data(msg), bytes, len) != 0))
    err = R_VALUE;
  uva_msg_free(msg);
  return err;
}

#define POST_RAW_ROW_FN(name, bytes)           \
  static int name(fx_t *fx) {                  \
    return post_raw(fx, bytes, sizeof(bytes)); \
  }

POST_RAW_ROW_FN(post_trunc_array, trunc_array)
POST_RAW_ROW_FN(post_bad_byte, bad_byte)
POST_RAW_ROW_FN(post_trailing, trailing)
POST_RAW_ROW_FN(post_count_over, count_over)
POST_RAW_ROW_FN(post_port_ext, port_ext)
POST_RAW_ROW_FN(post_reserved_ext, reserved_ext)

static int post_empty(fx_t *fx) {
  return post_raw(fx, NULL, 0);
}

static int post_depth(fx_t *fx) {
  size_t len;
  unsigned char *bytes = nested(65, &len);
  int err = post_raw(fx, bytes, len);

  free(bytes);
  return err;
}

static int post_objects(fx_t *fx) {
  size_t len;
  unsigned char *bytes = many_objects(&len);
  int err = post_raw(fx, bytes, len);

  free(bytes);
  return err;
}

static int post_failed_pack(fx_t *fx) {
  uva_msg_t *msg = failed_pack_msg();
  int err = uva_port_post(&fx->a, msg);

  if (err != 0)
    uva_msg_free(msg);
  return err;
}

static const row_t body_rows[] = {
    {"uva_port_post", "empty body (nothing packed)", S_NONE, post_empty, UVA_ETRUNC},
    {"uva_port_post", "body: array of 2 with 1 element", S_NONE, post_trunc_array, UVA_ETRUNC},
    {"uva_port_post", "body: byte 0xc1", S_NONE, post_bad_byte, UVA_EBADBYTE},
    {"uva_port_post", "body: two objects", S_NONE, post_trailing, UVA_ETRAILING},
    {"uva_port_post", "body: 65 nested arrays", S_NONE, post_depth, UVA_EDEPTH},
    {"uva_port_post", "body: array header claiming 1 Mi + 1 elements", S_NONE, post_count_over, UVA_ECOUNT},
    {"uva_port_post", "body: port ext naming no attachment", S_NONE, post_port_ext, UVA_EBADEXT},
    {"uva_port_post", "body: ext of reserved type 120", S_NONE, post_reserved_ext, UVA_EBADEXT},
    {"uva_port_post", "body: 5 Mi objects", S_NONE, post_objects, UVA_EOBJECTS},
    {"uva_port_post", "a pack that could not grow the body", S_NONE, post_failed_pack, UV_ENOMEM},
};

const table_t message_table = TABLE("Messages", message_rows);
const table_t bytes_table = TABLE("Outside bytes", bytes_rows);
const table_t body_table = TABLE("Malformed bodies, posted", body_rows);
