/*  clock.h - wall and monotonic time in milliseconds. All wall time is UTC. */
#ifndef CLOCK_H_INCLUDED
#define CLOCK_H_INCLUDED

#include <stdint.h>

int64_t clock_wall_ms(void);  /* UTC unix milliseconds */
int64_t clock_mono_ms(void);  /* monotonic, for timeouts and rates */
void clock_sleep_ms(int64_t ms);

#endif
