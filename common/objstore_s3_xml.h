/*  objstore_s3_xml.h - what the S3 back end (objstore_s3.h) reads from S3's XML
    answers: a ListObjectsV2 page (keys, sizes, the continuation token) and the
    <Code> and <Message> of an error body.
*/
#ifndef OBJSTORE_S3_XML_H_INCLUDED
#define OBJSTORE_S3_XML_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "common/objstore_backend.h"
#include "common/objstore_buf.h"

/* One page of a listing. */
typedef struct {
    objstore_backend_entries_t entries;
    bool truncated;
    char *next_token; /* NULL when absent */
} objstore_s3_xml_page_t;

/* One ListObjectsV2 response: every <Contents>' Key and Size, IsTruncated and
   NextContinuationToken. 0 ok, -1 with a reason (page emptied). */
int objstore_s3_xml_list_parse(const char *xml, size_t len, objstore_s3_xml_page_t *page, char *err,
                               size_t errlen);
void objstore_s3_xml_page_free(objstore_s3_xml_page_t *page);

/* " Code (Message)" of an S3 error body (" Code" without a message), or "" */
void objstore_s3_xml_error_text(const objstore_buf_t *body, char *out, size_t size);
/* Does an S3 error body carry this <Code>? */
bool objstore_s3_xml_error_is(const objstore_buf_t *body, const char *code);

void objstore_s3_xml_test(bool verbose);

#endif
