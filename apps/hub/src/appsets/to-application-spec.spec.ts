import { describe, expect, it } from 'vitest';
import { requeueSeconds, serviceGenerators } from './to-application-spec.js';

const doc = (generators: unknown[]) => ({ spec: { generators } });

describe('requeue of ApplicationSets that ask services', () => {
  it("takes the shortest requeueAfterSeconds, Argo CD's defaults otherwise, at any depth", () => {
    expect(requeueSeconds(doc([{ list: { elements: [] } }]))).toBeNull();
    expect(requeueSeconds(doc([{ pullRequest: { github: {} } }]))).toBe(1800);
    expect(
      requeueSeconds(doc([{ clusterDecisionResource: { configMapRef: 'x', name: 'y' } }])),
    ).toBe(180);
    expect(
      requeueSeconds(
        doc([
          {
            matrix: {
              generators: [
                { plugin: { configMapRef: { name: 'p' }, requeueAfterSeconds: 60 } },
                { scmProvider: { github: {}, requeueAfterSeconds: 30 } },
              ],
            },
          },
        ]),
      ),
    ).toBe(30);
    // 0: never by itself (but still never skipped by the input fingerprint).
    const never = doc([{ plugin: { configMapRef: { name: 'p' }, requeueAfterSeconds: 0 } }]);
    expect(requeueSeconds(never)).toBeNull();
    expect(serviceGenerators(never)).toHaveLength(1);
  });
});
