import { describe, expect, it } from 'vitest';
import { diffOwnedFields, project } from './diff.js';
import { fieldSetOfObject, fieldsOwnedBy, toFieldSet, unionFieldSets } from './fieldset.js';
import { ignoredManagerFields, ignoreFor, type IgnoreRule } from './ignore.js';
import { getAtPointer, parseJsonPointer, removeAtPointer, setAtPointer } from './json-pointer.js';

// What an API server returns after `axle` applied a Deployment (trimmed), and the field set
// recorded for it in managedFields.
const applied = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'web',
    namespace: 'shop',
    labels: { app: 'web', 'app.axle.io/app-id': 'a1' },
    managedFields: [
      {
        manager: 'axle',
        operation: 'Apply',
        apiVersion: 'apps/v1',
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { 'f:app': {}, 'f:app.axle.io/app-id': {} } },
          'f:spec': {
            'f:replicas': {},
            'f:template': {
              'f:spec': {
                'f:containers': {
                  'k:{"name":"web"}': { '.': {}, 'f:image': {}, 'f:name': {}, 'f:args': {} },
                },
              },
            },
          },
        },
      },
      {
        manager: 'kube-controller-manager',
        operation: 'Update',
        apiVersion: 'apps/v1',
        subresource: 'status',
        fieldsV1: { 'f:status': { 'f:replicas': {} } },
      },
    ],
  },
  spec: {
    replicas: 2,
    revisionHistoryLimit: 10,
    template: {
      spec: {
        containers: [
          { name: 'sidecar', image: 'envoy:1' },
          {
            name: 'web',
            image: 'nginx:1.27',
            args: ['-g', 'daemon off;'],
            imagePullPolicy: 'IfNotPresent',
          },
        ],
      },
    },
  },
  status: { replicas: 2 },
};

const owned = fieldsOwnedBy(applied, ['axle'], 'apps/v1')!;
const clone = <T>(v: T): T => structuredClone(v);

describe('fieldsOwnedBy', () => {
  it('unions the manager entries and leaves out status subresource entries', () => {
    expect(Object.keys(owned)).toEqual(['f:metadata', 'f:spec']);
    expect(fieldsOwnedBy(applied, ['kube-controller-manager'])).toBeUndefined();
    expect(fieldsOwnedBy(applied, ['nobody'])).toBeUndefined();
    expect(unionFieldSets({ 'f:a': { 'f:b': {} } }, { 'f:a': { 'f:c': {} } })).toEqual({
      'f:a': { 'f:b': {}, 'f:c': {} },
    });
    expect(toFieldSet({ 'f:a': 3, 'f:b': { 'f:c': {} } })).toEqual({
      'f:a': {},
      'f:b': { 'f:c': {} },
    });
  });
});

describe('diffOwnedFields', () => {
  it('finds nothing when only others changed, defaults or status differ', () => {
    const live = clone(applied);
    live.spec.revisionHistoryLimit = 3; // not owned by axle
    live.status.replicas = 0;
    live.spec.template.spec.containers[0].image = 'envoy:2'; // another manager's container
    live.spec.template.spec.containers.reverse(); // order of a keyed list does not matter
    expect(diffOwnedFields(applied, live, owned)).toEqual({ diffs: [], total: 0 });
  });

  it('names each owned field that changed, with desired and live values as JSON', () => {
    const live = clone(applied);
    live.spec.replicas = 5;
    live.spec.template.spec.containers[1].image = 'nginx:latest';
    delete (live.metadata.labels as Record<string, string>).app;
    const r = diffOwnedFields(applied, live, owned);
    expect(r.total).toBe(3);
    expect(r.diffs).toEqual([
      { path: '/metadata/labels/app', desired: '"web"', live: '' },
      { path: '/spec/replicas', desired: '2', live: '5' },
      {
        path: '/spec/template/spec/containers/1/image',
        desired: '"nginx:1.27"',
        live: '"nginx:latest"',
      },
    ]);
  });

  it('compares atomic values whole and reports a missing list item once', () => {
    const live = clone(applied);
    live.spec.template.spec.containers[1].args = ['-g'];
    expect(diffOwnedFields(applied, live, owned).diffs).toEqual([
      {
        path: '/spec/template/spec/containers/1/args',
        desired: '["-g","daemon off;"]',
        live: '["-g"]',
      },
    ]);
    live.spec.template.spec.containers.pop();
    const r = diffOwnedFields(applied, live, owned);
    expect(r.diffs).toEqual([
      {
        path: '/spec/template/spec/containers/1',
        // only the owned fields of the item are reported, not imagePullPolicy
        desired: '{"image":"nginx:1.27","name":"web","args":["-g","daemon off;"]}',
        live: '',
      },
    ]);
  });

  it('honours ignored JSON pointers and fields owned by ignored managers', () => {
    const live = clone(applied);
    live.spec.replicas = 5;
    live.metadata.labels.app = 'other';
    expect(
      diffOwnedFields(applied, live, owned, { ignorePointers: ['/spec/replicas'] }).diffs,
    ).toEqual([{ path: '/metadata/labels/app', desired: '"web"', live: '"other"' }]);
    // The HPA took spec.replicas over with an update: its field set names the field.
    live.metadata.managedFields.push({
      manager: 'hpa',
      operation: 'Update',
      apiVersion: 'apps/v1',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:spec': { 'f:replicas': {} } },
    } as never);
    const ignoreFields = ignoredManagerFields(live, ['hpa']);
    expect(
      diffOwnedFields(applied, live, owned, { ignoreFields }).diffs.map((d) => d.path),
    ).toEqual(['/metadata/labels/app']);
  });

  it('bounds the number of diffs and the size of values, and redacts secrets', () => {
    const expected = {
      data: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, 'x'.repeat(900)])),
    };
    const live = { data: {} };
    const r = diffOwnedFields(expected, live, fieldSetOfObject(expected));
    expect(r.total).toBe(30);
    expect(r.diffs).toHaveLength(20);
    expect(r.diffs[0].desired.length).toBe(512);
    expect(r.diffs[0].desired.endsWith('…')).toBe(true);
    const s = diffOwnedFields(
      { data: { pw: 'aGk=' } },
      { data: { pw: 'eW8=' } },
      { 'f:data': { 'f:pw': {} } },
      { redact: true },
    );
    expect(s.diffs).toEqual([
      { path: '/data/pw', desired: '"<redacted>"', live: '"<redacted, differs>"' },
    ]);
  });

  it('handles set-like lists by value and escapes pointer tokens', () => {
    const expected = {
      spec: { finalizers: ['a', 'b'] },
      metadata: { annotations: { 'x/y~z': '1' } },
    };
    const fs = {
      'f:spec': { 'f:finalizers': { 'v:"a"': {}, 'v:"b"': {} } },
      'f:metadata': { 'f:annotations': { 'f:x/y~z': {} } },
    };
    const live = { spec: { finalizers: ['b', 'c'] }, metadata: { annotations: { 'x/y~z': '2' } } };
    expect(diffOwnedFields(expected, live, fs).diffs).toEqual([
      { path: '/metadata/annotations/x~1y~0z', desired: '"1"', live: '"2"' },
      { path: '/spec/finalizers/0', desired: '"a"', live: '' },
    ]);
  });

  it('project keeps the owned part of a value', () => {
    expect(project({ 'f:a': {}, 'f:b': { 'f:c': {} } }, { a: 1, b: { c: 2, d: 3 }, e: 4 })).toEqual(
      {
        a: 1,
        b: { c: 2 },
      },
    );
  });
});

describe('ignore rules', () => {
  const rule = (r: Partial<IgnoreRule>): IgnoreRule => ({
    group: 'apps',
    kind: 'Deployment',
    name: '',
    namespace: '',
    jsonPointers: [],
    managedFieldsManagers: [],
    ...r,
  });
  it('matches by group, kind, name and namespace and merges what applies', () => {
    const ref = { group: 'apps', kind: 'Deployment', namespace: 'shop', name: 'web' };
    const rules = [
      rule({ jsonPointers: ['/spec/replicas'] }),
      rule({ name: 'other', jsonPointers: ['/x'] }),
      rule({ kind: '*', namespace: 'shop', managedFieldsManagers: ['hpa'] }),
      rule({ group: '', kind: 'ConfigMap', jsonPointers: ['/data'] }),
    ];
    expect(ignoreFor(rules, ref)).toEqual({ pointers: ['/spec/replicas'], managers: ['hpa'] });
  });
});

describe('JSON pointers', () => {
  it('parses, reads, sets and removes', () => {
    expect(parseJsonPointer('/a~1b/c~0d/0')).toEqual(['a/b', 'c~d', '0']);
    expect(() => parseJsonPointer('a')).toThrow(/not a JSON pointer/);
    const o = { a: { list: [1, 2, 3] } };
    expect(getAtPointer(o, '/a/list/1')).toBe(2);
    expect(removeAtPointer(o, '/a/list/1')).toBe(true);
    expect(o.a.list).toEqual([1, 3]);
    expect(removeAtPointer(o, '/a/missing/x')).toBe(false);
    expect(setAtPointer(o, '/b/c', 5)).toBe(true);
    expect(o).toEqual({ a: { list: [1, 3] }, b: { c: 5 } });
    expect(setAtPointer(o, '/a/list/0/x', 1)).toBe(false);
  });
});
