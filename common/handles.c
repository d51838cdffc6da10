/* Handle types' names. */
#include "common/once.h"

static const char *const names[UVA_HANDLE_TYPE_MAX] = {
    [UVA_UNKNOWN_HANDLE] = "unknown",
    [UVA_PORT] = "port",
    [UVA_BROADCAST] = "broadcast",
    [UVA_ACTOR] = "actor",
    [UVA_TPOOL] = "tpool",
    [UVA_MONITOR] = "monitor",
    [UVA_NAME] = "name",
    [UVA_NAME_REQ] = "name_req",
    [UVA_SUPERVISOR] = "supervisor",
    [UVA_CALL] = "call",
    [UVA_NODE] = "node",
    [UVA_REMOTE_REQ] = "remote_req",
    [UVA_REMOTE_ACTOR] = "remote_actor",
};

const char *uva_handle_type_name(uva_handle_type type) {
  if ((int)type < 0 || type >= UVA_HANDLE_TYPE_MAX)
    return NULL;
  return names[type];
}
