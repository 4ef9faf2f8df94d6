import {
  Alert,
  Anchor,
  Badge,
  Button,
  Code,
  FileButton,
  Group,
  List,
  Loader,
  Paper,
  Stack,
  Table,
  Text,
  Textarea,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { Link, useParams } from 'react-router';
import {
  ApiError,
  enc,
  hub,
  unwrap,
  yamlBody,
  type AppSetView,
  type DryRun,
  type FleetApp,
} from '../api';
import { RolloutPanel } from '../rollout';
import { useCanEdit } from '../session';
import { ago, HealthBadge, SyncBadge } from '../status';
import { fleetQuery } from './Fleet';

/** Generated applications by sync and health, from the fleet view: errors are never hidden. */
function useChildren(): Map<string, FleetApp[]> {
  const fleet = useQuery(fleetQuery);
  // Once per fleet view, in one pass: copying each set's list for every application took
  // seconds at 20,000 applications in one set, on every render.
  return useMemo(() => {
    const out = new Map<string, FleetApp[]>();
    for (const a of fleet.data?.apps ?? []) {
      if (!a.appSet) continue;
      const list = out.get(a.appSet);
      if (list) list.push(a);
      else out.set(a.appSet, [a]);
    }
    return out;
  }, [fleet.data]);
}

function ChildCounts({ apps }: { apps: FleetApp[] }) {
  const outOfSync = apps.filter((a) => a.sync !== 'Synced').length;
  const degraded = apps.filter((a) => a.health === 'Degraded' || a.health === 'Missing').length;
  const unhealthy = apps.filter((a) => a.health !== 'Healthy').length - degraded;
  const errors = apps.filter((a) => a.conditions.length > 0).length;
  return (
    <Group gap={4}>
      {errors > 0 && (
        <Badge color="red" leftSection="✕">
          {errors} with errors
        </Badge>
      )}
      {degraded > 0 && (
        <Badge color="red" variant="light" leftSection="✕">
          {degraded} degraded or missing
        </Badge>
      )}
      {outOfSync > 0 && (
        <Badge color="orange" variant="light" leftSection="↻">
          {outOfSync} not synced
        </Badge>
      )}
      {unhealthy > 0 && (
        <Badge color="blue" variant="light" leftSection="◔">
          {unhealthy} progressing, suspended or unknown
        </Badge>
      )}
      {apps.length > 0 && !errors && !degraded && !outOfSync && !unhealthy && (
        <Badge color="teal" variant="light" leftSection="✓">
          all synced and healthy
        </Badge>
      )}
    </Group>
  );
}

/** An ApplicationSet is healthy only when its evaluation and every generated app are. */
function failing(s: AppSetView): boolean {
  return (
    s.status.conditions.some((c) => c.type === 'ErrorOccurred' && c.status === 'True') ||
    s.status.applicationErrors.length > 0 ||
    s.applicationConditions.length > 0
  );
}

export function AppSetsPage() {
  const sets = useQuery({
    queryKey: ['appsets'],
    queryFn: () => unwrap(hub.GET('/api/v1/applicationsets')),
  });
  const children = useChildren();
  // A dry run needs admin, as Argo CD's generate needs create: read-only users see no button
  // that can only answer 403.
  const canEdit = useCanEdit();
  return (
    <Stack>
      <Title order={2}>ApplicationSets</Title>
      {sets.isPending && <Loader aria-label="Loading" />}
      {sets.isError && <Alert color="red">{sets.error.message}</Alert>}
      {sets.data && (
        <Table withTableBorder striped fz="sm">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Applications</Table.Th>
              <Table.Th>Evaluation</Table.Th>
              <Table.Th>Generated applications</Table.Th>
              <Table.Th>Last evaluated</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {sets.data.map((s) => (
              <Table.Tr key={s.name}>
                <Table.Td>
                  <Anchor component={Link} to={`/appsets/${enc(s.name)}`}>
                    {s.name}
                  </Anchor>
                </Table.Td>
                <Table.Td>{s.applications.length}</Table.Td>
                <Table.Td>
                  {failing(s) ? (
                    <Badge color="red" leftSection="✕">
                      Errors
                    </Badge>
                  ) : s.status.pendingDeletion.length ? (
                    <Badge color="orange" leftSection="!">
                      Deletion held
                    </Badge>
                  ) : (
                    <Badge color="teal" variant="light" leftSection="✓">
                      OK
                    </Badge>
                  )}
                </Table.Td>
                <Table.Td>
                  <ChildCounts apps={children.get(s.name) ?? []} />
                </Table.Td>
                <Table.Td>{ago(s.status.lastEvaluatedAt)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {canEdit && <DryRunPanel />}
    </Stack>
  );
}

export function AppSetPage() {
  const { name = '' } = useParams();
  const canEdit = useCanEdit();
  const qc = useQueryClient();
  const set = useQuery({
    queryKey: ['appset', name],
    queryFn: () =>
      unwrap(hub.GET('/api/v1/applicationsets/{name}', { params: { path: { name } } })),
  });
  const children = useChildren();
  const childByName = useMemo(
    () => new Map((children.get(name) ?? []).map((c) => [c.name, c])),
    [children, name],
  );
  const confirm = useMutation({
    mutationFn: () =>
      unwrap(
        hub.POST('/api/v1/applicationsets/{name}/confirm-deletion', {
          params: { path: { name } },
        }),
      ),
    onSettled: () => qc.invalidateQueries({ queryKey: ['appset', name] }),
  });
  if (set.isPending) return <Loader aria-label="Loading" />;
  if (set.isError)
    return (
      <Alert color="red" role="alert">
        {set.error.message}
      </Alert>
    );
  const s = set.data;
  const spec = (s.document.spec ?? {}) as { generators?: unknown[] };
  return (
    <Stack>
      <div>
        <Text size="sm">
          <Anchor component={Link} to="/appsets">
            ApplicationSets
          </Anchor>{' '}
          /
        </Text>
        <Title order={2}>{s.name}</Title>
      </div>
      {s.status.conditions
        .filter((c) => c.status === 'True' && c.type === 'ErrorOccurred')
        .map((c) => (
          <Alert key={c.type} color="red" role="alert" title={c.reason}>
            {c.message}
          </Alert>
        ))}
      {(s.applicationConditions.length > 0 || s.status.applicationErrors.length > 0) && (
        <Alert color="red" role="alert" title="Generated applications with errors">
          <List size="sm">
            {s.status.applicationErrors.map((e, i) => (
              <List.Item key={`e${i}`}>
                {e.path}: {e.message}
              </List.Item>
            ))}
            {s.applicationConditions.map((c) => (
              <List.Item key={c.name}>
                <Anchor component={Link} to={`/apps/${enc(c.name)}`}>
                  {c.name}
                </Anchor>{' '}
                {c.type}: {c.message}
              </List.Item>
            ))}
          </List>
        </Alert>
      )}
      {s.status.pendingDeletion.length > 0 && (
        <Alert color="orange" title="Deletion held back" role="alert">
          <Text size="sm">
            {s.status.pendingDeletion.length} applications would be deleted:{' '}
            {s.status.pendingDeletion.slice(0, 20).join(', ')}
            {s.status.pendingDeletion.length > 20 ? ', …' : ''}
          </Text>
          {canEdit && (
            <Button
              mt="xs"
              color="orange"
              loading={confirm.isPending}
              onClick={() => confirm.mutate()}
            >
              Confirm deletion
            </Button>
          )}
          {confirm.error && <Text c="red.9">{confirm.error.message}</Text>}
        </Alert>
      )}
      {s.warnings.length > 0 && (
        <Alert color="yellow" title="Fields Axle does not support">
          <List size="sm">
            {s.warnings.map((w) => (
              <List.Item key={w.path}>
                <Code>{w.path}</Code>: {w.message}
              </List.Item>
            ))}
          </List>
        </Alert>
      )}
      <RolloutPanel kind="appset" name={s.name} />
      <Paper withBorder p="sm">
        <Title order={3} size="h5">
          Conditions
        </Title>
        <Table fz="sm">
          <Table.Tbody>
            {s.status.conditions.map((c) => (
              <Table.Tr key={c.type}>
                <Table.Td>{c.type}</Table.Td>
                <Table.Td>{c.status}</Table.Td>
                <Table.Td>{c.reason}</Table.Td>
                <Table.Td>{c.message}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Paper>
      <Paper withBorder p="sm">
        <Title order={3} size="h5">
          Generators
        </Title>
        <pre className="block" tabIndex={0}>
          {JSON.stringify(spec.generators ?? [], null, 2)}
        </pre>
      </Paper>
      <Paper withBorder p="sm">
        <Title order={3} size="h5">
          Generated applications ({s.applications.length})
        </Title>
        <ChildCounts apps={children.get(s.name) ?? []} />
        <Table fz="sm" mt="xs" data-testid="generated">
          <Table.Tbody>
            {s.applications.map((a) => {
              const row = childByName.get(a);
              return (
                <Table.Tr key={a}>
                  <Table.Td>
                    <Anchor component={Link} to={`/apps/${enc(a)}`}>
                      {a}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{row && <SyncBadge sync={row.sync} />}</Table.Td>
                  <Table.Td>{row && <HealthBadge health={row.health} />}</Table.Td>
                  <Table.Td>
                    {row?.conditions[0] && (
                      <Text size="xs" c="red.9">
                        {row.conditions[0].type}: {row.conditions[0].message}
                      </Text>
                    )}
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      </Paper>
    </Stack>
  );
}

/** What an ApplicationSet would create, update and delete, without changing anything. */
function DryRunPanel() {
  const [yaml, setYaml] = useState('');
  const preview = useMutation({
    mutationFn: (): Promise<DryRun> =>
      unwrap(
        hub.POST('/api/v1/applicationsets/dry-run', {
          body: yaml as unknown as Record<string, never>,
          ...yamlBody,
        }),
      ),
  });
  return (
    <Paper withBorder p="sm">
      <Title order={3} size="h5">
        Preview an ApplicationSet
      </Title>
      <Textarea
        label="ApplicationSet YAML"
        description="Paste or upload a document: nothing is stored."
        autosize
        minRows={6}
        maxRows={20}
        value={yaml}
        onChange={(e) => setYaml(e.currentTarget.value)}
        styles={{ input: { fontFamily: 'monospace' } }}
      />
      <Group mt="xs">
        <FileButton onChange={(f) => void f?.text().then(setYaml)} accept=".yaml,.yml,.json">
          {(props) => (
            <Button variant="default" {...props}>
              Upload file
            </Button>
          )}
        </FileButton>
        <Button
          onClick={() => preview.mutate()}
          loading={preview.isPending}
          disabled={!yaml.trim()}
        >
          Preview
        </Button>
      </Group>
      {preview.error && (
        <Alert color="red" mt="xs" role="alert">
          {preview.error.message}
          {preview.error instanceof ApiError &&
            preview.error.fields.map((f) => (
              <Text size="sm" key={f.field}>
                {f.field}: {f.reason}
              </Text>
            ))}
        </Alert>
      )}
      {preview.data && (
        <Stack gap={4} mt="xs" data-testid="dry-run">
          <Text size="sm">
            <strong>Create</strong> ({preview.data.plan.create.length}):{' '}
            {preview.data.plan.create.join(', ') || '—'}
          </Text>
          <Text size="sm">
            <strong>Update</strong> ({preview.data.plan.update.length}):{' '}
            {preview.data.plan.update.join(', ') || '—'}
          </Text>
          <Text size="sm">
            <strong>Delete</strong> ({preview.data.plan.delete.length}):{' '}
            {preview.data.plan.delete.join(', ') || '—'}
          </Text>
          <Text size="sm">Unchanged: {preview.data.plan.unchanged.length}</Text>
          {preview.data.errors.map((e, i) => (
            <Text key={i} size="sm" c="red.9">
              {e.name ?? e.path}: {e.message}
            </Text>
          ))}
        </Stack>
      )}
    </Paper>
  );
}
