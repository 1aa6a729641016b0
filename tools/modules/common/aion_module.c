#include "aion_module.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *aion_read_stdin(size_t *length) {
  size_t capacity = 4096, used = 0;
  char *buffer = malloc(capacity + 1);
  if (!buffer) return NULL;
  for (;;) {
    size_t n = fread(buffer + used, 1, capacity - used, stdin);
    used += n;
    if (n == 0) break;
    if (used == capacity) {
      capacity *= 2;
      char *grown = realloc(buffer, capacity + 1);
      if (!grown) {
        free(buffer);
        return NULL;
      }
      buffer = grown;
    }
  }
  buffer[used] = '\0';
  *length = used;
  return buffer;
}

static const char *skip_ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

static const char *skip_string(const char *p) {
  if (*p != '"') return NULL;
  for (p++; *p; p++) {
    if (*p == '\\') {
      if (!*++p) return NULL;
    } else if (*p == '"') {
      return p + 1;
    }
  }
  return NULL;
}

static const char *skip_value(const char *p, int depth) {
  if (depth > 64) return NULL;
  p = skip_ws(p);
  if (*p == '"') return skip_string(p);
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    p = skip_ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
      if (close == '}') {
        p = skip_string(skip_ws(p));
        if (!p) return NULL;
        p = skip_ws(p);
        if (*p++ != ':') return NULL;
      }
      p = skip_value(p, depth + 1);
      if (!p) return NULL;
      p = skip_ws(p);
      if (*p == ',') {
        p++;
        continue;
      }
      if (*p == close) return p + 1;
      return NULL;
    }
  }
  if (strncmp(p, "true", 4) == 0) return p + 4;
  if (strncmp(p, "false", 5) == 0) return p + 5;
  if (strncmp(p, "null", 4) == 0) return p + 4;
  const char *start = p;
  if (*p == '-') p++;
  while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-') p++;
  return p > start ? p : NULL;
}

int aion_json_member(const char *json, const char *key, const char **value, const char **end) {
  const char *p = skip_ws(json);
  if (*p != '{') return -1;
  p = skip_ws(p + 1);
  if (*p == '}') return 0;
  size_t key_length = strlen(key);
  int found = 0;
  for (;;) {
    const char *name = skip_ws(p);
    const char *after_name = skip_string(name);
    if (!after_name) return -1;
    p = skip_ws(after_name);
    if (*p++ != ':') return -1;
    const char *v = skip_ws(p);
    const char *after = skip_value(v, 0);
    if (!after) return -1;
    if (!found && (size_t)(after_name - name - 2) == key_length && strncmp(name + 1, key, key_length) == 0) {
      *value = v;
      *end = after;
      found = 1;
    }
    p = skip_ws(after);
    if (*p == ',') {
      p++;
      continue;
    }
    if (*p == '}') return found;
    return -1;
  }
}

static int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static size_t put_utf8(char *out, unsigned cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

char *aion_json_string(const char *value, size_t *length) {
  const char *end = skip_string(value);
  if (!end) return NULL;
  char *out = malloc((size_t)(end - value) + 1);
  if (!out) return NULL;
  size_t n = 0;
  for (const char *p = value + 1; p < end - 1; p++) {
    if (*p != '\\') {
      out[n++] = *p;
      continue;
    }
    p++;
    switch (*p) {
      case 'n': out[n++] = '\n'; break;
      case 't': out[n++] = '\t'; break;
      case 'r': out[n++] = '\r'; break;
      case 'b': out[n++] = '\b'; break;
      case 'f': out[n++] = '\f'; break;
      case 'u': {
        unsigned cp = 0;
        for (int i = 1; i <= 4; i++) {
          int h = hex(p[i]);
          if (h < 0) {
            free(out);
            return NULL;
          }
          cp = cp * 16 + (unsigned)h;
        }
        p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && p[1] == '\\' && p[2] == 'u') {
          unsigned low = 0;
          for (int i = 3; i <= 6; i++) {
            int h = hex(p[i]);
            if (h < 0) break;
            low = low * 16 + (unsigned)h;
          }
          if (low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            p += 6;
          }
        }
        n += put_utf8(out + n, cp);
        break;
      }
      default: out[n++] = *p; break;
    }
  }
  out[n] = '\0';
  *length = n;
  return out;
}

int aion_json_int(const char *value, long *out) {
  char *end;
  long v = strtol(value, &end, 10);
  if (end == value || *end == '.' || *end == 'e' || *end == 'E') return -1;
  *out = v;
  return 0;
}

void aion_buf_append(aion_buf *b, const char *text, size_t n) {
  if (b->length + n + 1 > b->capacity) {
    size_t capacity = b->capacity ? b->capacity : 1024;
    while (capacity < b->length + n + 1) capacity *= 2;
    char *grown = realloc(b->data, capacity);
    if (!grown) aion_fail(70, "out of memory");
    b->data = grown;
    b->capacity = capacity;
  }
  memcpy(b->data + b->length, text, n);
  b->length += n;
  b->data[b->length] = '\0';
}

void aion_buf_puts(aion_buf *b, const char *text) { aion_buf_append(b, text, strlen(text)); }

void aion_buf_printf(aion_buf *b, const char *format, ...) {
  char small[256];
  va_list args;
  va_start(args, format);
  int n = vsnprintf(small, sizeof small, format, args);
  va_end(args);
  if (n > 0) aion_buf_append(b, small, (size_t)n < sizeof small ? (size_t)n : sizeof small - 1);
}

void aion_buf_json_string(aion_buf *b, const char *text, size_t n) {
  aion_buf_append(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c == '"') aion_buf_append(b, "\\\"", 2);
    else if (c == '\\') aion_buf_append(b, "\\\\", 2);
    else if (c == '\n') aion_buf_append(b, "\\n", 2);
    else if (c == '\r') aion_buf_append(b, "\\r", 2);
    else if (c == '\t') aion_buf_append(b, "\\t", 2);
    else if (c < 0x20) aion_buf_printf(b, "\\u%04x", c);
    else aion_buf_append(b, (const char *)&text[i], 1);
  }
  aion_buf_append(b, "\"", 1);
}

void aion_fail(int code, const char *message) {
  aion_buf b = {0};
  aion_buf_puts(&b, "{\"error\":");
  aion_buf_json_string(&b, message, strlen(message));
  aion_buf_puts(&b, "}\n");
  fwrite(b.data, 1, b.length, stderr);
  exit(code);
}
