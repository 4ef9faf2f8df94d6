import {
  AppShell,
  Badge,
  Button,
  Center,
  Group,
  Loader,
  NavLink,
  Text,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { Link, Route, Routes, useLocation } from 'react-router';
import { ApiError, hub, onSignedOut, unwrap, type SessionView } from './api';
import { useLiveUpdates } from './live';
import { AppPage } from './pages/AppPage';
import { AppSetPage, AppSetsPage } from './pages/AppSets';
import { AuditPage } from './pages/Audit';
import { ClustersPage } from './pages/Clusters';
import { FleetPage } from './pages/Fleet';
import { SignIn } from './pages/SignIn';
import { forgetSession, SessionContext } from './session';

export function App() {
  const qc = useQueryClient();
  const session = useQuery({
    queryKey: ['session'],
    queryFn: async () => {
      try {
        return await unwrap(hub.GET('/api/v1/session'));
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return null;
        throw e;
      }
    },
  });
  useEffect(() => onSignedOut(() => forgetSession(qc)), [qc]);
  if (session.isPending)
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  if (!session.data) return <SignIn />;
  return (
    <SessionContext.Provider value={session.data}>
      <Shell session={session.data} />
    </SessionContext.Provider>
  );
}

const NAV = [
  { to: '/', label: 'Fleet' },
  { to: '/appsets', label: 'ApplicationSets' },
  { to: '/clusters', label: 'Clusters' },
  { to: '/audit', label: 'Audit log' },
];

function Shell({ session }: { session: SessionView }) {
  const live = useLiveUpdates();
  const location = useLocation();
  const qc = useQueryClient();
  const signOut = async () => {
    await unwrap(hub.DELETE('/api/v1/session'));
    forgetSession(qc);
  };
  return (
    <AppShell header={{ height: 48 }} navbar={{ width: 190, breakpoint: 0 }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="xs">
            <Title order={1} size="h4">
              Axle
            </Title>
            <Badge
              variant="dot"
              color={live === 'live' ? 'teal' : 'orange'}
              aria-live="polite"
              data-testid="live-state"
            >
              {live === 'live' ? 'Live' : live === 'connecting' ? 'Connecting' : 'Reconnecting'}
            </Badge>
          </Group>
          <Group gap="sm">
            <Text size="sm">
              {session.name} · <strong>{session.role}</strong>
            </Text>
            <Button size="xs" variant="default" onClick={() => void signOut()}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label="Main">
        {NAV.map((n) => (
          <NavLink
            key={n.to}
            component={Link}
            to={n.to}
            label={n.label}
            active={
              n.to === '/'
                ? location.pathname === '/' || location.pathname.startsWith('/apps/')
                : location.pathname.startsWith(n.to)
            }
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <Routes>
          <Route path="/" element={<FleetPage />} />
          <Route path="/apps/:name" element={<AppPage />} />
          <Route path="/appsets" element={<AppSetsPage />} />
          <Route path="/appsets/:name" element={<AppSetPage />} />
          <Route path="/clusters" element={<ClustersPage />} />
          <Route path="/audit" element={<AuditPage />} />
          <Route path="*" element={<Text>Nothing here.</Text>} />
        </Routes>
      </AppShell.Main>
    </AppShell>
  );
}
