/**
 * Region codes as named sets of ISO 3166-1 alpha-2 countries. Operators extend or override them
 * (JurisdictionRegistry's `regions` option). Membership as of 2025.
 */
const EU = ['AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE', 'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE'];

export const DEFAULT_REGIONS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  EU,
  EEA: [...EU, 'IS', 'LI', 'NO'],
  EFTA: ['CH', 'IS', 'LI', 'NO'],
  DACH: ['DE', 'AT', 'CH'],
  NORDICS: ['DK', 'FI', 'IS', 'NO', 'SE'],
  NORTH_AMERICA: ['US', 'CA', 'MX'],
  LATAM: ['AR', 'BO', 'BR', 'CL', 'CO', 'CR', 'CU', 'DO', 'EC', 'GT', 'HN', 'MX', 'NI', 'PA', 'PE', 'PY', 'SV', 'UY', 'VE'],
  GCC: ['AE', 'BH', 'KW', 'OM', 'QA', 'SA'],
  APAC: ['AU', 'BD', 'BN', 'CN', 'FJ', 'HK', 'ID', 'IN', 'JP', 'KH', 'KR', 'LA', 'LK', 'MM', 'MN', 'MO', 'MY', 'NP', 'NZ', 'PG', 'PH', 'PK', 'SG', 'TH', 'TW', 'VN'],
  ASEAN: ['BN', 'ID', 'KH', 'LA', 'MM', 'MY', 'PH', 'SG', 'TH', 'VN'],
  FIVE_EYES: ['AU', 'CA', 'GB', 'NZ', 'US'],
});
