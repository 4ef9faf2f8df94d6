import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { ApiError, hub, signedOut, unwrap, type ConsoleEvent, type FleetView } from './api';

export type LiveState = 'connecting' | 'live' | 'reconnecting';

/** Query keys by the topics the hub's live stream names. */
const KEYS: Record<string, string[][]> = {
  fleet: [['fleet']],
  applications: [['app'], ['history'], ['events'], ['appset-rollout']],
  // And an application's view (see below).
  clusters: [['clusters']],
  appsets: [['appsets'], ['appset']],
  audit: [['audit']],
  rollouts: [['appset-rollout'], ['app-rollout']],
};

/**
 * Reads the fleet again, once: a read in flight may predate the change, so it is not cancelled
 * (under a stream of changes that would restart it forever) but followed by one more read.
 */
class FleetRefresher {
  private dirty = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly qc: QueryClient) {
    this.unsubscribe = qc.getQueryCache().subscribe((event) => {
      const key = event.query.queryKey as readonly unknown[];
      if (key[0] !== 'fleet' || event.type !== 'updated') return;
      if (event.query.state.fetchStatus !== 'idle' || !this.dirty) return;
      this.dirty = false;
      void qc.refetchQueries({ queryKey: ['fleet'] });
    });
  }

  refresh(): void {
    if (this.qc.isFetching({ queryKey: ['fleet'] })) this.dirty = true;
    else void this.qc.invalidateQueries({ queryKey: ['fleet'] }, { cancelRefetch: false });
  }

  close(): void {
    this.unsubscribe();
  }
}

function apply(qc: QueryClient, fleet: FleetRefresher, e: ConsoleEvent): void {
  switch (e.type) {
    case 'apps': {
      // What the console shows of these applications is read again.
      for (const a of e.apps) {
        for (const key of ['app', 'history', 'events', 'app-rollout'])
          void qc.invalidateQueries({ queryKey: [key, a.name] });
        if (a.appSet) void qc.invalidateQueries({ queryKey: ['appset-rollout', a.appSet] });
      }
      // Changed rows replace their old selves in place. No rows yet, a read in flight or
      // another cluster list: read the fleet again.
      const view = qc.getQueryData<FleetView>(['fleet']);
      if (!view || qc.isFetching({ queryKey: ['fleet'] }) || view.clusterKey !== e.clusterKey) {
        fleet.refresh();
        return;
      }
      const byName = new Map(e.apps.map((a) => [a.name, a]));
      qc.setQueryData<FleetView>(['fleet'], {
        ...view,
        apps: view.apps.map((a) => byName.get(a.name) ?? a),
      });
      return;
    }
    case 'invalidate':
      for (const topic of e.topics) {
        if (topic === 'fleet') fleet.refresh();
        else for (const queryKey of KEYS[topic] ?? []) void qc.invalidateQueries({ queryKey });
        // An application's page shows whether the agents of its clusters are connected: its view
        // is read again, not its diff or history.
        if (topic === 'clusters')
          void qc.invalidateQueries({
            predicate: (q) => q.queryKey[0] === 'app' && q.queryKey.length === 2,
          });
      }
      return;
  }
}

/**
 * One server-sent event stream per tab: the hub pushes changed fleet rows and says what to
 * refetch. No polling: EventSource reconnects by itself, and after a reconnect everything is
 * refetched once (changes may have been missed meanwhile).
 */
export function useLiveUpdates(): LiveState {
  const qc = useQueryClient();
  const [state, setState] = useState<LiveState>('connecting');
  useEffect(() => {
    let source: EventSource | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let opened = false;
    let cancelled = false;
    const fleet = new FleetRefresher(qc);
    const again = () => {
      if (!cancelled) retry = setTimeout(connect, 3000);
    };
    const connect = () => {
      const s = new EventSource('/api/v1/stream', { withCredentials: true });
      source = s;
      s.addEventListener('ready', () => {
        // What was read before the stream opened may have missed changes: read it again (the
        // fleet, on the first open; everything after a reconnect).
        if (opened) void qc.invalidateQueries();
        else fleet.refresh();
        opened = true;
        setState('live');
      });
      for (const type of ['apps', 'invalidate'] as const) {
        s.addEventListener(type, (m: MessageEvent<string>) =>
          apply(qc, fleet, JSON.parse(m.data) as ConsoleEvent),
        );
      }
      s.addEventListener('signed-out', () => {
        s.close();
        signedOut();
      });
      s.onerror = () => {
        setState('reconnecting');
        if (s.readyState !== EventSource.CLOSED) return;
        // Refused outright (401, 503): ask who we are; a 401 signs out, else try again.
        unwrap(hub.GET('/api/v1/session')).then(again, (err: unknown) => {
          if (err instanceof ApiError && err.status === 401) signedOut();
          else again();
        });
      };
    };
    connect();
    return () => {
      cancelled = true;
      fleet.close();
      clearTimeout(retry);
      source?.close();
    };
  }, [qc]);
  return state;
}
