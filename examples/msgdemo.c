/* msgdemo: one uvactor message, from building to reading, with no threads yet.
 *
 * A message is msgpack bytes plus a side table of what it carries by reference. This program packs a map
 * with nested data and a 1 MiB buffer that is moved in (not copied), prints the bytes, reads them back as
 * a msgpack_object view, takes the buffer out again, and shows how bytes from outside are checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvactor.h>

#define CHECK(expr)                                                                    \
  do {                                                                                 \
    int err_ = (expr);                                                                 \
    if (err_ != 0) {                                                                   \
      fprintf(stderr, "%s: %s (%s)\n", #expr, uva_strerror(err_), uva_err_name(err_)); \
      exit(1);                                                                         \
    }                                                                                  \
  } while (0)

static void pack_str(msgpack_packer *pk, const char *s) {
  msgpack_pack_str_with_body(pk, s, strlen(s));
}

int main(void) {
  size_t blob_len = 1 << 20, i;
  char *blob = malloc(blob_len);
  msgpack_object root, *ext;
  msgpack_packer *pk;
  uva_msg_t *msg, *copy = NULL;
  void *taken;
  size_t taken_len;
  int err;

  printf("uvactor %s\n\n", uva_version_string());
  if (blob == NULL)
    return 1;
  memset(blob, 'x', blob_len);

  /* Build: {"job": "resize", "size": [640, -480], "opts": {"fast": true, "q": 0.85}, "pixels": <buffer>}.
   * msgpack-c's packer writes straight into the message. */
  CHECK(uva_msg_new(&msg));
  pk = uva_msg_packer(msg);
  msgpack_pack_map(pk, 4);
  pack_str(pk, "job"), pack_str(pk, "resize");
  pack_str(pk, "size"), msgpack_pack_array(pk, 2), msgpack_pack_int(pk, 640), msgpack_pack_int(pk, -480);
  pack_str(pk, "opts"), msgpack_pack_map(pk, 2);
  pack_str(pk, "fast"), msgpack_pack_true(pk);
  pack_str(pk, "q"), msgpack_pack_double(pk, 0.85);
  pack_str(pk, "pixels");
  CHECK(uva_msg_pack_buffer(msg, blob, blob_len, free)); /* the message owns blob now: O(1), no copy */
  CHECK(uva_msg_validate(msg, NULL));

  /* The body stays small: the 1 MiB buffer is named by a 6-byte ext, not copied into it. */
  printf("body: %zu bytes (plus a moved buffer of %zu bytes)\n", uva_msg_size(msg), blob_len);
  for (i = 0; i < uva_msg_size(msg); i++) {
    int end_of_line = i % 16 == 15 || i + 1 == uva_msg_size(msg);
    printf("%02x%s", (unsigned char)uva_msg_data(msg)[i], end_of_line ? "\n" : " ");
  }
  printf("\n");

  /* Read: a msgpack_object view whose strings point into the message (valid until it is freed). */
  CHECK(uva_msg_object(msg, &root));
  printf("view: ");
  msgpack_object_print(stdout, root);
  printf("\n");
  printf("size[1] = %lld, opts.q = %g\n", (long long)root.via.map.ptr[1].val.via.array.ptr[1].via.i64,
         root.via.map.ptr[2].val.via.map.ptr[1].val.via.f64);

  /* Take the buffer back out through its ext: the same pointer, now ours to free. */
  ext = &root.via.map.ptr[3].val;
  CHECK(uva_msg_take_buffer(msg, ext, &taken, &taken_len, NULL));
  printf("took the buffer: %zu bytes, %s pointer\n\n", taken_len, taken == blob ? "the same" : "another");
  free(taken);

  /* Bytes from outside (a file, a socket) are validated before they become a message. A copy cut short
   * ends inside the map; the whole body is refused too, since outside bytes cannot name attachments. */
  err = uva_msg_from_bytes(&copy, uva_msg_data(msg), uva_msg_size(msg) / 2, NULL);
  printf("first %zu bytes from outside: %s: %s\n", uva_msg_size(msg) / 2, uva_err_name(err),
         uva_strerror(err));
  err = uva_msg_from_bytes(&copy, uva_msg_data(msg), uva_msg_size(msg), NULL);
  printf("all %zu bytes from outside:   %s: %s\n", uva_msg_size(msg), uva_err_name(err), uva_strerror(err));

  uva_msg_free(copy); /* NULL: both were refused */
  uva_msg_free(msg);
  return 0;
}
