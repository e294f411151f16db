/*  sample.c - the deterministic item sample. */
#include "common/sample.h"

#include <assert.h>

#define SAMPLE_SPACE 4294967296ULL /* 2^32 */

uint64_t sample_bucket(int64_t item_id)
{
    uint64_t low = (uint64_t) item_id % SAMPLE_SPACE; /* as SQL's ((id % 2^32) + 2^32) % 2^32 for id >= 0 */
    if (item_id < 0)
        low = (uint64_t) (((item_id % (int64_t) SAMPLE_SPACE) + (int64_t) SAMPLE_SPACE) % (int64_t) SAMPLE_SPACE);
    return (low * 2654435761ULL) % SAMPLE_SPACE;
}

uint64_t sample_threshold(double fraction)
{
    if (fraction <= 0)
        return 0;
    if (fraction >= 1)
        return SAMPLE_SPACE;
    return (uint64_t) (fraction * (double) SAMPLE_SPACE);
}

bool sample_chosen(int64_t item_id, double fraction)
{
    return sample_bucket(item_id) < sample_threshold(fraction);
}

void sample_test(bool verbose)
{
    (void) verbose;
    /* values checked against PostgreSQL's items.sample_bucket expression */
    assert(sample_bucket(0) == 0);
    assert(sample_bucket(1) == 2654435761ULL);
    assert(sample_bucket(2) == (2 * 2654435761ULL) % SAMPLE_SPACE);
    assert(sample_bucket(7000000123) == ((7000000123ULL % SAMPLE_SPACE) * 2654435761ULL) % SAMPLE_SPACE);
    assert(sample_threshold(0) == 0 && sample_threshold(1) == SAMPLE_SPACE);
    assert(!sample_chosen(5, 0) && sample_chosen(5, 1));
    /* a 1% sample of 100,000 consecutive ids is close to 1,000 and stable */
    int chosen = 0;
    for (int64_t id = 7000000000; id < 7000100000; id++)
        chosen += sample_chosen(id, 0.01);
    assert(chosen > 900 && chosen < 1100);
}
