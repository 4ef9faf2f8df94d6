import type { QueryClient } from '@tanstack/react-query';
import { createContext, useContext } from 'react';
import type { SessionView } from './api';

export const SessionContext = createContext<SessionView | null>(null);

/** Whether the signed-in token may change things: read-only tokens see no mutating controls. */
export function useCanEdit(): boolean {
  return useContext(SessionContext)?.role === 'admin';
}

/** Back to sign-in: the session is gone, and so is everything read with it. */
export function forgetSession(qc: QueryClient): void {
  qc.setQueryData(['session'], null);
  qc.removeQueries({ predicate: (q) => q.queryKey[0] !== 'session' });
}
