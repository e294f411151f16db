/*  objstore_s3.h - the s3:// back end of the object store (objstore.h): any
    S3-compatible endpoint (AWS, MinIO, SeaweedFS...), requests signed with AWS
    SigV4. objstore.c serves s3://bucket/prefix with it, set up from the
    objstore_env_t settings (objstore_backend.h).

    A store is for one thread at a time (it owns one CURL handle). Secrets never
    appear in messages, logs or the description.
*/
#ifndef OBJSTORE_S3_H_INCLUDED
#define OBJSTORE_S3_H_INCLUDED

#include <stdbool.h>

#include "common/objstore_backend.h"

extern const objstore_backend_t objstore_s3_backend;

void objstore_s3_test(bool verbose);

#endif
