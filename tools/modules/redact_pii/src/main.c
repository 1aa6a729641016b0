/*
 * redact_pii: finds and masks personal data in text.
 *   emails; IBANs (ISO 13616, mod-97 checked); payment card numbers (13-19 digits, Luhn
 *   checked); phone numbers (7-15 digits, optional +country code and separators).
 *   input:  {"text": string}
 *   output: {"redacted", "findings": [{"type", "start", "end"}], "counts": {...}}
 * Offsets are byte offsets into the UTF-8 input. Checks run in that order; a span is claimed once.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/aion_module.h"

enum { EMAIL, IBAN, CARD, PHONE, KINDS };
static const char *KIND_NAMES[KINDS] = {"email", "iban", "card", "phone"};
static const char *MASKS[KINDS] = {"[EMAIL]", "[IBAN]", "[CARD]", "[PHONE]"};

typedef struct {
  int kind;
  size_t start, end;
} finding;

static finding findings[8192];
static size_t found = 0;
static unsigned char *claimed;

static int free_span(size_t s, size_t e) {
  for (size_t i = s; i < e; i++)
    if (claimed[i]) return 0;
  return 1;
}

static void add(int kind, size_t s, size_t e) {
  if (found >= sizeof findings / sizeof *findings || !free_span(s, e)) return;
  memset(claimed + s, 1, e - s);
  findings[found++] = (finding){kind, s, e};
}

static int email_local(unsigned char c) { return isalnum(c) || strchr("._%+-", c) != NULL; }
static int email_domain(unsigned char c) { return isalnum(c) || c == '-' || c == '.'; }

static void find_emails(const char *t, size_t n) {
  for (size_t at = 0; at < n; at++) {
    if (t[at] != '@') continue;
    size_t s = at;
    while (s > 0 && email_local((unsigned char)t[s - 1])) s--;
    size_t e = at + 1;
    while (e < n && email_domain((unsigned char)t[e])) e++;
    while (e > at + 1 && (t[e - 1] == '.' || t[e - 1] == '-')) e--;
    const char *dot = memchr(t + at + 1, '.', e - at - 1);
    if (s < at && dot && (size_t)(t + e - dot) >= 3) add(EMAIL, s, e);
  }
}

/* IBAN: country letters, check digits, 11..30 alphanumerics; spaces allowed between groups. */
static void find_ibans(const char *t, size_t n) {
  for (size_t s = 0; s + 15 <= n; s++) {
    if (s > 0 && isalnum((unsigned char)t[s - 1])) continue;
    if (!isupper((unsigned char)t[s]) || !isupper((unsigned char)t[s + 1]) || !isdigit((unsigned char)t[s + 2]) || !isdigit((unsigned char)t[s + 3])) continue;
    char compact[40];
    size_t len = 0, e = s;
    while (e < n && len < 34) {
      if (isalnum((unsigned char)t[e])) compact[len++] = (char)toupper((unsigned char)t[e]);
      else if (!(t[e] == ' ' && e + 1 < n && isalnum((unsigned char)t[e + 1]) && len % 4 == 0)) break;
      e++;
    }
    for (; len >= 15; len--) {
      /* mod 97 over the rearranged string (first four characters moved to the end). */
      unsigned remainder = 0;
      for (size_t i = 0; i < len; i++) {
        char c = compact[(i + 4) % len];
        if (isdigit((unsigned char)c)) remainder = (remainder * 10 + (unsigned)(c - '0')) % 97;
        else remainder = (remainder * 100 + (unsigned)(c - 'A' + 10)) % 97;
      }
      if (remainder == 1) {
        size_t end = s, taken = 0;
        while (taken < len) taken += isalnum((unsigned char)t[end++]) != 0;
        add(IBAN, s, end);
        break;
      }
    }
  }
}

static int luhn(const char *digits, size_t n) {
  int sum = 0;
  for (size_t i = 0; i < n; i++) {
    int d = digits[n - 1 - i] - '0';
    if (i % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 == 0;
}

/* Digit runs with single spaces or dashes between digits; returns the end of the run. */
static size_t digit_run(const char *t, size_t n, size_t s, char *digits, size_t *count, size_t max) {
  size_t e = s;
  *count = 0;
  while (e < n && *count < max) {
    if (isdigit((unsigned char)t[e])) digits[(*count)++] = t[e++];
    else if ((t[e] == ' ' || t[e] == '-') && e + 1 < n && isdigit((unsigned char)t[e + 1]) && e > s) e++;
    else break;
  }
  return e;
}

static void find_cards(const char *t, size_t n) {
  for (size_t s = 0; s < n; s++) {
    if (!isdigit((unsigned char)t[s]) || (s > 0 && isalnum((unsigned char)t[s - 1]))) continue;
    char digits[24];
    size_t count;
    size_t e = digit_run(t, n, s, digits, &count, 19);
    if (e < n && isdigit((unsigned char)t[e])) continue;
    if (count >= 13 && count <= 19 && luhn(digits, count)) {
      add(CARD, s, e);
      s = e;
    }
  }
}

static void find_phones(const char *t, size_t n) {
  for (size_t s = 0; s < n; s++) {
    int plus = t[s] == '+';
    if (!plus && !isdigit((unsigned char)t[s]) && t[s] != '(') continue;
    if (s > 0 && (isalnum((unsigned char)t[s - 1]) || t[s - 1] == '+')) continue;
    /* Not the tail of a longer number ("4111 1111 1111 1112" is no phone number). */
    if (s > 1 && strchr(" -.", t[s - 1]) && isdigit((unsigned char)t[s - 2])) continue;
    size_t e = s + (plus ? 1 : 0), digits = 0;
    while (e < n) {
      unsigned char c = (unsigned char)t[e];
      if (isdigit(c)) digits++;
      else if (!(c == ' ' || c == '-' || c == '.' || c == '(' || c == ')')) break;
      else if (e + 1 < n && !isdigit((unsigned char)t[e + 1]) && t[e + 1] != '(' && c != ')') break;
      e++;
    }
    while (e > s && !isdigit((unsigned char)t[e - 1])) e--;
    if (e < n && isdigit((unsigned char)t[e])) continue;
    if (digits >= 7 && digits <= 15 && (plus || digits >= 9 || memchr(t + s, '-', e - s) || memchr(t + s, ' ', e - s))) {
      add(PHONE, s, e);
      s = e;
    }
  }
}

static int by_start(const void *a, const void *b) {
  const finding *x = a, *y = b;
  return x->start < y->start ? -1 : (x->start > y->start);
}

int main(void) {
  size_t length;
  char *input = aion_read_stdin(&length);
  if (!input) aion_fail(2, "cannot read input");
  const char *value, *end;
  if (aion_json_member(input, "text", &value, &end) != 1 || *value != '"') aion_fail(2, "input needs a string field \"text\"");
  size_t n;
  char *text = aion_json_string(value, &n);
  if (!text) aion_fail(2, "\"text\" is not a valid JSON string");
  claimed = calloc(n + 1, 1);
  if (!claimed) aion_fail(70, "out of memory");

  find_emails(text, n);
  find_ibans(text, n);
  find_cards(text, n);
  find_phones(text, n);
  qsort(findings, found, sizeof *findings, by_start);

  aion_buf redacted = {0}, out = {0};
  size_t at = 0;
  int counts[KINDS] = {0};
  for (size_t i = 0; i < found; i++) {
    aion_buf_append(&redacted, text + at, findings[i].start - at);
    aion_buf_puts(&redacted, MASKS[findings[i].kind]);
    at = findings[i].end;
    counts[findings[i].kind]++;
  }
  aion_buf_append(&redacted, text + at, n - at);

  aion_buf_puts(&out, "{\"redacted\":");
  aion_buf_json_string(&out, redacted.data, redacted.length);
  aion_buf_puts(&out, ",\"findings\":[");
  for (size_t i = 0; i < found; i++)
    aion_buf_printf(&out, "%s{\"type\":\"%s\",\"start\":%zu,\"end\":%zu}", i ? "," : "", KIND_NAMES[findings[i].kind], findings[i].start, findings[i].end);
  aion_buf_puts(&out, "],\"counts\":{");
  for (int k = 0; k < KINDS; k++) aion_buf_printf(&out, "%s\"%s\":%d", k ? "," : "", KIND_NAMES[k], counts[k]);
  aion_buf_puts(&out, "}}\n");
  fwrite(out.data, 1, out.length, stdout);
  return 0;
}
