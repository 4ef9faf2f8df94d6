import { describe, expect, it } from 'vitest';
import { Renderer, compileTree, renderTree, type StrNode } from './render.js';

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
