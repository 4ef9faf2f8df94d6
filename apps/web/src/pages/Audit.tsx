import { Alert, Button, Group, Loader, Stack, Table, TextInput, Title } from '@mantine/core';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { hub, unwrap, type AuditEvent } from '../api';
import { ago } from '../status';

const PAGE = 100;

export function AuditPage() {
  const [kind, setKind] = useState('');
  const [name, setName] = useState('');
  const [actor, setActor] = useState('');
  const filters = { kind: kind.trim(), name: name.trim(), actor: actor.trim() };
  const events = useInfiniteQuery({
    queryKey: ['audit', filters],
    initialPageParam: '',
    queryFn: ({ pageParam }) =>
      unwrap(
        hub.GET('/api/v1/events', {
          params: {
            query: {
              limit: PAGE,
              ...(filters.kind ? { kind: filters.kind } : {}),
              ...(filters.name ? { name: filters.name } : {}),
              ...(filters.actor ? { actor: filters.actor } : {}),
              ...(pageParam ? { before: pageParam } : {}),
            },
          },
        }),
      ),
    getNextPageParam: (last: AuditEvent[]) =>
      last.length === PAGE ? last[last.length - 1].id : undefined,
  });
  return (
    <Stack>
      <Title order={2}>Audit log</Title>
      <Group>
        <TextInput
          label="Kind"
          placeholder="Application"
          value={kind}
          onChange={(e) => setKind(e.currentTarget.value)}
        />
        <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <TextInput
          label="Actor"
          placeholder="token:admin"
          value={actor}
          onChange={(e) => setActor(e.currentTarget.value)}
        />
      </Group>
      {events.isPending && <Loader aria-label="Loading" />}
      {events.isError && <Alert color="red">{events.error.message}</Alert>}
      {events.data && (
        <Table withTableBorder striped fz="sm" data-testid="audit">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>When</Table.Th>
              <Table.Th>Actor</Table.Th>
              <Table.Th>Action</Table.Th>
              <Table.Th>Kind</Table.Th>
              <Table.Th>Name</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {events.data.pages.flat().map((e) => (
              <Table.Tr key={e.id}>
                <Table.Td title={e.at}>{ago(e.at)}</Table.Td>
                <Table.Td>{e.actor}</Table.Td>
                <Table.Td>{e.action}</Table.Td>
                <Table.Td>{e.kind}</Table.Td>
                <Table.Td>{e.name}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {events.hasNextPage && (
        <Button
          variant="default"
          onClick={() => void events.fetchNextPage()}
          loading={events.isFetchingNextPage}
        >
          Older events
        </Button>
      )}
    </Stack>
  );
}
