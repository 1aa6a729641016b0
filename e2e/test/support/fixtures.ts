/** Four sentences to summarize: more than the suites' max_sentences, so a summary is shorter. */
export const SUMMARY_SOURCE_TEXT =
  'Aion keeps data in its jurisdiction. It names the rule behind every routing decision. Lunch was fine. Budgets cap what each tenant spends.';

/** The engines.yaml entry that routes `summarize` to the summarize_text sample module, in Germany. */
export const LOCAL_SUMMARIZE_ENGINE =
  '  - { name: local-summarize, tier: local, kind: module, module: summarize_text, intents: [summarize], jurisdiction: DE, region: local, price_per_1k_tokens: { input: 0, output: 0 } }';
