/*  answer.h - what the fetcher answers a task with (the outcomes are listed in
    fetcher.h): the checks of a task's fields before any request, whether a
    200's body is whole for the task's kind, the NACK (logged with the task),
    and the RESULT(PAGE) with the paging fields the broker reads (items, the
    highest id, total pages, whether to ask for the next page).
*/
#ifndef ANSWER_H_INCLUDED
#define ANSWER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../proto/proto.h"
#include "pager.h"
#include "session.h"
#include "vinted.h"

/* "catalog", "user_items", "item_page", "user", "catalogs" for logs. */
const char *answer_kind_name(int32_t kind);

/* Checks a task's fields; 0 ok, -1 with the reason. */
int answer_check(const proto_msg_t *task, char *reason, size_t size);

/* Whether a 2xx body is whole for the (checked) task's kind: the item page's
   HTML complete, the profile's user object, the catalog tree, or the items
   pages scanned into *scan (*scanned set; not for the other kinds). False with
   the reason. */
bool answer_body_ok(const proto_fetch_t *f, const session_resp_t *resp, pager_scan_t *scan,
                    bool *scanned, char *err, size_t size);

/* A NACK for task (NULL when out of memory), logged: retry_after_ms PROTO_NULL
   for none. */
proto_msg_t *answer_nack(const proto_msg_t *task, const char *reason, int64_t retry_after_ms,
                         bool permanent);

/* The RESULT(PAGE) for task from vinted's site: the response's body untouched,
   the paging fields from scan (NULL: unreadable, or a kind without items), and
   error (NULL: none). NULL when out of memory. Logged. */
proto_msg_t *answer_page(const vinted_t *vinted, const proto_msg_t *task, const char *url,
                         const session_resp_t *resp, const pager_scan_t *scan, const char *error);

/* The first bytes of a body, printable, for error messages. */
void answer_snippet(const session_resp_t *resp, char *buf, size_t size);

#endif
