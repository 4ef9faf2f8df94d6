import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApplicationInput } from '../../apps/hub/src/applications/application.schemas.js';
import { ApplicationsRepository } from '../../apps/hub/src/applications/applications.repository.js';
import { ApplicationsService } from '../../apps/hub/src/applications/applications.service.js';
import { TargetsRepository } from '../../apps/hub/src/applications/targets.repository.js';
import { ClustersRepository } from '../../apps/hub/src/clusters/clusters.repository.js';
import { DependenciesRepository } from '../../apps/hub/src/dependencies/dependencies.repository.js';
import { DependenciesService } from '../../apps/hub/src/dependencies/dependencies.service.js';
import { projectSpecSchema } from '../../apps/hub/src/projects/project-policy.js';
import { ProjectsRepository } from '../../apps/hub/src/projects/projects.repository.js';
import { ProjectsService } from '../../apps/hub/src/projects/projects.service.js';
import { migratedDataSource } from '../support/hub-harness.js';
import { outcomes } from '../support/outcomes.js';

/**
 * A project deleted while an application is created or moved into it, on a real PostgreSQL:
 * either the deletion is refused (409) or the application is (400 naming `project`), never an
 * application left in a project that no longer exists.
 */
describe('project deletion at the same time as an application write', () => {
  let ds: DataSource;
  let apps: ApplicationsService;
  let projects: ProjectsService;
  const spec = projectSpecSchema.parse({ sourceRepos: ['*'], destinations: [{ namespace: '*' }] });

  const input = (name: string, project: string) =>
    parseApplicationInput({
      name,
      project,
      source: { repoURL: 'https://git.example/app.git', targetRevision: 'main', path: 'app' },
      destination: { cluster: 'east', namespace: 'web' },
    });

  /** Applications whose project does not exist. */
  const orphans = async () =>
    (
      await ds.query<{ name: string }[]>(
        `SELECT a.name FROM applications a
          WHERE NOT EXISTS (SELECT 1 FROM projects p WHERE p.name = coalesce(a.spec->>'project', 'default'))`,
      )
    ).map((r) => r.name);

  beforeAll(async () => {
    ds = await migratedDataSource();
    const appsRepo = new ApplicationsRepository(ds);
    const targets = new TargetsRepository(ds);
    const audit = { record: () => Promise.resolve() } as never;
    const work = { apps: () => Promise.resolve(), appsets: () => Promise.resolve() } as never;
    projects = new ProjectsService(new ProjectsRepository(ds), appsRepo, audit, work);
    apps = new ApplicationsService(
      ds,
      appsRepo,
      targets,
      new ClustersRepository(ds),
      audit,
      projects,
      work,
      { notify: () => Promise.resolve() } as never,
      new DependenciesService(new DependenciesRepository(ds, targets)),
    );
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  const refusedProject = `ValidationFailed ${JSON.stringify([{ field: 'project', reason: 'project "p" does not exist' }])}`;

  it('an application created while its project is deleted', async () => {
    for (let round = 0; round < 20; round++) {
      await projects.create('p', spec);
      const [create, del] = await outcomes(
        [apps.create(input(`new-${round}`, 'p')), projects.delete('p')],
        { fields: true },
      );
      expect([
        ['ok', 'Conflict'],
        [refusedProject, 'ok'],
      ]).toContainEqual([create, del]);
      expect(await orphans()).toEqual([]);
      if (create === 'ok') {
        await apps.delete(`new-${round}`);
        await projects.delete('p');
      }
    }
  });

  it('an application moved into a project while it is deleted', async () => {
    await apps.create(input('mover', 'default'));
    for (let round = 0; round < 20; round++) {
      await projects.create('p', spec);
      const [update, del] = await outcomes(
        [apps.update('mover', { spec: input('mover', 'p') }), projects.delete('p')],
        { fields: true },
      );
      expect([
        ['ok', 'Conflict'],
        [refusedProject, 'ok'],
      ]).toContainEqual([update, del]);
      expect(await orphans()).toEqual([]);
      if (update === 'ok') {
        await apps.update('mover', { spec: input('mover', 'default') });
        await projects.delete('p');
      }
    }
  });
});
