import {
  Alert,
  Badge,
  Button,
  Code,
  CopyButton,
  Group,
  Loader,
  Modal,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import type { ResponseOf } from '../../../../libs/api-client/src/index.js';
import { ApiError, hub, unwrap, type ClusterAdded } from '../api';
import { useCanEdit } from '../session';
import { ago } from '../status';

/**
 * What registering a cluster (or a new bootstrap token) shows once: an mTLS enrolment kit, or in
 * token mode the agent's bearer token.
 */
type Kit =
  | Extract<ClusterAdded, { agentToken: string }>
  | ResponseOf<'/api/v1/clusters/{name}/bootstrap-token', 'post'>;

export function ClustersPage() {
  const canEdit = useCanEdit();
  const qc = useQueryClient();
  const [adding, setAdding] = useState(false);
  const [kit, setKit] = useState<Kit | null>(null);
  const [revoking, setRevoking] = useState<string | null>(null);
  const clusters = useQuery({
    queryKey: ['clusters'],
    queryFn: () => unwrap(hub.GET('/api/v1/clusters')),
  });
  const revoke = useMutation({
    mutationFn: (name: string) =>
      unwrap(hub.POST('/api/v1/clusters/{name}/revoke', { params: { path: { name } } })),
    onSuccess: () => setRevoking(null),
    onSettled: () => qc.invalidateQueries({ queryKey: ['clusters'] }),
  });
  const reissue = useMutation({
    mutationFn: (name: string) =>
      unwrap(hub.POST('/api/v1/clusters/{name}/bootstrap-token', { params: { path: { name } } })),
    onSuccess: (k) => setKit(k),
  });
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Clusters</Title>
        {canEdit && <Button onClick={() => setAdding(true)}>Add cluster</Button>}
      </Group>
      {clusters.isPending && <Loader aria-label="Loading" />}
      {clusters.isError && <Alert color="red">{clusters.error.message}</Alert>}
      {clusters.data && (
        <Table withTableBorder striped fz="sm" data-testid="clusters">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Agent</Table.Th>
              <Table.Th>Version</Table.Th>
              <Table.Th>Kubernetes</Table.Th>
              <Table.Th>Last seen</Table.Th>
              <Table.Th>Certificate expires</Table.Th>
              <Table.Th>Labels</Table.Th>
              {canEdit && <Table.Th>Actions</Table.Th>}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {clusters.data.map((c) => (
              <Table.Tr key={c.name}>
                <Table.Td>{c.name}</Table.Td>
                <Table.Td>
                  {c.agent.connected ? (
                    <Badge color="teal" variant="light" leftSection="●">
                      Connected
                    </Badge>
                  ) : (
                    <Badge color="red" variant="light" leftSection="○">
                      Not connected
                    </Badge>
                  )}
                </Table.Td>
                <Table.Td>{c.agent.version ?? '—'}</Table.Td>
                <Table.Td
                  title={
                    c.kubernetes
                      ? `${c.kubernetes.apiVersions} API versions, since ${new Date(c.kubernetes.changedAt).toLocaleString()}`
                      : undefined
                  }
                >
                  {c.kubernetes?.version ?? '—'}
                </Table.Td>
                <Table.Td>
                  {/* A connected agent is seen all the time (its heartbeats are not pushed to the
                      console, so the stored time would look stale). */}
                  {c.agent.connected ? 'now' : ago(c.agent.lastSeenAt)}
                </Table.Td>
                <Table.Td>
                  {c.certificateExpiresAt ? new Date(c.certificateExpiresAt).toLocaleString() : '—'}
                </Table.Td>
                <Table.Td>
                  <Group gap={4}>
                    {Object.entries(c.labels).map(([k, v]) => (
                      <Badge key={k} variant="outline" color="gray" tt="none">
                        {k}={v}
                      </Badge>
                    ))}
                  </Group>
                </Table.Td>
                {canEdit && (
                  <Table.Td>
                    <Group gap={4}>
                      <Button size="xs" variant="default" onClick={() => reissue.mutate(c.name)}>
                        New bootstrap token
                      </Button>
                      <Button
                        size="xs"
                        color="red"
                        variant="light"
                        onClick={() => setRevoking(c.name)}
                      >
                        Revoke
                      </Button>
                    </Group>
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {reissue.error && <Alert color="red">{reissue.error.message}</Alert>}
      <AddCluster
        opened={adding}
        onClose={() => setAdding(false)}
        onAdded={(k) => {
          setAdding(false);
          setKit(k);
          void qc.invalidateQueries({ queryKey: ['clusters'] });
        }}
      />
      <Modal opened={kit !== null} onClose={() => setKit(null)} title="Enrol the agent" size="xl">
        {kit && <Kit kit={kit} />}
      </Modal>
      <Modal opened={revoking !== null} onClose={() => setRevoking(null)} title="Revoke the agent">
        <Stack>
          <Text size="sm">
            Revoke the certificates of {revoking}&apos;s agent and cut its stream? It needs a new
            bootstrap token to come back.
          </Text>
          {revoke.error && <Text c="red.9">{revoke.error.message}</Text>}
          <Group justify="end">
            <Button variant="default" onClick={() => setRevoking(null)}>
              Cancel
            </Button>
            <Button
              color="red"
              loading={revoke.isPending}
              onClick={() => revoking && revoke.mutate(revoking)}
            >
              Revoke
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/[\n,]/)) {
    const t = line.trim();
    if (!t) continue;
    const eq = t.indexOf('=');
    out[eq < 0 ? t : t.slice(0, eq).trim()] = eq < 0 ? '' : t.slice(eq + 1).trim();
  }
  return out;
}

function AddCluster({
  opened,
  onClose,
  onAdded,
}: {
  opened: boolean;
  onClose: () => void;
  onAdded: (k: ClusterAdded) => void;
}) {
  const [name, setName] = useState('');
  const [labels, setLabels] = useState('');
  const add = useMutation({
    mutationFn: () =>
      unwrap(
        hub.POST('/api/v1/clusters', { body: { name: name.trim(), labels: parseLabels(labels) } }),
      ),
    onSuccess: (k) => {
      setName('');
      setLabels('');
      onAdded(k);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate();
  };
  const fieldError = (field: string) =>
    add.error instanceof ApiError
      ? add.error.fields.find((f) => f.field === field || f.field.startsWith(`${field}.`))?.reason
      : undefined;
  return (
    <Modal opened={opened} onClose={onClose} title="Add a cluster">
      <form onSubmit={submit}>
        <Stack>
          <TextInput
            label="Name"
            description="A DNS label: lower case letters, digits and '-'"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={fieldError('name')}
            required
            data-autofocus
          />
          <Textarea
            label="Labels"
            description="key=value, one per line or separated by commas"
            value={labels}
            onChange={(e) => setLabels(e.currentTarget.value)}
            error={fieldError('labels')}
          />
          {add.error && !fieldError('name') && !fieldError('labels') && (
            <Text c="red.9" size="sm" role="alert">
              {add.error.message}
            </Text>
          )}
          <Group justify="end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={add.isPending}>
              Add
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function Copyable({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <Stack gap={4}>
      <Group justify="space-between">
        <Text fw={600} size="sm">
          {label}
        </Text>
        <CopyButton value={value}>
          {({ copied, copy }) => (
            <Button size="xs" variant="default" onClick={copy}>
              {copied ? 'Copied' : `Copy ${label.toLowerCase()}`}
            </Button>
          )}
        </CopyButton>
      </Group>
      <Code
        block
        data-testid={testId}
        tabIndex={0}
        aria-label={label}
        style={{ maxHeight: 260, overflow: 'auto' }}
      >
        {value}
      </Code>
    </Stack>
  );
}

function Kit({ kit }: { kit: Kit }) {
  if ('agentToken' in kit)
    return (
      <Stack>
        <Alert color="yellow">Shown once: the hub keeps only a hash.</Alert>
        <Copyable label="Agent token" value={kit.agentToken} testId="agent-token" />
      </Stack>
    );
  return (
    <Stack>
      <Alert color="yellow">
        Shown once: the hub keeps only a hash. The bootstrap token works once, until{' '}
        {new Date(kit.bootstrapTokenExpiresAt).toLocaleString()}.
      </Alert>
      <Copyable label="Bootstrap token" value={kit.bootstrapToken} testId="bootstrap-token" />
      <Copyable label="Install manifest" value={kit.installManifest} testId="install-manifest" />
      <Text size="sm">
        Apply it in the cluster: <code>kubectl apply -f agent.yaml</code>
      </Text>
    </Stack>
  );
}
