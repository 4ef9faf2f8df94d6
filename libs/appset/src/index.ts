export * from './types.js';
export { parseApplicationSet, type ParseResult } from './parse.js';
export { generateApplications, RESOURCES_FINALIZER } from './generate.js';
export {
  nameIndex,
  planChanges,
  planOptionsFor,
  applicationSpecHash,
  SpecHashMemo,
  type ChangePlan,
  type PlanOptions,
} from './plan.js';
export { RenderMemo } from './render-memo.js';
export { applyTemplatePatch } from './patch.js';
export { applicationNameError } from './validate.js';
export {
  APPLICATIONS_SYNC_POLICIES,
  applicationSetDocumentSchema,
  applicationSetSpecSchema,
  applicationTemplateSchema,
  templateOverrideSchema,
} from './schema.js';
export { evaluationFingerprint, type EvaluationInputs } from './fingerprint.js';
