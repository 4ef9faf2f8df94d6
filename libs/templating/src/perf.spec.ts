import { describe, expect, it } from 'vitest';
import { executeGoTemplate, parseGoTemplate, renderTemplateTree } from './index.js';

describe('performance', () => {
  it('executes a parsed template many times quickly', () => {
    const t = parseGoTemplate(
      '{{ .cluster | normalize }}-{{ .app }}-{{ printf "%03d" .i }}{{ range .l }}[{{ . }}]{{ end }}',
    );
    const start = performance.now();
    let out = '';
    for (let i = 0; i < 20_000; i++)
      out = executeGoTemplate(t, { cluster: 'In_Cluster', app: 'web', i, l: [1, 2] });
    expect(out).toBe('in-cluster-web-19999[1][2]');
    // ~0.05 s on a laptop; generous bound for a loaded CI machine
    expect(performance.now() - start).toBeLessThan(5_000);
  });

  it('renders application trees with cached parses', () => {
    const tpl = {
      metadata: { name: '{{.name}}' },
      spec: { path: 'apps/{{.name}}/{{.env}}', n: 1 },
    };
    const start = performance.now();
    for (let i = 0; i < 20_000; i++)
      renderTemplateTree(tpl, { name: `app${i}`, env: 'prod' }, { goTemplate: true });
    expect(performance.now() - start).toBeLessThan(5_000);
  });
});
