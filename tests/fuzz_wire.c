/* libFuzzer target for the remote transport's frame decoder: what a node does with a multipart message from
 * the wire before any state is looked at (remote/wire.c, docs/remote.md's "Frames" and "Header").
 *
 * The input is a multipart message: a byte that says how many frames, then each frame as a 2-byte
 * big-endian length and its bytes (a length past the end takes what is left). The first frame goes through
 * uva__wire_decode(); a header it accepts must name a known type, at most UVA__WIRE_MAX_ATTACH attachments,
 * only where a type has them, a session, and must encode back to the same 56 bytes. When the frames are as
 * many as the header says, the body goes where the transport sends it: a DATA body and its buffer frames
 * through uva_msg_from_parts() with the transport's limits, and every buffer the accepted message names is
 * taken and read back; a BATCH body is walked entry by entry (uva__wire_entry_next()), each entry's place
 * and fields checked against its bytes and its body made a message as a DATA's; any other body through
 * uva_msg_from_bytes(). Any disagreement aborts.
 *
 * Seeds are in tests/corpus/fuzz_wire/. By hand:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iinclude $(pkg-config --cflags libuv msgpack) \
 *     tests/fuzz_wire.c remote/wire.c serialize/[a-z]*.c ... $(pkg-config --libs libuv msgpack) -o fuzz_wire
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/wire.h"
#include "uvactor.h"

#define MAX_FRAMES (2 + UVA__WIRE_MAX_ATTACH + 2)
#define MAX_MESSAGE (1 << 20) /* the limit a node gives uva_msg_from_parts() (max_message) */

#define FAIL(...)                               \
  do {                                          \
    fprintf(stderr, "fuzz_wire: " __VA_ARGS__); \
    fputc('\n', stderr);                        \
    abort();                                    \
  } while (0)

typedef struct {
  const uint8_t *data;
  size_t len;
} frame_t;

static size_t split(const uint8_t *data, size_t size, frame_t *frames) {
  size_t want;
  size_t n = 0;
  size_t len;

  if (size == 0)
    return 0;
  want = data[0] % MAX_FRAMES + 1;
  data++;
  size--;
  while (n < want && size >= 2) {
    len = (size_t)data[0] << 8 | data[1];
    data += 2;
    size -= 2;
    if (len > size)
      len = size;
    frames[n].data = data;
    frames[n].len = len;
    n++;
    data += len;
    size -= len;
  }
  return n;
}

static void check_header(const frame_t *f, const uva__wire_header_t *h) {
  unsigned char again[UVA__WIRE_HEADER_SIZE];

  if (f->len != UVA__WIRE_HEADER_SIZE)
    FAIL("a header of %zu bytes was accepted", f->len);
  if (h->type == 0 || h->type >= UVA__WIRE_TYPE_MAX || h->session == 0 || h->version != UVA__WIRE_VERSION)
    FAIL("a header with type %u, session 0 or version %u was accepted", h->type, h->version);
  if (h->nattach > UVA__WIRE_MAX_ATTACH ||
      (h->nattach > 0 && h->type != UVA__WIRE_DATA && h->type != UVA__WIRE_OPEN))
    FAIL("%u attachments accepted on type %u", h->nattach, h->type);
  if (h->call_kind != UVA__WIRE_CALL_NONE && h->type != UVA__WIRE_DATA)
    FAIL("a call kind on type %u", h->type);
  uva__wire_encode(h, again);
  if (memcmp(again, f->data, sizeof(again)) != 0)
    FAIL("an accepted header does not encode back to its bytes");
}

/* Walks an accepted DATA message: every buffer ext it names is taken once, whole. */
static void take_all(uva_msg_t *msg, const msgpack_object *o, const frame_t *frames, size_t nbufs,
                     unsigned char *taken) {
  uint32_t i;
  void *data;
  size_t len;
  uint32_t index;

  switch (o->type) {
  case MSGPACK_OBJECT_ARRAY:
    for (i = 0; i < o->via.array.size; i++)
      take_all(msg, &o->via.array.ptr[i], frames, nbufs, taken);
    break;
  case MSGPACK_OBJECT_MAP:
    for (i = 0; i < o->via.map.size; i++) {
      take_all(msg, &o->via.map.ptr[i].key, frames, nbufs, taken);
      take_all(msg, &o->via.map.ptr[i].val, frames, nbufs, taken);
    }
    break;
  case MSGPACK_OBJECT_EXT:
    if (o->via.ext.type != UVA_EXT_BUFFER)
      break;
    if (o->via.ext.size != 4)
      FAIL("a buffer ext of %u bytes was accepted", o->via.ext.size);
    index = (uint32_t)(unsigned char)o->via.ext.ptr[0] << 24 |
            (uint32_t)(unsigned char)o->via.ext.ptr[1] << 16 |
            (uint32_t)(unsigned char)o->via.ext.ptr[2] << 8 | (unsigned char)o->via.ext.ptr[3];
    if (index >= nbufs)
      FAIL("buffer %u of %zu was accepted", index, nbufs);
    if (uva_msg_take_buffer(msg, o, &data, &len, NULL) != 0) {
      if (!taken[index])
        FAIL("buffer %u could not be taken", index);
      break;
    }
    if (taken[index] || len != frames[index].len || (len > 0 && memcmp(data, frames[index].data, len) != 0))
      FAIL("buffer %u came out wrong", index);
    taken[index] = 1;
    free(data);
    break;
  default:
    break;
  }
}

static void check_data(const frame_t *body, const frame_t *frames, size_t n) {
  uva_msg_limits_t limits = {.max_size = MAX_MESSAGE};
  uva_msg_buffer_t bufs[UVA__WIRE_MAX_ATTACH];
  unsigned char taken[UVA__WIRE_MAX_ATTACH] = {0};
  msgpack_object obj;
  uva_msg_t *msg;
  size_t i;

  for (i = 0; i < n; i++) { /* copied out, as the transport copies them out of ZeroMQ's frames */
    bufs[i].data = malloc(frames[i].len > 0 ? frames[i].len : 1);
    bufs[i].len = frames[i].len;
    bufs[i].free_cb = free;
    if (bufs[i].data == NULL)
      abort();
    memcpy(bufs[i].data, frames[i].data, frames[i].len);
  }
  if (uva_msg_from_parts(&msg, body->data, body->len, &limits, n > 0 ? bufs : NULL, n) != 0) {
    for (i = 0; i < n; i++)
      free(bufs[i].data);
    return;
  }
  if (uva_msg_object(msg, &obj) != 0)
    FAIL("an accepted message has no view");
  take_all(msg, &obj, frames, n, taken);
  uva_msg_free(msg); /* frees the buffers not taken */
}

/* Every entry the walk accepts lies inside the body, encodes back to its bytes, and names a known call
 * kind; the walk ends at the body's end or at the first bad entry. */
static void check_batch(const frame_t *body) {
  unsigned char again[UVA__WIRE_ENTRY_SIZE];
  uva__wire_entry_t e;
  frame_t entry_body;
  size_t off = 0;
  size_t at;
  int err;

  for (;;) {
    at = off;
    err = uva__wire_entry_next(body->data, body->len, &off, &e);
    if (err != 0) {
      if ((err == UV_EOF) != (at == body->len) || off != at)
        FAIL("the walk ended wrongly at %zu of %zu (%d)", at, body->len, err);
      return;
    }
    if (off - at != UVA__WIRE_ENTRY_SIZE + e.len || off > body->len ||
        (const uint8_t *)e.body != body->data + at + UVA__WIRE_ENTRY_SIZE)
      FAIL("an entry at %zu was read past its bytes", at);
    if (e.call_kind >= UVA__WIRE_CALL_MAX)
      FAIL("an entry with call kind %u was accepted", e.call_kind);
    uva__wire_entry_encode(&e, again);
    if (memcmp(again, body->data + at, sizeof(again)) != 0)
      FAIL("an accepted entry does not encode back to its bytes");
    entry_body.data = e.body;
    entry_body.len = e.len;
    check_data(&entry_body, NULL, 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  frame_t frames[MAX_FRAMES];
  uva__wire_header_t h;
  uva_msg_t *msg;
  size_t n = split(data, size, frames);
  size_t want;
  int err;

  if (n == 0)
    return 0;
  err = uva__wire_decode(frames[0].data, frames[0].len, &h);
  if (err == UV_EPROTONOSUPPORT && h.version == UVA__WIRE_VERSION)
    FAIL("version %u refused as another", h.version);
  if (err != 0)
    return 0;
  check_header(&frames[0], &h);
  want = 1 + (size_t)uva__wire_has_body(h.type) + h.nattach;
  if (n != want || !uva__wire_has_body(h.type))
    return 0;
  if (h.type == UVA__WIRE_DATA) {
    check_data(&frames[1], frames + 2, h.nattach);
  } else if (h.type == UVA__WIRE_BATCH) {
    check_batch(&frames[1]);
  } else if (uva_msg_from_bytes(&msg, frames[1].data, frames[1].len, NULL) == 0) {
    uva_msg_free(msg);
  }
  return 0;
}
