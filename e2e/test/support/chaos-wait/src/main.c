/*
 * chaos_wait: a module whose call lasts `ms` milliseconds, for the chaos suite's long engine calls
 * on module-host. WASI preview 1 as module-host provides it has no sleep (poll_oneoff is refused),
 * so it spins on the monotonic clock; run it on few workers.
 *   input:  {"ms": 0..10000, "tag"?: string}
 *   output: {"waited_ms": integer}
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "aion_module.h"

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(void) {
  size_t length = 0;
  char *input = aion_read_stdin(&length);
  if (!input) aion_fail(2, "could not read the input");
  const char *value, *end;
  long ms = 0;
  if (aion_json_member(input, "ms", &value, &end) != 1 || aion_json_int(value, &ms) != 0 || ms < 0 ||
      ms > 10000)
    aion_fail(2, "ms must be an integer from 0 to 10000");
  long long started = now_ms();
  while (now_ms() - started < ms) {
  }
  printf("{\"waited_ms\":%lld}\n", now_ms() - started);
  free(input);
  return 0;
}
