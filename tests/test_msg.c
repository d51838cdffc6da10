/* serialize/: building, validating, reading and freeing messages; moved and shared buffers; errors.
 *
 * One test per rule of include/uvactor/msg.h and common.h. Memory rules (freed exactly once, no leak) are
 * asserted with counting free functions where the API lets us see them, and otherwise by running this
 * suite under ASan and valgrind. */
#include <check.h>
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvactor.h"

/* ---- helpers ------------------------------------------------------------------------------------- */

static uva_msg_t *new_msg(void) {
  uva_msg_t *msg = NULL;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  ck_assert_ptr_nonnull(msg);
  return msg;
}

static msgpack_object view(uva_msg_t *msg) {
  msgpack_object obj;

  ck_assert_int_eq(uva_msg_object(msg, &obj), 0);
  return obj;
}

/* A sentinel a failing call must leave in *msgp. */
#define UNTOUCHED ((uva_msg_t *)(uintptr_t)0x5a5a5a5a)

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

/* The payload [ptr, ptr + size) lies inside the message body. */
static void assert_in_body(const uva_msg_t *msg, const char *ptr, size_t size) {
  const char *lo = uva_msg_data(msg);

  ck_assert_ptr_nonnull(ptr);
  ck_assert(ptr >= lo);
  ck_assert(ptr + size <= lo + uva_msg_size(msg));
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

/* Counting free functions: how often a moved buffer was released, and with which pointer. */
static int frees;
static void *last_freed;

static void counting_free(void *ptr) {
  frees++;
  last_freed = ptr;
  free(ptr);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  ck_assert_ptr_nonnull(p);
  return p;
}

/* A message using every msgpack type: maps, arrays (empty, nested), every int width, both float widths,
 * str/bin/ext of several header widths. Written by msgpack-c's packer into any packer. */
static void pack_complex(msgpack_packer *pk) {
  static const char bin[3] = {0, 1, 2};
  char big[300];

  memset(big, 'x', sizeof(big));
  msgpack_pack_map(pk, 8);
  msgpack_pack_str_with_body(pk, "nil", 3);
  msgpack_pack_nil(pk);
  msgpack_pack_str_with_body(pk, "bools", 5);
  msgpack_pack_array(pk, 2);
  msgpack_pack_true(pk);
  msgpack_pack_false(pk);
  msgpack_pack_str_with_body(pk, "ints", 4);
  msgpack_pack_array(pk, 8);
  msgpack_pack_uint64(pk, 0);
  msgpack_pack_int64(pk, -1);
  msgpack_pack_uint64(pk, 200);
  msgpack_pack_int64(pk, -200);
  msgpack_pack_uint64(pk, 70000);
  msgpack_pack_int64(pk, -70000);
  msgpack_pack_uint64(pk, UINT64_MAX);
  msgpack_pack_int64(pk, INT64_MIN);
  msgpack_pack_str_with_body(pk, "floats", 6);
  msgpack_pack_array(pk, 2);
  msgpack_pack_float(pk, 1.5f);
  msgpack_pack_double(pk, -2.25);
  msgpack_pack_str_with_body(pk, "strs", 4);
  msgpack_pack_array(pk, 3);
  msgpack_pack_str_with_body(pk, "", 0);
  msgpack_pack_str_with_body(pk, big, 40);
  msgpack_pack_str_with_body(pk, big, 300);
  msgpack_pack_str_with_body(pk, "bin", 3);
  msgpack_pack_bin_with_body(pk, bin, sizeof(bin));
  msgpack_pack_str_with_body(pk, "exts", 4);
  msgpack_pack_array(pk, 3);
  msgpack_pack_ext_with_body(pk, "abcd", 4, 5);
  msgpack_pack_ext_with_body(pk, big, 8, -1);
  msgpack_pack_ext_with_body(pk, big, 20, 119);
  msgpack_pack_str_with_body(pk, "nested", 6);
  msgpack_pack_map(pk, 1);
  msgpack_pack_str_with_body(pk, "a", 1);
  msgpack_pack_array(pk, 3);
  msgpack_pack_array(pk, 0);
  msgpack_pack_map(pk, 0);
  msgpack_pack_array(pk, 1);
  msgpack_pack_array(pk, 1);
  msgpack_pack_uint64(pk, 1);
}

/* The complex message's bytes, packed by msgpack-c into its own buffer. */
static msgpack_sbuffer complex_bytes(void) {
  msgpack_sbuffer sb;
  msgpack_packer pk;

  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  pack_complex(&pk);
  return sb;
}

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

/* ---- errors and version -------------------------------------------------------------------------- */

static const struct {
  int code;
  const char *name;
} uva_codes[] = {
    {UVA_ETRUNC, "UVA_ETRUNC"},     {UVA_EBADBYTE, "UVA_EBADBYTE"}, {UVA_ETRAILING, "UVA_ETRAILING"},
    {UVA_EDEPTH, "UVA_EDEPTH"},     {UVA_ECOUNT, "UVA_ECOUNT"},     {UVA_EBADEXT, "UVA_EBADEXT"},
    {UVA_EOBJECTS, "UVA_EOBJECTS"},
};
#define N_UVA_CODES (sizeof(uva_codes) / sizeof(uva_codes[0]))

START_TEST(test_strerror_uva_codes) {
  const char *unknown = uva_strerror(-12345);
  size_t i, j;

  for (i = 0; i < N_UVA_CODES; i++) {
    const char *text = uva_strerror(uva_codes[i].code);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_gt(strlen(text), 0);
    ck_assert_str_ne(text, unknown);
    for (j = 0; j < i; j++)
      ck_assert_str_ne(text, uva_strerror(uva_codes[j].code));
  }
}
END_TEST

START_TEST(test_err_name_uva_codes) {
  size_t i;

  for (i = 0; i < N_UVA_CODES; i++)
    ck_assert_str_eq(uva_err_name(uva_codes[i].code), uva_codes[i].name);
}
END_TEST

/* The UVA_E* values never collide with libuv's. */
START_TEST(test_uva_codes_distinct_from_libuv) {
  size_t i;

#define UV_CODE_CHECK(name, text) ck_assert_int_ne(uva_codes[i].code, UV_##name);
  for (i = 0; i < N_UVA_CODES; i++) {
    UV_ERRNO_MAP(UV_CODE_CHECK)
  }
#undef UV_CODE_CHECK
}
END_TEST

START_TEST(test_libuv_codes) {
  ck_assert_str_eq(uva_err_name(UV_EPIPE), "EPIPE");
  ck_assert_str_eq(uva_err_name(UV_EINVAL), "EINVAL");
  ck_assert_str_eq(uva_err_name(UV_E2BIG), "E2BIG");
  ck_assert_str_eq(uva_strerror(UV_EPIPE), uv_strerror(UV_EPIPE));
  ck_assert_str_eq(uva_strerror(UV_ENOMEM), uv_strerror(UV_ENOMEM));
}
END_TEST

/* An unknown code gets a static text: the same pointer every time, nothing allocated to leak. */
START_TEST(test_unknown_code) {
  const char *text = uva_strerror(-12345), *name = uva_err_name(-12345);

  ck_assert_ptr_nonnull(text);
  ck_assert_uint_gt(strlen(text), 0);
  ck_assert_ptr_eq(uva_strerror(-12345), text);
  ck_assert_ptr_eq(uva_strerror(-54321), text);
  ck_assert_ptr_nonnull(name);
  ck_assert_uint_gt(strlen(name), 0);
  ck_assert_ptr_eq(uva_err_name(-12345), name);
}
END_TEST

START_TEST(test_version) {
  char want[32];

  ck_assert_uint_eq(uva_version(), UVA_VERSION_HEX);
  ck_assert_uint_eq(uva_version() >> 16, UVA_VERSION_MAJOR);
  ck_assert_uint_eq(uva_version() >> 8 & 0xff, UVA_VERSION_MINOR);
  ck_assert_uint_eq(uva_version() & 0xff, UVA_VERSION_PATCH);
  snprintf(want, sizeof(want), "%d.%d.%d", UVA_VERSION_MAJOR, UVA_VERSION_MINOR, UVA_VERSION_PATCH);
  ck_assert_str_eq(uva_version_string(), want);
}
END_TEST

/* A hand-packed shared ext naming a moved buffer's slot is a wrong argument, before and after the buffer is
 * taken: the slot keeps its kind. */
START_TEST(test_get_shared_on_buffer_slot) {
  static const char slot0[4] = {0, 0, 0, 0};
  uva_shared_t *shared;
  msgpack_object obj;
  uva_msg_t *msg;
  void *data;
  size_t len;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  msgpack_pack_array(uva_msg_packer(msg), 2);
  ck_assert_int_eq(uva_msg_pack_buffer(msg, malloc(8), 8, free), 0);
  msgpack_pack_ext_with_body(uva_msg_packer(msg), slot0, sizeof(slot0), UVA_EXT_SHARED);
  ck_assert_int_eq(uva_msg_object(msg, &obj), 0);
  ck_assert_int_eq(uva_msg_get_shared(msg, &obj.via.array.ptr[1], &shared), UV_EINVAL);
  ck_assert_int_eq(uva_msg_take_buffer(msg, &obj.via.array.ptr[0], &data, &len, NULL), 0);
  free(data);
  ck_assert_int_eq(uva_msg_get_shared(msg, &obj.via.array.ptr[1], &shared), UV_EINVAL);
  uva_msg_free(msg);
}
END_TEST

#include "check_main.h"

static void add(Suite *s, const char *name, const TTest **tests, size_t n) {
  TCase *tc = tcase_create(name);
  size_t i;

  tcase_set_timeout(tc, 60);
  for (i = 0; i < n; i++)
    tcase_add_test(tc, tests[i]);
  suite_add_tcase(s, tc);
}

#define ADD(s, name, ...)                                     \
  do {                                                        \
    const TTest *tests_[] = {__VA_ARGS__};                    \
    add(s, name, tests_, sizeof(tests_) / sizeof(tests_[0])); \
  } while (0)

static Suite *make_suite(void) {
  Suite *s = suite_create("msg");

  ADD(s, "types", test_nil_roundtrip, test_bool_roundtrip, test_uint_width_boundaries,
      test_negative_int_width_boundaries, test_signed_formats_sign_extend, test_float32_roundtrip,
      test_float64_roundtrip, test_str_header_widths, test_bin_header_widths, test_ext_header_widths,
      test_array_roundtrip, test_map_kv_layout, test_small_message_view, test_large_array_view,
      test_payloads_point_into_body, test_bodies_reused);
  ADD(s, "view", test_view_is_stable, test_pack_after_view_invalidates, test_view_reflects_new_body);
  ADD(s, "validate", test_validate_empty_body, test_validate_two_objects, test_validate_unfinished_container,
      test_validate_with_limits, test_validate_reserved_ext_needs_attachment, test_failed_pack_is_sticky);
  ADD(s, "from_bytes", test_from_bytes_matches_msgpack_unpacker, test_from_bytes_copies_input,
      test_from_bytes_every_prefix_truncated, test_from_bytes_bad_byte, test_huge_count_default_limits,
      test_huge_count_wide_limits, test_deep_nesting_refused, test_depth_limit_exact,
      test_deepest_message_view, test_validate_defaults_after_wide_from_bytes, test_max_depth_out_of_range,
      test_from_bytes_trailing, test_from_bytes_payload_past_end, test_max_size, test_max_size_default,
      test_max_objects, test_max_objects_default, test_max_container_array, test_max_container_map,
      test_max_container_default, test_zero_limits_are_defaults, test_from_bytes_reserved_ext,
      test_from_bytes_refuses_message_with_buffer, test_from_bytes_application_ext, test_from_bytes_empty);
  ADD(s, "null", test_null_msg_functions, test_null_buffer_functions, test_null_shared_functions);
  ADD(s, "buffer", test_buffer_moves_without_copy, test_buffer_default_free_function, test_buffer_take_twice,
      test_untaken_buffer_freed_once, test_taken_buffer_not_freed, test_take_ext_of_other_message,
      test_take_wrong_kind_of_object, test_pack_buffer_failure_keeps_ownership, test_many_attachments);
  ADD(s, "shared", test_shared_new_zeroed_aligned, test_shared_new_too_big, test_shared_ref_unref,
      test_message_holds_shared_reference, test_shared_in_three_messages, test_shared_refs_across_threads,
      test_get_shared_wrong_object, test_get_shared_on_buffer_slot);
  ADD(s, "errors", test_strerror_uva_codes, test_err_name_uva_codes, test_uva_codes_distinct_from_libuv,
      test_libuv_codes, test_unknown_code, test_version);
  return s;
}
