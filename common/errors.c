/* Error texts and names, and the library's version. */
#include "common/once.h"

/* libuv allocates (and never frees) a text for a code it does not know, so only known codes go to it. */
static int uv_knows(int err) {
#define UVA__UV_CASE(name, text) case UV_##name:
  switch (err) {
    UV_ERRNO_MAP(UVA__UV_CASE)
    return 1;
  default:
    return 0;
  }
#undef UVA__UV_CASE
}

const char *uva_strerror(int err) {
#define UVA__STRERROR(name, value, text) \
  case UVA_##name:                       \
    return text;
  switch (err) {
    UVA_ERRNO_MAP(UVA__STRERROR)
  default:
    return uv_knows(err) ? uv_strerror(err) : "unknown error";
  }
#undef UVA__STRERROR
}

const char *uva_err_name(int err) {
#define UVA__ERR_NAME(name, value, text) \
  case UVA_##name:                       \
    return "UVA_" #name;
  switch (err) {
    UVA_ERRNO_MAP(UVA__ERR_NAME)
  default:
    return uv_knows(err) ? uv_err_name(err) : "UNKNOWN";
  }
#undef UVA__ERR_NAME
}

unsigned int uva_version(void) {
  return UVA_VERSION_HEX;
}

const char *uva_version_string(void) {
  return UVA__XSTR(UVA_VERSION_MAJOR) "." UVA__XSTR(UVA_VERSION_MINOR) "." UVA__XSTR(UVA_VERSION_PATCH);
}
