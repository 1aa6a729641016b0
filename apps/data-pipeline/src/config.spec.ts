import { z } from 'zod';
import { duration } from './config';

const parse = (value: string | undefined) => duration('7d').safeParse(value);

describe('durations (AION_PIPELINE_UPLOAD_RETENTION)', () => {
  it('reads seconds, minutes, hours and days, 7 days when unset', () => {
    expect(parse(undefined)).toMatchObject({ success: true, data: 7 * 86_400_000 });
    expect(parse('90s')).toMatchObject({ success: true, data: 90_000 });
    expect(parse('30m')).toMatchObject({ success: true, data: 1_800_000 });
    expect(parse('12h')).toMatchObject({ success: true, data: 43_200_000 });
    expect(parse('3650d')).toMatchObject({ success: true, data: 3650 * 86_400_000 });
  });

  it.each(['', '7', 'd', '7 days', '-1d', '1.5h', '0s', '3651d', '7w'])(
    'refuses %j naming the expected form',
    (value) => {
      const result = parse(value);
      expect(result.success).toBe(false);
      expect((result as z.SafeParseError<string>).error.issues[0]?.message).toMatch(
        /30m, 12h or 7d/,
      );
    },
  );
});
