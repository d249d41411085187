/* A tiny TAP producer for the unit tests: meson runs them with protocol 'tap'. */
#pragma once

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define TAP_OK(cond, ...)                                                     \
  do {                                                                        \
    int ok_ = !!(cond);                                                       \
    tap_n++;                                                                  \
    if (!ok_) tap_failed++;                                                   \
    printf("%s %d - ", ok_ ? "ok" : "not ok", tap_n);                         \
    printf(__VA_ARGS__);                                                      \
    printf("\n");                                                             \
    if (!ok_) printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
  } while (0)

/* Compares two strings and shows both when they differ. */
#define TAP_STREQ(got, want, ...)                                                               \
  do {                                                                                          \
    const char *g_ = (got), *w_ = (want);                                                       \
    int same_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_;                                    \
    TAP_OK(same_, __VA_ARGS__);                                                                 \
    if (!same_) printf("#   got:  %s\n#   want: %s\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
  } while (0)

static inline int tap_done(void) {
  printf("1..%d\n", tap_n);
  return tap_failed ? 1 : 0;
}
