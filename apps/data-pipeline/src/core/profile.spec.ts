import { isPersonalData, semanticTypeOf } from './profile';

describe('semantic types', () => {
  it('takes the first type most values match, and none below the share', () => {
    expect(semanticTypeOf(100, { email: 95 })).toBe('email');
    expect(semanticTypeOf(100, { email: 89, phone: 10 })).toBe('');
    expect(semanticTypeOf(0, {})).toBe('');
    expect(semanticTypeOf(10, { iban: 10, phone: 10 })).toBe('iban');
  });

  it('flags personal data by semantic type or by column name', () => {
    expect(isPersonalData('contact', 'email')).toBe(true);
    expect(isPersonalData('customer_last_name', '')).toBe(true);
    expect(isPersonalData('amount', '')).toBe(false);
    expect(isPersonalData('created', 'date')).toBe(false);
  });
});
