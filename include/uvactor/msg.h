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

/* A message: the msgpack body, the side table of what it carries by reference, and the view it was read as.
 * Opaque. Made by uva_msg_new() or uva_msg_from_bytes() and freed by uva_msg_free(), unless a successful
 * post consumes it; used by one thread at a time. */
typedef struct uva_msg_s uva_msg_t;
/* A shared buffer: a zero-filled block, aligned for any atomic type, with a reference count. Opaque. Made
 * by uva_shared_new(), freed when its last reference is dropped; any thread may hold a reference. */
typedef struct uva_shared_s uva_shared_t;

/* msgpack ext types 120..127 are uvactor's; applications may use every other ext type, the negative ones
 * included. UVA_EXT_PORT, UVA_EXT_BUFFER and UVA_EXT_SHARED name a port, a moved buffer and a shared buffer
 * of the message's side table (their payload is the slot's index, meaningful in that message only);
 * 120..124 name nothing, and a body that holds one is malformed (UVA_EBADEXT). */
#define UVA_EXT_RESERVED_MIN 120
#define UVA_EXT_PORT 125
#define UVA_EXT_BUFFER 126
#define UVA_EXT_SHARED 127

/* Deepest nesting any limit may allow: validation and decoding keep one small frame per level on the
 * C stack, so an actor with a small stack can still read any message. */
#define UVA_MSG_MAX_DEPTH 256

/* Limits for validating msgpack bytes. A zero field takes its default; a limit is inclusive (input exactly
 * at it passes, one past it fails):
 *   max_size      total bytes of the input                          64 MiB
 *   max_depth     nesting of arrays and maps (a scalar is depth 0)   64, at most UVA_MSG_MAX_DEPTH
 *   max_container elements of one array, or pairs of one map         1 Mi
 *   max_objects   objects in the whole input, containers included    4 Mi
 * A max_depth over UVA_MSG_MAX_DEPTH is refused (UV_EINVAL). Validation never allocates, whatever a header
 * claims. */
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
 * free function, a shared buffer reference is dropped, a port not taken is closed (its peer sees the
 * close). Each exactly once; what a receiver took is no longer the message's and is left alone. NULL is
 * ignored. A message freed twice is a bug the library stops with abort() when it sees it. */
UVA_EXTERN void uva_msg_free(uva_msg_t *msg);

/* The packer that writes into the message's body; borrowed, valid as long as the message. Pack exactly one
 * msgpack object (usually an array or map). If the message cannot grow, the msgpack_pack_* call returns -1
 * and the message remembers UV_ENOMEM: every later pack fails too, and uva_msg_validate() and every post
 * report it. Packing after the body was read changes it: the next uva_msg_object() reads it anew, and an
 * earlier view is no longer valid. NULL for NULL. */
UVA_EXTERN msgpack_packer *uva_msg_packer(uva_msg_t *msg);

/* Checks that the body is exactly one well-formed msgpack object within limits (NULL for the defaults) and
 * that every reserved ext names an attachment of this message, of its kind. The size is checked first, then
 * the body is read from the front and the first fault met is the one reported. Returns 0, UV_EINVAL (msg
 * NULL, or limits->max_depth over UVA_MSG_MAX_DEPTH), UV_ENOMEM (an earlier pack failed), UV_E2BIG (over
 * max_size) or a UVA_E* code. Posting runs the same check with the defaults, so a malformed message is
 * refused at the sender, never delivered; a pass with the defaults is remembered until the body changes. */
UVA_EXTERN int uva_msg_validate(uva_msg_t *msg, const uva_msg_limits_t *limits);

/* Makes a message from outside bytes (a file, a socket, another program): validates len bytes at data with
 * limits (NULL for the defaults), then copies them into a new message in *msgp, the caller's. The bytes
 * stay the caller's, to reuse or free at once. Reserved ext types are refused (UVA_EBADEXT): outside bytes
 * cannot name attachments. The message can be read within the limits it was accepted with; posting it
 * still checks the defaults. Returns 0, UV_EINVAL (msgp NULL, data NULL with len > 0, or limits out of
 * range as for uva_msg_validate()), UV_ENOMEM, UV_E2BIG or a UVA_E* code naming what is wrong (UVA_ETRUNC
 * for no bytes at all); on error *msgp is untouched. Thread-safe. */
UVA_EXTERN int uva_msg_from_bytes(uva_msg_t **msgp, const void *data, size_t len,
                                  const uva_msg_limits_t *limits);

/* The body's bytes and their count (NULL and 0 for NULL); borrowed, valid until the message is changed or
 * freed. These are the bytes to write to a file or a socket; a port or buffer the body carries is only an
 * index into the side table, which never leaves the process. */
UVA_EXTERN const char *uva_msg_data(const uva_msg_t *msg);
UVA_EXTERN size_t uva_msg_size(const uva_msg_t *msg);

/* Reads the body as a msgpack_object view in *out. str, bin and ext point into the message and nothing is
 * copied; types are as msgpack-c's unpacker gives them (a non-negative integer is POSITIVE_INTEGER, a
 * float32 is FLOAT32, a map's pairs are msgpack_object_kv). Arrays and maps of a small message use storage
 * inside the message (no allocation), larger ones one allocation, freed with the message. The view stays
 * valid until the message is changed or freed; asking again gives the same view. Returns 0, UV_EINVAL (msg
 * or out NULL), UV_ENOMEM or the error uva_msg_validate(msg, NULL) would give, unless the body was already
 * accepted with other limits (by uva_msg_from_bytes() or uva_msg_validate()). */
UVA_EXTERN int uva_msg_object(uva_msg_t *msg, msgpack_object *out);

/* Moves a heap buffer into the message and packs the ext that names it (UVA_EXT_BUFFER) as the next object
 * of the body. On success the message owns data and frees it with free_cb (NULL means free()) unless a
 * receiver takes it; nothing is copied, whatever len. On failure (UV_EINVAL: msg or data NULL; UV_ENOMEM,
 * also after an earlier pack failed) data stays the caller's and the body is unchanged. */
UVA_EXTERN int uva_msg_pack_buffer(uva_msg_t *msg, void *data, size_t len, uva_free_cb free_cb);

/* Takes the moved buffer that ext (an object of this message's view) names: *data, *len and the function
 * that frees it (*free_cb; free_cb may be NULL if the caller does not need it) become the caller's, and the
 * message will not free it. Returns 0, UV_EINVAL (msg, ext, data or len NULL, or ext is not a buffer ext of
 * this message: another message's, a shared buffer's, an application's, not an ext) or UV_EALREADY (taken
 * before). */
UVA_EXTERN int uva_msg_take_buffer(uva_msg_t *msg, const msgpack_object *ext, void **data, size_t *len,
                                   uva_free_cb *free_cb);

/* A moved buffer outside a message: what uva_msg_take_buffers() hands out and uva_msg_from_parts() takes in.
 */
typedef struct {
  void *data;
  size_t len;
  uva_free_cb free_cb; /* how data is released; NULL means free() */
} uva_msg_buffer_t;

/* For a transport that carries a message out of the process (uvactor/remote.h): takes every moved buffer out
 * of msg, in the order of its side table, into out[0..*count). The body is left as it is: each
 * UVA_EXT_BUFFER ext in it names its buffer by that index, so uva_msg_data() and these buffers are the whole
 * message, and uva_msg_from_parts() makes it again on the other side. On success the buffers are the
 * caller's (release each with its free_cb) and the message no longer frees them; a message without any gives
 * 0 and *count 0 at once. Returns 0, UV_EINVAL (msg or count NULL, out NULL with max > 0, or msg carries what
 * cannot leave the process: a port, a shared buffer, or a buffer a receiver took before) or UV_ENOBUFS (more
 * than max buffers: *count says how many, and nothing was taken). */
UVA_EXTERN int uva_msg_take_buffers(uva_msg_t *msg, uva_msg_buffer_t *out, size_t max, size_t *count);

/* The other side of uva_msg_take_buffers(): as uva_msg_from_bytes(), but the body may hold UVA_EXT_BUFFER
 * exts, each naming buffers[i] by its payload (i as a 4-byte big-endian integer, i < count), and the new
 * message owns every buffer of buffers (a receiver takes one with uva_msg_take_buffer(); those not taken are
 * released with their free_cb when the message is freed). The bytes stay the caller's; on failure, the
 * buffers too. Returns what uva_msg_from_bytes() returns (UVA_EBADEXT also for an index of count or more, or
 * any other reserved ext type), or UV_EINVAL for buffers NULL with count > 0, a buffer whose data is NULL,
 * or count over UINT32_MAX. Thread-safe. */
UVA_EXTERN int uva_msg_from_parts(uva_msg_t **msgp, const void *data, size_t len,
                                  const uva_msg_limits_t *limits, const uva_msg_buffer_t *buffers,
                                  size_t count);

/* Packs a reference to a shared buffer (an ext of type UVA_EXT_SHARED) as the next object of the body. The
 * message takes a reference of its own, dropped when it is freed; the caller keeps its own and may drop it
 * at once. Returns 0, UV_EINVAL (msg or shared NULL) or UV_ENOMEM (then the body is unchanged). */
UVA_EXTERN int uva_msg_pack_shared(uva_msg_t *msg, uva_shared_t *shared);

/* Gets the shared buffer that ext (an object of this message's view) names: *out is a new reference, the
 * caller's to uva_shared_unref(). May be called more than once, each time for a new reference. Returns 0
 * or UV_EINVAL (msg, ext or out NULL, or ext is not a shared ext of this message). */
UVA_EXTERN int uva_msg_get_shared(uva_msg_t *msg, const msgpack_object *ext, uva_shared_t **out);

/* Creates a zero-filled shared buffer of size bytes (aligned for any atomic type) with one reference,
 * the caller's. Returns 0, UV_EINVAL (out NULL, or size so large the block's size overflows) or UV_ENOMEM.
 * Thread-safe. */
UVA_EXTERN int uva_shared_new(size_t size, uva_shared_t **out);

/* The buffer's bytes (every holder sees the same memory; synchronise with atomics) and its size, valid
 * while the caller holds a reference (NULL and 0 for NULL). Thread-safe. */
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
