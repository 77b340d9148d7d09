/* Random bytes from the kernel (secrets, unique names). */
#ifndef WEFT_RANDOM_H
#define WEFT_RANDOM_H

#include <stddef.h>

/* Fills buf from the kernel's random source; 0 on success. */
int weft_random_bytes(void *buf, size_t len);

#endif
