/* Validating and decoding msgpack bytes into a msgpack_object view.
 *
 * Two passes over the bytes. The scan checks everything (no allocation, no recursion, whatever a header
 * claims) and counts the element slots the view needs; the build then fills exactly that many slots. A
 * container of n elements must have at least n bytes left, so a header that lies about its size is caught
 * before anything is sized from it. */
#include <string.h>

#include "serialize/message.h"

#define DEFAULT_MAX_SIZE ((size_t)64 << 20)
#define DEFAULT_MAX_DEPTH 64
#define DEFAULT_MAX_CONTAINER ((uint32_t)1 << 20)
#define DEFAULT_MAX_OBJECTS ((size_t)4 << 20)

/* One msgpack header: its type, how many bytes it and its payload take, and its value. */
typedef struct {
  msgpack_object_type type;
  size_t size;    /* bytes of the header, fixed-size scalars included */
  size_t body;    /* payload bytes after the header: str, bin and ext */
  uint32_t count; /* elements of an array, pairs of a map */
  int8_t ext_type;
  union {
    uint64_t u64;
    int64_t i64;
    double f64;
  } v;
} header_t;

/* A big-endian field of 1, 2, 4 or 8 bytes: the only widths msgpack has. */
static inline uint64_t read_be(const unsigned char *p, size_t n) {
  uint16_t v16;
  uint32_t v32;
  uint64_t v64;

  switch (n) {
  case 1:
    return *p;
  case 2:
    memcpy(&v16, p, sizeof(v16));
    return __builtin_bswap16(v16);
  case 4:
    memcpy(&v32, p, sizeof(v32));
    return __builtin_bswap32(v32);
  default:
    memcpy(&v64, p, sizeof(v64));
    return __builtin_bswap64(v64);
  }
}

static void set_int(header_t *h, int64_t v) {
  if (v >= 0) {
    h->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    h->v.u64 = (uint64_t)v;
  } else {
    h->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    h->v.i64 = v;
  }
}

static int read_header_slow(const unsigned char *p, const unsigned char *end, header_t *h);

/* Reads the header at p. Checks that the header is complete, not that its payload is. The one-byte headers
 * most messages are made of are decoded inline, in both passes; the rest are a call away. */
static inline int read_header(const unsigned char *p, const unsigned char *end, header_t *h) {
  unsigned char b = *p;

  h->size = 1;
  h->body = 0;
  h->count = 0;
  if (b <= 0x7f) {
    h->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    h->v.u64 = b;
    return 0;
  }
  if (b >= 0xe0) {
    h->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    h->v.i64 = (int8_t)b;
    return 0;
  }
  if (b <= 0x8f) {
    h->type = MSGPACK_OBJECT_MAP;
    h->count = b & 0x0f;
    return 0;
  }
  if (b <= 0x9f) {
    h->type = MSGPACK_OBJECT_ARRAY;
    h->count = b & 0x0f;
    return 0;
  }
  if (b <= 0xbf) {
    h->type = MSGPACK_OBJECT_STR;
    h->body = b & 0x1f;
    return 0;
  }
  if (b >= 0xcc && b <= 0xcf) { /* uint 8..64: counters and sequence numbers past 127 */
    size_t n = (size_t)1 << (b - 0xcc);
    if ((size_t)(end - p) < 1 + n)
      return UVA_ETRUNC;
    h->size = 1 + n;
    h->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    h->v.u64 = read_be(p + 1, n);
    return 0;
  }
  return read_header_slow(p, end, h);
}

/* Headers 0xc0 to 0xdf but unsigned ints: nil, booleans, and everything with a size field or a fixed-size
 * value. */
static int read_header_slow(const unsigned char *p, const unsigned char *end, header_t *h) {
  static const unsigned char fixed_len[] = {1, 2, 4, 8, 16};
  unsigned char b = *p;
  size_t avail = (size_t)(end - p);
  size_t n;

  switch (b) {
  case 0xc0:
    h->type = MSGPACK_OBJECT_NIL;
    return 0;
  case 0xc1:
    return UVA_EBADBYTE;
  case 0xc2:
  case 0xc3:
    h->type = MSGPACK_OBJECT_BOOLEAN;
    h->v.u64 = b == 0xc3;
    return 0;
  }
  /* Every other header has a size field or a fixed-size value after its first byte. */
  switch (b) {
  case 0xc4:
  case 0xc5:
  case 0xc6: /* bin 8/16/32 */
    n = (size_t)1 << (b - 0xc4);
    if (avail < 1 + n)
      return UVA_ETRUNC;
    h->type = MSGPACK_OBJECT_BIN;
    h->size = 1 + n;
    h->body = read_be(p + 1, n);
    return 0;
  case 0xc7:
  case 0xc8:
  case 0xc9: /* ext 8/16/32: size, then type */
    n = (size_t)1 << (b - 0xc7);
    if (avail < 2 + n)
      return UVA_ETRUNC;
    h->type = MSGPACK_OBJECT_EXT;
    h->size = 2 + n;
    h->body = read_be(p + 1, n);
    h->ext_type = (int8_t)p[1 + n];
    return 0;
  case 0xca:
  case 0xcb: { /* float 32/64 */
    n = b == 0xca ? 4 : 8;
    if (avail < 1 + n)
      return UVA_ETRUNC;
    h->size = 1 + n;
    if (n == 4) {
      uint32_t bits = (uint32_t)read_be(p + 1, 4);
      float f;
      memcpy(&f, &bits, sizeof(f));
      h->type = MSGPACK_OBJECT_FLOAT32;
      h->v.f64 = f;
    } else {
      uint64_t bits = read_be(p + 1, 8);
      memcpy(&h->v.f64, &bits, sizeof(h->v.f64));
      h->type = MSGPACK_OBJECT_FLOAT64;
    }
    return 0;
  }
  case 0xd0:
  case 0xd1:
  case 0xd2:
  case 0xd3: { /* int 8..64: sign-extend from n bytes */
    uint64_t raw;
    unsigned shift;
    n = (size_t)1 << (b - 0xd0);
    if (avail < 1 + n)
      return UVA_ETRUNC;
    h->size = 1 + n;
    raw = read_be(p + 1, n);
    shift = (unsigned)(64 - 8 * n);
    set_int(h, (int64_t)(raw << shift) >> shift);
    return 0;
  }
  case 0xd4:
  case 0xd5:
  case 0xd6:
  case 0xd7:
  case 0xd8: /* fixext 1..16: type, then data */
    if (avail < 2)
      return UVA_ETRUNC;
    h->type = MSGPACK_OBJECT_EXT;
    h->size = 2;
    h->body = fixed_len[b - 0xd4];
    h->ext_type = (int8_t)p[1];
    return 0;
  case 0xd9:
  case 0xda:
  case 0xdb: /* str 8/16/32 */
    n = (size_t)1 << (b - 0xd9);
    if (avail < 1 + n)
      return UVA_ETRUNC;
    h->type = MSGPACK_OBJECT_STR;
    h->size = 1 + n;
    h->body = read_be(p + 1, n);
    return 0;
  case 0xdc:
  case 0xdd:
  case 0xde:
  case 0xdf: /* array 16/32, map 16/32 */
    n = b == 0xdc || b == 0xde ? 2 : 4;
    if (avail < 1 + n)
      return UVA_ETRUNC;
    h->type = b <= 0xdd ? MSGPACK_OBJECT_ARRAY : MSGPACK_OBJECT_MAP;
    h->size = 1 + n;
    h->count = (uint32_t)read_be(p + 1, n);
    return 0;
  }
  return UVA_EBADBYTE; /* unreachable: every other byte value is handled above or inline */
}

typedef struct {
  unsigned int max_depth;
  uint32_t max_container;
  size_t max_objects;
  int64_t nattach;
  const uva__attach_t *attach; /* a message's slots, whose kinds its exts must name, or NULL */
} scan_limits_t;

/* An ext of a reserved type must name one of the message's nattach slots, of its kind (a port's ext a port's
 * slot); outside bytes (nattach < 0) have none, and outside bytes with moved buffers (UVA__SCAN_BUFFERS) name
 * buffers only. */
static int check_ext(const header_t *h, const unsigned char *body, const scan_limits_t *lim) {
  int64_t nattach = lim->nattach;
  int buffers_only = nattach >= 0 && (nattach & UVA__SCAN_BUFFERS) != 0;
  int64_t index;

  if (h->ext_type < UVA_EXT_RESERVED_MIN)
    return 0;
  if (buffers_only)
    nattach &= ~UVA__SCAN_BUFFERS;
  if (nattach < 0 || h->body != 4 ||
      (h->ext_type != UVA_EXT_PORT && h->ext_type != UVA_EXT_BUFFER && h->ext_type != UVA_EXT_SHARED) ||
      (buffers_only && h->ext_type != UVA_EXT_BUFFER))
    return UVA_EBADEXT;
  index = (int64_t)read_be(body, 4);
  if (index >= nattach || (lim->attach != NULL && lim->attach[index].ext != h->ext_type))
    return UVA_EBADEXT;
  return 0;
}

int uva__msg_limits_within_defaults(const uva_msg_limits_t *limits) {
  return limits == NULL ||
         (limits->max_size <= DEFAULT_MAX_SIZE && limits->max_depth <= DEFAULT_MAX_DEPTH &&
          limits->max_container <= DEFAULT_MAX_CONTAINER && limits->max_objects <= DEFAULT_MAX_OBJECTS);
}

/* The walks below keep a count per open level. Room for UVA_MSG_MAX_DEPTH levels is kilobytes of stack,
 * and a walk's first level and its header then lie that far from its caller's frame: lines of their own on
 * every message, cold on a thread that has not run for a while (an actor in a ring of hundreds). So each
 * walk runs with room for SHALLOW_DEPTH levels, next to its caller, and a message deeper than that (rare)
 * is walked again from the start with room for every level: WALK_DEEPER says so. */
#define SHALLOW_DEPTH 8
#define WALK_DEEPER 1

/* One scan with room for cap levels: 0 and *nslots, an error, or WALK_DEEPER. */
static inline __attribute__((always_inline)) int scan_walk(const unsigned char *p, const unsigned char *end,
                                                           const scan_limits_t *lim, uint64_t *left,
                                                           unsigned int cap, size_t *nslots) {
  size_t objects = 0;
  size_t slots = 0;
  unsigned int depth = 0;
  header_t h;
  int err;

  left[0] = 1;
  for (;;) {
    while (left[depth] == 0) {
      if (depth == 0)
        return p == end ? (*nslots = slots, 0) : UVA_ETRAILING;
      depth--;
    }
    if (p == end)
      return UVA_ETRUNC;
    err = read_header(p, end, &h);
    if (err != 0)
      return err;
    left[depth]--;
    if (++objects > lim->max_objects)
      return UVA_EOBJECTS;
    p += h.size;
    if (h.body > (size_t)(end - p))
      return UVA_ETRUNC;
    if (h.type == MSGPACK_OBJECT_EXT && (err = check_ext(&h, p, lim)) != 0)
      return err;
    p += h.body;
    if (h.type == MSGPACK_OBJECT_ARRAY || h.type == MSGPACK_OBJECT_MAP) {
      uint64_t n = h.type == MSGPACK_OBJECT_MAP ? 2 * (uint64_t)h.count : h.count;
      if (h.count > lim->max_container)
        return UVA_ECOUNT;
      if (depth + 1 > lim->max_depth)
        return UVA_EDEPTH;
      if (n > (uint64_t)(end - p)) /* every element takes at least one byte */
        return UVA_ETRUNC;
      if (depth + 1 >= cap)
        return WALK_DEEPER;
      slots += (size_t)n;
      left[++depth] = n;
    }
  }
}

static __attribute__((noinline)) int scan_deep(const unsigned char *p, const unsigned char *end,
                                               const scan_limits_t *lim, size_t *nslots) {
  uint64_t left[UVA_MSG_MAX_DEPTH + 1];

  return scan_walk(p, end, lim, left, UVA_MSG_MAX_DEPTH + 1, nslots);
}

int uva__msgpack_scan(const char *data, size_t len, const uva_msg_limits_t *limits, int64_t nattach,
                      const uva__attach_t *attach, size_t *nslots) {
  const unsigned char *p = (const unsigned char *)data;
  const unsigned char *end = len > 0 ? p + len : p; /* data may be NULL when len is 0; NULL + 0 is UB */
  scan_limits_t lim = {DEFAULT_MAX_DEPTH, DEFAULT_MAX_CONTAINER, DEFAULT_MAX_OBJECTS, nattach, attach};
  uint64_t left[SHALLOW_DEPTH]; /* elements still to read at each open level */
  size_t max_size = DEFAULT_MAX_SIZE;
  int err;

  if (limits != NULL) {
    if (limits->max_depth > UVA_MSG_MAX_DEPTH)
      return UV_EINVAL;
    max_size = limits->max_size ? limits->max_size : max_size;
    lim.max_depth = limits->max_depth ? limits->max_depth : lim.max_depth;
    lim.max_container = limits->max_container ? limits->max_container : lim.max_container;
    lim.max_objects = limits->max_objects ? limits->max_objects : lim.max_objects;
  }
  if (len > max_size)
    return UV_E2BIG;
  err = scan_walk(p, end, &lim, left, SHALLOW_DEPTH, nslots);
  return err == WALK_DEEPER ? scan_deep(p, end, &lim, nslots) : err;
}

typedef struct {
  msgpack_object *next;
  uint64_t left;
} build_level_t;

/* One build with room for cap levels: 0, or WALK_DEEPER (what it wrote is written again). */
static inline __attribute__((always_inline)) int build_walk(const unsigned char *p, const unsigned char *end,
                                                            msgpack_object *slots, msgpack_object *root,
                                                            build_level_t *level, unsigned int cap) {
  build_level_t *top = level; /* the innermost open level */
  msgpack_object *o;
  header_t h;

  top->next = root;
  top->left = 1;
  for (;;) {
    while (top->left == 0) {
      if (top == level)
        return 0;
      top--;
    }
    o = top->next++;
    top->left--;
    read_header(p, end, &h);
    p += h.size;
    o->type = h.type;
    switch (h.type) {
    case MSGPACK_OBJECT_NIL:
      break;
    case MSGPACK_OBJECT_BOOLEAN:
      o->via.boolean = h.v.u64 != 0;
      break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
      o->via.u64 = h.v.u64;
      break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
      o->via.i64 = h.v.i64;
      break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
      o->via.f64 = h.v.f64;
      break;
    case MSGPACK_OBJECT_STR:
      o->via.str.size = (uint32_t)h.body;
      o->via.str.ptr = (const char *)p;
      break;
    case MSGPACK_OBJECT_BIN:
      o->via.bin.size = (uint32_t)h.body;
      o->via.bin.ptr = (const char *)p;
      break;
    case MSGPACK_OBJECT_EXT:
      o->via.ext.type = h.ext_type;
      o->via.ext.size = (uint32_t)h.body;
      o->via.ext.ptr = (const char *)p;
      break;
    case MSGPACK_OBJECT_ARRAY:
      if (++top == level + cap)
        return WALK_DEEPER;
      o->via.array.size = h.count;
      o->via.array.ptr = h.count ? slots : NULL;
      top->next = slots;
      top->left = h.count;
      slots += h.count;
      break;
    case MSGPACK_OBJECT_MAP:
      if (++top == level + cap)
        return WALK_DEEPER;
      o->via.map.size = h.count;
      o->via.map.ptr = h.count ? (msgpack_object_kv *)slots : NULL;
      top->next = slots;
      top->left = 2 * (uint64_t)h.count;
      slots += 2 * (size_t)h.count;
      break;
    }
    p += h.body;
  }
}

static __attribute__((noinline)) void build_deep(const unsigned char *p, const unsigned char *end,
                                                 msgpack_object *slots, msgpack_object *root) {
  build_level_t level[UVA_MSG_MAX_DEPTH + 1];

  (void)build_walk(p, end, slots, root, level, UVA_MSG_MAX_DEPTH + 1);
}

void uva__msgpack_build(const char *data, size_t len, msgpack_object *slots, msgpack_object *root) {
  const unsigned char *p = (const unsigned char *)data;
  const unsigned char *end = p + len;
  build_level_t level[SHALLOW_DEPTH];

  /* A map's pairs are laid out as consecutive key and value objects, which is msgpack_object_kv. */
  _Static_assert(sizeof(msgpack_object_kv) == 2 * sizeof(msgpack_object), "kv is two objects");
  if (build_walk(p, end, slots, root, level, SHALLOW_DEPTH) == WALK_DEEPER)
    build_deep(p, end, slots, root);
}
