/* Shared buffers: one reference-counted block that every holder sees. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "serialize/message.h"

/* Cache-line alignment keeps the count off the data and suits every atomic type. */
#define UVA__SHARED_ALIGN 64

struct uva_shared_s {
  atomic_size_t refs;
  size_t size;
  _Alignas(UVA__SHARED_ALIGN) unsigned char data[];
};

int uva_shared_new(size_t size, uva_shared_t **out) {
  uva_shared_t *shared;
  size_t total;

  if (out == NULL || size > SIZE_MAX - sizeof(*shared) - UVA__SHARED_ALIGN)
    return UV_EINVAL;
  total = (sizeof(*shared) + size + UVA__SHARED_ALIGN - 1) & ~(size_t)(UVA__SHARED_ALIGN - 1);
  shared = uva__aligned_alloc(UVA__SHARED_ALIGN, total);
  if (shared == NULL)
    return UV_ENOMEM;
  atomic_init(&shared->refs, 1);
  shared->size = size;
  memset(shared->data, 0, size);
  *out = shared;
  return 0;
}

void *uva_shared_data(uva_shared_t *shared) {
  return shared == NULL ? NULL : shared->data;
}

size_t uva_shared_size(const uva_shared_t *shared) {
  return shared == NULL ? 0 : shared->size;
}

uva_shared_t *uva_shared_ref(uva_shared_t *shared) {
  if (shared != NULL)
    atomic_fetch_add_explicit(&shared->refs, 1, memory_order_relaxed);
  return shared;
}

void uva_shared_unref(uva_shared_t *shared) {
  if (shared != NULL && atomic_fetch_sub_explicit(&shared->refs, 1, memory_order_acq_rel) == 1)
    free(shared);
}

static void shared_release(void *ptr, size_t len, uva_free_cb free_cb) {
  (void)len;
  (void)free_cb;
  uva_shared_unref(ptr);
}

static const uva__attach_type_t shared_type = {UVA_EXT_SHARED, shared_release};

int uva_msg_pack_shared(uva_msg_t *msg, uva_shared_t *shared) {
  int err;

  if (msg == NULL || shared == NULL)
    return UV_EINVAL;
  err = uva__msg_attach(msg, &shared_type, shared, shared->size, NULL);
  if (err == 0)
    uva_shared_ref(shared);
  return err;
}

int uva_msg_get_shared(uva_msg_t *msg, const msgpack_object *ext, uva_shared_t **out) {
  uva__attach_t *slot;
  int err;

  if (out == NULL)
    return UV_EINVAL;
  err = uva__msg_slot(msg, ext, &shared_type, &slot);
  if (err != 0)
    return err;
  *out = uva_shared_ref(slot->ptr);
  return 0;
}
