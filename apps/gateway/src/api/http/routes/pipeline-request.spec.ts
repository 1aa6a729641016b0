import { JobRequest, Source } from './pipeline-request';

describe('pipeline job sources', () => {
  it('accepts S3 and REST sources as the data-pipeline reads them', () => {
    for (const source of [
      { type: 's3', credentials: 'lake', bucket: 'my-data', key: 'in/sales.CSV' },
      { type: 's3', credentials: 'lake', bucket: 'my-data', key: 'x.parquet', delimiter: ';' },
      { type: 'rest', url: 'https://api.example.com/items' },
      {
        type: 'rest',
        url: 'https://api.example.com/items',
        credentials: 'crm',
        records: 'data.items',
        pagination: { style: 'cursor', cursor_param: 'after', cursor_path: 'meta.next' },
        max_pages: 50,
      },
      { type: 'rest', url: 'http://api.example.com/', pagination: { style: 'page', size: 100 } },
      { type: 'rest', url: 'http://api.example.com/', pagination: { style: 'link' } },
      { type: 'kafka', connection: 'events', topic: 'orders.v1', max_messages: 1000 },
    ])
      expect(Source.safeParse(source).success).toBe(true);
  });

  it("takes a REST source's url only when any URL parser takes it (the contract run sent http://)", () => {
    const accepted = (url: string) => Source.safeParse({ type: 'rest', url }).success;
    for (const url of ['http://a', 'https://api.example.com/v1?x=1', 'http://10.0.0.1:8080/x'])
      expect([url, accepted(url)]).toEqual([url, true]);
    for (const url of [
      'http://',
      'http://1.2.3.4.5',
      'http://999.1.1.1',
      'http://a:99999',
      'http://xn--a/',
      'http://a/ b',
      'ftp://a/',
    ])
      expect([url, accepted(url)]).toEqual([url, false]);
    // Whatever it accepts parses as an http(s) URL.
    for (const url of ['http://A.B-C.d1', 'http://1.2.3.4', 'https://x.y:65535/#f'])
      expect(new URL(url).protocol).toMatch(/^https?:$/);
  });

  it('refuses keys and secrets in the source, unknown formats and pagination styles', () => {
    for (const source of [
      { type: 's3', credentials: 'lake', bucket: 'my-data', key: 'in/sales.xlsx' },
      { type: 's3', credentials: 'lake', bucket: 'My_Data', key: 'a.csv' },
      { type: 's3', credentials: 'lake', bucket: 'b1x', key: 'a.csv', secret_access_key: 'k' },
      { type: 'rest', url: 'file:///etc/passwd' },
      { type: 'rest', url: 'https://a.example/', headers: { authorization: 'Bearer x' } },
      { type: 'rest', url: 'https://a.example/', pagination: { style: 'offset' } },
      { type: 'rest', url: 'https://a.example/', max_pages: 0 },
      { type: 'kafka', connection: 'events', topic: 'a topic' },
      { type: 'kafka', connection: 'events', topic: 't', brokers: ['10.0.0.1:9092'] },
    ])
      expect(Source.safeParse(source).success).toBe(false);
  });
});

describe('pipeline clean normalisation', () => {
  const accepted = (normalize: unknown[]) =>
    JobRequest.safeParse({
      type: 'clean',
      source: { type: 'file', path: 'a.csv' },
      spec: { clean: { normalize } },
    }).success;

  it('accepts text, date and number normalisation as the data-pipeline does', () => {
    for (const n of [
      { column: 'a', case: 'lower', unicode: 'nfc' },
      { column: 'd', date: { formats: ['%d/%m/%Y', '%Y-%m-%d'] } },
      { column: 'd', date: { formats: ['%Y年%m月%d日 %H:%M'], on_error: 'null' } },
      { column: 'n', number: { decimal: ',', thousands: '.' } },
      { column: 'n', number: { decimal: '.', thousands: "'", as: 'decimal', scale: 2 } },
      { column: 'n', number: { decimal: '.', as: 'double', on_error: 'fail' } },
    ])
      expect([n, accepted([n])]).toEqual([n, true]);
  });

  it('refuses what the data-pipeline refuses', () => {
    for (const n of [
      { column: 'd', date: { formats: [] } },
      { column: 'd', date: { formats: ['%H:%M'] } },
      { column: 'd', date: { formats: ['%Q'] } },
      { column: 'd', date: { formats: ['\u{1F600}%d'] } },
      { column: 'd', date: { formats: ['%d'], on_error: 'skip' } },
      { column: 'd', case: 'lower', date: { formats: ['%d'] } },
      { column: 'n', number: { decimal: ',', thousands: ',' } },
      { column: 'n', number: { decimal: ';' } },
      { column: 'n', number: { decimal: '.', scale: 2 } },
      { column: 'n', number: { decimal: '.', as: 'decimal', scale: 19 } },
      { column: 'n', number: { decimal: '.' }, date: { formats: ['%d'] } },
    ])
      expect([n, accepted([n])]).toEqual([n, false]);
  });
});
