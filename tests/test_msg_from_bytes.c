/* serialize/: messages from outside bytes, uva_msg_from_bytes(): one well-formed object within the limits
 * (size, depth, objects, container counts), refused with the code that says what is wrong, quickly, and
 * never naming attachments. One test per rule of include/uvactor/msg.h. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg_helpers.h"

/* ---- helpers ------------------------------------------------------------------------------------- */

/* uva_msg_from_bytes(), freeing the message on success; on error, checks that *msgp was left alone. */
static int from_bytes(const void *data, size_t len, const uva_msg_limits_t *limits) {
  uva_msg_t *msg = UNTOUCHED;
  int err = uva_msg_from_bytes(&msg, data, len, limits);

  if (err == 0) {
    ck_assert_ptr_ne(msg, UNTOUCHED);
    uva_msg_free(msg);
  } else {
    ck_assert_ptr_eq(msg, UNTOUCHED);
  }
  return err;
}

/* n containers of the one-element header byte `open` around a nil: 0x91 nests arrays, 0x81 maps (the
 * nil is each map's key, the next map its value). */
static char *nest(size_t n, unsigned char open, size_t *len) {
  size_t per = open == 0x81 ? 2 : 1;
  char *buf = malloc(n * per + 1);
  size_t i;

  ck_assert_ptr_nonnull(buf);
  for (i = 0; i < n; i++) {
    buf[i * per] = (char)open;
    if (per == 2)
      buf[i * per + 1] = (char)0xc0;
  }
  buf[n * per] = (char)0xc0;
  *len = n * per + 1;
  return buf;
}

/* ---- uva_msg_from_bytes -------------------------------------------------------------------------- */

START_TEST(test_from_bytes_matches_msgpack_unpacker) {
  msgpack_sbuffer inputs[3];
  size_t i;

  inputs[0] = complex_bytes();
  {
    /* An array of the complex map three times, and a map with container keys. */
    msgpack_packer pk;
    msgpack_sbuffer_init(&inputs[1]);
    msgpack_packer_init(&pk, &inputs[1], msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    for (i = 0; i < 3; i++)
      pack_complex(&pk);
    msgpack_sbuffer_init(&inputs[2]);
    msgpack_packer_init(&pk, &inputs[2], msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_nil(&pk);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_float(&pk, 3.0f);
    msgpack_pack_double(&pk, 4.0);
    msgpack_pack_map(&pk, 0);
    pack_complex(&pk);
  }
  for (i = 0; i < 3; i++) {
    msgpack_unpacked theirs;
    msgpack_object ours;
    uva_msg_t *msg;
    size_t off = 0;

    ck_assert_int_eq(uva_msg_from_bytes(&msg, inputs[i].data, inputs[i].size, NULL), 0);
    ours = view(msg);
    msgpack_unpacked_init(&theirs);
    ck_assert_int_eq(msgpack_unpack_next(&theirs, inputs[i].data, inputs[i].size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    ck_assert_uint_eq(off, inputs[i].size);
    ck_assert(msgpack_object_equal(ours, theirs.data));
    msgpack_unpacked_destroy(&theirs);
    uva_msg_free(msg);
    msgpack_sbuffer_destroy(&inputs[i]);
  }
}
END_TEST

/* The bytes stay the caller's: the message holds a copy, and its view points into that copy, so the
 * input may be overwritten and freed at once. */
START_TEST(test_from_bytes_copies_input) {
  msgpack_sbuffer sb = complex_bytes();
  char *input = xmalloc(sb.size);
  msgpack_unpacked theirs;
  msgpack_object o;
  uva_msg_t *msg;
  size_t off = 0;

  memcpy(input, sb.data, sb.size);
  ck_assert_int_eq(uva_msg_from_bytes(&msg, input, sb.size, NULL), 0);
  ck_assert_ptr_ne(uva_msg_data(msg), input);
  ck_assert_uint_eq(uva_msg_size(msg), sb.size);
  memset(input, 0xc1, sb.size);
  free(input); /* ASan and valgrind see any pointer the view kept into it */
  o = view(msg);
  assert_in_body(msg, o.via.map.ptr[0].key.via.str.ptr, 3);
  msgpack_unpacked_init(&theirs);
  ck_assert_int_eq(msgpack_unpack_next(&theirs, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
  ck_assert(msgpack_object_equal(o, theirs.data));
  msgpack_unpacked_destroy(&theirs);
  msgpack_sbuffer_destroy(&sb);
  uva_msg_free(msg);
}
END_TEST

START_TEST(test_from_bytes_every_prefix_truncated) {
  msgpack_sbuffer sb = complex_bytes();
  size_t cut;

  ck_assert_int_eq(from_bytes(sb.data, sb.size, NULL), 0);
  for (cut = 0; cut < sb.size; cut++) {
    char *copy = xmalloc(cut + 1); /* exactly cut bytes are valid: ASan catches a read past them */
    memcpy(copy, sb.data, cut);
    ck_assert_msg(from_bytes(copy, cut, NULL) == UVA_ETRUNC, "prefix of %zu bytes", cut);
    free(copy);
  }
  msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_from_bytes_bad_byte) {
  ck_assert_int_eq(from_bytes("\xc1", 1, NULL), UVA_EBADBYTE);
  ck_assert_int_eq(from_bytes("\x93\x01\xc1\x02", 4, NULL), UVA_EBADBYTE);
  ck_assert_int_eq(from_bytes("\x81\xc1\x00", 3, NULL), UVA_EBADBYTE);
}
END_TEST

/* A header may claim 4G elements: refused by the count limit, or (with the limit lifted) because the
 * bytes cannot hold them, and in both cases at once, without sizing anything from the claim. */
static void assert_fast_error(const char *bytes, size_t len, const uva_msg_limits_t *limits, int want) {
  uint64_t start = uv_hrtime();

  ck_assert_int_eq(from_bytes(bytes, len, limits), want);
  ck_assert_uint_lt(uv_hrtime() - start, 200 * 1000 * 1000); /* 200 ms, even under valgrind */
}

START_TEST(test_huge_count_default_limits) {
  assert_fast_error("\xdd\xff\xff\xff\xff\xc0", 6, NULL, UVA_ECOUNT);
  assert_fast_error("\xdf\xff\xff\xff\xff\xc0\xc0", 7, NULL, UVA_ECOUNT);
}
END_TEST

START_TEST(test_huge_count_wide_limits) {
  uva_msg_limits_t wide = {.max_container = UINT32_MAX};

  assert_fast_error("\xdd\xff\xff\xff\xff\xc0", 6, &wide, UVA_ETRUNC);
  assert_fast_error("\xdf\xff\xff\xff\xff\xc0\xc0", 7, &wide, UVA_ETRUNC);
  /* Payload lengths are never trusted either. */
  assert_fast_error(
      "\xdb\xff\xff\xff\xff"
      "abc",
      8, &wide, UVA_ETRUNC);
  assert_fast_error(
      "\xc6\xff\xff\xff\xff"
      "abc",
      8, &wide, UVA_ETRUNC);
  assert_fast_error(
      "\xc9\xff\xff\xff\xff\x05"
      "abc",
      9, &wide, UVA_ETRUNC);
}
END_TEST

START_TEST(test_deep_nesting_refused) {
  uva_msg_limits_t deepest = {.max_depth = UVA_MSG_MAX_DEPTH};
  size_t len;
  char *arrays = nest(10000, 0x91, &len);
  char *maps;

  ck_assert_int_eq(from_bytes(arrays, len, NULL), UVA_EDEPTH);
  ck_assert_int_eq(from_bytes(arrays, len, &deepest), UVA_EDEPTH);
  maps = nest(10000, 0x81, &len);
  ck_assert_int_eq(from_bytes(maps, len, NULL), UVA_EDEPTH);
  ck_assert_int_eq(from_bytes(maps, len, &deepest), UVA_EDEPTH);
  free(arrays);
  free(maps);
}
END_TEST

/* Depth exactly at the limit passes, one more fails: for the default, a small and the largest limit. */
static void assert_depth_limit(unsigned int limit, const uva_msg_limits_t *limits) {
  size_t len;
  char *ok = nest(limit, 0x91, &len);
  char *over;

  ck_assert_msg(from_bytes(ok, len, limits) == 0, "depth %u, limit %u", limit, limit);
  free(ok);
  over = nest(limit + 1, 0x91, &len);
  ck_assert_int_eq(from_bytes(over, len, limits), UVA_EDEPTH);
  free(over);
  ok = nest(limit, 0x81, &len);
  ck_assert_int_eq(from_bytes(ok, len, limits), 0);
  free(ok);
  over = nest(limit + 1, 0x81, &len);
  ck_assert_int_eq(from_bytes(over, len, limits), UVA_EDEPTH);
  free(over);
}

START_TEST(test_depth_limit_exact) {
  uva_msg_limits_t three = {.max_depth = 3}, deepest = {.max_depth = UVA_MSG_MAX_DEPTH};
  uva_msg_limits_t one = {.max_depth = 1};

  assert_depth_limit(64, NULL);
  assert_depth_limit(3, &three);
  assert_depth_limit(UVA_MSG_MAX_DEPTH, &deepest);
  /* A scalar is depth 0. */
  ck_assert_int_eq(from_bytes("\xc0", 1, &one), 0);
}
END_TEST

/* depth levels of arrays (each [inner, depth]) or maps (each {depth: inner}) around a string. */
static void pack_nested(msgpack_packer *pk, unsigned int depth, int map) {
  if (depth == 0) {
    msgpack_pack_str(pk, 4);
    msgpack_pack_str_body(pk, "leaf", 4);
  } else if (map) {
    msgpack_pack_map(pk, 1);
    msgpack_pack_uint32(pk, depth);
    pack_nested(pk, depth - 1, map);
  } else {
    msgpack_pack_array(pk, 2);
    pack_nested(pk, depth - 1, map);
    msgpack_pack_uint32(pk, depth);
  }
}

/* The walks that check and view a body keep room for a few open levels and walk a deeper body again with
 * room for all (decode.c): every depth around that switch, arrays (whose walk climbs back past it to a
 * sibling) and maps, is accepted, refused one level past a limit, and viewed as msgpack-c reads it. The
 * messages are all alive before the first is viewed, so that none is a recycled object that still holds an
 * earlier one's view of the same bytes. */
#define EVERY_DEPTH_MAX 20

START_TEST(test_views_at_every_depth) {
  msgpack_sbuffer sb[EVERY_DEPTH_MAX + 1][2];
  uva_msg_t *msgs[EVERY_DEPTH_MAX + 1][2];
  unsigned int depth;
  int map;

  for (depth = 0; depth <= EVERY_DEPTH_MAX; depth++) {
    for (map = 0; map <= 1; map++) {
      uva_msg_limits_t limit = {.max_depth = depth}, under = {.max_depth = depth - 1};
      msgpack_packer pk;

      msgpack_sbuffer_init(&sb[depth][map]);
      msgpack_packer_init(&pk, &sb[depth][map], msgpack_sbuffer_write);
      pack_nested(&pk, depth, map);
      if (depth > 1)
        ck_assert_int_eq(from_bytes(sb[depth][map].data, sb[depth][map].size, &under), UVA_EDEPTH);
      if (depth > 0)
        ck_assert_int_eq(from_bytes(sb[depth][map].data, sb[depth][map].size, &limit), 0);
      ck_assert_int_eq(uva_msg_from_bytes(&msgs[depth][map], sb[depth][map].data, sb[depth][map].size, NULL),
                       0);
    }
  }
  for (depth = 0; depth <= EVERY_DEPTH_MAX; depth++) {
    for (map = 0; map <= 1; map++) {
      msgpack_unpacked theirs;
      size_t off = 0;

      msgpack_unpacked_init(&theirs);
      ck_assert_int_eq(msgpack_unpack_next(&theirs, sb[depth][map].data, sb[depth][map].size, &off),
                       MSGPACK_UNPACK_SUCCESS);
      ck_assert_msg(msgpack_object_equal(view(msgs[depth][map]), theirs.data), "depth %u, %s", depth,
                    map ? "maps" : "arrays");
      msgpack_unpacked_destroy(&theirs);
      uva_msg_free(msgs[depth][map]);
      msgpack_sbuffer_destroy(&sb[depth][map]);
    }
  }
}
END_TEST

/* A message accepted with wider limits than the defaults can be read to the bottom. */
START_TEST(test_deepest_message_view) {
  uva_msg_limits_t deepest = {.max_depth = UVA_MSG_MAX_DEPTH};
  size_t len, depth;
  char *bytes = nest(UVA_MSG_MAX_DEPTH, 0x91, &len);
  msgpack_object o;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_msg_from_bytes(&msg, bytes, len, &deepest), 0);
  o = view(msg);
  for (depth = 0; depth < UVA_MSG_MAX_DEPTH; depth++) {
    ck_assert_int_eq(o.type, MSGPACK_OBJECT_ARRAY);
    ck_assert_uint_eq(o.via.array.size, 1);
    o = o.via.array.ptr[0];
  }
  ck_assert_int_eq(o.type, MSGPACK_OBJECT_NIL);
  uva_msg_free(msg);
  free(bytes);
}
END_TEST

/* uva_msg_validate(NULL) checks the defaults, also for a message that came in with wider limits: posting
 * it must not get past the check the receiver relies on. */
START_TEST(test_validate_defaults_after_wide_from_bytes) {
  uva_msg_limits_t deepest = {.max_depth = UVA_MSG_MAX_DEPTH};
  size_t len;
  char *bytes = nest(100, 0x91, &len);
  uva_msg_t *msg;

  ck_assert_int_eq(uva_msg_from_bytes(&msg, bytes, len, &deepest), 0);
  ck_assert_int_eq(uva_msg_validate(msg, &deepest), 0);
  ck_assert_int_eq(uva_msg_validate(msg, NULL), UVA_EDEPTH);
  uva_msg_free(msg);
  free(bytes);
}
END_TEST

START_TEST(test_max_depth_out_of_range) {
  uva_msg_limits_t bad = {.max_depth = UVA_MSG_MAX_DEPTH + 1};
  uva_msg_t *msg = new_msg();

  ck_assert_int_eq(from_bytes("\xc0", 1, &bad), UV_EINVAL);
  msgpack_pack_nil(uva_msg_packer(msg));
  ck_assert_int_eq(uva_msg_validate(msg, &bad), UV_EINVAL);
  ck_assert_int_eq(uva_msg_validate(msg, NULL), 0);
  uva_msg_free(msg);
}
END_TEST

START_TEST(test_from_bytes_trailing) {
  ck_assert_int_eq(from_bytes("\xc0\xc0", 2, NULL), UVA_ETRAILING);
  ck_assert_int_eq(from_bytes("\x91\x01\x02", 3, NULL), UVA_ETRAILING);
  ck_assert_int_eq(from_bytes("\x80\xc1", 2, NULL), UVA_ETRAILING); /* whatever the extra bytes are */
}
END_TEST

START_TEST(test_from_bytes_payload_past_end) {
  ck_assert_int_eq(from_bytes("\xdb\x00\x00\x00\x0a"
                              "abcde",
                              10, NULL),
                   UVA_ETRUNC);
  ck_assert_int_eq(from_bytes("\xdb\x00\x00\x00\x05"
                              "abcde",
                              10, NULL),
                   0);
  ck_assert_int_eq(from_bytes("\xd9\x06"
                              "abcde",
                              7, NULL),
                   UVA_ETRUNC);
  ck_assert_int_eq(from_bytes("\xa6"
                              "abcde",
                              6, NULL),
                   UVA_ETRUNC);
  ck_assert_int_eq(from_bytes("\xd8\x05"
                              "abcdefghijklmno",
                              17, NULL),
                   UVA_ETRUNC);                                      /* fixext 16 */
  ck_assert_int_eq(from_bytes("\xdb\x00\x00", 3, NULL), UVA_ETRUNC); /* header cut */
}
END_TEST

START_TEST(test_max_size) {
  uva_msg_limits_t four = {.max_size = 4};

  ck_assert_int_eq(from_bytes("\xa3"
                              "abc",
                              4, &four),
                   0);
  ck_assert_int_eq(from_bytes("\xa4"
                              "abcd",
                              5, &four),
                   UV_E2BIG);
}
END_TEST

/* The default max_size, 64 MiB: exactly that passes, one byte more is refused before being read. */
START_TEST(test_max_size_default) {
  size_t max = (size_t)64 << 20;
  char *bytes = calloc(1, max + 1);

  ck_assert_ptr_nonnull(bytes);
  memcpy(bytes, "\xc6\x03\xff\xff\xfb", 5); /* bin32 of max - 5 bytes */
  ck_assert_int_eq(from_bytes(bytes, max, NULL), 0);
  ck_assert_int_eq(from_bytes(bytes, max + 1, NULL), UV_E2BIG);
  free(bytes);
}
END_TEST

/* Objects are counted with containers included: [1, 2, 3] is four, {1: 2} is three. */
START_TEST(test_max_objects) {
  uva_msg_limits_t four = {.max_objects = 4}, three = {.max_objects = 3};

  ck_assert_int_eq(from_bytes("\x93\x01\x02\x03", 4, &four), 0);
  ck_assert_int_eq(from_bytes("\x93\x01\x02\x03", 4, &three), UVA_EOBJECTS);
  ck_assert_int_eq(from_bytes("\x81\x01\x02", 3, &three), 0);
  ck_assert_int_eq(from_bytes("\x82\x01\x02\x03\x04", 5, &four), UVA_EOBJECTS);
}
END_TEST

/* The default max_objects, 4 Mi: [a1, a2, a3, a4], arrays of nils of 1 Mi, 1 Mi, 1 Mi and `last`. */
static char *four_arrays(size_t last, size_t *len) {
  const size_t mi = (size_t)1 << 20;
  char *bytes = xmalloc(1 + 4 * 5 + 3 * mi + last);
  size_t i, p = 0;

  bytes[p++] = (char)0x94;
  for (i = 0; i < 4; i++) {
    size_t n = i < 3 ? mi : last;
    bytes[p++] = (char)0xdd;
    bytes[p++] = (char)(n >> 24);
    bytes[p++] = (char)(n >> 16);
    bytes[p++] = (char)(n >> 8);
    bytes[p++] = (char)n;
    memset(bytes + p, 0xc0, n);
    p += n;
  }
  *len = p;
  return bytes;
}

START_TEST(test_max_objects_default) {
  const size_t max = (size_t)4 << 20, mi = (size_t)1 << 20;
  const size_t last = max - 5 - 3 * mi; /* the root and four arrays are objects too */
  size_t len;
  char *bytes = four_arrays(last, &len);

  ck_assert_int_eq(from_bytes(bytes, len, NULL), 0);
  free(bytes);
  bytes = four_arrays(last + 1, &len);
  ck_assert_int_eq(from_bytes(bytes, len, NULL), UVA_EOBJECTS);
  free(bytes);
}
END_TEST

START_TEST(test_max_container_array) {
  uva_msg_limits_t three = {.max_container = 3}, two = {.max_container = 2};

  ck_assert_int_eq(from_bytes("\x93\x01\x02\x03", 4, &three), 0);
  ck_assert_int_eq(from_bytes("\x93\x01\x02\x03", 4, &two), UVA_ECOUNT);
  ck_assert_int_eq(from_bytes("\x91\x93\x01\x02\x03", 5, &two), UVA_ECOUNT); /* nested too */
}
END_TEST

/* A map's count is its pairs: three pairs pass a limit of three although they are six objects. */
START_TEST(test_max_container_map) {
  uva_msg_limits_t three = {.max_container = 3}, two = {.max_container = 2};

  ck_assert_int_eq(from_bytes("\x83\x01\x02\x03\x04\x05\x06", 7, &three), 0);
  ck_assert_int_eq(from_bytes("\x83\x01\x02\x03\x04\x05\x06", 7, &two), UVA_ECOUNT);
}
END_TEST

/* The default max_container, 1 Mi elements. */
START_TEST(test_max_container_default) {
  const size_t mi = (size_t)1 << 20;
  char *bytes = xmalloc(5 + mi + 1);

  memcpy(bytes, "\xdd\x00\x10\x00\x00", 5);
  memset(bytes + 5, 0xc0, mi + 1);
  ck_assert_int_eq(from_bytes(bytes, 5 + mi, NULL), 0);
  bytes[4] = 1; /* 1 Mi + 1 */
  ck_assert_int_eq(from_bytes(bytes, 5 + mi + 1, NULL), UVA_ECOUNT);
  free(bytes);
}
END_TEST

/* Zero fields take their defaults: an all-zero limits struct behaves like NULL. */
START_TEST(test_zero_limits_are_defaults) {
  uva_msg_limits_t zero;
  size_t len;
  char *ok = nest(64, 0x91, &len);
  char *over;

  memset(&zero, 0, sizeof(zero));
  ck_assert_int_eq(from_bytes(ok, len, &zero), 0);
  free(ok);
  over = nest(65, 0x91, &len);
  ck_assert_int_eq(from_bytes(over, len, &zero), UVA_EDEPTH);
  free(over);
}
END_TEST

/* Outside bytes cannot name attachments: every reserved ext type is refused, whatever its payload. */
START_TEST(test_from_bytes_reserved_ext) {
  int type;

  for (type = UVA_EXT_RESERVED_MIN; type <= 127; type++) {
    char bytes[7] = {(char)0x91, (char)0xd6, (char)type, 0, 0, 0, 0};
    ck_assert_msg(from_bytes(bytes, sizeof(bytes), NULL) == UVA_EBADEXT, "ext type %d", type);
  }
  ck_assert_int_eq(from_bytes("\xd4\x7e\x00", 3, NULL), UVA_EBADEXT);
}
END_TEST

/* The bytes of a real message that carries a moved buffer are refused from outside too. */
START_TEST(test_from_bytes_refuses_message_with_buffer) {
  uva_msg_t *msg = new_msg();

  ck_assert_int_eq(uva_msg_pack_buffer(msg, xmalloc(16), 16, NULL), 0);
  ck_assert_int_eq(uva_msg_validate(msg, NULL), 0);
  ck_assert_int_eq(from_bytes(uva_msg_data(msg), uva_msg_size(msg), NULL), UVA_EBADEXT);
  uva_msg_free(msg);
}
END_TEST

START_TEST(test_from_bytes_application_ext) {
  static const int8_t types[] = {5, 0, 119, -1, -128};
  size_t i;

  for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    char bytes[6] = {(char)0xd6, (char)types[i], 'a', 'b', 'c', 'd'};
    uva_msg_t *msg;
    msgpack_object o;

    ck_assert_int_eq(uva_msg_from_bytes(&msg, bytes, sizeof(bytes), NULL), 0);
    o = view(msg);
    ck_assert_int_eq(o.type, MSGPACK_OBJECT_EXT);
    ck_assert_int_eq(o.via.ext.type, types[i]);
    ck_assert_uint_eq(o.via.ext.size, 4);
    assert_in_body(msg, o.via.ext.ptr, 4);
    ck_assert_int_eq(memcmp(o.via.ext.ptr, "abcd", 4), 0);
    uva_msg_free(msg);
  }
}
END_TEST

/* No bytes at all is an input that ends before its object. */
START_TEST(test_from_bytes_empty) {
  static const char byte = (char)0xc0;

  ck_assert_int_eq(from_bytes(&byte, 0, NULL), UVA_ETRUNC);
  ck_assert_int_eq(from_bytes(NULL, 0, NULL), UVA_ETRUNC);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("from_bytes", 60, NULL, NULL),
      TEST(test_from_bytes_matches_msgpack_unpacker),
      TEST(test_from_bytes_copies_input),
      TEST(test_from_bytes_every_prefix_truncated),
      TEST(test_from_bytes_bad_byte),
      TEST(test_huge_count_default_limits),
      TEST(test_huge_count_wide_limits),
      TEST(test_deep_nesting_refused),
      TEST(test_depth_limit_exact),
      TEST(test_deepest_message_view),
      TEST(test_views_at_every_depth),
      TEST(test_validate_defaults_after_wide_from_bytes),
      TEST(test_max_depth_out_of_range),
      TEST(test_from_bytes_trailing),
      TEST(test_from_bytes_payload_past_end),
      TEST(test_max_size),
      TEST(test_max_size_default),
      TEST(test_max_objects),
      TEST(test_max_objects_default),
      TEST(test_max_container_array),
      TEST(test_max_container_map),
      TEST(test_max_container_default),
      TEST(test_zero_limits_are_defaults),
      TEST(test_from_bytes_reserved_ext),
      TEST(test_from_bytes_refuses_message_with_buffer),
      TEST(test_from_bytes_application_ext),
      TEST(test_from_bytes_empty),
  };

  return suite_of_rows("msg_from_bytes", rows, sizeof(rows) / sizeof(rows[0]));
}
