import { rm, stat } from 'node:fs/promises';
import { dataError } from '../../core/model';
import type { CleanSpec } from '../../core/ports';
import { type DuckDb, describe, ident, isNumericType, lit } from './duckdb';
import { checkConversion, dateConversion, numberConversion } from './normalize';
import { profile } from './profile';

const unknownColumn = (field: string, name: string, columns: string[]) =>
  dataError(`${field} names column ${JSON.stringify(name)}, which the data lacks`, [
    { field, reason: 'unknown_column', message: `columns: ${columns.join(', ')}` },
  ]);

/**
 * Trims text (default on), normalises (text, dates, numbers) and imputes the columns named, masks personal data when
 * asked (redact_pii: the columns the profile flags), then drops duplicates
 * (exact by default, or the first row per key); every step is recorded with its parameters, an
 * imputed value with the value computed. Rows keep their order, so equal input is equal output.
 */
export async function clean(db: DuckDb, inPath: string, outPath: string, spec: CleanSpec) {
  await rm(outPath, { force: true });
  const steps: Record<string, unknown>[] = [];
  await db.with(async (c) => {
    const from = `read_parquet(${lit(inPath)})`;
    const columns = await describe(db, c, inPath);
    const names = columns.map((col) => col.name);
    const expr = new Map(columns.map((col) => [col.name, ident(col.name)]));
    const typeOf = new Map(columns.map((col) => [col.name, col.type]));
    const trim = spec.trim ?? true;
    if (trim) {
      const text = columns.filter((col) => col.type === 'VARCHAR').map((col) => col.name);
      for (const name of text) expr.set(name, `trim(${expr.get(name)!})`);
      steps.push({ step: 'trim', columns: text });
    }
    for (const [i, n] of (spec.normalize ?? []).entries()) {
      const field = `spec.clean.normalize[${i}].column`;
      if (!expr.has(n.column)) throw unknownColumn(field, n.column, names);
      if (n.date || n.number) {
        const current = expr.get(n.column)!;
        const type = typeOf.get(n.column)!;
        const conversion = n.date
          ? dateConversion(n.column, current, type, n.date)
          : numberConversion(n.column, current, type, n.number!);
        const at = `spec.clean.normalize[${i}]`;
        const unparsed = await checkConversion(db, c, from, conversion, at, n.column);
        expr.set(n.column, conversion.expr);
        typeOf.set(n.column, conversion.type);
        steps.push({ ...conversion.step, on_error: conversion.onError, unparsed });
        continue;
      }
      let e = `${expr.get(n.column)!}::VARCHAR`;
      if (n.unicode === 'nfc') e = `nfc_normalize(${e})`;
      if (n.case) e = `${n.case}(${e})`;
      expr.set(n.column, e);
      steps.push({
        step: 'normalize',
        column: n.column,
        ...(n.case ? { case: n.case } : {}),
        ...(n.unicode ? { unicode: n.unicode } : {}),
      });
    }
    for (const [i, m] of (spec.impute ?? []).entries()) {
      const field = `spec.clean.impute[${i}]`;
      if (!expr.has(m.column)) throw unknownColumn(`${field}.column`, m.column, names);
      const type = typeOf.get(m.column)!;
      const current = expr.get(m.column)!;
      let value: unknown = m.value;
      if (m.method === 'mean' || m.method === 'median') {
        if (!isNumericType(type))
          throw dataError(`${field}: ${m.method} of ${m.column} (${type}) is not a number`, [
            { field: `${field}.method`, reason: 'not_numeric', message: type },
          ]);
        const fn = m.method === 'mean' ? 'avg' : 'median';
        value = (await db.rows(c, `SELECT ${fn}(${current})::DOUBLE AS v FROM ${from}`))[0]!['v'];
      } else if (m.method === 'mode') {
        // The most frequent value; ties go to the smallest, so the result is reproducible.
        const [top] = await db.rows(
          c,
          `SELECT ${current} AS v, count(*) AS n FROM ${from} WHERE ${current} IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT 1`,
        );
        value = top ? top['v'] : null;
      } else if (value === undefined) {
        throw dataError(`${field}: a constant imputation needs a value`, [
          { field: `${field}.value`, reason: 'required', message: 'give the value to fill in' },
        ]);
      }
      if (typeof value === 'bigint') value = Number(value);
      if (value === null || value === undefined) {
        steps.push({ step: 'impute', column: m.column, method: m.method, value: null });
        continue;
      }
      const literal =
        typeof value === 'number'
          ? String(value)
          : typeof value === 'boolean'
            ? String(value)
            : lit(String(value));
      expr.set(
        m.column,
        `coalesce(${current}, CAST(${literal} AS ${m.method === 'mean' || m.method === 'median' ? 'DOUBLE' : type}))`,
      );
      steps.push({ step: 'impute', column: m.column, method: m.method, value });
    }
    if (spec.redact_pii) {
      // Columns the profile flags as personal data lose their values before the data moves on.
      const personal = (await profile(db, inPath)).columns.filter((col) => col.personalData);
      for (const col of personal)
        expr.set(
          col.name,
          `CASE WHEN ${expr.get(col.name)!} IS NULL THEN NULL ELSE '[redacted]' END`,
        );
      steps.push({
        step: 'redact_pii',
        columns: personal.map((col) => ({ column: col.name, semantic_type: col.semanticType })),
      });
    }
    const select = columns.map((col) => `${expr.get(col.name)!} AS ${ident(col.name)}`).join(', ');
    const numbered = `SELECT *, row_number() OVER () AS aion_row FROM (SELECT ${select} FROM ${from})`;
    const dedupe = spec.dedupe ?? true;
    let query = `SELECT * EXCLUDE (aion_row) FROM (${numbered}) ORDER BY aion_row`;
    if (dedupe !== false) {
      const keys = dedupe === true ? names : dedupe.keys;
      const missing = keys.filter((k) => !expr.has(k));
      if (missing.length) throw unknownColumn('spec.clean.dedupe.keys', missing[0]!, names);
      // The first row of each key (or of each identical row) wins, in file order.
      query = `SELECT * EXCLUDE (aion_row) FROM (${numbered})
        QUALIFY row_number() OVER (PARTITION BY ${keys.map(ident).join(', ')} ORDER BY aion_row) = 1 ORDER BY aion_row`;
      steps.push(
        dedupe === true ? { step: 'dedupe', mode: 'exact' } : { step: 'dedupe', mode: 'key', keys },
      );
    }
    await c.run(`COPY (${query}) TO ${lit(outPath)} (FORMAT parquet)`);
  });
  const rows = await db.with(async (c) =>
    Number(
      (await db.rows(c, `SELECT count(*)::DOUBLE AS n FROM read_parquet(${lit(outPath)})`))[0]![
        'n'
      ],
    ),
  );
  return { rows, bytes: (await stat(outPath)).size, steps };
}
