export * from './errors.js';
export * from './types.js';
export { generate, generateWithTemplate } from './generate.js';
export {
  checkGeneratorSpec,
  generatorEntrySchema,
  labelSelectorSchema,
  type GeneratorSpecCheck,
} from './schema.js';
export {
  compileSelector,
  MAX_SELECTOR_TEXT,
  parseSelector,
  qualifiedNameErrors,
  type LabelMatcher,
  type SelectorRequirement,
} from './selector.js';
export {
  checkFields,
  stripFields,
  unsupportedField,
  validateSpec,
  withUnknownKeys,
  zodIssues,
  type FieldReport,
} from './spec-check.js';
export {
  Renderer,
  TreeRenderError,
  cloneJson,
  compileTree,
  isTemplated,
  missingKeyFromOptions,
  renderTree,
  type CompiledTree,
  type CompileOptions,
  type RenderMode,
} from './render.js';
export { sharedConstant, sharedConstantJson } from './shared.js';
export { TemplateBudget } from './runtime.js';
export { isGoEmpty, mergoMerge } from './mergo.js';
export { sanitizeName, goSprintV } from './go.js';
export { goPathMatch, gitPathspecMatch, compileDoublestar, BadPatternError } from './glob.js';
export { SECRET_TYPE_LABEL } from './cluster.js';
export { yamlOptions } from './yaml.js';
