/* Actor proxies: an id and a record for an actor that runs elsewhere, so that monitors watch it
 * (supervise.h). The proxy is the record itself: made as a spawn makes one, ended as an actor's end does. */
#include <string.h>

#include "actors/record.h"

int uva_actor_proxy_new(uva_actor_proxy_t **proxyp) {
  if (proxyp == NULL)
    return UV_EINVAL;
  return uva__record_new(proxyp, 1);
}

uint64_t uva_actor_proxy_id(const uva_actor_proxy_t *proxy) {
  return proxy != NULL ? proxy->id : 0;
}

void uva_actor_proxy_end(uva_actor_proxy_t *proxy, int exit_code, const char *error_text) {
  if (proxy == NULL)
    return;
  if (error_text != NULL)
    uva__record_fail(proxy, error_text, strlen(error_text));
  uva__record_end(proxy, exit_code);
}
