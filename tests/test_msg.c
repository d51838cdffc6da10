/* serialize/: building, validating, reading and freeing messages: every msgpack type through the packer
 * and the view, the view's lifetime, uva_msg_validate(), NULL arguments.
 *
 * One test per rule of include/uvactor/msg.h; outside bytes are test_msg_from_bytes.c's, moved and shared
 * buffers test_msg_buffers.c's, error codes and the version test_errors.c's. Memory rules (freed exactly
 * once, no leak) are asserted with counting free functions where the API lets us see them, and otherwise by
 * running this suite under ASan and valgrind. */
#include <check.h>
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counting_free.h"
#include "msg_helpers.h"

/* ---- every msgpack type round-trips through the packer and the view ------------------------------ */

START_TEST(test_nil_roundtrip) {
  uva_msg_t *msg = new_msg();
  msgpack_object o;

  ck_assert_int_eq(msgpack_pack_nil(uva_msg_packer(msg)), 0);
  o = view(msg);
  ck_assert_int_eq(o.type, MSGPACK_OBJECT_NIL);
  ck_assert_uint_eq(uva_msg_size(msg), 1);
  uva_msg_free(msg);
}
END_TEST

START_TEST(test_bool_roundtrip) {
  uva_msg_t *msg = new_msg();
  msgpack_object o;

  msgpack_pack_array(uva_msg_packer(msg), 2);
  msgpack_pack_true(uva_msg_packer(msg));
  msgpack_pack_false(uva_msg_packer(msg));
  o = view(msg);
  ck_assert_int_eq(o.via.array.ptr[0].type, MSGPACK_OBJECT_BOOLEAN);
  ck_assert(o.via.array.ptr[0].via.boolean);
  ck_assert_int_eq(o.via.array.ptr[1].type, MSGPACK_OBJECT_BOOLEAN);
  ck_assert(!o.via.array.ptr[1].via.boolean);
  uva_msg_free(msg);
}
END_TEST

/* Each value sits at a boundary where the packer switches header width; the first byte proves which
 * width was exercised. */
START_TEST(test_uint_width_boundaries) {
  static const struct {
    uint64_t v;
    unsigned char head;
  } cases[] = {
      {0, 0x00},          {127, 0x7f},        {128, 0xcc},
      {255, 0xcc},        {256, 0xcd},        {65535, 0xcd},
      {65536, 0xce},      {UINT32_MAX, 0xce}, {(uint64_t)UINT32_MAX + 1, 0xcf},
      {UINT64_MAX, 0xcf},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uva_msg_t *msg = new_msg();
    msgpack_object o;

    ck_assert_int_eq(msgpack_pack_uint64(uva_msg_packer(msg), cases[i].v), 0);
    ck_assert_uint_eq((unsigned char)uva_msg_data(msg)[0], cases[i].head);
    o = view(msg);
    ck_assert_int_eq(o.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    ck_assert_uint_eq(o.via.u64, cases[i].v);
    uva_msg_free(msg);
  }
}
END_TEST

START_TEST(test_negative_int_width_boundaries) {
  static const struct {
    int64_t v;
    unsigned char head;
  } cases[] = {
      {-1, 0xff},        {-32, 0xe0},       {-33, 0xd0},
      {-128, 0xd0},      {-129, 0xd1},      {-32768, 0xd1},
      {-32769, 0xd2},    {INT32_MIN, 0xd2}, {(int64_t)INT32_MIN - 1, 0xd3},
      {INT64_MIN, 0xd3},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uva_msg_t *msg = new_msg();
    msgpack_object o;

    ck_assert_int_eq(msgpack_pack_int64(uva_msg_packer(msg), cases[i].v), 0);
    ck_assert_uint_eq((unsigned char)uva_msg_data(msg)[0], cases[i].head);
    o = view(msg);
    ck_assert_int_eq(o.type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    ck_assert_int_eq(o.via.i64, cases[i].v);
    uva_msg_free(msg);
  }
}
END_TEST

/* Like msgpack-c, a non-negative value in a signed format reads as POSITIVE_INTEGER, and a signed
 * format is sign-extended from its own width. */
START_TEST(test_signed_formats_sign_extend) {
  static const struct {
    const char *bytes;
    size_t len;
    msgpack_object_type type;
    int64_t v;
  } cases[] = {
      {"\xd0\x05", 2, MSGPACK_OBJECT_POSITIVE_INTEGER, 5},
      {"\xd1\x00\x05", 3, MSGPACK_OBJECT_POSITIVE_INTEGER, 5},
      {"\xd2\x00\x00\x00\x05", 5, MSGPACK_OBJECT_POSITIVE_INTEGER, 5},
      {"\xd3\x00\x00\x00\x00\x00\x00\x00\x05", 9, MSGPACK_OBJECT_POSITIVE_INTEGER, 5},
      {"\xd0\xff", 2, MSGPACK_OBJECT_NEGATIVE_INTEGER, -1},
      {"\xd1\x80\x00", 3, MSGPACK_OBJECT_NEGATIVE_INTEGER, INT16_MIN},
      {"\xd2\xff\xff\xff\xfe", 5, MSGPACK_OBJECT_NEGATIVE_INTEGER, -2},
      {"\xd3\xff\xff\xff\xff\xff\xff\xff\xfd", 9, MSGPACK_OBJECT_NEGATIVE_INTEGER, -3},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uva_msg_t *msg;
    msgpack_object o;

    ck_assert_int_eq(uva_msg_from_bytes(&msg, cases[i].bytes, cases[i].len, NULL), 0);
    o = view(msg);
    ck_assert_int_eq(o.type, cases[i].type);
    if (cases[i].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
      ck_assert_uint_eq(o.via.u64, (uint64_t)cases[i].v);
    else
      ck_assert_int_eq(o.via.i64, cases[i].v);
    uva_msg_free(msg);
  }
}
END_TEST

START_TEST(test_float32_roundtrip) {
  static const float values[] = {1.5f, 0.1f, -FLT_MAX, FLT_MIN};
  size_t i;

  for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
    uva_msg_t *msg = new_msg();
    msgpack_object o;

    ck_assert_int_eq(msgpack_pack_float(uva_msg_packer(msg), values[i]), 0);
    ck_assert_uint_eq((unsigned char)uva_msg_data(msg)[0], 0xca);
    o = view(msg);
    ck_assert_int_eq(o.type, MSGPACK_OBJECT_FLOAT32);
    ck_assert(o.via.f64 == (double)values[i]);
    uva_msg_free(msg);
  }
}
END_TEST

START_TEST(test_float64_roundtrip) {
  static const double values[] = {-2.25, 0.1, DBL_MAX, -DBL_MIN, 0.0};
  size_t i;

  for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
    uva_msg_t *msg = new_msg();
    msgpack_object o;

    ck_assert_int_eq(msgpack_pack_double(uva_msg_packer(msg), values[i]), 0);
    ck_assert_uint_eq((unsigned char)uva_msg_data(msg)[0], 0xcb);
    o = view(msg);
    ck_assert_int_eq(o.type, MSGPACK_OBJECT_FLOAT64);
    ck_assert(o.via.f64 == values[i]);
    uva_msg_free(msg);
  }
}
END_TEST

/* Payload sizes at every header-width boundary, with the header byte the packer chose for each. */
static const size_t payload_sizes[] = {0, 31, 32, 255, 256, 65535, 65536};

/* A payload whose bytes depend on their position, so a pointer off by any amount is caught. */
static char *pattern(size_t n) {
  char *p = xmalloc(n + 1);
  size_t i;

  for (i = 0; i < n; i++)
    p[i] = (char)(i * 7 + 3);
  return p;
}

START_TEST(test_str_header_widths) {
  static const unsigned char heads[] = {0xa0, 0xbf, 0xd9, 0xd9, 0xda, 0xda, 0xdb};
  size_t i;

  for (i = 0; i < sizeof(payload_sizes) / sizeof(payload_sizes[0]); i++) {
    size_t n = payload_sizes[i];
    char *body = pattern(n);
    uva_msg_t *msg = new_msg();
    msgpack_object o;

    ck_assert_int_eq(msgpack_pack_str_with_body(uva_msg_packer(msg), body, n), 0);
    ck_assert_uint_eq((unsigned char)uva_msg_data(msg)[0], heads[i]);
    o = view(msg);
    ck_assert_int_eq(o.type, MSGPACK_OBJECT_STR);
    ck_assert_uint_eq(o.via.str.size, n);
    assert_in_body(msg, o.via.str.ptr, n);
    ck_assert_int_eq(memcmp(o.via.str.ptr, body, n), 0);
    uva_msg_free(msg);
    free(body);
  }
}
END_TEST

START_TEST(test_bin_header_widths) {
  static const unsigned char heads[] = {0xc4, 0xc4, 0xc4, 0xc4, 0xc5, 0xc5, 0xc6};
  size_t i;

  for (i = 0; i < sizeof(payload_sizes) / sizeof(payload_sizes[0]); i++) {
    size_t n = payload_sizes[i];
    char *body = pattern(n);
    uva_msg_t *msg = new_msg();
    msgpack_object o;

    ck_assert_int_eq(msgpack_pack_bin_with_body(uva_msg_packer(msg), body, n), 0);
    ck_assert_uint_eq((unsigned char)uva_msg_data(msg)[0], heads[i]);
    o = view(msg);
    ck_assert_int_eq(o.type, MSGPACK_OBJECT_BIN);
    ck_assert_uint_eq(o.via.bin.size, n);
    assert_in_body(msg, o.via.bin.ptr, n);
    ck_assert_int_eq(memcmp(o.via.bin.ptr, body, n), 0);
    uva_msg_free(msg);
    free(body);
  }
}
END_TEST

/* ext adds the fixext sizes (1, 2, 4, 8, 16) to the width boundaries, and a negative type. */
START_TEST(test_ext_header_widths) {
  static const struct {
    size_t size;
    unsigned char head;
  } cases[] = {
      {0, 0xc7},  {1, 0xd4},  {2, 0xd5},   {4, 0xd6},   {8, 0xd7},     {16, 0xd8},
      {31, 0xc7}, {32, 0xc7}, {255, 0xc7}, {256, 0xc8}, {65535, 0xc8}, {65536, 0xc9},
  };
  static const int8_t types[] = {5, -7};
  size_t i, t;

  for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      size_t n = cases[i].size;
      char *body = pattern(n);
      uva_msg_t *msg = new_msg();
      msgpack_object o;

      ck_assert_int_eq(msgpack_pack_ext_with_body(uva_msg_packer(msg), body, n, types[t]), 0);
      ck_assert_uint_eq((unsigned char)uva_msg_data(msg)[0], cases[i].head);
      o = view(msg);
      ck_assert_int_eq(o.type, MSGPACK_OBJECT_EXT);
      ck_assert_int_eq(o.via.ext.type, types[t]);
      ck_assert_uint_eq(o.via.ext.size, n);
      assert_in_body(msg, o.via.ext.ptr, n);
      ck_assert_int_eq(memcmp(o.via.ext.ptr, body, n), 0);
      uva_msg_free(msg);
      free(body);
    }
  }
}
END_TEST

START_TEST(test_array_roundtrip) {
  uva_msg_t *msg = new_msg();
  msgpack_packer *pk = uva_msg_packer(msg);
  msgpack_object o, inner;
  uint32_t i;

  /* [[], [0..15] (array16), [[7]]] */
  msgpack_pack_array(pk, 3);
  msgpack_pack_array(pk, 0);
  msgpack_pack_array(pk, 16);
  for (i = 0; i < 16; i++)
    msgpack_pack_uint32(pk, i);
  msgpack_pack_array(pk, 1);
  msgpack_pack_array(pk, 1);
  msgpack_pack_uint32(pk, 7);
  ck_assert_uint_eq((unsigned char)uva_msg_data(msg)[2], 0xdc);
  o = view(msg);
  ck_assert_int_eq(o.type, MSGPACK_OBJECT_ARRAY);
  ck_assert_uint_eq(o.via.array.size, 3);
  ck_assert_int_eq(o.via.array.ptr[0].type, MSGPACK_OBJECT_ARRAY);
  ck_assert_uint_eq(o.via.array.ptr[0].via.array.size, 0);
  inner = o.via.array.ptr[1];
  ck_assert_uint_eq(inner.via.array.size, 16);
  for (i = 0; i < 16; i++)
    ck_assert_uint_eq(inner.via.array.ptr[i].via.u64, i);
  inner = o.via.array.ptr[2];
  ck_assert_uint_eq(inner.via.array.size, 1);
  ck_assert_uint_eq(inner.via.array.ptr[0].via.array.size, 1);
  ck_assert_uint_eq(inner.via.array.ptr[0].via.array.ptr[0].via.u64, 7);
  uva_msg_free(msg);
}
END_TEST

/* A map's pairs are msgpack_object_kv: key and value side by side, in packing order. */
START_TEST(test_map_kv_layout) {
  uva_msg_t *msg = new_msg();
  msgpack_packer *pk = uva_msg_packer(msg);
  msgpack_object o;
  char key[8];
  uint32_t i;

  /* {"k0": 0, ..., "k15": 15} (map16), then {} and {"in": {"x": [1]}} nested in a map. */
  msgpack_pack_map(pk, 3);
  msgpack_pack_str_with_body(pk, "big", 3);
  msgpack_pack_map(pk, 16);
  for (i = 0; i < 16; i++) {
    int n = snprintf(key, sizeof(key), "k%u", i);
    msgpack_pack_str_with_body(pk, key, (size_t)n);
    msgpack_pack_uint32(pk, i);
  }
  msgpack_pack_str_with_body(pk, "empty", 5);
  msgpack_pack_map(pk, 0);
  msgpack_pack_str_with_body(pk, "in", 2);
  msgpack_pack_map(pk, 1);
  msgpack_pack_str_with_body(pk, "x", 1);
  msgpack_pack_array(pk, 1);
  msgpack_pack_uint32(pk, 1);
  o = view(msg);
  ck_assert_int_eq(o.type, MSGPACK_OBJECT_MAP);
  ck_assert_uint_eq(o.via.map.size, 3);
  ck_assert_int_eq(memcmp(o.via.map.ptr[0].key.via.str.ptr, "big", 3), 0);
  {
    msgpack_object big = o.via.map.ptr[0].val;
    ck_assert_int_eq(big.type, MSGPACK_OBJECT_MAP);
    ck_assert_uint_eq(big.via.map.size, 16);
    for (i = 0; i < 16; i++) {
      int n = snprintf(key, sizeof(key), "k%u", i);
      ck_assert_ptr_eq(&big.via.map.ptr[i].val, &big.via.map.ptr[i].key + 1);
      ck_assert_int_eq(big.via.map.ptr[i].key.type, MSGPACK_OBJECT_STR);
      ck_assert_uint_eq(big.via.map.ptr[i].key.via.str.size, (uint32_t)n);
      ck_assert_int_eq(memcmp(big.via.map.ptr[i].key.via.str.ptr, key, (size_t)n), 0);
      ck_assert_uint_eq(big.via.map.ptr[i].val.via.u64, i);
    }
  }
  ck_assert_int_eq(o.via.map.ptr[1].val.type, MSGPACK_OBJECT_MAP);
  ck_assert_uint_eq(o.via.map.ptr[1].val.via.map.size, 0);
  {
    msgpack_object in = o.via.map.ptr[2].val;
    ck_assert_uint_eq(in.via.map.size, 1);
    ck_assert_int_eq(in.via.map.ptr[0].key.via.str.ptr[0], 'x');
    ck_assert_uint_eq(in.via.map.ptr[0].val.via.array.ptr[0].via.u64, 1);
  }
  uva_msg_free(msg);
}
END_TEST

START_TEST(test_small_message_view) {
  uva_msg_t *msg = new_msg();
  msgpack_object o;

  msgpack_pack_array(uva_msg_packer(msg), 2);
  msgpack_pack_int(uva_msg_packer(msg), -5);
  msgpack_pack_str_with_body(uva_msg_packer(msg), "hi", 2);
  o = view(msg);
  ck_assert_uint_eq(o.via.array.size, 2);
  ck_assert_int_eq(o.via.array.ptr[0].via.i64, -5);
  ck_assert_uint_eq(o.via.array.ptr[1].via.str.size, 2);
  assert_in_body(msg, o.via.array.ptr[1].via.str.ptr, 2);
  uva_msg_free(msg);
}
END_TEST

START_TEST(test_large_array_view) {
  enum { N = 100000 };
  uva_msg_t *msg = new_msg();
  msgpack_object o;
  uint32_t i;

  msgpack_pack_array(uva_msg_packer(msg), N);
  for (i = 0; i < N; i++)
    ck_assert_int_eq(msgpack_pack_uint32(uva_msg_packer(msg), i * 3), 0);
  o = view(msg);
  ck_assert_uint_eq(o.via.array.size, N);
  for (i = 0; i < N; i++) {
    ck_assert_int_eq(o.via.array.ptr[i].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    ck_assert_uint_eq(o.via.array.ptr[i].via.u64, (uint64_t)i * 3);
  }
  uva_msg_free(msg);
}
END_TEST

/* str and bin point into the message's own body, whatever the body's size. */
START_TEST(test_payloads_point_into_body) {
  uva_msg_t *msg = new_msg();
  msgpack_sbuffer sb = complex_bytes();
  msgpack_object o, strs;

  msgpack_pack_array(uva_msg_packer(msg), 2);
  pack_complex(uva_msg_packer(msg));
  msgpack_pack_bin_with_body(uva_msg_packer(msg), sb.data, sb.size);
  o = view(msg);
  strs = o.via.array.ptr[0].via.map.ptr[4].val;
  ck_assert_uint_eq(strs.via.array.size, 3);
  assert_in_body(msg, strs.via.array.ptr[1].via.str.ptr, 40);
  assert_in_body(msg, strs.via.array.ptr[2].via.str.ptr, 300);
  assert_in_body(msg, o.via.array.ptr[0].via.map.ptr[5].val.via.bin.ptr, 3);
  assert_in_body(msg, o.via.array.ptr[1].via.bin.ptr, sb.size);
  msgpack_sbuffer_destroy(&sb);
  uva_msg_free(msg);
}
END_TEST

/* Bodies past the inline buffer, small (pooled by size class) and big (kept), are reused after a free
 * (recycle.c): each message still holds exactly what was packed into it, whatever an earlier one left in
 * the block, and a reused body grows like a fresh one. */
START_TEST(test_bodies_reused) {
  static const size_t sizes[] = {
      70, 129, 300, 1000, 1500, 2047, 4096, 5000, 300, (64 << 10) + 1, 200 << 10, 1 << 20, 3 << 20, 1 << 20};
  unsigned char *body = malloc(3 << 20);
  unsigned int round;
  size_t i, j, n;

  ck_assert_ptr_nonnull(body);
  for (round = 0; round < 3; round++) {
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
      uva_msg_t *msg = new_msg();
      msgpack_object o;

      n = sizes[i];
      for (j = 0; j < n; j++)
        body[j] = (unsigned char)(j * 7 + i * 13 + round);
      msgpack_pack_array(uva_msg_packer(msg), 2);
      msgpack_pack_bin_with_body(uva_msg_packer(msg), body, n);
      msgpack_pack_bin_with_body(uva_msg_packer(msg), body, n); /* past the first block: regrows it */
      ck_assert_uint_eq(uva_msg_size(msg), 1 + 2 * ((n < 256 ? 2 : n < 65536 ? 3 : 5) + n));
      o = view(msg);
      ck_assert_uint_eq(o.via.array.ptr[0].via.bin.size, n);
      ck_assert_uint_eq(o.via.array.ptr[1].via.bin.size, n);
      ck_assert_int_eq(memcmp(o.via.array.ptr[0].via.bin.ptr, body, n), 0);
      ck_assert_int_eq(memcmp(o.via.array.ptr[1].via.bin.ptr, body, n), 0);
      uva_msg_free(msg);
    }
  }
  free(body);
}
END_TEST

/* Every write the packer makes, at every short length and every offset, across the inline buffer's end:
 * the body is byte for byte what msgpack-c's own buffer gets from the same calls. */
START_TEST(test_body_bytes_every_short_length) {
  unsigned char src[64];
  msgpack_sbuffer ref;
  msgpack_packer ref_pk;
  size_t offset, len;

  for (len = 0; len < sizeof(src); len++)
    src[len] = (unsigned char)(len * 37 + 11);
  for (offset = 0; offset < 4; offset++) {
    uva_msg_t *msg = new_msg();
    msgpack_packer *pk = uva_msg_packer(msg);
    size_t k;

    msgpack_sbuffer_init(&ref);
    msgpack_packer_init(&ref_pk, &ref, msgpack_sbuffer_write);
    msgpack_pack_array(pk, 4 + 2 * 40);
    msgpack_pack_array(&ref_pk, 4 + 2 * 40);
    for (k = 0; k < 4; k++) { /* 0-3 one-byte ints first: each body starts at another offset */
      msgpack_pack_int(pk, k < offset ? (int)k : 1 << 20);
      msgpack_pack_int(&ref_pk, k < offset ? (int)k : 1 << 20);
    }
    for (len = 0; len < 40; len++) {
      msgpack_pack_bin_with_body(pk, src, len);
      msgpack_pack_bin_with_body(&ref_pk, src, len);
      msgpack_pack_uint64(pk, (uint64_t)1 << (len % 64));
      msgpack_pack_uint64(&ref_pk, (uint64_t)1 << (len % 64));
    }
    ck_assert_uint_eq(uva_msg_size(msg), ref.size);
    ck_assert_int_eq(memcmp(uva_msg_data(msg), ref.data, ref.size), 0);
    ck_assert_int_eq(uva_msg_validate(msg, NULL), 0);
    msgpack_sbuffer_destroy(&ref);
    uva_msg_free(msg);
  }
}
END_TEST

/* ---- the view's lifetime ------------------------------------------------------------------------- */

START_TEST(test_view_is_stable) {
  uva_msg_t *msg = new_msg();
  msgpack_object a, b, c;
  uint32_t i;

  msgpack_pack_array(uva_msg_packer(msg), 10);
  for (i = 0; i < 10; i++)
    msgpack_pack_str_with_body(uva_msg_packer(msg), "abc", 3);
  a = view(msg);
  b = view(msg);
  c = view(msg);
  ck_assert_int_eq(b.type, a.type);
  ck_assert_uint_eq(b.via.array.size, a.via.array.size);
  ck_assert_ptr_eq(b.via.array.ptr, a.via.array.ptr);
  ck_assert_ptr_eq(c.via.array.ptr, a.via.array.ptr);
  for (i = 0; i < 10; i++)
    ck_assert_ptr_eq(a.via.array.ptr[i].via.str.ptr, c.via.array.ptr[i].via.str.ptr);
  uva_msg_free(msg);
}
END_TEST

/* Packing after viewing changes the body, so the next view checks it again: a second object makes the
 * body two objects, which is not a message. */
START_TEST(test_pack_after_view_invalidates) {
  uva_msg_t *msg = new_msg();
  msgpack_object o;

  msgpack_pack_uint32(uva_msg_packer(msg), 1);
  view(msg);
  ck_assert_int_eq(uva_msg_validate(msg, NULL), 0);
  msgpack_pack_uint32(uva_msg_packer(msg), 2);
  ck_assert_int_eq(uva_msg_object(msg, &o), UVA_ETRAILING);
  ck_assert_int_eq(uva_msg_validate(msg, NULL), UVA_ETRAILING);
  uva_msg_free(msg);
}
END_TEST

/* A view of an unfinished body fails; once packing completes it, the view shows the new body, even after
 * the body moved out of its first buffer. */
START_TEST(test_view_reflects_new_body) {
  uva_msg_t *msg = new_msg();
  char big[200];
  msgpack_object o;

  memset(big, 'q', sizeof(big));
  msgpack_pack_array(uva_msg_packer(msg), 2);
  msgpack_pack_str_with_body(uva_msg_packer(msg), "a", 1);
  ck_assert_int_eq(uva_msg_object(msg, &o), UVA_ETRUNC);
  msgpack_pack_str_with_body(uva_msg_packer(msg), big, sizeof(big));
  o = view(msg);
  ck_assert_uint_eq(o.via.array.size, 2);
  ck_assert_uint_eq(o.via.array.ptr[1].via.str.size, sizeof(big));
  assert_in_body(msg, o.via.array.ptr[0].via.str.ptr, 1);
  assert_in_body(msg, o.via.array.ptr[1].via.str.ptr, sizeof(big));
  ck_assert_int_eq(memcmp(o.via.array.ptr[1].via.str.ptr, big, sizeof(big)), 0);
  uva_msg_free(msg);
}
END_TEST

/* ---- uva_msg_validate ---------------------------------------------------------------------------- */

START_TEST(test_validate_empty_body) {
  uva_msg_t *msg = new_msg();
  msgpack_object o;

  ck_assert_int_eq(uva_msg_validate(msg, NULL), UVA_ETRUNC);
  ck_assert_int_eq(uva_msg_object(msg, &o), UVA_ETRUNC);
  uva_msg_free(msg);
}
END_TEST

START_TEST(test_validate_two_objects) {
  uva_msg_t *msg = new_msg();

  msgpack_pack_nil(uva_msg_packer(msg));
  msgpack_pack_nil(uva_msg_packer(msg));
  ck_assert_int_eq(uva_msg_validate(msg, NULL), UVA_ETRAILING);
  uva_msg_free(msg);
}
END_TEST

START_TEST(test_validate_unfinished_container) {
  uva_msg_t *msg = new_msg();

  msgpack_pack_map(uva_msg_packer(msg), 2);
  msgpack_pack_nil(uva_msg_packer(msg));
  msgpack_pack_nil(uva_msg_packer(msg));
  msgpack_pack_nil(uva_msg_packer(msg));
  ck_assert_int_eq(uva_msg_validate(msg, NULL), UVA_ETRUNC);
  uva_msg_free(msg);
}
END_TEST

/* Validating with other limits neither poisons nor borrows the result for the defaults. */
START_TEST(test_validate_with_limits) {
  uva_msg_limits_t tight = {.max_depth = 2};
  uva_msg_t *msg = new_msg();

  msgpack_pack_array(uva_msg_packer(msg), 1);
  msgpack_pack_array(uva_msg_packer(msg), 1);
  msgpack_pack_array(uva_msg_packer(msg), 0);
  ck_assert_int_eq(uva_msg_validate(msg, &tight), UVA_EDEPTH);
  ck_assert_int_eq(uva_msg_validate(msg, NULL), 0);
  ck_assert_int_eq(uva_msg_validate(msg, &tight), UVA_EDEPTH);
  tight.max_depth = 3;
  ck_assert_int_eq(uva_msg_validate(msg, &tight), 0);
  uva_msg_free(msg);
}
END_TEST

/* A message's bytes may name only its own attachments, and only with the exact reserved shape. */
START_TEST(test_validate_reserved_ext_needs_attachment) {
  static const char index0[4] = {0, 0, 0, 0};
  static const int8_t types[] = {UVA_EXT_BUFFER, UVA_EXT_SHARED, UVA_EXT_PORT, 120, 124};
  size_t i;

  for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    uva_msg_t *msg = new_msg();
    msgpack_pack_ext_with_body(uva_msg_packer(msg), index0, 4, types[i]);
    ck_assert_int_eq(uva_msg_validate(msg, NULL), UVA_EBADEXT);
    uva_msg_free(msg);
  }
  {
    /* One attachment: a second ext naming slot 1 is out of range, a 3-byte payload is malformed. */
    uva_msg_t *msg = new_msg();
    static const char index1[4] = {0, 0, 0, 1};
    msgpack_pack_array(uva_msg_packer(msg), 2);
    ck_assert_int_eq(uva_msg_pack_buffer(msg, xmalloc(4), 4, NULL), 0);
    msgpack_pack_ext_with_body(uva_msg_packer(msg), index1, 4, UVA_EXT_BUFFER);
    ck_assert_int_eq(uva_msg_validate(msg, NULL), UVA_EBADEXT);
    uva_msg_free(msg);

    msg = new_msg();
    msgpack_pack_array(uva_msg_packer(msg), 2);
    ck_assert_int_eq(uva_msg_pack_buffer(msg, xmalloc(4), 4, NULL), 0);
    msgpack_pack_ext_with_body(uva_msg_packer(msg), index0, 3, UVA_EXT_BUFFER);
    ck_assert_int_eq(uva_msg_validate(msg, NULL), UVA_EBADEXT);
    uva_msg_free(msg);
  }
  for (i = 0; i < 2; i++) {
    /* A slot named by the ext of another kind: a moved buffer's slot as a port or a shared buffer (which
     * the other side could not make again: uva_msg_from_parts() says UVA_EBADEXT), and the buffer is freed
     * once, with the message. */
    uva_msg_t *msg = new_msg();
    msgpack_pack_array(uva_msg_packer(msg), 2);
    ck_assert_int_eq(uva_msg_pack_buffer(msg, xmalloc(4), 4, NULL), 0);
    msgpack_pack_ext_with_body(uva_msg_packer(msg), index0, 4, types[1 + i]);
    ck_assert_int_eq(uva_msg_validate(msg, NULL), UVA_EBADEXT);
    uva_msg_free(msg);
  }
}
END_TEST

/* A pack call that cannot grow the body fails with -1, and the message remembers UV_ENOMEM. A length no
 * allocation can satisfy makes the failure happen without exhausting memory (the body pointer is never
 * read). */
START_TEST(test_failed_pack_is_sticky) {
  static const char dummy[1] = {0};
  uva_msg_t *msg = new_msg();
  void *buf = xmalloc(8);
  msgpack_object o;

  frees = 0;
  ck_assert_int_eq(msgpack_pack_bin(uva_msg_packer(msg), 4), 0);
  ck_assert_int_eq(msgpack_pack_bin_body(uva_msg_packer(msg), dummy, SIZE_MAX), -1);
  ck_assert_int_eq(uva_msg_validate(msg, NULL), UV_ENOMEM);
  ck_assert_int_eq(uva_msg_object(msg, &o), UV_ENOMEM);
  /* Later calls fail too, and a buffer offered now stays the caller's. */
  ck_assert_int_eq(msgpack_pack_nil(uva_msg_packer(msg)), -1);
  ck_assert_int_eq(uva_msg_pack_buffer(msg, buf, 8, counting_free), UV_ENOMEM);
  uva_msg_free(msg);
  ck_assert_int_eq(frees, 0);
  free(buf);
}
END_TEST

/* ---- NULL arguments ------------------------------------------------------------------------------ */

START_TEST(test_null_msg_functions) {
  uva_msg_t *msg = UNTOUCHED;
  msgpack_object o;

  ck_assert_int_eq(uva_msg_new(NULL), UV_EINVAL);
  uva_msg_free(NULL);
  ck_assert_ptr_null(uva_msg_packer(NULL));
  ck_assert_int_eq(uva_msg_validate(NULL, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_msg_object(NULL, &o), UV_EINVAL);
  ck_assert_int_eq(uva_msg_from_bytes(NULL, "\xc0", 1, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_msg_from_bytes(&msg, NULL, 1, NULL), UV_EINVAL);
  ck_assert_ptr_eq(msg, UNTOUCHED);
  msg = new_msg();
  msgpack_pack_nil(uva_msg_packer(msg));
  ck_assert_int_eq(uva_msg_object(msg, NULL), UV_EINVAL);
  uva_msg_free(msg);
}
END_TEST

START_TEST(test_null_buffer_functions) {
  uva_msg_t *msg = new_msg();
  char *buf = xmalloc(4);
  uva_free_cb cb;
  msgpack_object o;
  size_t len;
  void *data;

  ck_assert_int_eq(uva_msg_pack_buffer(NULL, buf, 4, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_msg_pack_buffer(msg, NULL, 4, NULL), UV_EINVAL);
  ck_assert_uint_eq(uva_msg_size(msg), 0); /* a failed call leaves the body alone */
  ck_assert_int_eq(uva_msg_pack_buffer(msg, buf, 4, NULL), 0);
  o = view(msg);
  ck_assert_int_eq(uva_msg_take_buffer(NULL, &o, &data, &len, &cb), UV_EINVAL);
  ck_assert_int_eq(uva_msg_take_buffer(msg, NULL, &data, &len, &cb), UV_EINVAL);
  ck_assert_int_eq(uva_msg_take_buffer(msg, &o, NULL, &len, &cb), UV_EINVAL);
  ck_assert_int_eq(uva_msg_take_buffer(msg, &o, &data, NULL, &cb), UV_EINVAL);
  /* None of the failed takes took it. */
  ck_assert_int_eq(uva_msg_take_buffer(msg, &o, &data, &len, NULL), 0);
  ck_assert_ptr_eq(data, buf);
  uva_msg_free(msg);
  free(buf);
}
END_TEST

START_TEST(test_null_shared_functions) {
  uva_msg_t *msg = new_msg();
  uva_shared_t *shared, *got = NULL;
  msgpack_object o;

  ck_assert_int_eq(uva_shared_new(8, NULL), UV_EINVAL);
  uva_shared_unref(NULL);
  ck_assert_int_eq(uva_shared_new(8, &shared), 0);
  ck_assert_int_eq(uva_msg_pack_shared(NULL, shared), UV_EINVAL);
  ck_assert_int_eq(uva_msg_pack_shared(msg, NULL), UV_EINVAL);
  ck_assert_uint_eq(uva_msg_size(msg), 0);
  ck_assert_int_eq(uva_msg_pack_shared(msg, shared), 0);
  o = view(msg);
  ck_assert_int_eq(uva_msg_get_shared(NULL, &o, &got), UV_EINVAL);
  ck_assert_int_eq(uva_msg_get_shared(msg, NULL, &got), UV_EINVAL);
  ck_assert_int_eq(uva_msg_get_shared(msg, &o, NULL), UV_EINVAL);
  ck_assert_ptr_null(got);
  uva_shared_unref(shared);
  uva_msg_free(msg);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("types", 60, NULL, NULL),
      TEST(test_nil_roundtrip),
      TEST(test_bool_roundtrip),
      TEST(test_uint_width_boundaries),
      TEST(test_negative_int_width_boundaries),
      TEST(test_signed_formats_sign_extend),
      TEST(test_float32_roundtrip),
      TEST(test_float64_roundtrip),
      TEST(test_str_header_widths),
      TEST(test_bin_header_widths),
      TEST(test_ext_header_widths),
      TEST(test_array_roundtrip),
      TEST(test_map_kv_layout),
      TEST(test_small_message_view),
      TEST(test_large_array_view),
      TEST(test_payloads_point_into_body),
      TEST(test_bodies_reused),
      TEST(test_body_bytes_every_short_length),

      TCASE("view", 60, NULL, NULL),
      TEST(test_view_is_stable),
      TEST(test_pack_after_view_invalidates),
      TEST(test_view_reflects_new_body),

      TCASE("validate", 60, NULL, NULL),
      TEST(test_validate_empty_body),
      TEST(test_validate_two_objects),
      TEST(test_validate_unfinished_container),
      TEST(test_validate_with_limits),
      TEST(test_validate_reserved_ext_needs_attachment),
      TEST(test_failed_pack_is_sticky),

      TCASE("null", 60, NULL, NULL),
      TEST(test_null_msg_functions),
      TEST(test_null_buffer_functions),
      TEST(test_null_shared_functions),
  };

  return suite_of_rows("msg", rows, sizeof(rows) / sizeof(rows[0]));
}
