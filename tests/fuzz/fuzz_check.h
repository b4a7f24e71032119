/*
 * fuzz_check.h - FZ_CHECK, a fuzz target's assertion: when c is false, names the file,
 * line and condition on stderr and aborts, which libFuzzer (and replay.c under `make
 * check`) reports as a crash with that input. Not assert(3): it holds under NDEBUG too.
 */
#ifndef CNIO_FUZZ_CHECK_H
#define CNIO_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FZ_CHECK(c)                                                                           \
    do {                                                                                      \
        if (!(c)) {                                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);            \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

#endif /* CNIO_FUZZ_CHECK_H */
