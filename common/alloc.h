/* Internal: every allocation, descriptor and thread the library makes goes through these, so that a test
 * build (configure --enable-fault-injection) can make any one of them fail and check what follows. In a
 * normal build they are the plain calls. */
#ifndef UVA_COMMON_ALLOC_H
#define UVA_COMMON_ALLOC_H

#include <stdlib.h>
#include <string.h>

#include "common/once.h"

#ifdef UVA_FAULT_INJECTION
/* Nonzero when this fault point is the one to fail; site names it in reports. Exported (a test build's
 * only internal export) so that libuvactor-remote's points count down with the core's, in one walk. */
UVA_EXTERN int uva_fault_point(const char *site);
#define UVA__FAULT() uva_fault_point(__FILE__ ":" UVA__XSTR(__LINE__))

/* For the fault-injection tests only; these exist only in such a build. The nth fault point passed from now
 * on fails, once (0: none). */
UVA_EXTERN void uva_fault_inject(unsigned long nth);
/* The next pass of site (as uva_fault_site() names it) fails, once; no countdown. */
UVA_EXTERN void uva_fault_inject_site(const char *site);
/* The ith distinct site passed since the process started (in the order first passed), or NULL. */
UVA_EXTERN const char *uva_fault_seen(unsigned int i);
/* Fault points passed since the last uva_fault_inject(). */
UVA_EXTERN unsigned long uva_fault_points(void);
/* file:line of the point that failed since the last uva_fault_inject(), or NULL. */
UVA_EXTERN const char *uva_fault_site(void);
#else
#define UVA__FAULT() 0
#endif

#define uva__malloc(size) (UVA__FAULT() ? NULL : malloc(size))
#define uva__calloc(n, size) (UVA__FAULT() ? NULL : calloc((n), (size)))
#define uva__realloc(ptr, size) (UVA__FAULT() ? NULL : realloc((ptr), (size)))
#define uva__aligned_alloc(align, size) (UVA__FAULT() ? NULL : aligned_alloc((align), (size)))
#define uva__strndup(s, n) (UVA__FAULT() ? NULL : strndup((s), (n)))
#define uva__strdup(s) (UVA__FAULT() ? NULL : strdup(s))

#endif /* UVA_COMMON_ALLOC_H */
