/* The ABI: the size and alignment of every public type, and where a handle's public and read-only fields
 * are. A program built against one version of uvactor keeps working with the next only if these stay, so
 * a change here is a decision (a new major version, libtool's current bumped with age 0), never an accident
 * of adding a field: handles and option structs grow into their reserved space.
 *
 * The numbers are those of LP64 systems with glibc (x86_64, aarch64), where uv_thread_t is 8 bytes. */
#include <check.h>
#include <stdalign.h>
#include <stddef.h>

#include "uvactor.h"
/* libuvactor-remote's types too: its header needs no libzmq, so they are pinned in every build. */
#include "uvactor/remote.h"

#if defined(__LP64__) && defined(__GLIBC__)
#define ABI_PINNED 1
#else
#define ABI_PINNED 0
#endif

typedef struct {
  const char *name;
  size_t size;
  size_t align;
  size_t pinned_size;
  size_t pinned_align;
} abi_row_t;

#define ROW(type, size, align) \
  { #type, sizeof(type), alignof(type), size, align }

static const abi_row_t rows[] = {
    ROW(uva_port_t, 136, 8),          ROW(uva_broadcast_t, 136, 8),
    ROW(uva_actor_t, 432, 8),         ROW(uva_actor_options_t, 152, 8),
    ROW(uva_msg_limits_t, 24, 8),     ROW(uva_tpool_t, 80, 8),
    ROW(uva_task_t, 136, 8),          ROW(uva_tpool_options_t, 120, 8),
    ROW(uva_task_options_t, 48, 8),   ROW(uva_tpool_summary_t, 48, 8),
    ROW(uva_tpool_stats_t, 256, 8),   ROW(uva_handle_type, 4, 4),
    ROW(uva_errno_t, 4, 4),           ROW(uva_monitor_t, 376, 8),
    ROW(uva_name_t, 376, 8),          ROW(uva_name_req_t, 224, 8),
    ROW(uva_supervisor_t, 80, 8),     ROW(uva_supervisor_options_t, 64, 8),
    ROW(uva_child_spec_t, 64, 8),     ROW(uva_supervisor_strategy, 4, 4),
    ROW(uva_restart_type, 4, 4),      ROW(uva_supervisor_event_type, 4, 4),
    ROW(uva_call_t, 136, 8),          ROW(uva_queue_stats_t, 128, 8),
    ROW(uva_port_stats_t, 320, 8),    ROW(uva_elu_t, 64, 8),
    ROW(uva_process_stats_t, 128, 8),
};

static const abi_row_t remote_rows[] = {
    ROW(uva_node_t, 528, 8),         ROW(uva_node_options_t, 160, 8),        ROW(uva_node_event_t, 48, 8),
    ROW(uva_node_event_type, 4, 4),  ROW(uva_remote_main_t, 16, 8),          ROW(uva_remote_req_t, 240, 8),
    ROW(uva_remote_actor_t, 416, 8), ROW(uva_remote_actor_options_t, 88, 8),
};

static void check_rows(const abi_row_t *table, size_t n) {
  size_t i;

  for (i = 0; i < n; i++)
    ck_assert_msg(table[i].size == table[i].pinned_size && table[i].align == table[i].pinned_align,
                  "%s is %zu bytes aligned to %zu; the ABI says %zu aligned to %zu", table[i].name,
                  table[i].size, table[i].align, table[i].pinned_size, table[i].pinned_align);
}

START_TEST(test_sizes_and_alignments) {
  if (!ABI_PINNED)
    return; /* the numbers are for LP64 glibc; elsewhere the handle-field test below still holds */
  check_rows(rows, sizeof(rows) / sizeof(rows[0]));
  check_rows(remote_rows, sizeof(remote_rows) / sizeof(remote_rows[0]));
}
END_TEST

/* Every handle begins with UVA_HANDLE_FIELDS: data, then the read-only loop and type, at the same places. */
#define CHECK_HANDLE_FIELDS(handle_type)                                \
  do {                                                                  \
    ck_assert_uint_eq(offsetof(handle_type, data), 0);                  \
    ck_assert_uint_eq(offsetof(handle_type, loop), sizeof(void *));     \
    ck_assert_uint_eq(offsetof(handle_type, type), 2 * sizeof(void *)); \
  } while (0)

START_TEST(test_handle_fields_first) {
  CHECK_HANDLE_FIELDS(uva_port_t);
  CHECK_HANDLE_FIELDS(uva_broadcast_t);
  CHECK_HANDLE_FIELDS(uva_actor_t);
  CHECK_HANDLE_FIELDS(uva_tpool_t);
  CHECK_HANDLE_FIELDS(uva_monitor_t);
  CHECK_HANDLE_FIELDS(uva_name_t);
  CHECK_HANDLE_FIELDS(uva_name_req_t);
  CHECK_HANDLE_FIELDS(uva_supervisor_t);
  CHECK_HANDLE_FIELDS(uva_call_t);
  CHECK_HANDLE_FIELDS(uva_node_t);
  CHECK_HANDLE_FIELDS(uva_remote_req_t);
  CHECK_HANDLE_FIELDS(uva_remote_actor_t);
}
END_TEST

/* The reserved space of the option and statistics structs is where later fields go: it must be at the end. */
#define CHECK_RESERVED_LAST(type) \
  ck_assert_uint_eq(offsetof(type, reserved) + sizeof(((type *)0)->reserved), sizeof(type))

START_TEST(test_options_reserved_last) {
  CHECK_RESERVED_LAST(uva_actor_options_t);
  CHECK_RESERVED_LAST(uva_tpool_options_t);
  CHECK_RESERVED_LAST(uva_task_options_t);
  CHECK_RESERVED_LAST(uva_supervisor_options_t);
  CHECK_RESERVED_LAST(uva_child_spec_t);
  CHECK_RESERVED_LAST(uva_queue_stats_t);
  CHECK_RESERVED_LAST(uva_port_stats_t);
  CHECK_RESERVED_LAST(uva_elu_t);
  CHECK_RESERVED_LAST(uva_process_stats_t);
  CHECK_RESERVED_LAST(uva_node_options_t);
  CHECK_RESERVED_LAST(uva_remote_actor_options_t);
}
END_TEST

/* A remote request's and a remote actor's read-only channel id comes right after the handle's fields, at
 * the same place in both. */
START_TEST(test_remote_channel_field) {
  ck_assert_uint_eq(offsetof(uva_remote_req_t, channel), offsetof(uva_remote_actor_t, channel));
  if (ABI_PINNED)
    ck_assert_uint_eq(offsetof(uva_remote_req_t, channel), 72);
}
END_TEST

/* A handle type's number is ABI: a program built against one version compares handle->type with the values
 * it was built with. New types are appended, before UVA_HANDLE_TYPE_MAX, which is no type. */
START_TEST(test_handle_type_values) {
  static const struct {
    uva_handle_type type;
    int value;
    const char *name;
  } pinned[] = {
      {UVA_UNKNOWN_HANDLE, 0, "unknown"},
      {UVA_PORT, 1, "port"},
      {UVA_BROADCAST, 2, "broadcast"},
      {UVA_ACTOR, 3, "actor"},
      {UVA_TPOOL, 4, "tpool"},
      {UVA_MONITOR, 5, "monitor"},
      {UVA_NAME, 6, "name"},
      {UVA_NAME_REQ, 7, "name_req"},
      {UVA_SUPERVISOR, 8, "supervisor"},
      {UVA_CALL, 9, "call"},
      {UVA_NODE, 10, "node"},
      {UVA_REMOTE_REQ, 11, "remote_req"},
      {UVA_REMOTE_ACTOR, 12, "remote_actor"},
  };
  size_t i;

  for (i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++) {
    ck_assert_int_eq((int)pinned[i].type, pinned[i].value);
    ck_assert_str_eq(uva_handle_type_name(pinned[i].type), pinned[i].name);
  }
  ck_assert_int_eq(UVA_HANDLE_TYPE_MAX, sizeof(pinned) / sizeof(pinned[0]));
  ck_assert_ptr_null(uva_handle_type_name(UVA_HANDLE_TYPE_MAX));
  ck_assert_ptr_null(uva_handle_type_name((uva_handle_type)-1));
}
END_TEST

/* The read-only tier says what the handle is and where it runs. */
static void on_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

START_TEST(test_read_only_fields) {
  uva_broadcast_t member;
  uva_port_t a, b;
  uv_loop_t loop;

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(a.type, UVA_PORT);
  ck_assert_ptr_null(a.loop);
  ck_assert_int_eq(uva_port_start(&a, &loop, on_message, NULL), 0);
  ck_assert_ptr_eq(a.loop, &loop);
  ck_assert_int_eq(uva_port_close(&b), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_ptr_null(a.loop); /* closed */
  ck_assert_int_eq(uva_broadcast_init(&member, "abi-read-only"), 0);
  ck_assert_int_eq(member.type, UVA_BROADCAST);
  ck_assert_int_eq(uva_broadcast_close(&member), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("abi", 0, NULL, NULL),      TEST(test_sizes_and_alignments), TEST(test_handle_fields_first),
      TEST(test_options_reserved_last), TEST(test_remote_channel_field), TEST(test_read_only_fields),
      TEST(test_handle_type_values),
  };

  return suite_of_rows("abi", rows, sizeof(rows) / sizeof(rows[0]));
}
