import { AionError } from '@aion/errors';
import { DATE_FORMAT, checkConversion, hasTime } from './normalize';

const bad = (field: string, message: string) =>
  AionError.validation(message, [{ field: `spec.clean.${field}`, message }]);
const fieldOf = (kind: 'date' | 'number', value: unknown) => {
  try {
    checkConversion(kind, value, 'normalize[0]', bad);
    return 'ok';
  } catch (err) {
    return (err as AionError).details?.[0]?.field;
  }
};

describe('date and number normalisation specs', () => {
  it('takes strptime formats with a date directive, in any BMP text', () => {
    for (const f of [
      '%d/%m/%Y',
      '%Y-%m-%d %H:%M:%S',
      '%-d.%-m.%y',
      '%d %B %Y',
      '%Y年%m月%d日',
      '%j/%Y',
    ])
      expect([f, DATE_FORMAT.test(f)]).toEqual([f, true]);
    for (const f of ['', '%H:%M', '%Q', '%', 'no directive', '%%d', '%d\n', '\u{1F600}%d'])
      expect([f, DATE_FORMAT.test(f)]).toEqual([f, false]);
    expect(hasTime('%d/%m/%Y')).toBe(false);
    expect(hasTime('%d/%m/%Y %-H:%M')).toBe(true);
  });

  it('accepts what the engine runs', () => {
    expect(fieldOf('date', { formats: ['%d/%m/%Y', '%Y-%m-%d'] })).toBe('ok');
    expect(fieldOf('date', { formats: ['%d/%m/%Y'], on_error: 'null' })).toBe('ok');
    expect(fieldOf('number', { decimal: ',', thousands: '.' })).toBe('ok');
    expect(fieldOf('number', { decimal: '.', thousands: "'", as: 'decimal', scale: 2 })).toBe('ok');
    expect(fieldOf('number', { decimal: '.', as: 'double', on_error: 'fail' })).toBe('ok');
  });

  it('names the field of whatever it refuses', () => {
    expect(fieldOf('date', 'dd/mm/yyyy')).toBe('spec.clean.normalize[0].date');
    expect(fieldOf('date', { formats: [] })).toBe('spec.clean.normalize[0].date.formats');
    expect(fieldOf('date', { formats: ['%d', 'dd'] })).toBe(
      'spec.clean.normalize[0].date.formats[1]',
    );
    expect(fieldOf('date', { formats: ['%d'], lenient: true })).toBe(
      'spec.clean.normalize[0].date.lenient',
    );
    expect(fieldOf('date', { formats: ['%d'], on_error: 'skip' })).toBe(
      'spec.clean.normalize[0].date.on_error',
    );
    expect(fieldOf('number', { decimal: ';' })).toBe('spec.clean.normalize[0].number.decimal');
    expect(fieldOf('number', { decimal: ',', thousands: ',' })).toBe(
      'spec.clean.normalize[0].number.thousands',
    );
    expect(fieldOf('number', { decimal: '.', scale: 2 })).toBe(
      'spec.clean.normalize[0].number.scale',
    );
    expect(fieldOf('number', { decimal: '.', as: 'decimal', scale: 19 })).toBe(
      'spec.clean.normalize[0].number.scale',
    );
    expect(fieldOf('number', { decimal: '.', as: 'float' })).toBe(
      'spec.clean.normalize[0].number.as',
    );
  });
});
