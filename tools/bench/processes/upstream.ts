/**
 * The benchmarks' model provider: a local OpenAI-compatible server answering after a fixed
 * delay, in its own process so it does not share an event loop with the load generator.
 *   upstream <delay-ms>   prints {"url": ...} once listening
 */
import { startOpenAiTestServer } from '@aion/testing';

const delayMs = Number(process.argv[2] ?? '20');
void startOpenAiTestServer({ delayMs, reply: 'A short answer from the upstream model.' }).then(
  (server) => {
    process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
    process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
  },
);
