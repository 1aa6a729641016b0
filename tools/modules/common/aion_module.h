/*
 * Helpers shared by Aion's sample agent packages (WASI command modules): read the JSON input
 * from stdin, pull top-level fields out of it, and build the JSON output on stdout.
 * Small on purpose: the modules only need strings and integers from a flat object.
 */
#ifndef AION_MODULE_H
#define AION_MODULE_H

#include <stddef.h>

/* Reads all of stdin into a NUL-terminated buffer (caller frees). NULL on failure. */
char *aion_read_stdin(size_t *length);

/* Finds the top-level member `key` of a JSON object. Returns 1 and sets *value and *end to the
 * member's raw value text, 0 if absent, -1 if the document is not a valid JSON object. */
int aion_json_member(const char *json, const char *key, const char **value, const char **end);

/* Decodes a JSON string value (starting at its opening quote) into a new UTF-8 buffer. */
char *aion_json_string(const char *value, size_t *length);

/* Parses an integer value; returns 0 on success. */
int aion_json_int(const char *value, long *out);

/* A growable output buffer. */
typedef struct {
  char *data;
  size_t length;
  size_t capacity;
} aion_buf;

void aion_buf_append(aion_buf *b, const char *text, size_t n);
void aion_buf_puts(aion_buf *b, const char *text);
void aion_buf_printf(aion_buf *b, const char *format, ...);
/* Appends `text` (n bytes of UTF-8) as a quoted, escaped JSON string. */
void aion_buf_json_string(aion_buf *b, const char *text, size_t n);

/* Writes `message` as {"error": ...} to stderr and exits with `code`. */
void aion_fail(int code, const char *message);

#endif
