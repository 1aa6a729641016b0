/** Messages between the password hash pool and its worker threads. */
export type HashRequest =
  | { id: number; op: 'hash'; password: string }
  | { id: number; op: 'verify'; password: string; encoded: string };

export type HashReply =
  { id: number; ok: true; value: string | boolean } | { id: number; ok: false; message: string };
