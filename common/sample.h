/*  sample.h - the deterministic sample of items the tracking and images flows
    follow: an item is in the sample when its bucket, a multiplicative hash of
    its id, is below fraction * 2^32. The same function lives in SQL as the
    items.sample_bucket column (deploy/migrations/002_tracking_images.sql), so
    the same item is chosen on every run, every replay and in every process.
*/
#ifndef SAMPLE_H_INCLUDED
#define SAMPLE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

/* ((item_id mod 2^32) * 2654435761) mod 2^32 */
uint64_t sample_bucket(int64_t item_id);
/* The bucket threshold for a fraction in [0, 1]. */
uint64_t sample_threshold(double fraction);
bool sample_chosen(int64_t item_id, double fraction);

void sample_test(bool verbose);

#endif
