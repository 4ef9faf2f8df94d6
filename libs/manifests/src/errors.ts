/** A manifest problem tied to a file (and line when known); safe to show to users. */
export class ManifestError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
  ) {
    super(ManifestError.format(message, file, line));
    this.name = 'ManifestError';
  }

  private static format(message: string, file?: string, line?: number): string {
    if (!file) return message;
    return line ? `${file}:${line}: ${message}` : `${file}: ${message}`;
  }
}
