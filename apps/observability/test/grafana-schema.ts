import path from 'node:path';
import ts from 'typescript';

/**
 * Checks dashboard JSON models against `Dashboard` of @grafana/schema (Grafana's own types,
 * generated from its CUE schema) with the TypeScript compiler: each model becomes an object
 * literal typed `Dashboard`, so a wrong type, a missing required field or an unknown property
 * (the excess-property check of object literals) is a compile error. Returns the problems.
 */
export function grafanaSchemaProblems(models: Record<string, Record<string, unknown>>): string[] {
  // Inside the repository, so that '@grafana/schema' resolves from its node_modules.
  const file = path.join(__dirname, '__dashboards_checked__.ts');
  const names = Object.keys(models);
  const source = [
    `import type { Dashboard } from '@grafana/schema';`,
    ...names.map(
      (uid, i) => `// ${uid}\nexport const d${i}: Dashboard = ${JSON.stringify(models[uid])};`,
    ),
  ].join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts'],
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name === file ? ts.createSourceFile(name, source, language) : read(name, language, ...rest);
  const exists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || exists(name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file?.fileName !== file || d.start === undefined) return message;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    const uid = names[Math.floor((line - 1) / 2)] ?? '?';
    return `${uid}: ${message}`;
  });
}
