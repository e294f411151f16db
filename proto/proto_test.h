/*  proto_test.h - what the parts of the proto self-test share (proto_test.c,
    proto_test_samples.c, proto_test_malformed.c); not used outside proto/.
*/
#ifndef PROTO_TEST_H_INCLUDED
#define PROTO_TEST_H_INCLUDED

#include "proto.h"

#define S_TEST_SAMPLES 32

/* Item i of a test batch; full: every optional field set, else all absent. */
void proto_test_item(proto_msg_t *msg, proto_item_t *it, size_t i, bool full);
proto_msg_t *proto_test_batch(proto_cmd_t cmd, size_t n_items, size_t n_quarantine, bool full);
/* One sample of every command and body kind, full or with optional fields absent. */
size_t proto_test_samples(proto_msg_t **out, bool full);
/* Field-by-field checks on top of the byte comparison. */
void proto_test_equal(const proto_msg_t *a, const proto_msg_t *b);

/* Decoding must fail with err containing needle. */
void proto_test_expect_reject(const void *data, size_t size, const char *needle, bool verbose);
/* Frames the decoder must reject, messages the encoder refuses. */
void proto_test_malformed(bool verbose);
void proto_test_encode_refuses(void);

#endif
