/* Which sanitizer a test is built with, for the few tests whose subject a sanitizer's runtime changes:
 * SANITIZED under AddressSanitizer or ThreadSanitizer, TSAN under ThreadSanitizer (1 or 0; gcc says
 * __SANITIZE_*__, clang __has_feature). */
#ifndef UVA_TESTS_SANITIZERS_H
#define UVA_TESTS_SANITIZERS_H

#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif
#ifndef TSAN
#define TSAN 0
#endif

#if defined(__SANITIZE_ADDRESS__) || TSAN
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#endif /* UVA_TESTS_SANITIZERS_H */
