import { Injectable } from '@nestjs/common';
import type { ApplicationSpec } from '../applications/application.schemas.js';
import { ValidationFailed } from '../common/validation.js';
import type { Db } from '../database/sql.js';
import { findCycle, waitingFor } from './dependencies.js';
import { DependenciesRepository } from './dependencies.repository.js';

/**
 * Application dependencies (`dependsOn`), across clusters: refused at admission when they make a
 * cycle; at sync time, which targets must wait and for what.
 */
@Injectable()
export class DependenciesService {
  constructor(private readonly repo: DependenciesRepository) {}

  /**
   * Refuses a spec whose dependencies would close a cycle, naming it. Inside the transaction that
   * stores the spec, and serialised with the other writers of dependencies, so two concurrent
   * changes cannot close a cycle between them.
   */
  async checkCycles(name: string, spec: ApplicationSpec, tx: Db): Promise<void> {
    const deps = (spec.dependsOn ?? []).map((d) => d.application);
    if (deps.length === 0) return;
    const graph = await this.repo.graph(tx, true);
    graph.set(name, deps);
    const cycle = findCycle(name, (n) => graph.get(n) ?? []);
    if (cycle) {
      throw new ValidationFailed('invalid application', [
        { field: 'dependsOn', reason: `dependency cycle: ${cycle.join(' → ')}` },
      ]);
    }
  }

  /**
   * For applications about to be stored together (an ApplicationSet's), those whose dependencies
   * would close a cycle, with the cycle.
   */
  async cyclesAmong(
    apps: { name: string; spec: ApplicationSpec }[],
  ): Promise<Map<string, string[]>> {
    const graph = await this.repo.graph();
    for (const a of apps)
      graph.set(
        a.name,
        (a.spec.dependsOn ?? []).map((d) => d.application),
      );
    const out = new Map<string, string[]>();
    for (const a of apps) {
      if (!a.spec.dependsOn?.length) continue;
      const cycle = findCycle(a.name, (n) => graph.get(n) ?? []);
      if (cycle) out.set(a.name, cycle);
    }
    return out;
  }

  /** Why each of these clusters of an application must wait (absent: it may sync). */
  async blockers(app: { spec: ApplicationSpec }, clusters: string[]): Promise<Map<string, string>> {
    const deps = app.spec.dependsOn ?? [];
    const out = new Map<string, string>();
    if (deps.length === 0) return out;
    const states = await this.repo.states([...new Set(deps.map((d) => d.application))]);
    for (const c of clusters) {
      const why = waitingFor(deps, c, (n) => states.get(n));
      if (why) out.set(c, why);
    }
    return out;
  }
}
