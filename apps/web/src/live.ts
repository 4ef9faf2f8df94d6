import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api, signedOut, type ConsoleEvent, type FleetView } from './api';

export type LiveState = 'connecting' | 'live' | 'reconnecting';

/** Query keys by the topics the hub's live stream names. */
const KEYS: Record<string, string[][]> = {
  fleet: [['fleet']],
  applications: [['app'], ['history'], ['events'], ['appset-rollout']],
  clusters: [['clusters']],
  appsets: [['appsets'], ['appset']],
  audit: [['audit']],
  rollouts: [['appset-rollout'], ['app-rollout']],
};

function apply(qc: QueryClient, e: ConsoleEvent): void {
  switch (e.type) {
    case 'apps': {
      // Changed rows replace their old selves in place; a changed cluster list means refetch.
      const view = qc.getQueryData<FleetView>(['fleet']);
      if (!view) return;
      if (view.clusterKey !== e.clusterKey) {
        void qc.invalidateQueries({ queryKey: ['fleet'] });
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
      for (const topic of e.topics)
        for (const queryKey of KEYS[topic] ?? []) void qc.invalidateQueries({ queryKey });
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
    const connect = () => {
      const s = new EventSource('/api/v1/stream', { withCredentials: true });
      source = s;
      s.addEventListener('ready', () => {
        if (opened) void qc.invalidateQueries();
        opened = true;
        setState('live');
      });
      for (const type of ['apps', 'invalidate'] as const) {
        s.addEventListener(type, (m: MessageEvent<string>) =>
          apply(qc, JSON.parse(m.data) as ConsoleEvent),
        );
      }
      s.addEventListener('signed-out', () => {
        s.close();
        signedOut();
      });
      s.onerror = () => {
        setState('reconnecting');
        if (s.readyState !== EventSource.CLOSED) return;
        // Refused outright (401, 503): ask who we are (a 401 signs out), then try again.
        api('/session').then(
          () => (retry = setTimeout(connect, 3000)),
          () => (retry = setTimeout(connect, 3000)),
        );
      };
    };
    connect();
    return () => {
      clearTimeout(retry);
      source?.close();
    };
  }, [qc]);
  return state;
}
