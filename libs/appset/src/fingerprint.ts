import { hash } from 'node:crypto';
import type { ClusterInfo } from '../../generators/src/index.js';

/** Everything an ApplicationSet evaluation reads. */
export interface EvaluationInputs {
  /** The ApplicationSet document as stored. */
  document: unknown;
  /** The cluster inventory, in a stable order (generators and destination checks read it). */
  clusters: readonly ClusterInfo[];
  /** Repository URL → (ref → commit) for every repository its git generators read. */
  repositories: Readonly<Record<string, Readonly<Record<string, string>> | null>>;
  /** Anything else whose change must cause a new evaluation (e.g. a counter of owned apps). */
  extra?: unknown;
}

/**
 * A hash of an evaluation's inputs. Generation is a pure function of these, so an evaluation
 * whose fingerprint equals the last one can be skipped: the periodic resync and commits to
 * unrelated branches then cost a few milliseconds instead of a full regeneration.
 */
export function evaluationFingerprint(inputs: EvaluationInputs): string {
  const repos = Object.keys(inputs.repositories)
    .sort()
    .map((url) => {
      const refs = inputs.repositories[url];
      return [
        url,
        refs
          ? Object.keys(refs)
              .sort()
              .map((r) => `${r}=${refs[r]}`)
          : null,
      ];
    });
  const clusters = inputs.clusters.map((c) => [c.name, c.server, c.labels, c.annotations]);
  return hash('sha256', JSON.stringify([inputs.document, clusters, repos, inputs.extra ?? null]));
}
