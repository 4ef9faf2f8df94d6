import type { DocumentOptions, ParseOptions, SchemaOptions, ToJSOptions } from 'yaml';

/**
 * YAML options matching sigs.k8s.io/yaml (go-yaml v2, YAML 1.1: `yes`/`no` booleans, merge keys)
 * except that timestamps stay strings (Go decodes them into strings for `interface{}` targets),
 * with a billion-laughs guard.
 */
export const yamlOptions: ParseOptions & DocumentOptions & SchemaOptions & ToJSOptions = {
  version: '1.1',
  customTags: (tags) =>
    tags.filter((t) => typeof t === 'string' || t.tag !== 'tag:yaml.org,2002:timestamp'),
  maxAliasCount: 100,
  uniqueKeys: false,
};
