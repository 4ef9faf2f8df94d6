import { describe, expect, it } from 'vitest';
import { evaluationFingerprint, type EvaluationInputs } from './fingerprint.js';

const base: EvaluationInputs = {
  document: { metadata: { name: 'a' }, spec: { generators: [] } },
  clusters: [{ name: 'c1', server: 'https://c1', labels: { env: 'prod' }, annotations: {} }],
  repositories: { 'https://git/r.git': { 'refs/heads/main': 'aaa', 'refs/tags/v1': 'bbb' } },
  extra: { owned: 3 },
};

describe('evaluationFingerprint', () => {
  it('is stable for equal inputs, whatever the order of refs and repositories', () => {
    const same: EvaluationInputs = {
      ...base,
      repositories: { 'https://git/r.git': { 'refs/tags/v1': 'bbb', 'refs/heads/main': 'aaa' } },
    };
    expect(evaluationFingerprint(same)).toBe(evaluationFingerprint(base));
  });

  it('changes with the document, a cluster label, a commit, or the extra input', () => {
    const variants: EvaluationInputs[] = [
      { ...base, document: { metadata: { name: 'a' }, spec: { generators: [{ list: {} }] } } },
      { ...base, clusters: [{ ...base.clusters[0], labels: { env: 'dev' } }] },
      { ...base, clusters: [] },
      {
        ...base,
        repositories: { 'https://git/r.git': { 'refs/heads/main': 'ccc', 'refs/tags/v1': 'bbb' } },
      },
      { ...base, repositories: { 'https://git/r.git': null } },
      { ...base, extra: { owned: 2 } },
    ];
    const all = new Set([base, ...variants].map(evaluationFingerprint));
    expect(all.size).toBe(variants.length + 1);
  });
});
