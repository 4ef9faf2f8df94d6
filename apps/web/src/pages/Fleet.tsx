import {
  Alert,
  Checkbox,
  Group,
  Loader,
  Paper,
  Select,
  SimpleGrid,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { hub, unwrap, type FleetApp, type FleetCluster, type FleetView } from '../api';
import { cellText, cellTone, HEALTH_OF, shortRev, SYNC_OF } from '../status';

const NAME_WIDTH = 260;
const HEADER_HEIGHT = 96;
const ROW_HEIGHT = 26;
const COL_WIDTH = 30;

type Status = 'all' | 'attention' | 'outofsync' | 'degraded' | 'drifted' | 'errors';

interface Filters {
  search: string;
  project: string | null;
  appSet: string | null;
  label: string;
  status: Status;
  group: boolean;
}

type Row = { kind: 'group'; label: string; count: number } | { kind: 'app'; app: FleetApp };

function drifted(a: FleetApp): boolean {
  return a.cells.some((c) => c[3] === 1);
}

function matchesStatus(a: FleetApp, s: Status): boolean {
  switch (s) {
    case 'all':
      return true;
    case 'attention':
      return a.sync !== 'Synced' || a.health !== 'Healthy' || drifted(a) || a.conditions.length > 0;
    case 'outofsync':
      return a.sync === 'OutOfSync';
    case 'degraded':
      return a.health === 'Degraded';
    case 'drifted':
      return drifted(a);
    case 'errors':
      return a.conditions.length > 0;
  }
}

/** `key=value` (or `key`) against a cluster's labels. */
function labelMatches(c: FleetCluster, selector: string): boolean {
  const parts = selector
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  return parts.every((p) => {
    const [k, v] = p.split('=').map((x) => x.trim());
    return v === undefined ? k in c.labels : c.labels[k] === v;
  });
}

/** The fleet matrix's data (also fetched at start-up, alongside the session, on `/`). */
export const fleetQuery = {
  queryKey: ['fleet'],
  // openapi-fetch's Readable<> turns the cells' tuples into arrays: they are FleetCell tuples.
  queryFn: async () => (await unwrap(hub.GET('/api/v1/fleet'))) as unknown as FleetView,
};

export function FleetPage() {
  const fleet = useQuery(fleetQuery);
  const [f, setF] = useState<Filters>({
    search: '',
    project: null,
    appSet: null,
    label: '',
    status: 'all',
    group: false,
  });
  if (fleet.isPending) return <Loader aria-label="Loading the fleet" />;
  if (fleet.isError)
    return (
      <Alert color="red" role="alert" title="The fleet could not be loaded">
        {fleet.error.message}
      </Alert>
    );
  return <Matrix view={fleet.data} filters={f} setFilters={setF} />;
}

function Matrix({
  view,
  filters: f,
  setFilters,
}: {
  view: FleetView;
  filters: Filters;
  setFilters: (f: Filters) => void;
}) {
  const set = (patch: Partial<Filters>) => setFilters({ ...f, ...patch });
  const projects = useMemo(() => [...new Set(view.apps.map((a) => a.project))].sort(), [view]);
  const appSets = useMemo(
    () => [...new Set(view.apps.flatMap((a) => (a.appSet ? [a.appSet] : [])))].sort(),
    [view],
  );
  const columns = useMemo(
    () =>
      view.clusters
        .map((c, index) => ({ c, index }))
        .filter(({ c }) => !f.label || labelMatches(c, f.label)),
    [view, f.label],
  );
  const rows = useMemo(() => {
    const q = f.search.trim().toLowerCase();
    const apps = view.apps.filter(
      (a) =>
        (!q || a.name.toLowerCase().includes(q)) &&
        (!f.project || a.project === f.project) &&
        (!f.appSet || a.appSet === f.appSet) &&
        matchesStatus(a, f.status),
    );
    if (!f.group) return apps.map((app): Row => ({ kind: 'app', app }));
    const groups = new Map<string, FleetApp[]>();
    for (const a of apps) {
      const key = a.appSet ?? '';
      const list = groups.get(key);
      if (list) list.push(a);
      else groups.set(key, [a]);
    }
    return [...groups.entries()]
      .sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a.localeCompare(b)))
      .flatMap(([label, list]): Row[] => [
        { kind: 'group', label: label || 'No ApplicationSet', count: list.length },
        ...list.map((app): Row => ({ kind: 'app', app })),
      ]);
  }, [view, f]);
  const counts = useMemo(() => {
    const c = { synced: 0, outOfSync: 0, unknown: 0, degraded: 0, errors: 0, drifted: 0 };
    for (const a of view.apps) {
      if (a.sync === 'Synced') c.synced++;
      else if (a.sync === 'OutOfSync') c.outOfSync++;
      else c.unknown++;
      if (a.health === 'Degraded') c.degraded++;
      if (a.conditions.length) c.errors++;
      if (drifted(a)) c.drifted++;
    }
    return c;
  }, [view]);
  const unreachable = view.clusters.filter((c) => !c.connected).length;

  return (
    <>
      <Group justify="space-between" mb="sm">
        <Title order={2}>Fleet</Title>
        <Text size="sm" c="dimmed">
          {view.apps.length} applications × {view.clusters.length} clusters
        </Text>
      </Group>
      <SimpleGrid cols={{ base: 3, md: 7 }} mb="sm" spacing="xs" data-testid="summary">
        <Count label="Synced" value={counts.synced} tone="ok" />
        <Count label="OutOfSync" value={counts.outOfSync} tone={counts.outOfSync ? 'out' : 'ok'} />
        <Count label="Unknown" value={counts.unknown} tone={counts.unknown ? 'unknown' : 'ok'} />
        <Count label="Degraded" value={counts.degraded} tone={counts.degraded ? 'bad' : 'ok'} />
        <Count label="With errors" value={counts.errors} tone={counts.errors ? 'bad' : 'ok'} />
        <Count label="Drifted" value={counts.drifted} tone={counts.drifted ? 'drift' : 'ok'} />
        <Count label="Unreachable clusters" value={unreachable} tone={unreachable ? 'bad' : 'ok'} />
      </SimpleGrid>
      <Group mb="sm" gap="xs" align="end">
        <TextInput
          label="Search"
          placeholder="application name"
          value={f.search}
          onChange={(e) => set({ search: e.currentTarget.value })}
          w={200}
        />
        <Select
          label="Project"
          data={projects}
          value={f.project}
          onChange={(project) => set({ project })}
          clearable
          searchable
          w={160}
        />
        <Select
          label="ApplicationSet"
          data={appSets}
          value={f.appSet}
          onChange={(appSet) => set({ appSet })}
          clearable
          searchable
          w={180}
        />
        <TextInput
          label="Cluster labels"
          placeholder="env=prod,region"
          value={f.label}
          onChange={(e) => set({ label: e.currentTarget.value })}
          w={180}
        />
        <Select
          label="Status"
          data={[
            { value: 'all', label: 'All' },
            { value: 'attention', label: 'Needs attention' },
            { value: 'outofsync', label: 'OutOfSync' },
            { value: 'degraded', label: 'Degraded' },
            { value: 'drifted', label: 'Drifted' },
            { value: 'errors', label: 'With errors' },
          ]}
          value={f.status}
          onChange={(s) => set({ status: (s ?? 'all') as Status })}
          allowDeselect={false}
          w={160}
        />
        <Checkbox
          label="Group by ApplicationSet"
          checked={f.group}
          onChange={(e) => set({ group: e.currentTarget.checked })}
          mb={8}
        />
      </Group>
      <Grid view={view} rows={rows} columns={columns} />
      <Text size="xs" c="dimmed" mt={4}>
        Each cell: sync (S Synced, O OutOfSync, U Unknown) then health (H Healthy, P Progressing, D
        Degraded, S Suspended, M Missing, U Unknown); ≠ drifted. Hover for the revision.
      </Text>
    </>
  );
}

function Count({ label, value, tone }: { label: string; value: number; tone: string }) {
  return (
    <Paper withBorder p={6} className={`count tone-${tone}`}>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={700} size="lg" data-testid={`count-${label}`}>
        {value}
      </Text>
    </Paper>
  );
}

function Grid({
  view,
  rows,
  columns,
}: {
  view: FleetView;
  rows: Row[];
  columns: { c: FleetCluster; index: number }[];
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const navigate = useNavigate();
  const rowV = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const colV = useVirtualizer({
    horizontal: true,
    count: columns.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => COL_WIDTH,
    overscan: 6,
  });
  // Cluster index in the view → column position among the shown columns.
  const position = useMemo(() => {
    const p = new Map<number, number>();
    columns.forEach((col, i) => p.set(col.index, i));
    return p;
  }, [columns]);
  const width = NAME_WIDTH + colV.getTotalSize();
  const cols = colV.getVirtualItems();
  const visible = new Map(cols.map((vc) => [vc.index, vc]));
  // Keyboard: arrows move between the application names (column -1) and the cells, scrolling
  // what is not drawn yet into view; Enter on a cell opens the application on that cluster.
  const open = (app: string, cluster: string) =>
    void navigate(`/apps/${encodeURIComponent(app)}?cluster=${encodeURIComponent(cluster)}`);
  const [focus, setFocus] = useState<{ row: number; col: number } | null>(null);
  // Set by a key press; cleared once the target (drawn after scrolling) has the focus.
  const moving = useRef(false);
  useEffect(() => {
    if (!moving.current || !focus) return;
    const el = scroller.current?.querySelector<HTMLElement>(
      `[data-row="${focus.row}"][data-col="${focus.col}"]`,
    );
    if (!el) return;
    el.focus();
    moving.current = false;
  });
  /** The shown columns where row `r` has a cell, in order (an app need not run everywhere). */
  const cellColumns = (r: number): number[] => {
    const row = rows[r];
    if (row?.kind !== 'app') return [];
    return row.app.cells
      .map((c) => position.get(c[0]))
      .filter((x): x is number => x !== undefined)
      .sort((a, b) => a - b);
  };
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const at = (e.target as HTMLElement).closest<HTMLElement>('[data-row]');
    if (!at) return;
    const row = Number(at.dataset.row);
    const col = Number(at.dataset.col);
    let next = row;
    let nextCol: number;
    if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
      const step = e.key === 'ArrowUp' ? -1 : 1;
      do next += step;
      while (rows[next]?.kind === 'group');
      if (!rows[next]) return;
      // The same column when that row has a cell there, else its nearest, else its name.
      const cols = cellColumns(next);
      nextCol =
        col < 0 || !cols.length
          ? -1
          : cols.reduce((best, c) => (Math.abs(c - col) < Math.abs(best - col) ? c : best));
    } else if (e.key === 'ArrowRight' || e.key === 'End') {
      const cols = cellColumns(row).filter((c) => c > col);
      if (!cols.length) return;
      nextCol = e.key === 'End' ? cols[cols.length - 1] : cols[0];
    } else if (e.key === 'ArrowLeft' || e.key === 'Home') {
      const cols = cellColumns(row).filter((c) => c < col);
      nextCol = e.key === 'Home' || !cols.length ? -1 : cols[cols.length - 1];
    } else return;
    e.preventDefault();
    rowV.scrollToIndex(next);
    if (nextCol >= 0) colV.scrollToIndex(nextCol);
    moving.current = true;
    // Given up if the target is not drawn soon: a later render must not take the focus.
    setTimeout(() => (moving.current = false), 1000);
    setFocus({ row: next, col: nextCol });
  };
  return (
    <div
      ref={scroller}
      className="matrix"
      role="grid"
      aria-label="Applications by cluster (arrow keys move between cells)"
      aria-rowcount={rows.length + 1}
      aria-colcount={columns.length + 1}
      onKeyDown={onKeyDown}
      data-testid="matrix"
    >
      <div style={{ width, height: HEADER_HEIGHT + rowV.getTotalSize(), position: 'relative' }}>
        <div className="matrix-header" role="row" aria-rowindex={1} style={{ width }}>
          <div className="matrix-corner" role="columnheader" aria-colindex={1}>
            Application
          </div>
          {cols.map((vc) => {
            const { c } = columns[vc.index];
            return (
              <div
                key={c.name}
                role="columnheader"
                aria-colindex={vc.index + 2}
                className={`matrix-col ${c.connected ? '' : 'unreachable'}`}
                style={{ left: NAME_WIDTH + vc.start, width: COL_WIDTH }}
                title={`${c.name}${c.connected ? '' : ' (agent not connected)'}\n${Object.entries(
                  c.labels,
                )
                  .map(([k, v]) => `${k}=${v}`)
                  .join(', ')}`}
              >
                <span>
                  {c.connected ? '' : '⚠ '}
                  {c.name}
                </span>
              </div>
            );
          })}
        </div>
        {rowV.getVirtualItems().map((vr) => {
          const row = rows[vr.index];
          const top = HEADER_HEIGHT + vr.start;
          if (row.kind === 'group')
            return (
              <div
                key={`g:${row.label}`}
                role="row"
                aria-rowindex={vr.index + 2}
                className="matrix-group"
                style={{ top, width }}
              >
                <div role="rowheader" className="matrix-name">
                  {row.label} ({row.count})
                </div>
              </div>
            );
          const a = row.app;
          const failing = a.conditions.length > 0;
          return (
            <div
              key={a.name}
              role="row"
              aria-rowindex={vr.index + 2}
              className="matrix-row"
              style={{ top, width }}
              data-app={a.name}
            >
              <div role="rowheader" className="matrix-name" title={a.conditions[0]?.message}>
                <Link
                  to={`/apps/${encodeURIComponent(a.name)}`}
                  data-row={vr.index}
                  data-col={-1}
                  tabIndex={focus ? (focus.row === vr.index && focus.col === -1 ? 0 : -1) : 0}
                >
                  {a.name}
                </Link>
                <span className={`app-state tone-${failing ? 'bad' : 'none'}`}>
                  {failing ? `⚠ ${a.conditions[0].type}` : ''}
                </span>
              </div>
              {a.cells.map((cell) => {
                const i = position.get(cell[0]);
                if (i === undefined) return null;
                const vc = visible.get(i);
                if (!vc) return null;
                const { name: cluster, connected } = view.clusters[cell[0]];
                const sync = SYNC_OF[cell[1]];
                const health = HEALTH_OF[cell[2]];
                // The cell is the cluster's state; an application failing to render or a
                // cluster out of reach is not shown as fine.
                const tone = failing
                  ? 'bad'
                  : connected
                    ? cellTone(sync, health, cell[3] === 1)
                    : 'unknown';
                const label = `${a.name} on ${cluster}: ${sync}, ${health}${cell[3] ? ', drifted' : ''}, revision ${shortRev(a.revisions[cell[4]])}${failing ? `; the application fails: ${a.conditions[0].type}` : ''}${connected ? '' : '; agent not connected'}`;
                return (
                  <div
                    key={cluster}
                    role="gridcell"
                    aria-colindex={i + 2}
                    aria-label={label}
                    title={label}
                    data-cluster={cluster}
                    className={`cell tone-${tone}`}
                    style={{ left: NAME_WIDTH + vc.start, width: COL_WIDTH - 2 }}
                    data-row={vr.index}
                    data-col={i}
                    tabIndex={focus?.row === vr.index && focus.col === i ? 0 : -1}
                    onClick={() => open(a.name, cluster)}
                    onKeyDown={(e) => {
                      if (e.key === 'Enter' || e.key === ' ') open(a.name, cluster);
                    }}
                  >
                    {failing ? '!' : ''}
                    {cellText(cell)}
                  </div>
                );
              })}
            </div>
          );
        })}
      </div>
    </div>
  );
}
