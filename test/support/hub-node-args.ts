// Shared by tests and benchmarks (no Vitest import: benchmarks run under plain node).

/**
 * The Node options the hub runs with in production (`npm start`, the image, the manifests and
 * the chart say the same): a young generation large enough for a batch's short-lived objects
 * (ADR 0024).
 */
export const HUB_NODE_ARGS = ['--max-semi-space-size=64'];
