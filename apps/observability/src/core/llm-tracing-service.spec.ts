import { JurisdictionRegistry } from '@aion/jurisdictions';
import type { LlmTracingSettings, ResidencyPort } from './llm-tracing';
import { LlmTracingService, type LlmTracingStore, type TenantSecrets } from './llm-tracing-service';

/** The store as a map (PostgreSQL's is in the integration test), keeping what put() was given. */
class MemoryStore implements LlmTracingStore {
  settings: LlmTracingSettings | undefined;
  events: { settings: LlmTracingSettings; secretKeySet: boolean }[] = [];
  async get() {
    return this.settings;
  }
  async put(settings: LlmTracingSettings, secretKeySet: boolean) {
    this.settings = settings;
    this.events.push({ settings, secretKeySet });
    return settings;
  }
}

const files = new Map([['acme.langfuse', 'sk-lf-acme']]);
const secrets: TenantSecrets = {
  configured: true,
  read: async (tenantId, name) => files.get(`${tenantId}.${name}`),
};
const anywhere: ResidencyPort = { decide: async () => ({ allowed: true, rule: 'r', reason: '' }) };
const jurisdictions = new JurisdictionRegistry();
const input = {
  enabled: true,
  langfuseUrl: 'https://langfuse.de.example',
  langfuseJurisdiction: 'DE',
  publicKey: 'pk-lf-acme',
  secretKeyRef: 'langfuse',
};
const data = { jurisdiction: 'DE', classification: 'none' } as const;

describe('LLM tracing settings with secret keys held by reference', () => {
  it('shows and stores the name and whether the key is present, never the key', async () => {
    const store = new MemoryStore();
    const service = new LlmTracingService(store, secrets, anywhere, jurisdictions);
    const view = await service.update('acme', input);
    expect(view).toMatchObject({ secretKeyRef: 'langfuse', secretKeySet: true });
    expect(JSON.stringify([view, store.settings, store.events])).not.toContain('sk-lf-acme');
    expect(store.events).toEqual([expect.objectContaining({ secretKeySet: true })]);
    expect(await service.get('acme')).toMatchObject({ secretKeySet: true });
    await expect(service.decide(data)).resolves.toMatchObject({
      send: true,
      secretKey: 'sk-lf-acme',
    });
  });

  it('refuses to enable tracing whose key is not there, saying where it is looked for', async () => {
    const service = new LlmTracingService(new MemoryStore(), secrets, anywhere, jurisdictions);
    await expect(
      service.update('acme', { ...input, secretKeyRef: 'absent' }),
    ).rejects.toMatchObject({
      code: 'resource.not_found',
      details: [
        {
          field: 'secret_key_ref',
          reason: 'not_found',
          message: expect.stringContaining('acme.absent'),
        },
      ],
    });
    // Another tenant naming the same key finds its own, which does not exist.
    await expect(service.update('globex', input)).rejects.toMatchObject({
      details: [expect.objectContaining({ field: 'secret_key_ref', reason: 'not_found' })],
    });
    const none = new LlmTracingService(
      new MemoryStore(),
      { configured: false, read: async () => undefined },
      anywhere,
      jurisdictions,
    );
    await expect(none.update('acme', input)).rejects.toMatchObject({
      details: [
        expect.objectContaining({
          message: expect.stringContaining('AION_OBSERVABILITY_SECRETS_DIR'),
        }),
      ],
    });
    // Disabled settings may name a key that is not there yet.
    await expect(none.update('acme', { ...input, enabled: false })).resolves.toMatchObject({
      secretKeySet: false,
    });
  });

  it('sends nothing when the key went away after it was enabled (revoked by the operator)', async () => {
    const store = new MemoryStore();
    const service = new LlmTracingService(store, secrets, anywhere, jurisdictions);
    await service.update('acme', input);
    files.delete('acme.langfuse');
    try {
      await expect(service.decide(data)).resolves.toEqual({
        send: false,
        reason: "secret key langfuse is not in the deployment's secrets",
      });
      expect(await service.get('acme')).toMatchObject({ enabled: true, secretKeySet: false });
    } finally {
      files.set('acme.langfuse', 'sk-lf-acme');
    }
  });
});
