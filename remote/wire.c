/* The header frame and a BATCH's entries: encoding and the checks of a frame from the wire. */
#include <string.h>
#include <uv.h>

#include "remote/wire.h"

static void put16(unsigned char *p, uint16_t v) {
  p[0] = (unsigned char)(v >> 8);
  p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

static void put64(unsigned char *p, uint64_t v) {
  put32(p, (uint32_t)(v >> 32));
  put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const unsigned char *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const unsigned char *p) {
  return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const unsigned char *p) {
  return (uint64_t)get32(p) << 32 | get32(p + 4);
}

void uva__wire_encode(const uva__wire_header_t *h, unsigned char *out) {
  out[0] = UVA__WIRE_MAGIC0;
  out[1] = UVA__WIRE_MAGIC1;
  out[2] = UVA__WIRE_VERSION;
  out[3] = h->type;
  out[4] = h->flags;
  out[5] = h->call_kind;
  put16(out + 6, h->nattach);
  put32(out + 8, (uint32_t)h->status);
  put32(out + 12, h->credit_messages);
  put64(out + 16, h->session);
  put64(out + 24, h->channel);
  put64(out + 32, h->seq);
  put64(out + 40, h->call_id);
  put64(out + 48, h->credit_bytes);
}

int uva__wire_has_body(uint8_t type) {
  return type == UVA__WIRE_HELLO || type == UVA__WIRE_WELCOME || type == UVA__WIRE_OPEN ||
         type == UVA__WIRE_DATA || type == UVA__WIRE_EXIT || type == UVA__WIRE_BATCH;
}

int uva__wire_decode(const void *data, size_t len, uva__wire_header_t *h) {
  const unsigned char *p = data;

  memset(h, 0, sizeof(*h));
  if (data == NULL || len < 4 || p[0] != UVA__WIRE_MAGIC0 || p[1] != UVA__WIRE_MAGIC1)
    return UV_EPROTO;
  h->version = p[2];
  h->type = p[3];
  /* A later version may make its header longer: the version is read first, so that a peer of another
   * version is told so (and not that its frame is malformed). */
  if (h->version != UVA__WIRE_VERSION)
    return UV_EPROTONOSUPPORT;
  if (len != UVA__WIRE_HEADER_SIZE || h->type == 0 || h->type >= UVA__WIRE_TYPE_MAX)
    return UV_EPROTO;
  h->flags = p[4];
  h->call_kind = p[5];
  h->nattach = get16(p + 6);
  h->status = (int32_t)get32(p + 8);
  h->credit_messages = get32(p + 12);
  h->session = get64(p + 16);
  h->channel = get64(p + 24);
  h->seq = get64(p + 32);
  h->call_id = get64(p + 40);
  h->credit_bytes = get64(p + 48);
  if ((h->flags & ~UVA__WIRE_FLAGS_ALL) != 0 || h->call_kind >= UVA__WIRE_CALL_MAX)
    return UV_EPROTO;
  if (h->nattach > (h->type == UVA__WIRE_DATA || h->type == UVA__WIRE_OPEN ? UVA__WIRE_MAX_ATTACH : 0))
    return UV_EPROTO;
  if (h->call_kind != UVA__WIRE_CALL_NONE && h->type != UVA__WIRE_DATA)
    return UV_EPROTO;
  if (h->session == 0)
    return UV_EPROTO;
  return 0;
}

void uva__wire_entry_encode(const uva__wire_entry_t *e, unsigned char *out) {
  put32(out, e->len);
  out[4] = e->call_kind;
  out[5] = out[6] = out[7] = 0;
  put32(out + 8, (uint32_t)e->status);
  put64(out + 12, e->call_id);
}

int uva__wire_entry_next(const void *batch, size_t len, size_t *off, uva__wire_entry_t *e) {
  const unsigned char *p = (const unsigned char *)batch + *off;
  size_t left = len - *off;

  if (left == 0)
    return UV_EOF;
  if (left < UVA__WIRE_ENTRY_SIZE)
    return UV_EPROTO;
  e->len = get32(p);
  e->call_kind = p[4];
  e->status = (int32_t)get32(p + 8);
  e->call_id = get64(p + 12);
  e->body = p + UVA__WIRE_ENTRY_SIZE;
  if (e->len > left - UVA__WIRE_ENTRY_SIZE || (p[5] | p[6] | p[7]) != 0 || e->call_kind >= UVA__WIRE_CALL_MAX)
    return UV_EPROTO;
  *off += UVA__WIRE_ENTRY_SIZE + e->len;
  return 0;
}
