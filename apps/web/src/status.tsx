import { Badge, Tooltip } from '@mantine/core';
import type { FleetCell } from './api';

export type Sync = 'Synced' | 'OutOfSync' | 'Unknown';
export type Health = 'Healthy' | 'Progressing' | 'Degraded' | 'Suspended' | 'Missing' | 'Unknown';

export const SYNC_OF: Record<FleetCell[1], Sync> = { S: 'Synced', O: 'OutOfSync', U: 'Unknown' };
export const HEALTH_OF: Record<FleetCell[2], Health> = {
  H: 'Healthy',
  P: 'Progressing',
  D: 'Degraded',
  S: 'Suspended',
  M: 'Missing',
  U: 'Unknown',
};

const SYNC_COLOR: Record<Sync, string> = { Synced: 'teal', OutOfSync: 'orange', Unknown: 'gray' };
const HEALTH_COLOR: Record<Health, string> = {
  Healthy: 'teal',
  Progressing: 'blue',
  Degraded: 'red',
  Suspended: 'grape',
  Missing: 'yellow',
  Unknown: 'gray',
};
const SYNC_ICON: Record<Sync, string> = { Synced: '✓', OutOfSync: '↻', Unknown: '?' };
const HEALTH_ICON: Record<Health, string> = {
  Healthy: '♥',
  Progressing: '◔',
  Degraded: '✕',
  Suspended: '❚❚',
  Missing: '∅',
  Unknown: '?',
};

export function SyncBadge({ sync }: { sync: Sync }) {
  return (
    <Badge color={SYNC_COLOR[sync]} variant="light" leftSection={SYNC_ICON[sync]}>
      {sync}
    </Badge>
  );
}

export function HealthBadge({ health }: { health: Health }) {
  return (
    <Badge color={HEALTH_COLOR[health]} variant="light" leftSection={HEALTH_ICON[health]}>
      {health}
    </Badge>
  );
}

export function DriftBadge() {
  return (
    <Tooltip label="Changed in the cluster by someone else">
      <Badge color="pink" variant="filled" leftSection="≠">
        Drifted
      </Badge>
    </Tooltip>
  );
}

/** The worst of a cell: what its colour shows (a letter always says it too). */
export type CellTone = 'ok' | 'progress' | 'out' | 'bad' | 'drift' | 'unknown';

export function cellTone(sync: Sync, health: Health, drifted: boolean): CellTone {
  if (health === 'Degraded' || health === 'Missing') return 'bad';
  if (drifted) return 'drift';
  if (sync === 'OutOfSync') return 'out';
  if (health === 'Progressing' || health === 'Suspended') return 'progress';
  if (sync === 'Unknown' || health === 'Unknown') return 'unknown';
  return 'ok';
}

/** Two letters per cell: sync then health (S/O/U, H/P/D/S/M/U), and ≠ when drifted. */
export function cellText(cell: FleetCell): string {
  return `${cell[1]}${cell[2]}${cell[3] ? '≠' : ''}`;
}

export function shortRev(rev: string | null | undefined): string {
  return rev ? rev.slice(0, 8) : '—';
}

export function ago(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
