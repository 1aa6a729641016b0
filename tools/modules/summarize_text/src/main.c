/*
 * summarize_text: an extractive summarizer. Splits the text into sentences, scores each by the
 * frequency of its content words (stopwords come from the package's declared data file), and
 * returns the best `max_sentences` in their original order.
 *   input:  {"text": string, "max_sentences"?: 1..50}
 *   output: {"summary", "sentences", "selected_indices", "sentence_count", "method"}
 * Each chosen sentence is also reported as a partial result ("aion:partial" on stderr).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/aion_module.h"

#define MAX_SENTENCES 4096
#define TABLE_SIZE 16384

typedef struct {
  const char *start;
  size_t length;
  double score;
  size_t index;
} sentence;

typedef struct {
  char *word;
  int count;
  int stop;
} entry;

static entry table[TABLE_SIZE];

static unsigned long hash(const char *s, size_t n) {
  unsigned long h = 5381;
  for (size_t i = 0; i < n; i++) h = h * 33 + (unsigned char)s[i];
  return h;
}

static entry *lookup(const char *word, size_t n, int create) {
  unsigned long i = hash(word, n) % TABLE_SIZE;
  for (size_t probes = 0; probes < TABLE_SIZE; probes++, i = (i + 1) % TABLE_SIZE) {
    if (!table[i].word) {
      if (!create) return NULL;
      table[i].word = strndup(word, n);
      return &table[i];
    }
    if (strlen(table[i].word) == n && memcmp(table[i].word, word, n) == 0) return &table[i];
  }
  return NULL;
}

static int is_word_byte(unsigned char c) { return isalnum(c) || c >= 0x80 || c == '\''; }

/* Calls fn for each lower-cased word of text[0..n). */
static void each_word(const char *text, size_t n, void (*fn)(const char *, size_t, void *), void *ctx) {
  char word[64];
  size_t i = 0;
  while (i < n) {
    while (i < n && !is_word_byte((unsigned char)text[i])) i++;
    size_t w = 0;
    while (i < n && is_word_byte((unsigned char)text[i])) {
      if (w < sizeof word) word[w++] = (char)tolower((unsigned char)text[i]);
      i++;
    }
    if (w > 1 && w < sizeof word) fn(word, w, ctx);
  }
}

static void count_word(const char *w, size_t n, void *ctx) {
  (void)ctx;
  entry *e = lookup(w, n, 1);
  if (e && !e->stop) e->count++;
}

typedef struct {
  double sum;
  int words;
  int max;
} scoring;

static void score_word(const char *w, size_t n, void *ctx) {
  scoring *s = ctx;
  entry *e = lookup(w, n, 0);
  if (!e || e->stop) return;
  s->sum += (double)e->count / s->max;
  s->words++;
}

static void load_stopwords(void) {
  FILE *f = fopen("/pkg/data/stopwords.txt", "r");
  if (!f) aion_fail(3, "cannot read the package's stopword list");
  char line[64];
  while (fgets(line, sizeof line, f)) {
    size_t n = strcspn(line, "\r\n");
    if (n > 0 && line[0] != '#') {
      entry *e = lookup(line, n, 1);
      if (e) e->stop = 1;
    }
  }
  fclose(f);
}

static int is_sentence_end(const char *t, size_t i, size_t n) {
  char c = t[i];
  if (c == '\n' && i + 1 < n && t[i + 1] == '\n') return 1;
  if (c != '.' && c != '!' && c != '?') return 0;
  size_t j = i + 1;
  while (j < n && (t[j] == '"' || t[j] == '\'' || t[j] == ')')) j++;
  if (j >= n) return 1;
  if (!isspace((unsigned char)t[j])) return 0;
  while (j < n && isspace((unsigned char)t[j])) j++;
  if (j >= n) return 1;
  /* "e.g. the" does not end a sentence; a capital, digit or quote after the space does. */
  return isupper((unsigned char)t[j]) || isdigit((unsigned char)t[j]) || t[j] == '"' || (unsigned char)t[j] >= 0x80;
}

static int by_score(const void *a, const void *b) {
  const sentence *x = a, *y = b;
  if (x->score != y->score) return x->score < y->score ? 1 : -1;
  return x->index < y->index ? -1 : 1;
}

static int by_index(const void *a, const void *b) {
  const sentence *x = a, *y = b;
  return x->index < y->index ? -1 : (x->index > y->index);
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
  long max_sentences = 3;
  if (aion_json_member(input, "max_sentences", &value, &end) == 1 && (aion_json_int(value, &max_sentences) != 0 || max_sentences < 1 || max_sentences > 50)) {
    aion_fail(2, "\"max_sentences\" must be an integer from 1 to 50");
  }

  load_stopwords();
  static sentence sentences[MAX_SENTENCES];
  size_t count = 0, start = 0;
  for (size_t i = 0; i <= n && count < MAX_SENTENCES; i++) {
    if (i < n && !is_sentence_end(text, i, n)) continue;
    size_t s = start, e = i < n ? i + 1 : n;
    while (s < e && isspace((unsigned char)text[s])) s++;
    while (e > s && isspace((unsigned char)text[e - 1])) e--;
    if (e > s) {
      sentences[count] = (sentence){text + s, e - s, 0, count};
      count++;
    }
    start = i + 1;
  }

  each_word(text, n, count_word, NULL);
  int max = 1;
  for (size_t i = 0; i < TABLE_SIZE; i++)
    if (table[i].word && !table[i].stop && table[i].count > max) max = table[i].count;
  for (size_t i = 0; i < count; i++) {
    scoring s = {0, 0, max};
    each_word(sentences[i].start, sentences[i].length, score_word, &s);
    sentences[i].score = s.words ? s.sum / sqrt((double)s.words) : 0;
  }

  size_t chosen = count < (size_t)max_sentences ? count : (size_t)max_sentences;
  qsort(sentences, count, sizeof *sentences, by_score);
  qsort(sentences, chosen, sizeof *sentences, by_index);

  aion_buf out = {0}, summary = {0};
  for (size_t i = 0; i < chosen; i++) {
    if (i) aion_buf_append(&summary, " ", 1);
    aion_buf_append(&summary, sentences[i].start, sentences[i].length);
    aion_buf partial = {0};
    aion_buf_puts(&partial, "aion:partial ");
    aion_buf_json_string(&partial, sentences[i].start, sentences[i].length);
    aion_buf_puts(&partial, "\n");
    fwrite(partial.data, 1, partial.length, stderr);
    free(partial.data);
  }
  aion_buf_puts(&out, "{\"summary\":");
  aion_buf_json_string(&out, summary.data ? summary.data : "", summary.length);
  aion_buf_puts(&out, ",\"sentences\":[");
  for (size_t i = 0; i < chosen; i++) {
    if (i) aion_buf_puts(&out, ",");
    aion_buf_json_string(&out, sentences[i].start, sentences[i].length);
  }
  aion_buf_puts(&out, "],\"selected_indices\":[");
  for (size_t i = 0; i < chosen; i++) aion_buf_printf(&out, i ? ",%zu" : "%zu", sentences[i].index);
  aion_buf_printf(&out, "],\"sentence_count\":%zu,\"method\":\"extractive-frequency\"}\n", count);
  fwrite(out.data, 1, out.length, stdout);
  return 0;
}
