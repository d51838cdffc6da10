/* Internal: the message object and the hooks the channel layer uses to carry ports in it. */
#ifndef UVA_SERIALIZE_MESSAGE_H
#define UVA_SERIALIZE_MESSAGE_H

#include <stddef.h>

#include "uvactor.h"

/* What a side-table slot holds and how it is released when the message is freed with the slot untaken. */
typedef struct uva__attach_type_s {
  int8_t ext;
  void (*release)(void *ptr, size_t len, uva_free_cb free_cb);
} uva__attach_type_t;

typedef struct {
  const uva__attach_type_t *type; /* NULL once taken */
  int8_t ext;                     /* the ext type it was packed as, kept after it is taken */
  void *ptr;
  size_t len;
  uva_free_cb free_cb;
} uva__attach_t;

/* Calls (channel/call.c). A request carries, beside its body, the call's id and the way back to its caller;
 * its reply carries the id and a status. The id, kind and status are plain values, which a transport to
 * another process can carry as they are; the way back is a type (what answering and dropping it do) and a
 * pointer of that type's, so such a transport can bring its own. */
enum {
  UVA__CALL_NONE = 0, /* a plain message */
  UVA__CALL_REQUEST,  /* a request owed an answer: freed unanswered, it answers UV_ECONNRESET itself */
  UVA__CALL_ANSWERED, /* a request answered: plain from now on */
  UVA__CALL_REPLY     /* on its way to the caller: the library's until its call takes it */
};

typedef struct uva__reply_type_s {
  /* Queues reply (a UVA__CALL_REPLY) to the caller, whatever the caller's bounds, and drops the request's
   * reference to to: 0, or UV_EPIPE (the caller's channel is closed), UV_ELOOP or UVA_EFORKED; on failure
   * reply stays the answerer's and the reference the request's. Any thread. */
  int (*answer)(void *to, uva_msg_t *reply);
  /* Drops the request's reference to to, unanswered. Any thread. */
  void (*release)(void *to);
} uva__reply_type_t;

/* A body up to this size lives in the message itself: a record of a few fields needs no allocation of its
 * own, which would be a malloc on the sender's thread and a free on the receiver's. 256 would double the
 * rate of 200-byte messages too, but makes every message 512 bytes, which cost a stream of small ones 7%. */
#define UVA__MSG_INLINE_BYTES 128
#define UVA__MSG_INLINE_OBJECTS 4
#define UVA__MSG_INLINE_ATTACH 1

/* A message crosses cores twice, once to its receiver and once back through the recycler (recycle.c), so
 * its layout is about cache lines, and every line the sender writes is one the receiver's core gives back.
 * The first 64 bytes hold what every post and delivery reads and writes; a small body follows at once, so
 * that a message of a few fields is two lines. What comes after the body (the side table's pointer, the
 * transit and call fields, the packer) keeps its value between uses (uva__msg_construct()) and is written
 * only by the uses that change it, so that its line stays shared between the two cores instead of crossing;
 * then the view (root, then slots), which the receiver writes; and the side table, which most messages
 * never use, last. */
struct uva_msg_s {
  uva_msg_t *next; /* link in whatever queue holds the message; the queue's owner's */
  char *data;      /* the body: buf_inline, or a heap block once it outgrows that */
  size_t len;
  size_t cap;
  size_t nslots;         /* element slots the body needs; valid when accepted */
  msgpack_object *slots; /* storage for the view's array and map elements */
  uva_msg_t *ahead;      /* queued: a message queued some places after it, or NULL; set by the queue's
                            append (channel/end.c), meaningless outside a queue */
  int error;             /* sticky: set when a pack call could not grow the body */
  unsigned int live : 8; /* UVA__MSG_LIVE from uva_msg_new() to uva_msg_free(): a second free dies loudly */
  unsigned int call_kind : 8; /* UVA__CALL_* */
  unsigned int accepted : 1;  /* the body passed a check with some limits: nslots valid, may be viewed */
  unsigned int validated : 1; /* the body passed the check with the default limits */
  unsigned int viewed : 1;
  _Alignas(8) char buf_inline[UVA__MSG_INLINE_BYTES]; /* after the bit-fields, not in their last word */
  uva__attach_t *attach;                              /* attach_inline, or a heap block: the side table */
  uint32_t nattach;                                   /* slots used in the side table */
  uint32_t attach_cap;                                /* slots it has room for */
  struct uva__end_s *queued_on; /* a message that carries ports: the end whose queue holds it, or NULL
                                   (channel/transit.c) */
  /* Calls. */
  uint64_t call_id;                    /* request, reply: the call's id at its caller */
  const uva__reply_type_t *reply_type; /* request: how to answer it */
  void *reply_to;                      /* request: where the answer goes, a reference of reply_type's */
  int32_t call_status; /* reply: 0, the callee's code (> 0), or UV_ECONNRESET (freed unanswered) */
  msgpack_packer packer;
  msgpack_object root;
  msgpack_object slots_inline[UVA__MSG_INLINE_OBJECTS];
  uva__attach_t attach_inline[UVA__MSG_INLINE_ATTACH];
};

_Static_assert(offsetof(struct uva_msg_s, buf_inline) == 64, "a small body begins on the second line");

/* A tag, not a flag: a message's memory after free still holds what free left, and only this exact value
 * says "live". */
#define UVA__MSG_LIVE 0xa5

/* The memory of a message object: recycled between threads (recycle.c). */
uva_msg_t *uva__msg_alloc(void);
void uva__msg_dealloc(uva_msg_t *msg);

/* Sets what a message object keeps between uses, once, in a newly allocated object. */
void uva__msg_construct(uva_msg_t *msg);

/* Makes msg's object an empty new message again (uva_msg_new() without the allocation). */
void uva__msg_init(uva_msg_t *msg);

/* Large bodies, recycled too. A kept body of at least *cap bytes, with *cap raised to its size, or NULL. */
char *uva__body_take(size_t *cap);
/* Frees a heap body of cap bytes, or keeps it for uva__body_take(). */
void uva__body_free(char *body, size_t cap);

/* Adds a slot holding ptr and packs the ext naming it. On failure the message is unchanged. */
int uva__msg_attach(uva_msg_t *msg, const uva__attach_type_t *type, void *ptr, size_t len,
                    uva_free_cb free_cb);

/* The slot an ext object of this message's view names, if it is of the given type and not taken. */
int uva__msg_slot(uva_msg_t *msg, const msgpack_object *ext, const uva__attach_type_t *type,
                  uva__attach_t **slotp);

/* The longest of msg's body and the moved buffers it carries: the largest frame a transport that sends
 * each part as a frame of its own would send (the remote transport). */
size_t uva__msg_largest_part(const uva_msg_t *msg);

/* Whether msg can be copied: it carries no moved buffer and no port, which have one owner each, and it is
 * no request, whose answer is owed once. */
int uva__msg_copyable(const uva_msg_t *msg);

/* A new message with a copy of msg's body and its own reference to each shared buffer msg carries.
 * UV_EINVAL if msg is not copyable. */
int uva__msg_clone(const uva_msg_t *msg, uva_msg_t **out);

/* Checks msgpack bytes. nattach is the number of attachment slots the bytes may name, or -1 for outside bytes
 * (which may name none), or a number of moved buffers | UVA__SCAN_BUFFERS for outside bytes that come with
 * them (uva_msg_from_parts(): they may name those and nothing else); attach, a message's side table (NULL
 * for outside bytes), whose slots an ext must name by their own kind. On success *nslots is the number of
 * element slots a view needs. */
#define UVA__SCAN_BUFFERS ((int64_t)1 << 40)
int uva__msgpack_scan(const char *data, size_t len, const uva_msg_limits_t *limits, int64_t nattach,
                      const uva__attach_t *attach, size_t *nslots);

/* Whether bytes that passed limits pass the defaults too (NULL: they are the defaults): no field of limits
 * is looser than its default. Then a message made of them is validated as posting requires, once. */
int uva__msg_limits_within_defaults(const uva_msg_limits_t *limits);

/* Builds the view of bytes uva__msgpack_scan() accepted, using slots for array and map elements. */
void uva__msgpack_build(const char *data, size_t len, msgpack_object *slots, msgpack_object *root);

#endif /* UVA_SERIALIZE_MESSAGE_H */
