/* Fork-based launcher: runs N ranks of a function as child processes on this
 * machine, each with the same weftUniqueId. Used by weft-perf -np and by the
 * multi-process tests. Not part of the library. */
#ifndef WEFT_LAUNCH_H
#define WEFT_LAUNCH_H

#include "weft.h"

/* Runs in each child; its return value becomes the child's exit status
 * (0 = success, anything else = failure, kept modulo 256). */
typedef int (*weft_rank_fn)(int rank, int nranks, const weftUniqueId *id, void *arg);

/* Forks nranks children and waits for all of them. If any child has not
 * finished timeout_s seconds after the start, every remaining child is killed
 * with SIGKILL. Returns 0 if every child exited with status 0; otherwise
 * returns the number of failed children and, if status_out is not NULL,
 * fills status_out[r] with the child's exit status (128+signal if killed, 255 if
 * timed out). Prints one line per failed child on stderr. */
int weft_launch_fork(int nranks, weft_rank_fn fn, void *arg, double timeout_s, int *status_out);

#endif
