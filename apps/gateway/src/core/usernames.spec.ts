import { normalizeNewUsername, normalizeUsername } from './usernames';

describe('normalizeUsername', () => {
  it.each([
    ['alice', 'alice'],
    ['ALICE', 'alice'],
    ['aLiCe', 'alice'],
    ['ａｌｉｃｅ', 'alice'], // full-width letters
    ['ＡＬＩＣＥ', 'alice'],
    ['ﬁle', 'file'], // the fi ligature
    ['FILE', 'file'],
    ['ſam', 'sam'], // long s
    ['Straße', 'strasse'],
    ['STRASSE', 'strasse'],
    ['ὈΔΥΣΣΕΎΣ', 'ὀδυσσεύς'], // final and medial sigma are one letter
    ['ὀδυσσεύσ', 'ὀδυσσεύς'],
    ['ὀδυσσεύς', 'ὀδυσσεύς'],
    ['e\u0301', 'é'], // combining accent composes
    ['É', 'é'],
    ['bob.Smith+ops@Example.org', 'bob.smith+ops@example.org'],
  ])('%j becomes %j', (given, normalized) => {
    expect(normalizeUsername(given)).toBe(normalized);
  });

  it('is idempotent', () => {
    for (const name of ['ﬁle', 'Straße', 'ǅemal', 'İstanbul', 'ＡＬＩＣＥ'])
      expect(normalizeUsername(normalizeUsername(name))).toBe(normalizeUsername(name));
  });
});

describe('normalizeNewUsername', () => {
  it('accepts ordinary names', () => {
    expect(normalizeNewUsername('Alice.Smith@example.org')).toBe('alice.smith@example.org');
  });

  it.each([
    ['', 'must not be empty'],
    ['ali ce', 'spaces'],
    ['ali\u00a0ce', 'spaces'], // no-break space
    ['ali\u200bce', 'invisible'], // zero-width space
    ['ali\u202ece', 'invisible'], // right-to-left override
    ['ali\u0000ce', 'invisible'],
    ['a'.repeat(201), 'at most 200'],
    ['\ufdfa'.repeat(12), 'at most 200'], // 12 characters that NFKC expands to 18 each
  ])('refuses %j', (name, reason) => {
    expect(() => normalizeNewUsername(name)).toThrow(
      expect.objectContaining({
        code: 'validation.invalid_argument',
        message: expect.stringContaining(reason),
      }),
    );
  });
});
