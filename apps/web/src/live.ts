import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { hub, signedOut, unwrap, type ConsoleEvent, type FleetView } from './api';

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
      // What the console shows of these applications is read again.
      for (const a of e.apps)
        for (const key of ['app', 'history', 'events'])
          void qc.invalidateQueries({ queryKey: [key, a.name] });
      // Changed rows replace their old selves in place. No rows yet, a read in flight (it may
      // predate the change) or another cluster list: read the fleet again.
      const view = qc.getQueryData<FleetView>(['fleet']);
      if (!view || qc.isFetching({ queryKey: ['fleet'] }) || view.clusterKey !== e.clusterKey) {
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
    let cancelled = false;
    const again = () => {
      if (!cancelled) retry = setTimeout(connect, 3000);
    };
    const connect = () => {
      const s = new EventSource('/api/v1/stream', { withCredentials: true });
      source = s;
      s.addEventListener('ready', () => {
        // What was read before the stream opened may have missed changes: read it again (the
        // fleet, on the first open; everything after a reconnect).
        void qc.invalidateQueries(opened ? undefined : { queryKey: ['fleet'] });
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
        unwrap(hub.GET('/api/v1/session')).then(again, again);
      };
    };
    connect();
    return () => {
      cancelled = true;
      clearTimeout(retry);
      source?.close();
    };
  }, [qc]);
  return state;
}
