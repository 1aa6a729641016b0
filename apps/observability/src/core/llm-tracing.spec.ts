import { AionError } from '@aion/errors';
import { JurisdictionRegistry } from '@aion/jurisdictions';
import {
  decideLlmTrace,
  maskedContent,
  resolveLlmTracingSettings,
  type ResidencyPort,
} from './llm-tracing';

const jurisdictions = new JurisdictionRegistry();
const enabled = resolveLlmTracingSettings(
  'acme',
  {
    enabled: true,
    langfuseUrl: 'https://langfuse.eu.example',
    langfuseJurisdiction: 'de',
    publicKey: 'pk-lf-1',
    secretKeyRef: 'langfuse',
  },
  jurisdictions,
);

/** Residency as sovereign-ai answers it here: EU data stays in the EU, other data goes anywhere. */
const eu = new Set(['DE', 'FR', 'EU']);
const residency: ResidencyPort = {
  decide: async (data, target) =>
    eu.has(data.jurisdiction) && !eu.has(target)
      ? { allowed: false, rule: 'eu-stays', reason: 'EU data stays in the EU' }
      : { allowed: true, rule: 'default', reason: '' },
};

describe('LLM tracing settings', () => {
  it('are off with every classified kind masked unless the tenant says otherwise', () => {
    expect(resolveLlmTracingSettings('acme', {}, jurisdictions)).toMatchObject({
      enabled: false,
      maskedClassifications: ['pii', 'financial', 'health', 'biometric'],
    });
    expect(enabled).toMatchObject({ langfuseJurisdiction: 'DE', enabled: true });
  });

  it('refuses bad settings listing every problem', () => {
    let err: unknown;
    try {
      resolveLlmTracingSettings(
        'acme',
        {
          enabled: true,
          langfuseUrl: 'ftp://user:pw@langfuse',
          langfuseJurisdiction: 'XX',
          maskedClassifications: ['pii', 'secret' as never],
        },
        jurisdictions,
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AionError);
    expect((err as AionError).code).toBe('validation.invalid_argument');
    expect((err as AionError).details?.map((d) => (d as { field: string }).field)).toEqual([
      'langfuse_url',
      'langfuse_url',
      'langfuse_jurisdiction',
      'public_key',
      'secret_key_ref',
      'masked_classifications',
    ]);
  });

  it('name the secret key by a name that cannot leave the secret directory', () => {
    const withRef = (secretKeyRef: string) =>
      resolveLlmTracingSettings('acme', { ...enabled, secretKeyRef }, jurisdictions);
    expect(withRef('langfuse-sk.2026').secretKeyRef).toBe('langfuse-sk.2026');
    for (const ref of ['../other.langfuse', '.hidden', 'a/b', '..', 'x'.repeat(129), 'sk key'])
      expect(() => withRef(ref)).toThrow(
        expect.objectContaining({
          details: [expect.objectContaining({ field: 'secret_key_ref', reason: 'invalid' })],
        }),
      );
  });

  it('need a deployment, its jurisdiction and a key only when enabled', () => {
    expect(() => resolveLlmTracingSettings('acme', { enabled: true }, jurisdictions)).toThrow(
      'invalid LLM tracing settings',
    );
    expect(resolveLlmTracingSettings('acme', { enabled: false }, jurisdictions).enabled).toBe(
      false,
    );
  });
});

describe('deciding whether an LLM call is traced', () => {
  it('traces nothing of a tenant that has not opted in', async () => {
    const off = resolveLlmTracingSettings('acme', {}, jurisdictions);
    await expect(
      decideLlmTrace(off, { jurisdiction: 'DE', classification: 'none' }, residency),
    ).resolves.toEqual({ send: false, reason: 'tenant has not opted in' });
    await expect(
      decideLlmTrace(undefined, { jurisdiction: 'DE', classification: 'none' }, residency),
    ).resolves.toMatchObject({ send: false });
  });

  it('masks prompts and completions of the classifications the tenant masks', async () => {
    await expect(
      decideLlmTrace(enabled, { jurisdiction: 'DE', classification: 'health' }, residency),
    ).resolves.toEqual({
      send: true,
      mask: true,
      url: 'https://langfuse.eu.example',
      publicKey: 'pk-lf-1',
    });
    await expect(
      decideLlmTrace(enabled, { jurisdiction: 'DE', classification: 'none' }, residency),
    ).resolves.toMatchObject({ send: true, mask: false });
    const lenient = { ...enabled, maskedClassifications: [] };
    await expect(
      decideLlmTrace(lenient, { jurisdiction: 'DE', classification: 'pii' }, residency),
    ).resolves.toMatchObject({ send: true, mask: false });
  });

  it('sends nothing out of the jurisdiction residency allows, naming the rule', async () => {
    const us = { ...enabled, langfuseJurisdiction: 'US' };
    await expect(
      decideLlmTrace(us, { jurisdiction: 'DE', classification: 'none' }, residency),
    ).resolves.toEqual({ send: false, reason: 'data of DE may not go to US (rule eu-stays)' });
    await expect(
      decideLlmTrace(us, { jurisdiction: 'BR', classification: 'none' }, residency),
    ).resolves.toMatchObject({ send: true });
  });

  it('sends nothing when residency cannot be decided (sovereign-ai away)', async () => {
    const away: ResidencyPort = { decide: () => Promise.reject(new Error('unavailable')) };
    await expect(
      decideLlmTrace(enabled, { jurisdiction: 'DE', classification: 'none' }, away),
    ).resolves.toEqual({ send: false, reason: 'residency undecided (unavailable)' });
  });

  it('masks content to its classification and size', () => {
    expect(maskedContent({ text: 'héllo' }, 'pii', true)).toEqual({ masked: 'pii', bytes: 17 });
    expect(maskedContent({ text: 'hi' }, 'none', false)).toEqual({ text: 'hi' });
  });
});
