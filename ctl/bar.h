/*  bar.h - drawing in the terminal: histogram bars in unicode blocks (to an
    eighth of a character), a progress bar, and short durations for an ETA.
    Everything writes into a caller's buffer and never fails: text that does
    not fit is cut at a character boundary.

        char line[256];
        bar_blocks(line, sizeof line, 7, 20, 30);      "██████████▌" (7/20 of 30 cells)
        bar_progress(line, sizeof line, 3, 10, 20);    "[██████              ]"
        bar_duration(line, sizeof line, 3725);         "1h02m"
*/
#ifndef CTL_BAR_H_INCLUDED
#define CTL_BAR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A bar value/max of width cells, in eighths; a non-zero value always shows at
   least an eighth. Returns the number of cells drawn (a partial cell counts). */
int bar_blocks(char *buf, size_t size, int64_t value, int64_t max, int width);

/* "[████▌      ]": done of total, width cells between the brackets. */
void bar_progress(char *buf, size_t size, int64_t done, int64_t total, int width);

/* Seconds as "42s", "5m07s", "1h02m", "3d04h"; negative as "?". */
void bar_duration(char *buf, size_t size, int64_t seconds);

void bar_test(bool verbose);

#endif
