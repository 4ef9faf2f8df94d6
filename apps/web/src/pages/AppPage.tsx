import {
  Alert,
  Anchor,
  Badge,
  Button,
  Checkbox,
  Group,
  Loader,
  Modal,
  Stack,
  Table,
  Tabs,
  Text,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import {
  hub,
  unwrap,
  type ApplicationView,
  type ClusterStatusView,
  type HistoryEntry,
  type ResourceState,
} from '../api';
import { RolloutPanel } from '../rollout';
import { useCanEdit } from '../session';
import { ago, DriftBadge, HealthBadge, shortRev, SyncBadge } from '../status';

export function AppPage() {
  const { name = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const app = useQuery({
    queryKey: ['app', name],
    queryFn: () => unwrap(hub.GET('/api/v1/applications/{name}', { params: { path: { name } } })),
  });
  // App of apps: the applications this one's manifests hold.
  const children = useQuery({
    queryKey: ['app', name, 'children'],
    queryFn: () =>
      unwrap(hub.GET('/api/v1/applications', { params: { query: { parent: name, limit: 1000 } } })),
  });
  const childApps = children.data ?? [];
  if (app.isPending) return <Loader aria-label="Loading the application" />;
  if (app.isError)
    return (
      <Alert color="red" role="alert" title={`Application ${name}`}>
        {app.error.message}
      </Alert>
    );
  const a = app.data;
  const selected =
    a.status.clusters.find((c) => c.cluster === params.get('cluster')) ?? a.status.clusters[0];
  return (
    <Stack gap="sm">
      <Group justify="space-between" align="start">
        <div>
          <Text size="sm">
            <Anchor component={Link} to="/">
              Fleet
            </Anchor>{' '}
            / application
          </Text>
          <Title order={2}>{a.name}</Title>
          <Group gap="xs" mt={4}>
            <SyncBadge sync={a.status.sync} />
            <HealthBadge health={a.status.health} />
            <Text size="sm">
              revision <code>{shortRev(a.status.revision)}</code> · project {a.spec.project} ·{' '}
              {a.status.autoSync.enabled ? 'automated sync' : 'manual sync'}
              {a.status.autoSync.suspended
                ? ` (suspended: ${a.status.autoSync.suspended.reason})`
                : ''}
              {a.parent && (
                <>
                  {' '}
                  · child of{' '}
                  <Anchor component={Link} to={`/apps/${encodeURIComponent(a.parent)}`}>
                    {a.parent}
                  </Anchor>
                </>
              )}
            </Text>
            {Object.entries(a.labels).map(([k, v]) => (
              <Badge key={k} variant="outline" color="gray" tt="none">
                {k}={v}
              </Badge>
            ))}
          </Group>
        </div>
        <Actions app={a} />
      </Group>
      {a.status.conditions.length > 0 && (
        <Alert color="red" role="alert" title="Errors">
          <Stack gap={4}>
            {a.status.conditions.map((c, i) => (
              <Text key={i} size="sm">
                <strong>{c.type}</strong>: {c.message}
              </Text>
            ))}
          </Stack>
        </Alert>
      )}
      <RolloutPanel kind="app" name={a.name} />
      <Tabs defaultValue="clusters" keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="clusters">Clusters ({a.status.clusters.length})</Tabs.Tab>
          <Tabs.Tab value="diff">Diff</Tabs.Tab>
          <Tabs.Tab value="history">History</Tabs.Tab>
          <Tabs.Tab value="events">Events</Tabs.Tab>
          {childApps.length > 0 && (
            <Tabs.Tab value="children">Child applications ({childApps.length})</Tabs.Tab>
          )}
        </Tabs.List>
        <Tabs.Panel value="clusters" pt="sm">
          <ClusterTable
            clusters={a.status.clusters}
            selected={selected?.cluster}
            select={(cluster) => setParams({ cluster }, { replace: true })}
          />
          {selected && <ClusterDetail status={selected} />}
        </Tabs.Panel>
        <Tabs.Panel value="diff" pt="sm">
          <DiffView name={a.name} />
        </Tabs.Panel>
        <Tabs.Panel value="history" pt="sm">
          <History name={a.name} />
        </Tabs.Panel>
        <Tabs.Panel value="events" pt="sm">
          <Events name={a.name} />
        </Tabs.Panel>
        <Tabs.Panel value="children" pt="sm">
          <ChildTable apps={childApps} />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}

/** The child applications of an app of apps, each linked to its own page. */
function ChildTable({ apps }: { apps: ApplicationView[] }) {
  return (
    <Table striped aria-label="Child applications">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Application</Table.Th>
          <Table.Th>Sync</Table.Th>
          <Table.Th>Health</Table.Th>
          <Table.Th>Revision</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {apps.map((c) => (
          <Table.Tr key={c.name}>
            <Table.Td>
              <Anchor component={Link} to={`/apps/${encodeURIComponent(c.name)}`}>
                {c.name}
              </Anchor>
            </Table.Td>
            <Table.Td>
              <SyncBadge sync={c.status.sync} />
            </Table.Td>
            <Table.Td>
              <HealthBadge health={c.status.health} />
            </Table.Td>
            <Table.Td>
              <code>{shortRev(c.status.revision)}</code>
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function useAction<T>(name: string, run: () => Promise<T>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: run,
    onSettled: () => qc.invalidateQueries({ queryKey: ['app', name] }),
  });
}

function Actions({ app }: { app: ApplicationView }) {
  const canEdit = useCanEdit();
  const [prune, setPrune] = useState(false);
  const sync = useAction(app.name, () =>
    unwrap(
      hub.POST('/api/v1/applications/{name}/sync', {
        params: { path: { name: app.name } },
        body: prune ? { prune } : {},
      }),
    ),
  );
  const refresh = useAction(app.name, () =>
    unwrap(
      hub.POST('/api/v1/applications/{name}/refresh', { params: { path: { name: app.name } } }),
    ),
  );
  if (!canEdit) return null;
  const error = sync.error ?? refresh.error;
  return (
    <Stack gap={4} align="end">
      <Group gap="xs">
        <Checkbox
          label="prune"
          checked={prune}
          onChange={(e) => setPrune(e.currentTarget.checked)}
        />
        <Button onClick={() => sync.mutate()} loading={sync.isPending}>
          Sync
        </Button>
        <Button variant="default" onClick={() => refresh.mutate()} loading={refresh.isPending}>
          Refresh
        </Button>
      </Group>
      {sync.isSuccess && (
        <Text size="xs" c="teal.9" role="status">
          Sync requested
        </Text>
      )}
      {error && (
        <Text size="xs" c="red.9" role="alert">
          {error.message}
        </Text>
      )}
    </Stack>
  );
}

function ClusterTable({
  clusters,
  selected,
  select,
}: {
  clusters: ClusterStatusView[];
  selected?: string;
  select: (cluster: string) => void;
}) {
  if (!clusters.length) return <Text c="dimmed">No destination cluster is registered.</Text>;
  return (
    <Table striped highlightOnHover withTableBorder fz="sm" data-testid="app-clusters">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Cluster</Table.Th>
          <Table.Th>Sync</Table.Th>
          <Table.Th>Health</Table.Th>
          <Table.Th>Revision</Table.Th>
          <Table.Th>Message</Table.Th>
          <Table.Th>Agent</Table.Th>
          <Table.Th>Last report</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {clusters.map((c) => (
          <Table.Tr
            key={c.cluster}
            // As the fleet matrix does: a cluster whose agent is not connected is greyed out.
            className={c.connected ? undefined : 'agent-away'}
            bg={c.cluster === selected ? 'var(--mantine-color-blue-0)' : undefined}
            data-connected={c.connected}
          >
            <Table.Td>
              <Anchor component="button" type="button" onClick={() => select(c.cluster)}>
                {c.cluster}
              </Anchor>
            </Table.Td>
            <Table.Td>
              <SyncBadge sync={c.sync} />
            </Table.Td>
            <Table.Td>
              <Group gap={4}>
                <HealthBadge health={c.health} />
                {c.drifted && <DriftBadge />}
              </Group>
            </Table.Td>
            <Table.Td>
              <code title={c.revision ?? ''}>{shortRev(c.revision)}</code>
              {c.pendingRevision && (
                <Text size="xs" c="#8f3a0c">
                  pending {shortRev(c.pendingRevision)}
                </Text>
              )}
            </Table.Td>
            <Table.Td maw={420}>
              <Text size="xs">{c.message}</Text>
            </Table.Td>
            <Table.Td>
              {c.connected ? (
                <Text size="sm">Connected</Text>
              ) : (
                <Text size="sm" c="#a51d1d" fw={600} title={c.lastSeenAt ?? undefined}>
                  ⚠ Not connected{c.lastSeenAt ? `, seen ${ago(c.lastSeenAt)}` : ' yet'}
                </Text>
              )}
            </Table.Td>
            {/* An agent resends a status only when it changes: an old report of a connected
                agent is current. */}
            <Table.Td title={c.lastReportAt ?? undefined}>{ago(c.lastReportAt)}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

/** The resources on one cluster, grouped by sync wave, with drift as field diffs. */
function ClusterDetail({ status }: { status: ClusterStatusView }) {
  const op = status.operation as {
    phase?: string;
    message?: string;
    hooks?: { kind: string; name: string; hookType: string; phase: string; message: string }[];
  } | null;
  return (
    <Stack gap="xs" mt="md">
      <Title order={3} size="h4">
        Resources on {status.cluster}
      </Title>
      {op?.phase && (
        <Text size="sm" data-testid="operation">
          Operation: <strong>{op.phase}</strong>
          {op.message ? ` — ${op.message}` : ''}
        </Text>
      )}
      {op?.hooks?.length ? (
        <Table withTableBorder fz="sm" data-testid="hooks">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Hook</Table.Th>
              <Table.Th>When</Table.Th>
              <Table.Th>Phase</Table.Th>
              <Table.Th>Message</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {op.hooks.map((h) => (
              <Table.Tr key={`${h.hookType}/${h.kind}/${h.name}`}>
                <Table.Td>
                  {h.kind} {h.name}
                </Table.Td>
                <Table.Td>{h.hookType}</Table.Td>
                <Table.Td>
                  <Badge
                    variant="light"
                    color={h.phase === 'Succeeded' ? 'teal' : h.phase === 'Failed' ? 'red' : 'blue'}
                  >
                    {h.phase}
                  </Badge>
                </Table.Td>
                <Table.Td>{h.message}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : null}
      {status.resources.length === 0 ? (
        <Text c="dimmed" size="sm">
          The agent has not reported resources yet.
        </Text>
      ) : (
        <Table withTableBorder fz="sm" data-testid="resources">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Kind</Table.Th>
              <Table.Th>Namespace / name</Table.Th>
              <Table.Th>Sync</Table.Th>
              <Table.Th>Health</Table.Th>
              <Table.Th>Details</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {status.resources.map((r) => (
              <ResourceRow key={`${r.group}/${r.kind}/${r.namespace}/${r.name}`} r={r} />
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}

function ResourceRow({ r }: { r: ResourceState }) {
  return (
    <Table.Tr>
      <Table.Td>
        {r.kind}
        {r.syncWave ? (
          <Badge size="xs" ml={4} variant="outline">
            wave {r.syncWave}
          </Badge>
        ) : null}
      </Table.Td>
      <Table.Td>
        {r.namespace ? `${r.namespace}/` : ''}
        {r.name}
      </Table.Td>
      <Table.Td>
        <SyncBadge sync={r.sync} />
      </Table.Td>
      <Table.Td>
        <Group gap={4}>
          <HealthBadge health={r.health} />
          {r.drifted && <DriftBadge />}
          {r.requiresPruning && <Badge color="orange">requires pruning</Badge>}
        </Group>
      </Table.Td>
      <Table.Td>
        {r.message && <Text size="xs">{r.message}</Text>}
        {r.diffs?.length ? (
          <Table fz="xs" withTableBorder data-testid="drift-diff">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Field</Table.Th>
                <Table.Th>Desired (git)</Table.Th>
                <Table.Th>Live</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {r.diffs.map((d) => (
                <Table.Tr key={d.path}>
                  <Table.Td>
                    <code>{d.path}</code>
                  </Table.Td>
                  <Table.Td className="diff-new">
                    <code>{d.desired}</code>
                  </Table.Td>
                  <Table.Td className="diff-old">
                    <code>{d.live}</code>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        ) : null}
      </Table.Td>
    </Table.Tr>
  );
}

function DiffView({ name }: { name: string }) {
  const diff = useQuery({
    queryKey: ['app', name, 'diff'],
    queryFn: () =>
      unwrap(hub.GET('/api/v1/applications/{name}/diff', { params: { path: { name } } })),
  });
  if (diff.isPending) return <Loader aria-label="Comparing" />;
  if (diff.isError)
    return (
      <Alert color="red" role="alert">
        {diff.error.message}
      </Alert>
    );
  const changed = diff.data.clusters.filter((c) => c.resources.length > 0);
  if (!changed.length)
    return (
      <Text size="sm">Every cluster runs what git says at {shortRev(diff.data.revision)}.</Text>
    );
  return (
    <Stack gap="sm">
      {changed.map((c) => (
        <div key={c.cluster}>
          <Title order={3} size="h5">
            {c.cluster} (live at {shortRev(c.liveRevision)})
          </Title>
          {c.resources.map((r) => (
            <Group key={`${r.kind}/${r.namespace}/${r.name}`} grow align="start" mt={4}>
              <div>
                <Text size="xs" fw={600}>
                  {r.kind} {r.namespace ? `${r.namespace}/` : ''}
                  {r.name}: live
                </Text>
                <pre className="block diff-old" tabIndex={0}>
                  {r.live ? JSON.stringify(r.live, null, 2) : '(not there)'}
                </pre>
              </div>
              <div>
                <Text size="xs" fw={600}>
                  desired
                </Text>
                <pre className="block diff-new" tabIndex={0}>
                  {r.desired ? JSON.stringify(r.desired, null, 2) : '(would be pruned)'}
                </pre>
              </div>
            </Group>
          ))}
        </div>
      ))}
    </Stack>
  );
}

function History({ name }: { name: string }) {
  const canEdit = useCanEdit();
  const qc = useQueryClient();
  const [confirm, setConfirm] = useState<HistoryEntry | null>(null);
  const history = useQuery({
    queryKey: ['history', name],
    queryFn: () =>
      unwrap(hub.GET('/api/v1/applications/{name}/history', { params: { path: { name } } })),
  });
  const rollback = useMutation({
    mutationFn: (id: number) =>
      unwrap(
        hub.POST('/api/v1/applications/{name}/rollback', {
          params: { path: { name } },
          body: { id },
        }),
      ),
    onSuccess: () => setConfirm(null),
    onSettled: () => qc.invalidateQueries({ queryKey: ['app', name] }),
  });
  if (history.isPending) return <Loader aria-label="Loading history" />;
  if (history.isError) return <Alert color="red">{history.error.message}</Alert>;
  return (
    <>
      <Table withTableBorder fz="sm" data-testid="history">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>#</Table.Th>
            <Table.Th>Revision</Table.Th>
            <Table.Th>Why</Table.Th>
            <Table.Th>By</Table.Th>
            <Table.Th>When</Table.Th>
            <Table.Th>Clusters</Table.Th>
            {canEdit && <Table.Th>Action</Table.Th>}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {history.data.map((h) => (
            <Table.Tr key={h.id}>
              <Table.Td>{h.id}</Table.Td>
              <Table.Td>
                <code>{shortRev(h.revision)}</code>
              </Table.Td>
              <Table.Td>{h.reason}</Table.Td>
              <Table.Td>{h.actor}</Table.Td>
              <Table.Td>{ago(h.recordedAt)}</Table.Td>
              <Table.Td>
                <Text size="xs">
                  {h.targets.map((t) => `${t.cluster}: ${t.result}`).join(', ')}
                </Text>
              </Table.Td>
              {canEdit && (
                <Table.Td>
                  <Button size="xs" variant="default" onClick={() => setConfirm(h)}>
                    Roll back to #{h.id}
                  </Button>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Modal opened={confirm !== null} onClose={() => setConfirm(null)} title="Roll back">
        <Stack>
          <Text size="sm">
            Deploy history entry #{confirm?.id} (revision {shortRev(confirm?.revision)}) again?
            Automated sync is suspended until it is turned back on.
          </Text>
          {rollback.error && (
            <Text c="red.9" size="sm" role="alert">
              {rollback.error.message}
            </Text>
          )}
          <Group justify="end">
            <Button variant="default" onClick={() => setConfirm(null)}>
              Cancel
            </Button>
            <Button
              color="orange"
              loading={rollback.isPending}
              onClick={() => confirm && rollback.mutate(confirm.id)}
            >
              Roll back
            </Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}

function Events({ name }: { name: string }) {
  const events = useQuery({
    queryKey: ['events', name],
    queryFn: () =>
      unwrap(hub.GET('/api/v1/applications/{name}/events', { params: { path: { name } } })),
  });
  if (events.isPending) return <Loader aria-label="Loading events" />;
  if (events.isError) return <Alert color="red">{events.error.message}</Alert>;
  if (!events.data.length) return <Text c="dimmed">No events reported yet.</Text>;
  return (
    <Table withTableBorder fz="sm">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>When</Table.Th>
          <Table.Th>Cluster</Table.Th>
          <Table.Th>Reason</Table.Th>
          <Table.Th>Message</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {events.data.map((e, i) => (
          <Table.Tr key={i}>
            <Table.Td>{ago(e.at)}</Table.Td>
            <Table.Td>{e.cluster}</Table.Td>
            <Table.Td>
              <Badge color={e.type === 'Warning' ? 'orange' : 'gray'} variant="light">
                {e.reason}
              </Badge>
            </Table.Td>
            <Table.Td>{e.message}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
