/* One turn of a spin-wait loop. */
#ifndef WEFT_SPIN_H
#define WEFT_SPIN_H

/* Tells the CPU that the loop is waiting (x86 PAUSE, Arm YIELD): a
 * hyperthread sibling, or a vCPU the host placed on one, gets the core's
 * resources meanwhile, and leaving the loop when the awaited cache line
 * changes does not flush the pipeline. */
static inline void weft_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif
