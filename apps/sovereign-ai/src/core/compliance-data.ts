/**
 * The starter compliance map Aion ships: for each jurisdiction, the data-protection regulations
 * that apply and what they require of processing. It is a starting point that operators override
 * (AION_SOVEREIGN_COMPLIANCE_FILE for the platform, PUT /api/v1/sovereign/compliance/{code} per
 * tenant), not legal advice: check it with your counsel. State as of 2025, from the sources
 * named on each regulation. retention_days 0 means the law sets no fixed period (keep data only
 * as long as its purpose requires).
 */
export interface RegulationData {
  name: string;
  localization_required: boolean;
  transfer_mechanisms: string[];
  encryption_at_rest: boolean;
  encryption_in_transit: boolean;
  retention_days: number;
  sources: string[];
}

export interface ComplianceData {
  regulations: RegulationData[];
  /** Jurisdictions the regulator recognises as adequate destinations for transfers. */
  adequate_jurisdictions: string[];
}

const secure = { encryption_at_rest: true, encryption_in_transit: true, retention_days: 0 };

/** Countries with an EU adequacy decision (European Commission list, 2025). */
export const EU_ADEQUACY = [
  'AD', // Andorra
  'AR', // Argentina
  'CA', // Canada (commercial organisations under PIPEDA)
  'CH', // Switzerland
  'FO', // Faroe Islands
  'GB', // United Kingdom
  'GG', // Guernsey
  'IL', // Israel
  'IM', // Isle of Man
  'JE', // Jersey
  'JP', // Japan
  'KR', // Republic of Korea
  'NZ', // New Zealand
  'US', // United States (organisations certified under the EU-US Data Privacy Framework)
  'UY', // Uruguay
];

const GDPR: RegulationData = {
  name: 'GDPR',
  localization_required: false,
  transfer_mechanisms: [
    'adequacy decision (Art. 45)',
    'standard contractual clauses (Art. 46(2)(c))',
    'binding corporate rules (Art. 47)',
    'derogations for specific situations (Art. 49)',
  ],
  ...secure,
  sources: [
    'Regulation (EU) 2016/679, https://eur-lex.europa.eu/eli/reg/2016/679/oj',
    'European Commission, Adequacy decisions, https://commission.europa.eu/law/law-topic/data-protection/international-dimension-data-protection/adequacy-decisions_en',
  ],
};

export const STARTER_COMPLIANCE: Readonly<Record<string, ComplianceData>> = {
  EU: { regulations: [GDPR], adequate_jurisdictions: ['EEA', ...EU_ADEQUACY] },
  EEA: { regulations: [GDPR], adequate_jurisdictions: ['EEA', ...EU_ADEQUACY] },
  GB: {
    regulations: [
      {
        name: 'UK GDPR',
        localization_required: false,
        transfer_mechanisms: [
          'UK adequacy regulations',
          'International Data Transfer Agreement (IDTA)',
          'UK Addendum to the EU standard contractual clauses',
          'binding corporate rules',
        ],
        ...secure,
        sources: [
          'UK GDPR and Data Protection Act 2018, https://www.legislation.gov.uk/ukpga/2018/12',
          'ICO, International transfers, https://ico.org.uk/for-organisations/uk-gdpr-guidance-and-resources/international-transfers/',
        ],
      },
    ],
    adequate_jurisdictions: [
      'EEA',
      'AD',
      'AR',
      'CA',
      'CH',
      'FO',
      'GG',
      'IL',
      'IM',
      'JE',
      'JP',
      'KR',
      'NZ',
      'US',
      'UY',
    ],
  },
  CH: {
    regulations: [
      {
        name: 'revFADP',
        localization_required: false,
        transfer_mechanisms: [
          'Federal Council adequacy list',
          'standard contractual clauses',
          'binding corporate rules',
        ],
        ...secure,
        sources: [
          'Federal Act on Data Protection (FADP), SR 235.1, https://www.fedlex.admin.ch/eli/cc/2022/491/en',
        ],
      },
    ],
    adequate_jurisdictions: [
      'EEA',
      'GB',
      'AD',
      'AR',
      'CA',
      'FO',
      'GG',
      'IL',
      'IM',
      'JE',
      'NZ',
      'UY',
      'US',
    ],
  },
  CN: {
    regulations: [
      {
        name: 'PIPL',
        localization_required: true,
        transfer_mechanisms: [
          'CAC security assessment',
          'CAC standard contract',
          'personal information protection certification',
        ],
        ...secure,
        sources: [
          'Personal Information Protection Law of the PRC (2021), Art. 38-40, http://www.npc.gov.cn/',
        ],
      },
    ],
    adequate_jurisdictions: [],
  },
  RU: {
    regulations: [
      {
        name: '152-FZ',
        localization_required: true,
        transfer_mechanisms: [
          'primary database in Russia (Art. 18(5))',
          'transfer to countries party to Convention 108 or on the Roskomnadzor list',
          'notification of Roskomnadzor before cross-border transfer',
        ],
        ...secure,
        sources: ['Federal Law No. 152-FZ "On Personal Data", http://pravo.gov.ru/'],
      },
    ],
    adequate_jurisdictions: [],
  },
  IN: {
    regulations: [
      {
        name: 'DPDP',
        localization_required: false,
        transfer_mechanisms: [
          'any country not restricted by Central Government notification (s. 16)',
        ],
        ...secure,
        sources: [
          'Digital Personal Data Protection Act, 2023, https://www.meity.gov.in/data-protection-framework',
        ],
      },
    ],
    adequate_jurisdictions: [],
  },
  BR: {
    regulations: [
      {
        name: 'LGPD',
        localization_required: false,
        transfer_mechanisms: [
          'ANPD adequacy (Art. 33 I)',
          'ANPD standard contractual clauses (Resolution CD/ANPD 19/2024)',
          'binding corporate rules',
          'specific consent',
        ],
        ...secure,
        sources: [
          'Lei Geral de Proteção de Dados, Lei 13.709/2018, https://www.planalto.gov.br/ccivil_03/_ato2015-2018/2018/lei/l13709.htm',
        ],
      },
    ],
    adequate_jurisdictions: [],
  },
  SA: {
    regulations: [
      {
        name: 'PDPL',
        localization_required: false,
        transfer_mechanisms: [
          'SDAIA adequacy',
          'appropriate safeguards (standard contractual clauses, binding common rules)',
          'exceptions of the Transfer Regulation',
        ],
        ...secure,
        sources: [
          'Personal Data Protection Law (Royal Decree M/19) and its Transfer Regulation, https://sdaia.gov.sa/',
        ],
      },
    ],
    adequate_jurisdictions: [],
  },
  JP: {
    regulations: [
      {
        name: 'APPI',
        localization_required: false,
        transfer_mechanisms: [
          'consent of the data subject',
          'countries with an equivalent system (EEA, GB)',
          'recipient with PPC-standard measures in place',
        ],
        ...secure,
        sources: [
          'Act on the Protection of Personal Information, Art. 28, https://www.ppc.go.jp/en/',
        ],
      },
    ],
    adequate_jurisdictions: ['EEA', 'GB'],
  },
  KR: {
    regulations: [
      {
        name: 'PIPA',
        localization_required: false,
        transfer_mechanisms: [
          'consent',
          'certification',
          'PIPC adequacy',
          'contract necessity with notice',
        ],
        ...secure,
        sources: ['Personal Information Protection Act, Art. 28-8, https://www.pipc.go.kr/eng/'],
      },
    ],
    adequate_jurisdictions: ['EEA'],
  },
  US: {
    regulations: [
      {
        name: 'HIPAA',
        localization_required: false,
        transfer_mechanisms: ['business associate agreement'],
        encryption_at_rest: true,
        encryption_in_transit: true,
        retention_days: 2190,
        sources: [
          '45 CFR Parts 160 and 164 (documentation kept six years, 164.316(b)(2)), https://www.hhs.gov/hipaa/',
        ],
      },
      {
        name: 'CCPA/CPRA',
        localization_required: false,
        transfer_mechanisms: ['service provider or contractor agreement'],
        ...secure,
        sources: ['California Civil Code 1798.100 et seq., https://oag.ca.gov/privacy/ccpa'],
      },
    ],
    adequate_jurisdictions: [],
  },
};
