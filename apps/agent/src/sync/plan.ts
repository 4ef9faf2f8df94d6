import { compareForApply, type KubeObject } from '../../../../libs/manifests/src/index.js';
import {
  hookSpec,
  resourceSyncOptions,
  syncWave,
  type HookSpec,
  type HookType,
  type ResourceSyncOptions,
} from './options.js';

/** One object of an app's desired state with what its annotations say. */
export interface PlanItem {
  raw: KubeObject;
  wave: number;
  options: ResourceSyncOptions;
  hook?: HookSpec;
}

export interface HookRef {
  item: PlanItem;
  type: HookType;
}

export type Phase = 'PreSync' | 'Sync' | 'PostSync';

export type Step =
  | { kind: 'apply'; phase: Phase; wave: number; resources: PlanItem[]; hooks: HookRef[] }
  | { kind: 'prune' }
  | { kind: 'pruneLast' };

export interface Plan {
  /** Tracked resources (hooks and `hook: Skip` objects left out), in apply order. */
  resources: PlanItem[];
  hooks: PlanItem[];
  /** PreSync waves, Sync waves, prune, prune-last, PostSync waves. */
  steps: Step[];
  syncFail: HookRef[];
}

const PHASES: Phase[] = ['PreSync', 'Sync', 'PostSync'];

/**
 * Orders a sync like Argo CD: by phase (PreSync, Sync, PostSync), then wave, then kind
 * (namespaces and CRDs first, see `compareForApply`), then name. Sync hooks run in their wave
 * with the resources; pruning follows the Sync phase, `PruneLast` resources go after that.
 */
export function buildPlan(objects: readonly KubeObject[]): Plan {
  const resources: PlanItem[] = [];
  const hooks: PlanItem[] = [];
  for (const raw of objects) {
    const hook = hookSpec(raw);
    if (hook === 'Skip') continue;
    const item: PlanItem = { raw, wave: syncWave(raw), options: resourceSyncOptions(raw) };
    if (hook) hooks.push({ ...item, hook });
    else resources.push(item);
  }
  const byOrder = (a: PlanItem, b: PlanItem) => a.wave - b.wave || compareForApply(a.raw, b.raw);
  resources.sort(byOrder);
  hooks.sort(byOrder);

  const steps: Step[] = [];
  for (const phase of PHASES) {
    const phaseHooks: HookRef[] = [];
    for (const item of hooks) {
      for (const type of item.hook!.types) if (type === phase) phaseHooks.push({ item, type });
    }
    const phaseResources = phase === 'Sync' ? resources : [];
    const waves = [
      ...new Set([...phaseResources, ...phaseHooks.map((h) => h.item)].map((i) => i.wave)),
    ].sort((a, b) => a - b);
    for (const wave of waves) {
      steps.push({
        kind: 'apply',
        phase,
        wave,
        resources: phaseResources.filter((r) => r.wave === wave),
        hooks: phaseHooks.filter((h) => h.item.wave === wave),
      });
    }
    if (phase === 'Sync') steps.push({ kind: 'prune' }, { kind: 'pruneLast' });
  }
  const syncFail: HookRef[] = [];
  for (const item of hooks) {
    if (item.hook!.types.includes('SyncFail')) syncFail.push({ item, type: 'SyncFail' });
  }
  return { resources, hooks, steps, syncFail };
}

export function describeStep(s: Step): string {
  switch (s.kind) {
    case 'apply':
      return s.phase === 'Sync' ? `wave ${s.wave}` : `${s.phase} wave ${s.wave}`;
    case 'prune':
      return 'prune';
    case 'pruneLast':
      return 'prune last';
  }
}
