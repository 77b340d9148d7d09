/* Bit patterns of floating-point values, for the unit tests. */
#ifndef WEFT_TEST_FLOAT_BITS_H
#define WEFT_TEST_FLOAT_BITS_H

#include <stdint.h>
#include <string.h>

static inline uint32_t fbits(float f) {
  uint32_t w;
  memcpy(&w, &f, sizeof w);
  return w;
}

static inline float bitsf(uint32_t w) {
  float f;
  memcpy(&f, &w, sizeof f);
  return f;
}

static inline uint64_t dbits(double d) {
  uint64_t w;
  memcpy(&w, &d, sizeof w);
  return w;
}

#endif
