/*  vinted-s3-uploader - the object-store stage: raw pages in, raw pages back out for replays. */
#include <stdio.h>

#include "common/config.h"
#include "common/log.h"
#include "common/objstore.h"
#include "common/worker.h"
#include "workers/s3-uploader/uploader.h"

static config_opt_t s_opts[] = {
    { "broker", "VINTED_BROKER", "tcp://127.0.0.1:5555", "broker endpoint to connect to", NULL },
    { "store", "VINTED_STORE", "file://./var/store",
      "object store: s3://bucket/prefix (VINTED_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION) or file:///path",
      NULL },
    { "capacity", "VINTED_UPLOAD_CAPACITY", "4", "tasks in flight at this worker", NULL },
    { NULL, NULL, NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
    int rc = config_parse(s_opts, argc, argv, "vinted-s3-uploader",
                          "Stores every raw API page, gzip-compressed with its request context, in the\n"
                          "object store's raw landing area, and reads stored pages back for replays.");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    log_init("s3-uploader");
    int64_t capacity;
    if (config_int(s_opts, "capacity", 1, 1000, &capacity) != 0)
        return 2;
    char err[512];
    objstore_t *store = objstore_new(config_get(s_opts, "store"), err, sizeof err);
    if (!store) {
        fprintf(stderr, "invalid --store / VINTED_STORE '%s': %s\n", config_get(s_opts, "store"), err);
        return 2;
    }
    log_info("object store", "store=%s", log_str(objstore_describe(store)));
    worker_t *w = worker_new(config_get(s_opts, "broker"), PROTO_STAGE_STORE, (int) capacity, "s3-uploader");
    while (!worker_interrupted(w)) {
        proto_msg_t *task = worker_next(w, 1000);
        if (!task)
            continue;
        proto_msg_t *reply = uploader_handle(store, task);
        worker_send(w, reply);
        proto_msg_destroy(&reply);
        proto_msg_destroy(&task);
    }
    worker_destroy(&w);
    objstore_destroy(&store);
    return 0;
}
