import { Badge, Group, Paper, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { ApiError, hub, unwrap, type RolloutView } from './api';

const PHASE_COLOR = { Done: 'teal', Waiting: 'gray', Updating: 'blue', Failed: 'red' } as const;

/**
 * A rollout's steps and what each holds, with their phase: an ApplicationSet's RollingSync
 * steps (applications) or an application's waves (clusters). Nothing when there is none.
 */
export function RolloutPanel({ kind, name }: { kind: 'appset' | 'app'; name: string }) {
  const rollout = useQuery({
    queryKey: [kind === 'appset' ? 'appset-rollout' : 'app-rollout', name],
    queryFn: async (): Promise<RolloutView | null> => {
      const params = { params: { path: { name } } };
      try {
        return await unwrap(
          kind === 'appset'
            ? hub.GET('/api/v1/applicationsets/{name}/rollout', params)
            : hub.GET('/api/v1/applications/{name}/rollout', params),
        );
      } catch (e) {
        if (e instanceof ApiError && (e.status === 404 || e.status === 400)) return null;
        throw e;
      }
    },
  });
  const r = rollout.data;
  if (!r || r.steps.length === 0) return null;
  const step = kind === 'appset' ? 'Step' : 'Wave';
  return (
    <Paper withBorder p="sm" data-testid="rollout">
      <Title order={3} size="h5">
        {kind === 'appset' ? 'Rollout' : 'Waves'}: {r.status} ({step.toLowerCase()} {r.step}){' '}
        {r.message}
      </Title>
      {r.steps.map((s) => (
        <Group key={s.step} gap={6} mt={4}>
          <Text size="sm" fw={600} w={70}>
            {step} {s.step}
          </Text>
          {s.units.map((u) => (
            <Badge key={u.name} variant="light" color={PHASE_COLOR[u.phase]}>
              {u.name}: {u.phase}
            </Badge>
          ))}
        </Group>
      ))}
    </Paper>
  );
}
