/* What the message suites (test_msg*.c) share: messages they make and look at, with Check's assertions. */
#ifndef UVA_TESTS_MSG_HELPERS_H
#define UVA_TESTS_MSG_HELPERS_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uvactor.h"

static inline uva_msg_t *new_msg(void) {
  uva_msg_t *msg = NULL;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  ck_assert_ptr_nonnull(msg);
  return msg;
}

static inline msgpack_object view(uva_msg_t *msg) {
  msgpack_object obj;

  ck_assert_int_eq(uva_msg_object(msg, &obj), 0);
  return obj;
}

/* A sentinel a failing call must leave in *msgp. */
#define UNTOUCHED ((uva_msg_t *)(uintptr_t)0x5a5a5a5a)

/* The payload [ptr, ptr + size) lies inside the message body. */
static inline void assert_in_body(const uva_msg_t *msg, const char *ptr, size_t size) {
  const char *lo = uva_msg_data(msg);

  ck_assert_ptr_nonnull(ptr);
  ck_assert(ptr >= lo);
  ck_assert(ptr + size <= lo + uva_msg_size(msg));
}

static inline void *xmalloc(size_t n) {
  void *p = malloc(n);
  ck_assert_ptr_nonnull(p);
  return p;
}

/* A message using every msgpack type: maps, arrays (empty, nested), every int width, both float widths,
 * str/bin/ext of several header widths. Written by msgpack-c's packer into any packer. */
static inline void pack_complex(msgpack_packer *pk) {
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
static inline msgpack_sbuffer complex_bytes(void) {
  msgpack_sbuffer sb;
  msgpack_packer pk;

  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  pack_complex(&pk);
  return sb;
}

#endif /* UVA_TESTS_MSG_HELPERS_H */
