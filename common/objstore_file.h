/*  objstore_file.h - the file:// back end of the object store (objstore.h): a plain
    directory, the embedded default. objstore.c serves file://PATH with it, PATH an
    absolute directory ("/var/raw") or "./DIR" for DIR under the working directory;
    the directory need not exist yet (a put creates it).
*/
#ifndef OBJSTORE_FILE_H_INCLUDED
#define OBJSTORE_FILE_H_INCLUDED

#include <stdbool.h>

#include "common/objstore_backend.h"

extern const objstore_backend_t objstore_file_backend;

void objstore_file_test(bool verbose);

#endif
