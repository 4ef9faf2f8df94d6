import { describe, expect, it } from 'vitest';
import {
  Renderer,
  TreeRenderError,
  compileTree,
  renderTree,
  type CompiledTree,
  type StrNode,
} from './render.js';

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('Renderer.renderNode', () => {
  const go = new Renderer({ goTemplate: true, goTemplateOptions: ['missingkey=error'] });
  const fast = new Renderer({ goTemplate: false });

  it('renders like render() and keeps the parsed Go template on the node', () => {
    const node = compileTree('{{.a}}-{{ .b | upper }}') as StrNode;
    expect(node.k).toBe('str');
    expect(go.renderNode(node, { a: 'x', b: 'y' })).toBe(go.render(node.text, { a: 'x', b: 'y' }));
    const parsed = node.parsed;
    expect(parsed).toBeDefined();
    expect(go.renderNode(node, { a: '1', b: 'z' })).toBe('1-Z');
    expect(node.parsed).toBe(parsed);
  });

  it('throws the errors render() throws', () => {
    const bad = compileTree('{{.a') as StrNode;
    for (let i = 0; i < 2; i++)
      expect(errorOf(() => go.renderNode(bad, {})).message).toBe(
        errorOf(() => go.render(bad.text, {})).message,
      );
    expect(bad.parsed).toBeNull();
    const missing = compileTree('{{.nope}}') as StrNode;
    expect(errorOf(() => go.renderNode(missing, {})).message).toBe(
      errorOf(() => go.render(missing.text, {})).message,
    );
  });

  it('uses fasttemplate outside goTemplate mode', () => {
    const node = compileTree('{{a}}-{{ b }}-{{c}}') as StrNode;
    expect(fast.renderNode(node, { a: 'x', b: 'y', n: 1 })).toBe('x-y-{{c}}');
    expect(node.parsed).toBeUndefined();
  });

  it('renders whole trees with both', () => {
    const tree = compileTree({ name: '{{.a}}', list: ['{{.a}}', 1], fixed: { x: true } }, 't');
    expect(renderTree(tree, { a: 'v' }, go)).toEqual({
      name: 'v',
      list: ['v', 1],
      fixed: { x: true },
    });
  });
});

describe('renderTree with built functions', () => {
  const go = new Renderer({ goTemplate: true, goTemplateOptions: ['missingkey=error'] });
  const params = { a: 'A', b: 'B', n: { x: 'X' } };

  /** What renderTree gives without buildTree: a compiled tree whose function is never built. */
  function generic(tree: CompiledTree): CompiledTree {
    switch (tree.k) {
      case 'arr':
        return { k: 'arr', items: tree.items.map(generic), built: null };
      case 'obj':
        return {
          k: 'obj',
          entries: tree.entries.map((e) => ({ ...e, node: generic(e.node) })),
          built: null,
        };
      case 'const':
      case 'str':
        return tree;
    }
  }

  function same(template: unknown, share = false): unknown {
    const built = compileTree(template, 't', { shareConstants: share });
    const plain = generic(compileTree(template, 't', { shareConstants: share }));
    const a = renderTree(built, params, go);
    const b = renderTree(plain, params, go);
    expect(a).toEqual(b);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    if (built.k === 'obj' || built.k === 'arr') expect(built.built).toBeTypeOf('function');
    return a;
  }

  it('renders what the generic renderer renders', () => {
    same({
      metadata: { name: '{{.a}}-{{.n.x}}', labels: { app: '{{.a}}', fixed: 'f' } },
      spec: { list: ['{{.b}}', 1, true, null, { k: '{{.a}}' }], const: { x: [1, { y: 2 }] } },
    });
    same(['{{.a}}', ['{{.b}}', []], {}]);
    same({ '{{.a}}': 'templated key', other: '{{.b}}', '{{.b}}': { deep: '{{.a}}' } });
    same({ '10': '{{.a}}', '2': '{{.b}}', x: '{{.a}}', '-1': 'y' });
    same({ 'we"ird\\ key\n\u2028\u2029': '{{.a}}', '': '{{.b}}', constructor: '{{.a}}' });
    same({ toString: '{{.a}}', hasOwnProperty: '{{.b}}', valueOf: 'v' });
    same(JSON.parse('{"__proto__": {"x": "{{.a}}"}, "y": "{{.b}}"}'));
    same({ shared: { c: [1, 2] }, t: '{{.a}}' }, true);
  });

  it('copies constants unless they are shared', () => {
    const tree = compileTree({ t: '{{.a}}', c: { x: [1] } }, 't');
    const one = renderTree(tree, params, go) as { c: { x: number[] } };
    const two = renderTree(tree, params, go) as { c: { x: number[] } };
    expect(one.c).not.toBe(two.c);
    one.c.x.push(2);
    expect(two.c.x).toEqual([1]);
    const sharedTree = compileTree({ t: '{{.a}}', c: { x: [1] } }, 't', { shareConstants: true });
    const s1 = renderTree(sharedTree, params, go) as { c: unknown };
    const s2 = renderTree(sharedTree, params, go) as { c: unknown };
    expect(s1.c).toBe(s2.c);
    expect(Object.isFrozen(s1.c)).toBe(true);
  });

  it('handles deep and large trees', () => {
    let deep: unknown = '{{.a}}';
    for (let i = 0; i < 100; i++) deep = i % 2 ? [deep, 'c'] : { d: deep, e: '{{.b}}' };
    same(deep);
    const wide: Record<string, string> = {};
    for (let i = 0; i < 5_000; i++) wide[`k${i}`] = i % 2 ? '{{.a}}' : 'c';
    const tree = compileTree(wide, 't');
    expect(renderTree(tree, params, go)).toEqual(renderTree(generic(tree), params, go));
  });

  it('reports the first failing field, as the generic renderer does', () => {
    const template = { a: { ok: '{{.a}}', bad: '{{.missing}}' }, b: '{{.other}}' };
    const built = compileTree(template, 'spec.template');
    const plain = generic(compileTree(template, 'spec.template'));
    const e1 = errorOf(() => renderTree(built, params, go));
    const e2 = errorOf(() => renderTree(plain, params, go));
    expect(e1).toBeInstanceOf(TreeRenderError);
    expect(e1.message).toBe(e2.message);
    expect((e1 as TreeRenderError).field).toBe('spec.template.a.bad');
  });
});

describe('renderTree param sets', () => {
  const go = new Renderer({ goTemplate: true });

  it('sees every string of a tree with the numbers as float64, and entries added between renders', () => {
    const tree = compileTree({ a: '{{.n}}', b: ['{{printf "%T" .n}}', 'x-{{.n}}'], c: '{{.v}}' });
    const params: Record<string, unknown> = { n: 1000000, v: 'one' };
    expect(renderTree(tree, params, go)).toEqual({
      a: '1e+06',
      b: ['float64', 'x-1e+06'],
      c: 'one',
    });
    // As generators do with `values`: the same set, grown, is rendered again.
    params.v = 'two';
    params.w = 7;
    expect(renderTree(compileTree('{{.v}}-{{.w}}-{{.n}}'), params, go)).toBe('two-7-1e+06');
    expect(go.render('{{.v}}', params)).toBe('two');
  });

  it('renders trees nested in a render with their own set', () => {
    const outer = { n: 1 };
    const inner = { n: 2 };
    const out = go.withParams(outer, () => [
      go.render('{{.n}}', outer),
      renderTree(compileTree({ x: '{{.n}}' }), inner, go),
      go.render('{{.n}}', outer),
    ]);
    expect(out).toEqual(['1', { x: '2' }, '1']);
  });
});
