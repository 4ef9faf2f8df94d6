import { describe, expect, it } from 'vitest';
import { MemoryGitTree } from '../../generators/src/testing.js';
import type { ClusterInfo } from '../../generators/src/index.js';
import { generateApplications } from './generate.js';
import { parseApplicationSet } from './parse.js';
import { RenderMemo } from './render-memo.js';
import type { ApplicationSet, GenerateApplicationsContext } from './types.js';

const cluster = (name: string, env: string, server = `https://${name}.example`): ClusterInfo => ({
  name,
  server,
  labels: { env },
  annotations: { owner: `team-${name}` },
});

const git = new MemoryGitTree({
  'https://git/r.git': { files: { 'apps/api/k.yaml': 'a: 1', 'apps/web/k.yaml': 'a: 1' } },
});

function parse(input: unknown): ApplicationSet {
  const r = parseApplicationSet(input);
  if (!r.appset) throw new Error(JSON.stringify(r.errors));
  return r.appset;
}

/** Clusters × git directories, as bench:appset's ApplicationSet. */
function fleet(template: Record<string, unknown> = {}): ApplicationSet {
  return parse({
    metadata: { name: 'fleet' },
    spec: {
      goTemplate: true,
      goTemplateOptions: ['missingkey=error'],
      generators: [
        {
          matrix: {
            generators: [
              { clusters: {} },
              {
                git: {
                  repoURL: 'https://git/r.git',
                  revision: 'HEAD',
                  directories: [{ path: 'apps/*' }],
                },
              },
            ],
          },
        },
      ],
      template: {
        metadata: {
          name: '{{.name}}-{{.path.basename}}',
          labels: { env: '{{.metadata.labels.env}}' },
          ...template,
        },
        spec: {
          project: 'default',
          source: { repoURL: 'https://git/r.git', path: '{{.path.path}}' },
          destination: { server: '{{.server}}', namespace: '{{.path.basename}}' },
        },
      },
    },
  });
}

/** One application, its destination a literal server URL (fasttemplate). */
function byServer(): ApplicationSet {
  return parse({
    metadata: { name: 'l' },
    spec: {
      generators: [{ list: { elements: [{ app: 'x', url: 'https://shared.example' }] } }],
      template: {
        metadata: { name: '{{app}}' },
        spec: {
          project: 'default',
          source: { repoURL: 'https://git/r.git' },
          destination: { server: '{{url}}' },
        },
      },
    },
  });
}

/** Generates with the memo (a new round) and without: both must give the same result. */
async function both(
  appset: ApplicationSet,
  memo: RenderMemo,
  ctx: Omit<GenerateApplicationsContext, 'git'>,
) {
  const remembered = await generateApplications(appset, { ...ctx, git, renders: memo });
  const fresh = await generateApplications(appset, { ...ctx, git });
  expect(remembered).toEqual(fresh);
  return remembered;
}

describe('RenderMemo', () => {
  const clusters = [cluster('a', 'dev'), cluster('b', 'prod')];

  it('takes over the applications of an unchanged evaluation, the same objects', async () => {
    const memo = new RenderMemo();
    const appset = fleet();
    const first = await both(appset, memo, { clusters });
    expect(first.applications).toHaveLength(4);
    expect(memo.hits).toBe(0);
    // Handed to the next evaluation: whoever sets a field of one is stopped.
    expect(() => {
      (first.applications[0].spec as { project: string }).project = 'x';
    }).toThrow(TypeError);
    // The inventory read again (new objects, equal content) and the document parsed again.
    const again = await both(fleet(), memo, { clusters: structuredClone(clusters) });
    expect(memo.hits).toBe(4);
    again.applications.forEach((app, i) => expect(app).toBe(first.applications[i]));
    expect(memo.applications).toBe(4);
  });

  it('renders again only the applications whose parameters changed', async () => {
    const memo = new RenderMemo();
    await both(fleet(), memo, { clusters });
    const relabelled = [cluster('a', 'dev'), cluster('b', 'staging')];
    const res = await both(fleet(), memo, { clusters: relabelled });
    expect(memo.hits).toBe(2);
    expect(res.applications.map((a) => a.metadata.labels?.env)).toEqual([
      'dev',
      'dev',
      'staging',
      'staging',
    ]);
  });

  it('takes maps with the same entries in another order for equal, and tells 0 from -0', async () => {
    const memo = new RenderMemo();
    const withElements = (elements: Record<string, unknown>[]) =>
      parse({
        metadata: { name: 'l' },
        spec: {
          goTemplate: true,
          generators: [{ list: { elements } }],
          template: {
            metadata: { name: '{{.app}}', annotations: { n: '{{.meta.n}}' } },
            spec: {
              project: 'default',
              source: { repoURL: 'https://git/r.git', path: '{{.meta.path}}' },
              destination: { name: 'a' },
            },
          },
        },
      });
    await both(withElements([{ app: 'x', meta: { path: 'p', n: 0 } }]), memo, { clusters });
    await both(withElements([{ app: 'x', meta: { n: 0, path: 'p' } }]), memo, { clusters });
    expect(memo.hits).toBe(1);
    const res = await both(withElements([{ app: 'x', meta: { n: -0, path: 'p' } }]), memo, {
      clusters,
    });
    expect(memo.hits).toBe(0);
    expect(res.applications[0].metadata.annotations).toEqual({ n: '-0' });
  });

  it('finds its applications again after parameter sets inserted or removed before them', async () => {
    const memo = new RenderMemo({ relocateAfter: 1 });
    const abc = ['a', 'b', 'c'].map((n) => cluster(n, 'dev'));
    await both(fleet(), memo, { clusters: abc });
    // A cluster added in the middle of the inventory: only its own applications are rendered.
    const inserted = [abc[0], cluster('a2', 'dev'), abc[1], abc[2]];
    await both(fleet(), memo, { clusters: inserted });
    expect(memo.hits).toBe(6);
    await both(fleet(), memo, { clusters: [abc[0], abc[2]] });
    expect(memo.hits).toBe(4);
    // Everything changed: nothing found, at a bounded cost.
    await both(fleet(), memo, { clusters: abc.map((c) => cluster(c.name, 'prod')) });
    expect(memo.hits).toBe(0);
  });

  it('renders everything again when the template changed', async () => {
    const memo = new RenderMemo();
    await both(fleet(), memo, { clusters });
    const res = await both(fleet({ annotations: { note: 'x' } }), memo, { clusters });
    expect(memo.hits).toBe(0);
    expect(res.applications[0].metadata.annotations).toEqual({ note: 'x' });
    await both(fleet({ annotations: { note: 'x' } }), memo, { clusters });
    expect(memo.hits).toBe(4);
  });

  it('checks again what depends on more than the parameters: destination and project', async () => {
    const memo = new RenderMemo();
    const shared = [cluster('c', 'dev', 'https://shared.example')];
    await both(byServer(), memo, { clusters: shared });
    const gone = await both(byServer(), memo, { clusters: [cluster('d', 'dev')] });
    expect(memo.hits).toBe(1);
    expect(gone.errors.map((e) => [e.name, e.message])).toEqual([
      ['x', "cluster 'https://shared.example' has not been configured"],
    ]);
    const unlisted = await both(byServer(), memo, { clusters: shared, projects: ['other'] });
    expect(memo.hits).toBe(1);
    expect(unlisted.errors.map((e) => e.message)).toEqual([
      'application references project default which does not exist',
    ]);
    const back = await both(byServer(), memo, { clusters: shared, projects: ['default'] });
    expect(memo.hits).toBe(1);
    expect(back.applications.map((a) => a.spec.destination.name)).toEqual(['c']);
  });

  it('remembers nothing of a round whose generators call an impure function', async () => {
    const memo = new RenderMemo();
    const values = (v: string) =>
      parse({
        metadata: { name: 'v' },
        spec: {
          goTemplate: true,
          generators: [{ clusters: { values: { v } } }],
          template: {
            metadata: { name: '{{.name}}-{{.values.v}}' },
            spec: {
              project: 'default',
              source: { repoURL: 'https://git/r.git' },
              destination: { name: '{{.name}}' },
            },
          },
        },
      });
    await generateApplications(values('{{ $_ := set .metadata.labels "x" "y" }}v'), {
      clusters,
      git,
      renders: memo,
    });
    expect(memo.applications).toBe(0);
    await both(values('v'), memo, { clusters });
    expect(memo.applications).toBe(2);
  });

  it('is used by one generation at a time: another at once goes without', async () => {
    const memo = new RenderMemo();
    await both(fleet(), memo, { clusters });
    const [one, two] = await Promise.all([
      generateApplications(fleet(), { clusters, git, renders: memo }),
      generateApplications(fleet({ annotations: { note: 'other' } }), {
        clusters,
        git,
        renders: memo,
      }),
    ]);
    expect(memo.hits).toBe(4);
    expect(one.applications).toEqual(
      (await generateApplications(fleet(), { clusters, git })).applications,
    );
    expect(two.applications[0].metadata.annotations).toEqual({ note: 'other' });
    // What the second rendered was not remembered for the first's template.
    await both(fleet(), memo, { clusters });
    expect(memo.hits).toBe(4);
  });

  it('remembers nothing of a round with an impure render (the clock, chance, a map changed)', async () => {
    for (const impure of [
      '{{ now | date "2006" }}',
      '{{ randAlpha 4 }}',
      '{{ $_ := set .metadata.labels "seen" "yes" }}x',
    ]) {
      const memo = new RenderMemo();
      const appset = fleet({ annotations: { note: impure } });
      const res = await generateApplications(appset, { clusters, git, renders: memo });
      expect(res.impure).toBe(true);
      expect(memo.applications).toBe(0);
      await generateApplications(appset, { clusters, git, renders: memo });
      expect(memo.hits).toBe(0);
    }
    expect((await generateApplications(fleet(), { clusters, git })).impure).toBeUndefined();
  });

  it('tells the clock read through tpl from a parameter, which no name in the document shows', async () => {
    const viaTpl = parse({
      metadata: { name: 't' },
      spec: {
        goTemplate: true,
        generators: [{ list: { elements: [{ app: 'x', stamp: '{{ now | date "2006" }}' }] } }],
        template: {
          metadata: { name: '{{.app}}', annotations: { year: '{{ tpl .stamp . }}' } },
          spec: {
            project: 'default',
            source: { repoURL: 'https://git/r.git' },
            destination: { name: 'a' },
          },
        },
      },
    });
    const memo = new RenderMemo();
    const res = await generateApplications(viaTpl, { clusters, git, renders: memo });
    expect(res.applications[0].metadata.annotations?.year).toBe(String(new Date().getFullYear()));
    expect(res.impure).toBe(true);
    expect(memo.applications).toBe(0);
  });

  it('resolves the same server to a renamed cluster, not to the one remembered', async () => {
    const memo = new RenderMemo();
    const one = await both(byServer(), memo, {
      clusters: [cluster('old', 'dev', 'https://shared.example')],
    });
    const renamed = [cluster('new', 'dev', 'https://shared.example')];
    const two = await both(byServer(), memo, { clusters: renamed });
    expect(memo.hits).toBe(1);
    expect(one.applications[0].spec.destination.name).toBe('old');
    expect(two.applications[0].spec.destination.name).toBe('new');
    // Taken over again as placed last time: the same object.
    const three = await both(byServer(), memo, { clusters: renamed });
    expect(three.applications[0]).toBe(two.applications[0]);
  });

  it('renders again one application taken over in many and turns off on a difference', async () => {
    const memo = new RenderMemo({ verifyEvery: 3 });
    // Labels with Argo's secret-type are handed to templates as they are: changed in place
    // after an evaluation (a defect), the parameter sets still look the same.
    const labelled = [1, 2, 3].map((n) => ({
      ...cluster(`c${n}`, 'dev'),
      labels: { env: 'dev', 'argocd.argoproj.io/secret-type': 'cluster' },
    }));
    await both(fleet(), memo, { clusters: labelled });
    await both(fleet(), memo, { clusters: labelled });
    expect(memo.hits).toBe(6);
    expect(memo.mismatches).toBe(0);
    for (const c of labelled) c.labels.env = 'prod';
    const res = await generateApplications(fleet(), { clusters: labelled, git, renders: memo });
    expect(memo.mismatches).toBe(1);
    expect(memo.hits).toBe(3);
    // The one rendered again is right; the memo takes nothing over from now on.
    expect(res.applications[2].metadata.labels).toEqual({ env: 'prod' });
    await both(fleet(), memo, { clusters: labelled });
    expect(memo.hits).toBe(0);
  });
});
