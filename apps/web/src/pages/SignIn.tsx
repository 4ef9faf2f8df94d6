import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ApiError, hub, unwrap, type SessionView } from '../api';

/** An API token typed once, exchanged for an HttpOnly session cookie (never stored here). */
export function SignIn() {
  const qc = useQueryClient();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session: SessionView = await unwrap(
        hub.POST('/api/v1/session', { body: { token: token.trim() } }),
      );
      setToken('');
      qc.setQueryData(['session'], session);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Center h="100vh" component="main">
      <Paper withBorder p="xl" w={420}>
        <form onSubmit={(e) => void submit(e)}>
          <Stack>
            <Title order={1} size="h3">
              Sign in to Axle
            </Title>
            <Text size="sm" c="dimmed">
              Paste an API token (<code>axle token create</code>, or the hub&apos;s{' '}
              <code>.axle/admin-token</code>). It is exchanged for a session cookie.
            </Text>
            <PasswordInput
              label="API token"
              value={token}
              onChange={(e) => setToken(e.currentTarget.value)}
              required
              autoFocus
              autoComplete="current-password"
            />
            {error && (
              <Alert color="red" role="alert" title="Sign-in refused">
                {error}
              </Alert>
            )}
            <Button type="submit" loading={busy}>
              Sign in
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
