/* Internal: the wire format (docs/remote.md is its description for other languages).
 *
 * Every ZeroMQ message between nodes is: a header frame of exactly UVA__WIRE_HEADER_SIZE bytes, then, for
 * the types that have one, a body frame (msgpack), then nattach frames, one per moved buffer of a DATA
 * message. Integers are big-endian. Decoding never trusts the header: wire_decode() checks every field it
 * can check without state, and the transport checks the rest (session, channel, sequence) against its own.
 */
#ifndef UVA_REMOTE_WIRE_H
#define UVA_REMOTE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define UVA__WIRE_MAGIC0 0x55 /* 'U' */
#define UVA__WIRE_MAGIC1 0x41 /* 'A' */
#define UVA__WIRE_VERSION 1
#define UVA__WIRE_HEADER_SIZE 56
/* The most moved buffers one message may carry across. */
#define UVA__WIRE_MAX_ATTACH 64

/* Frame types. */
enum {
  UVA__WIRE_HELLO = 1, /* client -> server: opens a session; body: the node's map */
  UVA__WIRE_WELCOME,   /* server -> client: the session is open; body: the node's map */
  UVA__WIRE_HEARTBEAT, /* either way: still here */
  UVA__WIRE_OPEN,      /* opener -> acceptor: a channel to a name; body: [kind, name, init?] */
  UVA__WIRE_ACCEPT,    /* acceptor -> opener: status 0 (open) or an error */
  UVA__WIRE_DATA,      /* a message; body and nattach buffer frames follow */
  UVA__WIRE_CREDIT,    /* credits back to the sender, nothing else */
  UVA__WIRE_CLOSE,     /* the sender's side of the channel is closed; seq: the last DATA it sent */
  UVA__WIRE_EXIT,      /* acceptor of a spawn -> opener: the actor ended; status: its exit code; body:
                          [error text or nil] */
  UVA__WIRE_TERMINATE, /* opener of a spawn -> acceptor: stop the actor */
  UVA__WIRE_RESET,     /* "no such session": the receiver drops the session named in the header */
  UVA__WIRE_BATCH,     /* DATA seq, seq + 1, ... of a channel, one entry each: to a peer whose node map says
                          "batch" */
  UVA__WIRE_TYPE_MAX
};

/* flags */
#define UVA__WIRE_FLAG_OPENER 0x01 /* the sender opened the channel the frame is about */
#define UVA__WIRE_FLAGS_ALL 0x01

/* Call kinds: the correlation of a call travels in the header, beside the body, never inside it. */
enum { UVA__WIRE_CALL_NONE = 0, UVA__WIRE_CALL_REQUEST, UVA__WIRE_CALL_REPLY, UVA__WIRE_CALL_MAX };

/* OPEN kinds (the first element of its body). */
enum { UVA__WIRE_OPEN_NAME = 0, UVA__WIRE_OPEN_SPAWN = 1 };

typedef struct {
  uint8_t version;
  uint8_t type;
  uint8_t flags;
  uint8_t call_kind;
  uint16_t nattach;
  int32_t status;
  uint32_t credit_messages;
  uint64_t session;
  uint64_t channel;
  uint64_t seq;
  uint64_t call_id;
  uint64_t credit_bytes;
} uva__wire_header_t;

/* A BATCH body is its entries back to back, each UVA__WIRE_ENTRY_SIZE bytes and then the message's body:
 * body length (4), call kind (1), three zero bytes, status (4), call id (8). Entry i (from 0) is the DATA
 * numbered seq + i of the header's channel, with no moved buffers. */
#define UVA__WIRE_ENTRY_SIZE 20

typedef struct {
  uint8_t call_kind;
  int32_t status;
  uint64_t call_id;
  const void *body;
  uint32_t len;
} uva__wire_entry_t;

/* Writes e's UVA__WIRE_ENTRY_SIZE bytes into out (not its body, which follows them). */
void uva__wire_entry_encode(const uva__wire_entry_t *e, unsigned char *out);

/* Reads the entry at *off of a BATCH body of len bytes and moves *off past its body. 0; UV_EOF at the end;
 * UV_EPROTO: a cut entry or body, nonzero padding or an unknown call kind. */
int uva__wire_entry_next(const void *batch, size_t len, size_t *off, uva__wire_entry_t *e);

/* Writes h into out (UVA__WIRE_HEADER_SIZE bytes), magic and version included. */
void uva__wire_encode(const uva__wire_header_t *h, unsigned char *out);

/* Reads a header frame of len bytes. 0, or UV_EPROTO: not a header (size, magic, an unknown type, flags or
 * call kind, attachments on a frame that has none or more than UVA__WIRE_MAX_ATTACH), or UV_EPROTONOSUPPORT:
 * a header of another version (*h then holds the version and type only). */
int uva__wire_decode(const void *data, size_t len, uva__wire_header_t *h);

/* Whether frames of this type carry a body frame. */
int uva__wire_has_body(uint8_t type);

#endif /* UVA_REMOTE_WIRE_H */
