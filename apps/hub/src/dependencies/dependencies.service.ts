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
   * would close a cycle, with the cycle. With `tx` (the transaction that stores them), serialised
   * with the other writers of dependencies, as checkCycles.
   */
  async cyclesAmong(
    apps: { name: string; spec: ApplicationSpec }[],
    tx?: Db,
  ): Promise<Map<string, string[]>> {
    const graph = await (tx ? this.repo.graph(tx, true) : this.repo.graph());
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
    return (await this.blockersOf([{ key: '', spec: app.spec, clusters }])).get('') ?? new Map();
  }

  /**
   * The same for many applications (by their `key`), reading the state of every application
   * they depend on once.
   */
  async blockersOf(
    apps: { key: string; spec: ApplicationSpec; clusters: string[] }[],
  ): Promise<Map<string, Map<string, string>>> {
    const out = new Map<string, Map<string, string>>();
    const withDeps = apps.filter((a) => a.spec.dependsOn?.length);
    if (withDeps.length === 0) return out;
    const names = new Set(withDeps.flatMap((a) => a.spec.dependsOn!.map((d) => d.application)));
    const states = await this.repo.states([...names]);
    for (const a of withDeps) {
      const waiting = new Map<string, string>();
      for (const c of a.clusters) {
        const why = waitingFor(a.spec.dependsOn!, c, (n) => states.get(n));
        if (why) waiting.set(c, why);
      }
      out.set(a.key, waiting);
    }
    return out;
  }
}
