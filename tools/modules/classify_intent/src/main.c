/*
 * classify_intent: a keyword classifier that names what a request asks for, so the router can
 * send free-form requests to the right engine without a model.
 *   input:  {"text": string}
 *   output: {"intent", "confidence", "scores": {...}, "matched": [...]}
 * Scores are weighted keyword hits; confidence is the winner's share of all hits. With no hit
 * the request is treated as a question for a chat model.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/aion_module.h"

typedef struct {
  const char *phrase;
  int weight;
} cue;

typedef struct {
  const char *intent;
  const cue *cues;
} intent_rule;

static const cue SUMMARIZE[] = {{"summarize", 3}, {"summarise", 3}, {"summary", 3}, {"tl;dr", 3}, {"tldr", 3}, {"key points", 2}, {"in short", 1}, {"condense", 2}, {"shorten", 2}, {"gist", 2}, {"recap", 2}, {NULL, 0}};
static const cue REDACT[] = {{"redact", 3}, {"anonymize", 3}, {"anonymise", 3}, {"mask", 2}, {"pii", 3}, {"personal data", 2}, {"remove names", 2}, {"scrub", 2}, {"gdpr", 1}, {NULL, 0}};
static const cue TRANSLATE[] = {{"translate", 3}, {"translation", 3}, {"into english", 2}, {"into french", 2}, {"into german", 2}, {"into spanish", 2}, {"in german", 1}, {"in french", 1}, {NULL, 0}};
static const cue CLASSIFY[] = {{"classify", 3}, {"categorize", 3}, {"categorise", 3}, {"label", 2}, {"which category", 2}, {"sentiment", 2}, {"tag", 1}, {NULL, 0}};
static const cue EXTRACT[] = {{"extract", 3}, {"list all", 2}, {"pull out", 2}, {"find all", 2}, {"fields", 1}, {"parse", 1}, {NULL, 0}};
static const cue CHAT[] = {{"?", 1}, {"what", 1}, {"how", 1}, {"why", 1}, {"explain", 2}, {"tell me", 1}, {"help", 1}, {NULL, 0}};

static const intent_rule RULES[] = {
    {"summarize", SUMMARIZE}, {"redact", REDACT}, {"translate", TRANSLATE}, {"classify", CLASSIFY}, {"extract", EXTRACT}, {"chat", CHAT},
};
#define RULE_COUNT (sizeof RULES / sizeof *RULES)

/* Counts whole-word (or punctuation) occurrences of phrase in the lower-cased text. */
static int occurrences(const char *text, size_t n, const char *phrase) {
  size_t m = strlen(phrase);
  int hits = 0;
  for (size_t i = 0; i + m <= n; i++) {
    if (memcmp(text + i, phrase, m) != 0) continue;
    int word = isalpha((unsigned char)phrase[0]);
    int left_ok = !word || i == 0 || !isalnum((unsigned char)text[i - 1]);
    int right_ok = !word || i + m == n || !isalnum((unsigned char)text[i + m]) || text[i + m] == 's';
    if (left_ok && right_ok) hits++;
  }
  return hits > 3 ? 3 : hits;
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
  for (size_t i = 0; i < n; i++) text[i] = (char)tolower((unsigned char)text[i]);

  int scores[RULE_COUNT] = {0}, total = 0;
  size_t best = RULE_COUNT - 1;
  aion_buf matched = {0};
  for (size_t r = 0; r < RULE_COUNT; r++) {
    for (const cue *c = RULES[r].cues; c->phrase; c++) {
      int hits = occurrences(text, n, c->phrase);
      if (!hits) continue;
      scores[r] += hits * c->weight;
      aion_buf_printf(&matched, "%s", matched.length ? "," : "");
      aion_buf_json_string(&matched, c->phrase, strlen(c->phrase));
    }
    total += scores[r];
    /* Earlier rules win ties: an explicit task word beats a question mark. */
    if (scores[r] > scores[best] || (scores[r] == scores[best] && r < best && scores[r] > 0)) best = r;
  }
  double confidence = total ? (double)scores[best] / total : 0.5;

  aion_buf out = {0};
  aion_buf_printf(&out, "{\"intent\":\"%s\",\"confidence\":%.3f,\"scores\":{", RULES[best].intent, confidence);
  for (size_t r = 0; r < RULE_COUNT; r++) aion_buf_printf(&out, "%s\"%s\":%d", r ? "," : "", RULES[r].intent, scores[r]);
  aion_buf_puts(&out, "},\"matched\":[");
  if (matched.data) aion_buf_append(&out, matched.data, matched.length);
  aion_buf_puts(&out, "]}\n");
  fwrite(out.data, 1, out.length, stdout);
  return 0;
}
