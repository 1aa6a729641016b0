/** An error the CLI reports as such: its message, and its exit code (1 refused, 2 usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

/** Where results go: one JSON document with --json, else a line for a person. */
export class Output {
  constructor(private readonly json: boolean) {}

  result(data: Record<string, unknown>, text: string): void {
    process.stdout.write(`${this.json ? JSON.stringify(data) : text}\n`);
  }

  error(code: string, message: string): void {
    if (this.json) process.stdout.write(`${JSON.stringify({ error: code, message })}\n`);
    else process.stderr.write(`aionctl: ${message}\n`);
  }
}
