import { ValidationFailed } from '../../apps/hub/src/common/validation.js';

/** The ValidationFailed `fn` throws; fails when it throws nothing or something else. */
export function failure(fn: () => unknown): ValidationFailed {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationFailed) return e;
    throw e;
  }
  throw new Error('no ValidationFailed');
}
