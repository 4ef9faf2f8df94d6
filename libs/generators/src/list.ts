import { parseAllDocuments } from 'yaml';
import { GeneratorError } from './errors.js';
import { yamlOptions } from './yaml.js';
import type { Runtime } from './runtime.js';
import type { ListGeneratorSpec, ParamSet } from './types.js';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * List generator. goTemplate: each element is a param set as written. fasttemplate: values must be
 * strings, except `values` which must be a map of strings exposed as `values.<key>` (as Argo).
 * `elementsYaml` (a YAML list of maps, usually produced by templating inside a matrix) is appended
 * as-is in both modes.
 */
export function listParams(spec: ListGeneratorSpec, rt: Runtime, path: string): ParamSet[] {
  const out: ParamSet[] = [];
  (spec.elements ?? []).forEach((el, i) => {
    if (rt.renderer.goTemplate) {
      out.push(el);
      return;
    }
    const params: ParamSet = {};
    for (const [key, value] of Object.entries(el)) {
      if (key === 'values') {
        if (!isPlainObject(value))
          throw new GeneratorError(
            `${path}.elements[${i}].values`,
            'error parsing values map: expected a map of strings',
          );
        for (const [k, v] of Object.entries(value)) {
          if (typeof v !== 'string')
            throw new GeneratorError(
              `${path}.elements[${i}].values.${k}`,
              'error parsing value as string: fasttemplate only supports string values (set spec.goTemplate: true for structured values)',
            );
          params[`values.${k}`] = v;
        }
      } else {
        if (typeof value !== 'string')
          throw new GeneratorError(
            `${path}.elements[${i}].${key}`,
            'error parsing value as string: fasttemplate only supports string values (set spec.goTemplate: true for structured values)',
          );
        params[key] = value;
      }
    }
    out.push(params);
  });
  if (spec.elementsYaml && spec.elementsYaml.length > 0)
    out.push(...parseElementsYaml(spec.elementsYaml, rt, path));
  return out;
}

function parseElementsYaml(text: string, rt: Runtime, path: string): ParamSet[] {
  const where = `${path}.elementsYaml`;
  if (Buffer.byteLength(text) > rt.limits.maxFileBytes)
    throw new GeneratorError(
      where,
      `larger than ${rt.limits.maxFileBytes} bytes (limits.maxFileBytes)`,
    );
  const docs = parseAllDocuments(text, yamlOptions);
  const doc = Array.isArray(docs) ? docs[0] : undefined;
  if (!doc) return [];
  if (doc.errors.length > 0)
    throw new GeneratorError(
      where,
      `error unmarshalling decoded ElementsYaml: ${doc.errors[0].message}`,
    );
  const value: unknown = doc.toJS(yamlOptions);
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value))
    throw new GeneratorError(
      where,
      'error unmarshalling decoded ElementsYaml: expected a YAML list of maps',
    );
  return value.map((v, i) => {
    if (v === null) return {};
    if (!isPlainObject(v))
      throw new GeneratorError(
        `${where}[${i}]`,
        'error unmarshalling decoded ElementsYaml: expected a map',
      );
    return v;
  });
}
