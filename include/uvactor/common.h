/* uvactor: export macro, version and error codes shared by every part of the API. */
#ifndef UVACTOR_COMMON_H
#define UVACTOR_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(UVA_BUILDING) && defined(__GNUC__)
#define UVA_EXTERN __attribute__((visibility("default"))) extern
#else
#define UVA_EXTERN extern
#endif

/* The version of the API this header declares. uva_version() gives the library's, which may be newer. */
#define UVA_VERSION_MAJOR 0
#define UVA_VERSION_MINOR 2
#define UVA_VERSION_PATCH 0
#define UVA_VERSION_HEX ((UVA_VERSION_MAJOR << 16) | (UVA_VERSION_MINOR << 8) | UVA_VERSION_PATCH)

/* Errors. Every function that can fail returns 0 or a negative error code: libuv's UV_E* values (UV_EINVAL,
 * UV_ENOMEM, UV_EPIPE, UV_EAGAIN, UV_EBUSY, UV_E2BIG, ...) or one of the UVA_E* codes of this map, which
 * name the ways outside msgpack bytes can be malformed, and a handle used in a child process it was
 * inherited by (ports, loops and actors do not survive fork()). The UVA_E* values never collide with
 * libuv's. A call that fails changes nothing, and what it was given stays the caller's. */
#define UVA_ERRNO_MAP(XX)                                                           \
  XX(ETRUNC, -30001, "msgpack input ends inside an object")                         \
  XX(EBADBYTE, -30002, "msgpack input contains the never-used byte 0xc1")           \
  XX(ETRAILING, -30003, "msgpack input has bytes after its one object")             \
  XX(EDEPTH, -30004, "msgpack input nests deeper than the limit")                   \
  XX(ECOUNT, -30005, "msgpack container has more elements than the limit")          \
  XX(EBADEXT, -30006, "msgpack ext of a reserved type does not name an attachment") \
  XX(EOBJECTS, -30007, "msgpack input has more objects in total than the limit")    \
  XX(EFORKED, -30008, "the handle was inherited through fork(): it belongs to the parent process")

/* The UVA_E* codes of UVA_ERRNO_MAP as an enum, for switch statements and debuggers. */
typedef enum {
#define UVA__ERRNO_ENUM(name, value, text) UVA_##name = (value),
  UVA_ERRNO_MAP(UVA__ERRNO_ENUM)
#undef UVA__ERRNO_ENUM
      UVA_ERRNO_MAX_ = -30000
} uva_errno_t;

/* Text for an error code: for a UVA_E* code its own, for a libuv code uv_strerror()'s, for anything else
 * "unknown error". The returned string is static; nothing is allocated, even for an unknown code.
 * Thread-safe. */
UVA_EXTERN const char *uva_strerror(int err);

/* Short name of an error code: "UVA_ETRUNC" for a UVA_E* code, uv_err_name()'s ("EPIPE") for a libuv code,
 * "UNKNOWN" for anything else. The returned string is static; nothing is allocated. Thread-safe. */
UVA_EXTERN const char *uva_err_name(int err);

/* The library's version, as UVA_VERSION_HEX encodes it (major << 16 | minor << 8 | patch) and as
 * "major.minor.patch" (static). Thread-safe. */
UVA_EXTERN unsigned int uva_version(void);
UVA_EXTERN const char *uva_version_string(void);

/* Handles. Every handle type begins with the same fields, as libuv's do: public (the caller's), read-only
 * (the library's, which a caller may read) and private (the library's, which may change in any version). A
 * handle's size and alignment do not change within a major version: each keeps reserved space that later
 * versions use for what they add, and tests/test_abi.c pins every public type's size and alignment so that
 * a change is a decision. A handle is known by its address: never copy or move one. uva_handle_type is
 * what a handle's type field holds; new types are appended, so that every value keeps its number
 * (tests/test_abi.c pins them). The last three are libuvactor-remote's (uvactor/remote.h). */
typedef enum {
  UVA_UNKNOWN_HANDLE = 0,
  UVA_PORT,
  UVA_BROADCAST,
  UVA_ACTOR,
  UVA_TPOOL,
  UVA_MONITOR,
  UVA_NAME,
  UVA_NAME_REQ,
  UVA_SUPERVISOR,
  UVA_CALL,
  UVA_NODE,
  UVA_REMOTE_REQ,
  UVA_REMOTE_ACTOR,
  UVA_HANDLE_TYPE_MAX
} uva_handle_type;

/* The type's name, as the enum's without "UVA_" and in lower case ("port", "remote_actor"; "unknown" for
 * UVA_UNKNOWN_HANDLE); NULL for a value that is no type (UVA_HANDLE_TYPE_MAX and beyond, or negative).
 * Static. Thread-safe. */
UVA_EXTERN const char *uva_handle_type_name(uva_handle_type type);

/* The fields every handle begins with: data, the caller's; loop and type, which a caller may read and
 * never writes; then private ones. */
#define UVA_HANDLE_FIELDS                                                      \
  /* public */                                                                 \
  void *data; /* the caller's; the library never reads or writes it */         \
  /* read-only */                                                              \
  uv_loop_t *loop; /* the loop its callbacks run on; NULL while it has none */ \
  uva_handle_type type;                                                        \
  /* private */                                                                \
  unsigned int state_;                                                         \
  unsigned int inflight_; /* calls from other threads under way */             \
  unsigned int flags_;                                                         \
  uv_thread_t owner_; /* the thread that runs loop */                          \
  void *reserved_[4];

/* Private: a link of the library's intrusive lists, for handles that sit on one. */
struct uva__link_s {
  struct uva__link_s *next;
  struct uva__link_s *prev;
};

/* How a buffer handed over to the library is released: called with the buffer's pointer. */
typedef void (*uva_free_cb)(void *ptr);

#ifdef __cplusplus
}
#endif
#endif /* UVACTOR_COMMON_H */
