/* libFuzzer target for outside bytes: uva_msg_from_bytes(), then the view of what it accepted.
 *
 * The first input byte picks the limits, the rest is the msgpack input. When validation accepts, the whole
 * view is walked and every str/bin/ext byte is read (so ASan sees a payload pointer past the message), the
 * limits are checked against what the view actually holds, and the view is compared with msgpack-c's own
 * unpacker. Any disagreement aborts, which libFuzzer reports as a crash.
 *
 * Seeds are in tests/corpus/fuzz_msg/, each starting with its selector byte (see pick_limits()). By hand:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude $(pkg-config --cflags libuv msgpack) \
 *     tests/fuzz_msg.c serialize/[a-z]*.c $(pkg-config --libs libuv msgpack) -o fuzz_msg
 *   ./fuzz_msg -max_total_time=60 new_inputs/ tests/corpus/fuzz_msg/ */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvactor.h"

#define DEFAULT_MAX_DEPTH 64 /* msg.h: max_depth 0 means 64 */

#define FAIL(...)                              \
  do {                                         \
    fprintf(stderr, "fuzz_msg: " __VA_ARGS__); \
    fputc('\n', stderr);                       \
    abort();                                   \
  } while (0)

/* What a walk of a view found. */
typedef struct {
  const char *lo, *hi;    /* the message body every payload must lie in */
  unsigned int max_depth; /* deepest container nesting seen */
  uint32_t max_container; /* most elements (pairs for a map) of one container */
  size_t objects;         /* objects in total, containers included */
  int reserved_ext;       /* an ext of a uvactor type was seen */
  unsigned char sum;      /* every payload byte folded in, so the reads cannot be optimised away */
} walk_t;

static void check_payload(walk_t *w, const char *ptr, uint32_t size) {
  uint32_t i;

  if (size == 0)
    return;
  if (ptr < w->lo || ptr > w->hi || size > (size_t)(w->hi - ptr))
    FAIL("payload [%p, +%u) outside the body [%p, %p)", (const void *)ptr, size, (const void *)w->lo,
         (const void *)w->hi);
  for (i = 0; i < size; i++)
    w->sum ^= (unsigned char)ptr[i];
}

/* Recursion is fine here: the view is at most UVA_MSG_MAX_DEPTH deep. */
static void walk(walk_t *w, const msgpack_object *o, unsigned int depth) {
  uint32_t i;

  w->objects++;
  switch (o->type) {
  case MSGPACK_OBJECT_NIL:
  case MSGPACK_OBJECT_BOOLEAN:
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64:
    break;
  case MSGPACK_OBJECT_STR:
    check_payload(w, o->via.str.ptr, o->via.str.size);
    break;
  case MSGPACK_OBJECT_BIN:
    check_payload(w, o->via.bin.ptr, o->via.bin.size);
    break;
  case MSGPACK_OBJECT_EXT:
    check_payload(w, o->via.ext.ptr, o->via.ext.size);
    if (o->via.ext.type >= UVA_EXT_RESERVED_MIN)
      w->reserved_ext = 1;
    break;
  case MSGPACK_OBJECT_ARRAY:
  case MSGPACK_OBJECT_MAP:
    if (depth + 1 > w->max_depth)
      w->max_depth = depth + 1;
    if (o->type == MSGPACK_OBJECT_ARRAY) {
      if (o->via.array.size > w->max_container)
        w->max_container = o->via.array.size;
      for (i = 0; i < o->via.array.size; i++)
        walk(w, &o->via.array.ptr[i], depth + 1);
    } else {
      if (o->via.map.size > w->max_container)
        w->max_container = o->via.map.size;
      for (i = 0; i < o->via.map.size; i++) {
        walk(w, &o->via.map.ptr[i].key, depth + 1);
        walk(w, &o->via.map.ptr[i].val, depth + 1);
      }
    }
    break;
  default:
    FAIL("view has an object of unknown type %d", (int)o->type);
  }
}

/* msgpack_object_equal() compares floats with ==, so NaN never equals itself; this one also treats two
 * NaNs as equal. Only used to explain a difference msgpack_object_equal() reported. */
static int same_object(const msgpack_object *a, const msgpack_object *b) {
  uint32_t i;

  if (a->type != b->type)
    return 0;
  switch (a->type) {
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64:
    return a->via.f64 == b->via.f64 || (isnan(a->via.f64) && isnan(b->via.f64));
  case MSGPACK_OBJECT_ARRAY:
    if (a->via.array.size != b->via.array.size)
      return 0;
    for (i = 0; i < a->via.array.size; i++)
      if (!same_object(&a->via.array.ptr[i], &b->via.array.ptr[i]))
        return 0;
    return 1;
  case MSGPACK_OBJECT_MAP:
    if (a->via.map.size != b->via.map.size)
      return 0;
    for (i = 0; i < a->via.map.size; i++)
      if (!same_object(&a->via.map.ptr[i].key, &b->via.map.ptr[i].key) ||
          !same_object(&a->via.map.ptr[i].val, &b->via.map.ptr[i].val))
        return 0;
    return 1;
  default:
    return msgpack_object_equal(*a, *b);
  }
}

static int views_equal(const msgpack_object *a, const msgpack_object *b) {
  return msgpack_object_equal(*a, *b) || same_object(a, b);
}

/* Picks the limits from the selector byte: 0 the defaults (NULL), 1 small limits, 2 the most permissive
 * ones, 3 out of range (must be refused with UV_EINVAL whatever the input). */
static const uva_msg_limits_t *pick_limits(unsigned char sel, uva_msg_limits_t *l, size_t len) {
  memset(l, 0, sizeof(*l));
  switch (sel & 3) {
  case 0:
    return NULL;
  case 1:
    l->max_depth = 1 + (sel >> 2 & 3);
    l->max_container = 1 + (sel >> 4 & 3);
    l->max_objects = 1 + (size_t)(sel >> 6) * 4;
    l->max_size = len > 1 && (sel & 0x80) ? len - 1 : 0; /* sometimes exactly one byte too few */
    return l;
  case 2:
    l->max_depth = UVA_MSG_MAX_DEPTH;
    l->max_container = UINT32_MAX;
    l->max_objects = SIZE_MAX;
    l->max_size = SIZE_MAX;
    return l;
  default:
    l->max_depth = UVA_MSG_MAX_DEPTH + 1 + sel;
    return l;
  }
}

static int is_uva_error(int err) {
  return err == UVA_ETRUNC || err == UVA_EBADBYTE || err == UVA_ETRAILING || err == UVA_EDEPTH ||
         err == UVA_ECOUNT || err == UVA_EBADEXT || err == UVA_EOBJECTS || err == UV_E2BIG;
}

/* What msgpack-c's own unpacker makes of the same bytes; ok when it read exactly one object, all of them. */
static int unpack_whole(const char *data, size_t len, msgpack_unpacked *out) {
  size_t off = 0;

  msgpack_unpacked_init(out);
  return msgpack_unpack_next(out, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len;
}

/* A proper prefix of accepted bytes ends inside the object. */
static void check_prefix(const char *data, size_t len, const uva_msg_limits_t *limits, size_t cut) {
  uva_msg_t *msg = NULL;
  int err = uva_msg_from_bytes(&msg, data, cut, limits);

  if (err != UVA_ETRUNC)
    FAIL("prefix of %zu of %zu accepted bytes gave %s, not UVA_ETRUNC", cut, len, uva_err_name(err));
  if (msg != NULL)
    FAIL("a failed uva_msg_from_bytes() set *msgp");
}

/* Packs the view again with msgpack-c's packer into a message of our own, which must validate and view
 * the same: the packer path and the outside-bytes path agree. */
static void check_repack(const msgpack_object *root) {
  msgpack_object again;
  uva_msg_t *copy;

  if (uva_msg_new(&copy) != 0)
    FAIL("uva_msg_new failed");
  if (msgpack_pack_object(uva_msg_packer(copy), *root) != 0)
    FAIL("repacking the view failed");
  if (uva_msg_object(copy, &again) != 0 || !views_equal(root, &again))
    FAIL("the repacked view differs");
  uva_msg_free(copy);
}

static void check_accepted(uva_msg_t *msg, const char *data, size_t len, const uva_msg_limits_t *limits) {
  msgpack_object root, again;
  msgpack_unpacked theirs;
  walk_t w;

  if (uva_msg_size(msg) != len || (len > 0 && memcmp(uva_msg_data(msg), data, len) != 0))
    FAIL("the message body is not a copy of the input");
  if (uva_msg_object(msg, &root) != 0)
    FAIL("uva_msg_object failed on accepted bytes");
  memset(&w, 0, sizeof(w));
  w.lo = uva_msg_data(msg);
  w.hi = w.lo + uva_msg_size(msg);
  walk(&w, &root, 0);
  if (w.reserved_ext)
    FAIL("outside bytes with a reserved ext type were accepted");
  if (limits != NULL) {
    unsigned int max_depth = limits->max_depth ? limits->max_depth : DEFAULT_MAX_DEPTH;
    if (w.max_depth > max_depth || (limits->max_container && w.max_container > limits->max_container) ||
        (limits->max_objects && w.objects > limits->max_objects) ||
        (limits->max_size && len > limits->max_size))
      FAIL("accepted input over its limits: depth %u, container %u, objects %zu", w.max_depth,
           w.max_container, w.objects);
  }
  if (uva_msg_object(msg, &again) != 0 || !views_equal(&root, &again) ||
      ((root.type == MSGPACK_OBJECT_ARRAY || root.type == MSGPACK_OBJECT_MAP) &&
       root.via.array.ptr != again.via.array.ptr))
    FAIL("a second uva_msg_object gave another view");
  if (unpack_whole(data, len, &theirs) && !views_equal(&root, &theirs.data))
    FAIL("the view differs from msgpack-c's unpacker");
  msgpack_unpacked_destroy(&theirs);
  if (w.max_depth <= DEFAULT_MAX_DEPTH)
    check_repack(&root);
  check_prefix(data, len, limits, len - 1);
  check_prefix(data, len, limits, len / 2);
  (void)*(volatile unsigned char *)&w.sum;
}

/* Bytes msgpack-c reads as exactly one object must be accepted under limits at least as wide as the
 * defaults, unless they carry a reserved ext (outside bytes may not). msgpack-c allocates what a container
 * header claims before reading the elements, so bytes that might hold a 32-bit count (0xdd, 0xdf) are not
 * shown to it: a claim of 4G elements would be reported as the fuzzer running out of memory. */
static void check_refused(int err, const char *data, size_t len) {
  msgpack_unpacked theirs;
  walk_t w;

  if (memchr(data, 0xdd, len) != NULL || memchr(data, 0xdf, len) != NULL)
    return;

  if (unpack_whole(data, len, &theirs)) {
    memset(&w, 0, sizeof(w));
    w.lo = data;
    w.hi = data + len;
    walk(&w, &theirs.data, 0);
    if (err != UVA_EBADEXT || !w.reserved_ext)
      FAIL("refused with %s what msgpack-c reads as one object", uva_err_name(err));
  }
  msgpack_unpacked_destroy(&theirs);
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size) {
  const char *data = (const char *)bytes + 1;
  const uva_msg_limits_t *limits;
  uva_msg_limits_t l;
  uva_msg_t *msg = NULL;
  size_t len;
  int err;

  if (size == 0)
    return 0;
  len = size - 1;
  limits = pick_limits(bytes[0], &l, len);
  err = uva_msg_from_bytes(&msg, data, len, limits);
  if (err == 0) {
    if (msg == NULL)
      FAIL("uva_msg_from_bytes returned 0 without a message");
    if ((bytes[0] & 3) == 3)
      FAIL("out-of-range limits were accepted");
    check_accepted(msg, data, len, limits);
    uva_msg_free(msg);
    return 0;
  }
  if (msg != NULL)
    FAIL("a failed uva_msg_from_bytes() set *msgp");
  if ((bytes[0] & 3) == 3) {
    if (err != UV_EINVAL)
      FAIL("out-of-range limits gave %s, not UV_EINVAL", uva_err_name(err));
    return 0;
  }
  if (!is_uva_error(err))
    FAIL("uva_msg_from_bytes gave %d (%s)", err, uva_err_name(err));
  if ((bytes[0] & 3) != 1)
    check_refused(err, data, len);
  return 0;
}
