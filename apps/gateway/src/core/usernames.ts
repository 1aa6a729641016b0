import { AionError } from '@aion/errors';

export const MAX_USERNAME_LENGTH = 200;

/**
 * The form a username is unique and looked up in: Unicode NFKC (full-width letters, ligatures
 * such as `ﬁ` and other compatibility forms become their plain letters), then case-folded, then
 * NFKC again since case mapping can leave a string unnormalised. JavaScript has no case-fold
 * primitive; lower(upper(s)) gives the same equivalence classes as Unicode's full case folding
 * for practically all scripts (`ß` ~ `ss`, final `ς` ~ `σ`) and additionally merges the Turkic
 * dotless `ı` with `i`, which for a uniqueness key is the safe direction.
 */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');
}

// Controls, format characters (zero-width joiners, bidi overrides), unassigned and private-use
// code points and every kind of space: none belongs in a name, and they make look-alikes.
const INVISIBLE_OR_SPACE = /[\p{C}\p{Z}]/u;

/** A new account's name, normalised; refuses names that would be ambiguous or invisible. */
export function normalizeNewUsername(username: string): string {
  const normalized = normalizeUsername(username);
  const problem =
    normalized.length === 0
      ? 'must not be empty'
      : normalized.length > MAX_USERNAME_LENGTH
        ? `at most ${MAX_USERNAME_LENGTH} characters once normalised`
        : INVISIBLE_OR_SPACE.test(normalized)
          ? 'must not contain spaces, control or invisible characters'
          : undefined;
  if (problem)
    throw AionError.validation(`username ${problem}`, [{ field: 'username', message: problem }]);
  return normalized;
}
