/* Minimal unit-test helpers: each test program counts checks and prints
 * "<name>: N passed, M failed"; the exit status is nonzero on any failure. */
#ifndef VMON_CHECK_H
#define VMON_CHECK_H
#include <stdio.h>
#include <inttypes.h>

struct check_ctx {
    unsigned passed, failed;
};

#define CHECK(ctx, cond, ...)                                                                      \
    do {                                                                                           \
        if (cond) {                                                                                \
            (ctx)->passed++;                                                                       \
        } else {                                                                                   \
            (ctx)->failed++;                                                                       \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(ctx, got, want)                                                                   \
    CHECK(ctx, (uint64_t)(got) == (uint64_t)(want), "got 0x%" PRIx64 ", want 0x%" PRIx64,          \
          (uint64_t)(got), (uint64_t)(want))

static inline int check_report(const struct check_ctx *c, const char *name)
{
    printf("%s: %u passed, %u failed\n", name, c->passed, c->failed);
    return c->failed ? 1 : 0;
}
#endif
