/** Errors raised by the templating library. */

export interface TemplatePosition {
  /** 1-based line. */
  line: number;
  /** Column as Go reports it: a 0-based UTF-8 byte offset into the line. */
  col: number;
}

export type TemplateErrorKind = 'parse' | 'exec' | 'limit';

/**
 * A template failed to parse or execute. The message follows Go's text/template format, e.g.
 * `template: appset:1:14: executing "appset" at <.foo>: map has no entry for key "foo"`.
 */
export class TemplateError extends Error {
  override name = 'TemplateError';
  constructor(
    message: string,
    readonly kind: TemplateErrorKind,
    readonly templateName: string,
    readonly position?: TemplatePosition,
    /** Where in an object tree the failing string was (set by renderTemplateTree). */
    public path?: string,
  ) {
    super(message);
  }
}
