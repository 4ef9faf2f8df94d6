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

/** One requirement of a selector {@link parseSelector} read. */
export interface SelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** Longest label selector text {@link parseSelector} takes. */
export const MAX_SELECTOR_TEXT = 4096;

/**
 * Parses a label selector written as Kubernetes takes it on the command line and in
 * `?labelSelector=` (`env=prod,tier!=db,region in (eu-west,eu-central),!legacy,team`) into the
 * equivalent LabelSelector: `=`/`==` is In one value, `!=` is NotIn one value (a cluster without
 * the label matches, as in Kubernetes), `key` is Exists and `!key` DoesNotExist. Requirements are
 * ANDed; an empty text selects everything. `>` and `<` (Kubernetes' numeric comparisons) are
 * refused. Keys and values are checked as Kubernetes checks them. Throws an Error saying which
 * requirement is wrong and why.
 */
export function parseSelector(text: string): { matchExpressions: SelectorRequirement[] } {
  if (text.length > MAX_SELECTOR_TEXT)
    throw new Error(`longer than ${MAX_SELECTOR_TEXT} characters`);
  const matchExpressions: SelectorRequirement[] = [];
  for (const raw of splitRequirements(text)) {
    const req = raw.trim();
    if (req === '') {
      if (text.trim() === '') continue;
      throw new Error('an empty requirement (two commas in a row, or one at an end)');
    }
    const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(req);
    const eq = /^([^\s=!<>(),]+)\s*(==|=|!=)\s*([^\s=!<>(),]*)$/.exec(req);
    if (set) {
      // `()` is the set of the empty value, as Kubernetes reads it.
      const values = set[3].split(',').map((v) => v.trim());
      matchExpressions.push({
        key: set[1],
        operator: set[2] === 'in' ? 'In' : 'NotIn',
        values: [...new Set(values)],
      });
    } else if (eq) {
      matchExpressions.push({
        key: eq[1],
        operator: eq[2] === '!=' ? 'NotIn' : 'In',
        values: [eq[3]],
      });
    } else if (/^!\s*[^\s=!<>(),]+$/.test(req)) {
      matchExpressions.push({ key: req.slice(1).trim(), operator: 'DoesNotExist' });
    } else if (/^[^\s=!<>(),]+$/.test(req)) {
      matchExpressions.push({ key: req, operator: 'Exists' });
    } else if (/^[^\s=!<>(),]+\s*[<>]/.test(req)) {
      throw new Error(`${JSON.stringify(req)}: the operators > and < are not supported`);
    } else {
      throw new Error(
        `${JSON.stringify(req)}: not a requirement (key, !key, key=value, key!=value, key in (a,b), key notin (a,b))`,
      );
    }
  }
  // Keys and values as Kubernetes checks them (the messages name the requirement).
  compileSelector({ matchExpressions }, { validateValues: true });
  return { matchExpressions };
}

/** The requirements of a selector text: split at the commas outside parentheses. */
function splitRequirements(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth = Math.max(0, depth - 1);
    else if (ch === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}
