/* CURVE's allow list: a ZAP handler (ZeroMQ RFC 27) on the transport's thread.
 *
 * A socket with CURVE_SERVER asks the context's ZAP handler, at inproc://zeromq.zap.01, about every client
 * that completes the CURVE handshake; the handler answers 200 for a public key of the allow list and 400
 * for any other. ZeroMQ's I/O thread waits for the answer without blocking anything else, so the handler
 * is one more socket on the transport's loop.
 */
#include <string.h>

#include "remote/transport.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

int rt_auth_start(rt_t *rt) {
  sock_t *zap = sock_new(rt, SOCK_ZAP);

  if (zap == NULL)
    return rt_errno();
  if (zmq_bind(zap->zs, ZAP_ENDPOINT) != 0) {
    int err = rt_errno();
    sock_close(zap);
    return err;
  }
  rt->zap = zap;
  return 0;
}

static int allowed(const rt_t *rt, const unsigned char *key, size_t len) {
  char text[UVA_REMOTE_KEY_LEN + 1];
  char *const *k;

  if (len != 32 || zmq_z85_encode(text, key, 32) == NULL)
    return 0;
  for (k = rt->cfg->allow; k != NULL && *k != NULL; k++)
    if (strcmp(*k, text) == 0)
      return 1;
  return 0;
}

static void reply_part(void *zs, const void *data, size_t len, int more) {
  zmq_send(zs, data, len, more ? ZMQ_SNDMORE : 0);
}

/* One request: version, request id, domain, address, routing id, mechanism, then the credentials (for
 * CURVE, the client's 32-byte public key). */
void rt_auth_on_request(sock_t *zap) {
  zmq_msg_t frames[8];
  size_t n = 0;
  size_t i;
  int more = 1;
  int over = 0;
  int ok;

  while (more && n < 8) {
    zmq_msg_init(&frames[n]);
    if (zmq_msg_recv(&frames[n], zap->zs, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&frames[n]);
      break;
    }
    more = zmq_msg_more(&frames[n]);
    n++;
  }
  while (more) { /* more frames than a request has: drop them, and say no */
    zmq_msg_t extra;
    zmq_msg_init(&extra);
    if (zmq_msg_recv(&extra, zap->zs, ZMQ_DONTWAIT) < 0)
      more = 0;
    else
      more = zmq_msg_more(&extra);
    zmq_msg_close(&extra);
    over = 1;
  }
  if (n >= 2) {
    ok = !over && n == 7 && zmq_msg_size(&frames[5]) == 5 &&
         memcmp(zmq_msg_data(&frames[5]), "CURVE", 5) == 0 &&
         allowed(zap->rt, zmq_msg_data(&frames[6]), zmq_msg_size(&frames[6]));
    reply_part(zap->zs, "1.0", 3, 1);
    reply_part(zap->zs, zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), 1);
    reply_part(zap->zs, ok ? "200" : "400", 3, 1);
    reply_part(zap->zs, ok ? "OK" : "key not allowed", ok ? 2 : 15, 1);
    reply_part(zap->zs, "", 0, 1);
    reply_part(zap->zs, "", 0, 0);
  }
  for (i = 0; i < n; i++)
    zmq_msg_close(&frames[i]);
}
