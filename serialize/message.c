/* Messages: the body buffer msgpack-c's packer writes into, the side table, and the cached view. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "serialize/message.h"

static int msg_write(void *data, const char *buf, size_t len);

/* What a message object keeps from one use to the next: the fields past the body, which uva__msg_init()
 * leaves alone so that their line is not written for every message (message.h). uva__msg_alloc() sets them
 * in a new object; uva_msg_free() puts back what a use changed. */
void uva__msg_construct(uva_msg_t *msg) {
  msg->attach = msg->attach_inline;
  msg->nattach = 0;
  msg->attach_cap = UVA__MSG_INLINE_ATTACH;
  msg->queued_on = NULL;
  msg->reply_type = NULL;
  msg->reply_to = NULL;
  msgpack_packer_init(&msg->packer, msg, msg_write);
}

void uva__msg_init(uva_msg_t *msg) {
  msg->next = NULL;
  msg->data = msg->buf_inline;
  msg->len = 0;
  msg->cap = sizeof(msg->buf_inline);
  msg->error = 0;
  msg->slots = msg->slots_inline;
  msg->nslots = 0;
  msg->accepted = 0;
  msg->validated = 0;
  msg->viewed = 0;
  msg->live = UVA__MSG_LIVE;
  msg->call_kind = UVA__CALL_NONE;
}

int uva_msg_new(uva_msg_t **msgp) {
  uva_msg_t *msg;

  if (msgp == NULL)
    return UV_EINVAL;
  msg = uva__msg_alloc();
  if (msg == NULL)
    return UV_ENOMEM;
  uva__msg_init(msg);
  *msgp = msg;
  return 0;
}

/* A request freed unanswered (CAF's broken promise): its caller must hear, with UV_ECONNRESET. The notice
 * is a new object, so that the request's, freed, is refused by a second uva_msg_free() as any message is;
 * when memory is short, the request's own object, emptied, goes back instead: nothing can then fail but a
 * caller gone (its channel closed), which needs no answer, and a second free goes unseen. */
static void msg_answer_unanswered(uva_msg_t *msg) {
  const uva__reply_type_t *type = msg->reply_type;
  void *to = msg->reply_to;
  uint64_t id = msg->call_id;
  uva_msg_t *notice = uva__msg_alloc();

  msg->reply_type = NULL;
  msg->reply_to = NULL;
  if (notice != NULL) {
    uva__msg_dealloc(msg);
    msg = notice;
  }
  uva__msg_init(msg);
  msg->call_kind = UVA__CALL_REPLY;
  msg->call_id = id;
  msg->call_status = UV_ECONNRESET;
  if (type->answer(to, msg) != 0) {
    msg->live = 0;
    uva__msg_dealloc(msg);
    type->release(to);
  }
}

void uva_msg_free(uva_msg_t *msg) {
  unsigned int call_kind;
  uint32_t i;

  if (msg == NULL)
    return;
  /* Freeing twice would put the object in the recycler twice and hand it to two later uva_msg_new() calls:
   * corruption far from the bug. Stop here instead, as libuv does on a misused handle. */
  if (msg->live != UVA__MSG_LIVE) {
    fprintf(stderr, "uvactor: uva_msg_free(%p): not a live message (freed twice?)\n", (void *)msg);
    abort();
  }
  /* Read with live, before the store below: a load of the word that store changed, right after it, waits
   * until the store is done, and the store waits for the line to come back from the core that made the
   * message (perf: a third of this function's samples). */
  call_kind = msg->call_kind;
  msg->live = 0;
  for (i = 0; i < msg->nattach; i++) {
    uva__attach_t *a = &msg->attach[i];
    if (a->type != NULL)
      a->type->release(a->ptr, a->len, a->free_cb);
  }
  if (msg->nattach != 0)
    msg->nattach = 0;
  if (msg->attach != msg->attach_inline) {
    free(msg->attach);
    msg->attach = msg->attach_inline;
    msg->attach_cap = UVA__MSG_INLINE_ATTACH;
  }
  if (msg->queued_on != NULL) /* freed while queued: its end's queue went with it */
    msg->queued_on = NULL;
  if (msg->slots != msg->slots_inline)
    free(msg->slots);
  if (msg->data != msg->buf_inline)
    uva__body_free(msg->data, msg->cap);
  if (call_kind == UVA__CALL_REQUEST)
    msg_answer_unanswered(msg);
  else
    uva__msg_dealloc(msg);
}

/* Any change to the body invalidates the cached validation and view. */
static void msg_touch(uva_msg_t *msg) {
  msg->accepted = 0;
  msg->validated = 0;
  msg->viewed = 0;
}

static int msg_reserve(uva_msg_t *msg, size_t more) {
  size_t cap;
  char *data;

  if (more <= msg->cap - msg->len)
    return 0;
  if (more > SIZE_MAX / 2 - msg->len)
    return UV_ENOMEM;
  cap = msg->cap * 2;
  while (cap < msg->len + more)
    cap *= 2;
  if (msg->data == msg->buf_inline) {
    data = uva__body_take(&cap);
    if (data == NULL)
      data = uva__malloc(cap);
    if (data != NULL)
      memcpy(data, msg->data, msg->len);
  } else {
    data = uva__realloc(msg->data, cap);
  }
  if (data == NULL)
    return UV_ENOMEM;
  msg->data = data;
  msg->cap = cap;
  return 0;
}

/* What msg_write() leaves to a call: a write that needs room, that follows a failed one, or that is long. */
static __attribute__((noinline)) int msg_write_slow(uva_msg_t *msg, const char *buf, size_t len) {
  if (msg->error != 0)
    return -1;
  if (msg_reserve(msg, len) != 0) {
    msg->error = UV_ENOMEM;
    return -1;
  }
  memcpy(msg->data + msg->len, buf, len);
  msg->len += len;
  msg_touch(msg);
  return 0;
}

/* At most 16 bytes, as two copies of the widest size that fits, overlapping in the middle: no loop, no
 * call, a branch or two. */
static inline void copy_short(char *dst, const char *src, size_t len) {
  uint64_t v8[2];
  uint32_t v4[2];
  uint16_t v2[2];

  if (len >= 8) {
    memcpy(&v8[0], src, 8);
    memcpy(&v8[1], src + len - 8, 8);
    memcpy(dst, &v8[0], 8);
    memcpy(dst + len - 8, &v8[1], 8);
  } else if (len >= 4) {
    memcpy(&v4[0], src, 4);
    memcpy(&v4[1], src + len - 4, 4);
    memcpy(dst, &v4[0], 4);
    memcpy(dst + len - 4, &v4[1], 4);
  } else if (len >= 2) {
    memcpy(&v2[0], src, 2);
    memcpy(&v2[1], src + len - 2, 2);
    memcpy(dst, &v2[0], 2);
    memcpy(dst + len - 2, &v2[1], 2);
  } else if (len == 1) {
    *dst = *src;
  }
}

/* msgpack-c's packer calls this for every header and every body it writes, mostly a few bytes at a time (a
 * header is 1, 2, 3, 5 or 9 bytes). Those, and short bodies, are copied here with no call, so that this is a
 * leaf that saves no registers; the rest goes to msg_write_slow(). */
static int msg_write(void *data, const char *buf, size_t len) {
  uva_msg_t *msg = data;
  char *dst;

  if (__builtin_expect(len > 16 || len > msg->cap - msg->len || msg->error != 0, 0))
    return msg_write_slow(msg, buf, len);
  dst = msg->data + msg->len;
  msg->len += len;
  msg_touch(msg);
  copy_short(dst, buf, len);
  return 0;
}

msgpack_packer *uva_msg_packer(uva_msg_t *msg) {
  return msg == NULL ? NULL : &msg->packer;
}

const char *uva_msg_data(const uva_msg_t *msg) {
  return msg == NULL ? NULL : msg->data;
}

size_t uva_msg_size(const uva_msg_t *msg) {
  return msg == NULL ? 0 : msg->len;
}

int uva_msg_from_bytes(uva_msg_t **msgp, const void *data, size_t len, const uva_msg_limits_t *limits) {
  uva_msg_t *msg;
  size_t nslots;
  int err;

  if (msgp == NULL || (data == NULL && len > 0))
    return UV_EINVAL;
  err = uva__msgpack_scan(data, len, limits, -1, NULL, &nslots);
  if (err != 0)
    return err;
  err = uva_msg_new(&msg);
  if (err != 0)
    return err;
  if (msg_reserve(msg, len) != 0) {
    uva_msg_free(msg);
    return UV_ENOMEM;
  }
  memcpy(msg->data, data, len);
  msg->len = len;
  msg->nslots = nslots;
  /* Readable within the caller's limits; within the defaults too (as posting requires) when those were no
   * looser. */
  msg->accepted = 1;
  msg->validated = uva__msg_limits_within_defaults(limits);
  *msgp = msg;
  return 0;
}

int uva_msg_validate(uva_msg_t *msg, const uva_msg_limits_t *limits) {
  int err;

  if (msg == NULL)
    return UV_EINVAL;
  if (msg->error != 0)
    return msg->error;
  /* A cached result holds only for the default limits the channel layer validates with. */
  if (msg->validated && limits == NULL)
    return 0;
  err = uva__msgpack_scan(msg->data, msg->len, limits, msg->nattach, msg->attach, &msg->nslots);
  if (err != 0)
    return err;
  msg->accepted = 1;
  if (uva__msg_limits_within_defaults(limits))
    msg->validated = 1;
  return 0;
}

int uva_msg_object(uva_msg_t *msg, msgpack_object *out) {
  msgpack_object *slots;
  int err;

  if (msg == NULL || out == NULL)
    return UV_EINVAL;
  if (!msg->viewed) {
    err = msg->accepted && msg->error == 0 ? 0 : uva_msg_validate(msg, NULL);
    if (err != 0)
      return err;
    if (msg->nslots > UVA__MSG_INLINE_OBJECTS) {
      slots = uva__malloc(msg->nslots * sizeof(*slots));
      if (slots == NULL)
        return UV_ENOMEM;
    } else {
      slots = msg->slots_inline;
    }
    if (msg->slots != msg->slots_inline)
      free(msg->slots);
    msg->slots = slots;
    uva__msgpack_build(msg->data, msg->len, slots, &msg->root);
    msg->viewed = 1;
  }
  *out = msg->root;
  return 0;
}

/* Side table. An ext payload is the slot index as a 4-byte big-endian integer (msgpack fixext 4). */

int uva__msg_attach(uva_msg_t *msg, const uva__attach_type_t *type, void *ptr, size_t len,
                    uva_free_cb free_cb) {
  unsigned char index[4];
  uva__attach_t *att;
  size_t saved_len;
  uint32_t n;

  if (msg->error != 0)
    return msg->error;
  if (msg->nattach == msg->attach_cap) {
    if (msg->attach_cap > UINT32_MAX / 2)
      return UV_ENOMEM;
    n = msg->attach_cap * 2;
    att = msg->attach == msg->attach_inline ? uva__malloc(n * sizeof(*att))
                                            : uva__realloc(msg->attach, n * sizeof(*att));
    if (att == NULL)
      return UV_ENOMEM;
    if (msg->attach == msg->attach_inline)
      memcpy(att, msg->attach_inline, sizeof(msg->attach_inline));
    msg->attach = att;
    msg->attach_cap = n;
  }
  n = msg->nattach;
  index[0] = (unsigned char)(n >> 24);
  index[1] = (unsigned char)(n >> 16);
  index[2] = (unsigned char)(n >> 8);
  index[3] = (unsigned char)n;
  saved_len = msg->len;
  if (msgpack_pack_ext_with_body(&msg->packer, index, sizeof(index), type->ext) != 0) {
    msg->len = saved_len;
    msg->error = 0;
    return UV_ENOMEM;
  }
  att = &msg->attach[n];
  att->type = type;
  att->ext = type->ext;
  att->ptr = ptr;
  att->len = len;
  att->free_cb = free_cb;
  msg->nattach = n + 1;
  return 0;
}

int uva__msg_slot(uva_msg_t *msg, const msgpack_object *ext, const uva__attach_type_t *type,
                  uva__attach_t **slotp) {
  const unsigned char *p;
  uint32_t index;

  if (msg == NULL || ext == NULL || ext->type != MSGPACK_OBJECT_EXT || ext->via.ext.type != type->ext ||
      ext->via.ext.size != 4)
    return UV_EINVAL;
  /* The ext must be this message's: its payload lies inside this body. */
  p = (const unsigned char *)ext->via.ext.ptr;
  if (p < (const unsigned char *)msg->data || p + 4 > (const unsigned char *)msg->data + msg->len)
    return UV_EINVAL;
  index = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  /* A hand-packed ext may name a slot of another kind: that is a wrong argument, taken or not. */
  if (index >= msg->nattach || msg->attach[index].ext != type->ext)
    return UV_EINVAL;
  if (msg->attach[index].type == NULL)
    return UV_EALREADY;
  *slotp = &msg->attach[index];
  return 0;
}

/* Moved buffers. */

static void buffer_release(void *ptr, size_t len, uva_free_cb free_cb) {
  (void)len;
  free_cb(ptr);
}

static const uva__attach_type_t buffer_type = {UVA_EXT_BUFFER, buffer_release};

size_t uva__msg_largest_part(const uva_msg_t *msg) {
  size_t largest = msg->len;
  uint32_t i;

  for (i = 0; i < msg->nattach; i++)
    if (msg->attach[i].type == &buffer_type && msg->attach[i].len > largest)
      largest = msg->attach[i].len;
  return largest;
}

int uva_msg_pack_buffer(uva_msg_t *msg, void *data, size_t len, uva_free_cb free_cb) {
  if (msg == NULL || data == NULL)
    return UV_EINVAL;
  return uva__msg_attach(msg, &buffer_type, data, len, free_cb != NULL ? free_cb : free);
}

int uva_msg_take_buffer(uva_msg_t *msg, const msgpack_object *ext, void **data, size_t *len,
                        uva_free_cb *free_cb) {
  uva__attach_t *slot;
  int err;

  if (data == NULL || len == NULL)
    return UV_EINVAL;
  err = uva__msg_slot(msg, ext, &buffer_type, &slot);
  if (err != 0)
    return err;
  *data = slot->ptr;
  *len = slot->len;
  if (free_cb != NULL)
    *free_cb = slot->free_cb;
  slot->type = NULL;
  return 0;
}

int uva_msg_take_buffers(uva_msg_t *msg, uva_msg_buffer_t *out, size_t max, size_t *count) {
  uint32_t i;

  if (msg == NULL || count == NULL || (out == NULL && max > 0))
    return UV_EINVAL;
  for (i = 0; i < msg->nattach; i++)
    if (msg->attach[i].type != &buffer_type)
      return UV_EINVAL;
  *count = msg->nattach;
  if (msg->nattach > max)
    return UV_ENOBUFS;
  for (i = 0; i < msg->nattach; i++) {
    out[i].data = msg->attach[i].ptr;
    out[i].len = msg->attach[i].len;
    out[i].free_cb = msg->attach[i].free_cb;
    msg->attach[i].type = NULL;
  }
  return 0;
}

int uva_msg_from_parts(uva_msg_t **msgp, const void *data, size_t len, const uva_msg_limits_t *limits,
                       const uva_msg_buffer_t *buffers, size_t count) {
  uva__attach_t *att;
  uva_msg_t *msg;
  size_t nslots;
  size_t i;
  int err;

  if (count == 0)
    return uva_msg_from_bytes(msgp, data, len, limits);
  if (msgp == NULL || (data == NULL && len > 0) || buffers == NULL || count > UINT32_MAX)
    return UV_EINVAL;
  for (i = 0; i < count; i++)
    if (buffers[i].data == NULL)
      return UV_EINVAL;
  err = uva__msgpack_scan(data, len, limits, (int64_t)count | UVA__SCAN_BUFFERS, NULL, &nslots);
  if (err != 0)
    return err;
  err = uva_msg_new(&msg);
  if (err != 0)
    return err;
  att = count <= msg->attach_cap ? msg->attach : uva__malloc(count * sizeof(*att));
  if (att == NULL || msg_reserve(msg, len) != 0) {
    if (att != NULL && att != msg->attach)
      free(att);
    uva_msg_free(msg);
    return UV_ENOMEM;
  }
  if (len > 0)
    memcpy(msg->data, data, len);
  msg->len = len;
  for (i = 0; i < count; i++) {
    att[i].type = &buffer_type;
    att[i].ext = UVA_EXT_BUFFER;
    att[i].ptr = buffers[i].data;
    att[i].len = buffers[i].len;
    att[i].free_cb = buffers[i].free_cb != NULL ? buffers[i].free_cb : free;
  }
  if (att != msg->attach)
    msg->attach_cap = (uint32_t)count;
  msg->attach = att;
  msg->nattach = (uint32_t)count;
  msg->nslots = nslots;
  msg->accepted = 1;
  msg->validated = uva__msg_limits_within_defaults(limits);
  *msgp = msg;
  return 0;
}

int uva__msg_copyable(const uva_msg_t *msg) {
  uint32_t i;

  if (msg->call_kind == UVA__CALL_REQUEST)
    return 0;
  for (i = 0; i < msg->nattach; i++)
    if (msg->attach[i].type != NULL && msg->attach[i].type->ext != UVA_EXT_SHARED)
      return 0;
  return 1;
}

int uva__msg_clone(const uva_msg_t *msg, uva_msg_t **out) {
  uva_msg_t *copy;
  uint32_t i;
  int err;

  if (!uva__msg_copyable(msg))
    return UV_EINVAL;
  err = uva_msg_new(&copy);
  if (err != 0)
    return err;
  if (msg_reserve(copy, msg->len) != 0 ||
      (msg->nattach > copy->attach_cap &&
       (copy->attach = uva__malloc(msg->nattach * sizeof(*copy->attach))) == NULL)) {
    uva_msg_free(copy);
    return UV_ENOMEM;
  }
  if (msg->nattach > copy->attach_cap)
    copy->attach_cap = msg->nattach;
  memcpy(copy->data, msg->data, msg->len);
  copy->len = msg->len;
  for (i = 0; i < msg->nattach; i++) {
    copy->attach[i] = msg->attach[i];
    if (copy->attach[i].type != NULL)
      uva_shared_ref(copy->attach[i].ptr);
  }
  copy->nattach = msg->nattach;
  copy->nslots = msg->nslots;
  copy->accepted = msg->accepted;
  copy->validated = msg->validated;
  *out = copy;
  return 0;
}
