import type { LabelSelector } from './types.js';

/** A compiled label selector; `matches` never throws. */
export type LabelMatcher = (labels: Readonly<Record<string, unknown>>) => boolean;

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Kubernetes `validation.IsQualifiedName`; returns the problems (empty when valid). */
export function qualifiedNameErrors(key: string): string[] {
  const parts = key.split('/');
  let name = key;
  const errs: string[] = [];
  if (parts.length === 2) {
    const [prefix, n] = parts as [string, string];
    name = n;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else if (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))
      errs.push('prefix part must be a lowercase RFC 1123 subdomain');
  } else if (parts.length > 2) {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/'",
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  else if (!QUALIFIED_NAME.test(name))
    errs.push(
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    );
  return errs;
}

export interface CompileSelectorOptions {
  /**
   * Validate values as Kubernetes label values (≤ 63 chars, alphanumeric, `-_.`). The cluster
   * generator does (it uses metav1.LabelSelectorAsSelector); Argo's post-selector does not, so
   * that parameters such as URLs can be matched.
   */
  validateValues: boolean;
}

/**
 * Compiles a Kubernetes LabelSelector (`matchLabels` AND `matchExpressions` with In, NotIn,
 * Exists, DoesNotExist). An empty selector matches everything. Throws an Error whose message says
 * what is wrong (relative field path included, e.g. `matchExpressions[0].operator: ...`).
 */
export function compileSelector(
  selector: LabelSelector | undefined,
  opts: CompileSelectorOptions,
): LabelMatcher {
  const reqs: LabelMatcher[] = [];
  const problems: string[] = [];
  const checkKey = (key: string, where: string) => {
    for (const e of qualifiedNameErrors(key))
      problems.push(`${where}: invalid key ${JSON.stringify(key)}: ${e}`);
  };
  const checkValue = (v: string, where: string) => {
    if (!opts.validateValues) return;
    if (v.length > 63 || !LABEL_VALUE.test(v))
      problems.push(
        `${where}: invalid label value ${JSON.stringify(v)}: must be 63 characters or less and consist of alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character`,
      );
  };
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    checkKey(key, `matchLabels[${JSON.stringify(key)}]`);
    checkValue(value, `matchLabels[${JSON.stringify(key)}]`);
    reqs.push((l) => Object.prototype.hasOwnProperty.call(l, key) && l[key] === value);
  }
  (selector?.matchExpressions ?? []).forEach((expr, i) => {
    const where = `matchExpressions[${i}]`;
    const key = expr.key;
    const values = expr.values ?? [];
    checkKey(key, `${where}.key`);
    const has = (l: Readonly<Record<string, unknown>>) =>
      Object.prototype.hasOwnProperty.call(l, key);
    switch (expr.operator) {
      case 'In':
      case 'NotIn': {
        if (values.length === 0)
          problems.push(`${where}.values: for 'in', 'notin' operators, values set can't be empty`);
        values.forEach((v, j) => checkValue(v, `${where}.values[${j}]`));
        const set = new Set(values);
        if (expr.operator === 'In') reqs.push((l) => has(l) && set.has(l[key] as string));
        else reqs.push((l) => !has(l) || !set.has(l[key] as string));
        break;
      }
      case 'Exists':
      case 'DoesNotExist':
        if (values.length !== 0)
          problems.push(`${where}.values: values set must be empty for exists and does not exist`);
        reqs.push(expr.operator === 'Exists' ? has : (l) => !has(l));
        break;
      default:
        problems.push(
          `${where}.operator: ${JSON.stringify(expr.operator)} is not a valid label selector operator (supported: In, NotIn, Exists, DoesNotExist)`,
        );
    }
  });
  if (problems.length > 0) throw new Error(problems.join('; '));
  if (reqs.length === 0) return () => true;
  if (reqs.length === 1) return reqs[0];
  return (l) => reqs.every((r) => r(l));
}
