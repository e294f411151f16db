/*  fuzz_proto.c - libFuzzer harness for the wire format (proto/proto.h):
    proto_decode of any bytes must return a message or NULL with a reason,
    never crash, leak or hang. When it returns a message, that message must
    survive a round trip: encode -> decode -> encode gives the same bytes
    (decode -> encode -> decode is the identity, as far as the wire can tell),
    and the decoder must not accept what the encoder refuses to produce.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "";
    proto_msg_t *msg = proto_decode(data, size, err, sizeof err);
    if (!msg) {
        if (!err[0]) {
            fprintf(stderr, "fuzz_proto: rejected without a reason\n");
            abort();
        }
        return 0;
    }
    uint8_t *first, *second;
    size_t first_len, second_len;
    if (proto_encode(msg, &first, &first_len) != 0) {
        fprintf(stderr, "fuzz_proto: a decoded %s does not encode again\n", proto_cmd_name(msg->cmd));
        abort();
    }
    proto_msg_t *again = proto_decode(first, first_len, err, sizeof err);
    if (!again) {
        fprintf(stderr, "fuzz_proto: a re-encoded %s does not decode: %s\n", proto_cmd_name(msg->cmd), err);
        abort();
    }
    if (again->cmd != msg->cmd || again->task_id != msg->task_id || again->body != msg->body) {
        fprintf(stderr, "fuzz_proto: the round trip changed the command, task id or body kind\n");
        abort();
    }
    if (proto_encode(again, &second, &second_len) != 0) {
        fprintf(stderr, "fuzz_proto: a round-tripped %s does not encode\n", proto_cmd_name(msg->cmd));
        abort();
    }
    if (first_len != second_len || memcmp(first, second, first_len) != 0) {
        fprintf(stderr, "fuzz_proto: %s differs after decode -> encode -> decode -> encode\n",
                proto_cmd_name(msg->cmd));
        abort();
    }
    free(first);
    free(second);
    proto_msg_destroy(&again);
    proto_msg_destroy(&msg);
    return 0;
}
