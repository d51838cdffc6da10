/* serialize/: building, validating, reading and freeing messages. */
#include <check.h>
#include <string.h>

#include "uvactor.h"

START_TEST(test_pack_and_view) {
  uva_msg_t *msg;
  msgpack_object obj;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  msgpack_pack_array(uva_msg_packer(msg), 2);
  msgpack_pack_uint32(uva_msg_packer(msg), 7);
  msgpack_pack_str_with_body(uva_msg_packer(msg), "ping", 4);
  ck_assert_int_eq(uva_msg_object(msg, &obj), 0);
  ck_assert_int_eq(obj.type, MSGPACK_OBJECT_ARRAY);
  ck_assert_uint_eq(obj.via.array.size, 2);
  ck_assert_uint_eq(obj.via.array.ptr[0].via.u64, 7);
  ck_assert_int_eq(memcmp(obj.via.array.ptr[1].via.str.ptr, "ping", 4), 0);
  uva_msg_free(msg);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  Suite *s = suite_create("msg");
  TCase *tc = tcase_create("build");
  tcase_add_test(tc, test_pack_and_view);
  suite_add_tcase(s, tc);
  return s;
}
