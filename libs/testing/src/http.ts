/** JSON as tests read it: any field, any depth. */
export type Json = Record<string, unknown> & { [key: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- test assertions read arbitrary JSON

/** One HTTP call as a client makes it: bearer key, JSON body (or a raw one), parsed reply. */
export async function httpCall(
  base: string,
  method: string,
  url: string,
  options: { key?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {},
) {
  const headers: Record<string, string> = {
    ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
    ...(options.body !== undefined || options.raw !== undefined
      ? { 'content-type': 'application/json' }
      : {}),
    ...options.headers,
  };
  const res = await fetch(`${base}${url}`, {
    method,
    headers,
    ...(options.raw !== undefined
      ? { body: options.raw }
      : options.body !== undefined
        ? { body: JSON.stringify(options.body) }
        : {}),
  });
  const text = await res.text();
  let json: Json = {};
  try {
    json = text ? (JSON.parse(text) as Json) : {};
  } catch {
    json = { text };
  }
  return { status: res.status, headers: res.headers, json, text };
}
