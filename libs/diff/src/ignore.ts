import { fieldsOwnedBy, unionFieldSets, type FieldSet } from './fieldset.js';

/** Argo CD's `ignoreDifferences` entry (jqPathExpressions are not supported). */
export interface IgnoreRule {
  group: string;
  kind: string;
  /** Empty: every name. */
  name: string;
  /** Empty: every namespace. */
  namespace: string;
  jsonPointers: readonly string[];
  managedFieldsManagers: readonly string[];
}

export interface ResourceRef {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

/** Whether a rule applies to a resource; `*` matches any group or kind. */
export function ruleMatches(rule: IgnoreRule, r: ResourceRef): boolean {
  return (
    (rule.group === '*' || rule.group === r.group) &&
    (rule.kind === '*' || rule.kind === r.kind) &&
    (rule.name === '' || rule.name === r.name) &&
    (rule.namespace === '' || rule.namespace === r.namespace)
  );
}

export interface IgnoreSpec {
  pointers: string[];
  managers: string[];
}

/** The pointers and managers of every rule that applies to `r`. */
export function ignoreFor(rules: readonly IgnoreRule[], r: ResourceRef): IgnoreSpec {
  const pointers = new Set<string>();
  const managers = new Set<string>();
  for (const rule of rules) {
    if (!ruleMatches(rule, r)) continue;
    rule.jsonPointers.forEach((p) => pointers.add(p));
    rule.managedFieldsManagers.forEach((m) => managers.add(m));
  }
  return { pointers: [...pointers], managers: [...managers] };
}

/** The fields the ignored managers own in the live object (undefined when none). */
export function ignoredManagerFields(
  live: unknown,
  managers: readonly string[],
): FieldSet | undefined {
  if (managers.length === 0) return undefined;
  const owned = managers
    .map((m) => fieldsOwnedBy(live, [m]))
    .filter((f): f is FieldSet => f !== undefined);
  return owned.length ? owned.reduce((a, b) => unionFieldSets(a, b)) : undefined;
}
