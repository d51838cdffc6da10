/* uvactor messages: msgpack bytes plus a side table of what the message carries by reference.
 *
 * A sender makes a message with uva_msg_new() and fills it with msgpack-c's own packer, which writes
 * straight into the message (no second copy). A receiver reads it as a msgpack_object view whose str, bin
 * and ext payloads point into the message, valid until the message is changed or freed.
 *
 * Large or shared data travels by reference: a moved buffer changes owner in O(1) (no copy), a shared
 * buffer is reference counted and seen by every holder. Each is written into the body as a msgpack ext of
 * a reserved type (UVA_EXT_*) whose payload names a slot of the side table; the receiver hands that ext
 * object back to take what it names. Ports travel the same way (uva_msg_pack_port(), see port.h).
 *
 * A message is used by one thread at a time; posting it hands it, whole, to the receiving thread.
 */
#ifndef UVACTOR_MSG_H
#define UVACTOR_MSG_H

#include <msgpack.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uva_msg_s uva_msg_t;
typedef struct uva_shared_s uva_shared_t;

/* msgpack ext types 120..127 are uvactor's; applications may use every other ext type. */
#define UVA_EXT_RESERVED_MIN 120
#define UVA_EXT_PORT 125
#define UVA_EXT_BUFFER 126
#define UVA_EXT_SHARED 127

/* Deepest nesting any limit may allow: validation and decoding keep one small frame per level on the
 * C stack, so an actor with a small stack can still read any message. */
#define UVA_MSG_MAX_DEPTH 256

/* Limits for validating msgpack bytes. A zero field takes its default:
 *   max_size      total bytes of the input                          64 MiB
 *   max_depth     nesting of arrays and maps (a scalar is depth 0)   64, at most UVA_MSG_MAX_DEPTH
 *   max_container elements of one array, or pairs of one map         1 Mi
 *   max_objects   objects in the whole input, containers included    4 Mi
 * Validation never allocates, whatever a header claims. */
typedef struct {
  size_t max_size;
  unsigned int max_depth;
  uint32_t max_container;
  size_t max_objects;
} uva_msg_limits_t;

/* Creates an empty message in *msgp; the caller owns it and frees it with uva_msg_free() unless a
 * successful post consumes it. Returns 0, UV_EINVAL (msgp NULL) or UV_ENOMEM. Thread-safe. */
UVA_EXTERN int uva_msg_new(uva_msg_t **msgp);

/* Frees a message and releases what its side table still holds: a moved buffer not taken is freed with its
 * free function, a shared buffer reference is dropped, a port not taken is closed (its peer sees the close).
 * Each exactly once. NULL is ignored. */
UVA_EXTERN void uva_msg_free(uva_msg_t *msg);

/* The packer that writes into the message's body; borrowed, valid as long as the message. Pack exactly one
 * msgpack object (usually an array or map). If the message cannot grow, the msgpack_pack_* call returns -1
 * and the message remembers UV_ENOMEM: uva_msg_validate() and every post report it. NULL for NULL. */
UVA_EXTERN msgpack_packer *uva_msg_packer(uva_msg_t *msg);

/* Checks that the body is exactly one well-formed msgpack object within limits (NULL for the defaults) and
 * that every reserved ext names an attachment of this message. Returns 0, UV_EINVAL (msg NULL or limits out
 * of range), UV_ENOMEM (an earlier pack failed), UV_E2BIG (over max_size) or a UVA_E* code. Posting runs the
 * same check, so a malformed message is refused at the sender, never delivered. */
UVA_EXTERN int uva_msg_validate(uva_msg_t *msg, const uva_msg_limits_t *limits);

/* Makes a message from outside bytes (a file, a socket, another program): validates them with limits
 * (NULL for the defaults), then copies them into a new message in *msgp. The bytes stay the caller's.
 * Reserved ext types are refused (UVA_EBADEXT): outside bytes cannot name attachments. The message can be
 * read within the limits it was accepted with; posting it still checks the defaults. Returns 0,
 * UV_EINVAL, UV_ENOMEM, UV_E2BIG or a UVA_E* code naming what is wrong; on error *msgp is untouched. */
UVA_EXTERN int uva_msg_from_bytes(uva_msg_t **msgp, const void *data, size_t len,
                                  const uva_msg_limits_t *limits);

/* The body's bytes and their count; borrowed, valid until the message is changed or freed. */
UVA_EXTERN const char *uva_msg_data(const uva_msg_t *msg);
UVA_EXTERN size_t uva_msg_size(const uva_msg_t *msg);

/* Reads the body as a msgpack_object view in *out. str, bin and ext point into the message and nothing is
 * copied; arrays and maps of a small message use storage inside the message (no allocation), larger ones
 * one allocation, freed with the message. The view stays valid until the message is changed or freed.
 * Returns 0, UV_EINVAL, UV_ENOMEM or the error uva_msg_validate(msg, NULL) would give, unless the body
 * was already accepted with other limits (by uva_msg_from_bytes() or uva_msg_validate()). */
UVA_EXTERN int uva_msg_object(uva_msg_t *msg, msgpack_object *out);

/* Moves a heap buffer into the message and packs the ext that names it. On success the message owns data
 * and frees it with free_cb (NULL means free()) unless a receiver takes it; nothing is copied. On failure
 * (UV_EINVAL: msg or data NULL; UV_ENOMEM) data stays the caller's and the body is unchanged. */
UVA_EXTERN int uva_msg_pack_buffer(uva_msg_t *msg, void *data, size_t len, uva_free_cb free_cb);

/* Takes the moved buffer that ext (an object of this message's view) names: *data, *len and the function
 * that frees it (*free_cb, may be NULL if the caller does not need it) become the caller's. Returns 0,
 * UV_EINVAL (ext is not a buffer ext of this message) or UV_EALREADY (taken before). */
UVA_EXTERN int uva_msg_take_buffer(uva_msg_t *msg, const msgpack_object *ext, void **data, size_t *len,
                                   uva_free_cb *free_cb);

/* Packs a reference to a shared buffer. The message takes its own reference; the caller keeps its own.
 * Returns 0, UV_EINVAL or UV_ENOMEM (then the body is unchanged). */
UVA_EXTERN int uva_msg_pack_shared(uva_msg_t *msg, uva_shared_t *shared);

/* Gets the shared buffer that ext names: *out is a new reference, the caller's to uva_shared_unref().
 * May be called more than once. Returns 0 or UV_EINVAL (ext is not a shared ext of this message). */
UVA_EXTERN int uva_msg_get_shared(uva_msg_t *msg, const msgpack_object *ext, uva_shared_t **out);

/* Creates a zero-filled shared buffer of size bytes (aligned for any atomic type) with one reference,
 * the caller's. Returns 0, UV_EINVAL or UV_ENOMEM. Thread-safe. */
UVA_EXTERN int uva_shared_new(size_t size, uva_shared_t **out);

/* The buffer's bytes (every holder sees the same memory; synchronise with atomics) and its size. */
UVA_EXTERN void *uva_shared_data(uva_shared_t *shared);
UVA_EXTERN size_t uva_shared_size(const uva_shared_t *shared);

/* Adds a reference and returns shared (NULL for NULL). Thread-safe. */
UVA_EXTERN uva_shared_t *uva_shared_ref(uva_shared_t *shared);

/* Drops a reference; the last one frees the buffer. NULL is ignored. Thread-safe. */
UVA_EXTERN void uva_shared_unref(uva_shared_t *shared);

#ifdef __cplusplus
}
#endif
#endif /* UVACTOR_MSG_H */
