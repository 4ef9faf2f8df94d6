import { AsyncLocalStorage } from 'node:async_hooks';

/** Who is acting, for the audit log: an API token's name, or a component of the hub itself. */
export interface RequestContext {
  actor: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithActor<T>(actor: string, fn: () => T): T {
  return storage.run({ actor }, fn);
}

/** The current actor; hub-internal work outside a request is `system`. */
export function currentActor(): string {
  return storage.getStore()?.actor ?? 'system';
}

export function setActor(actor: string): void {
  const store = storage.getStore();
  if (store) store.actor = actor;
}
