/** Every failure of this library — bad input, wrong algorithm, mismatched names — is a PkiError. */
export class PkiError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PkiError';
  }
}
