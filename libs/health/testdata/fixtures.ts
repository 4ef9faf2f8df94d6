import { readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import type { HealthResult, HealthStatus, KubeObject } from '../src/types.js';

/**
 * Test support: YAML fixtures under libs/health/testdata/<family>/, in the spirit of gitops-engine's
 * pkg/health/testdata and Argo CD's resource_customizations/<group>/<kind>/testdata.
 */

const root = new URL('./', import.meta.url);

export function fixture(family: string, file: string): KubeObject {
  const text = readFileSync(new URL(`${family}/${file}`, root), 'utf8');
  return parse(text) as KubeObject;
}

export function fixtureDocuments(family: string, file: string): KubeObject[] {
  const text = readFileSync(new URL(`${family}/${file}`, root), 'utf8');
  return parseAllDocuments(text).map((doc) => doc.toJS() as KubeObject);
}

export interface FixtureCase {
  file: string;
  status: HealthStatus;
  /** Expected message; omitted when the check reports none. */
  message?: string;
}

export function expected(c: FixtureCase): HealthResult {
  return c.message === undefined ? { status: c.status } : { status: c.status, message: c.message };
}
