/** Bounds applied to everything Axle parses from git or from users. */
export interface ManifestLimits {
  /** Largest single file read from a repository. */
  maxFileBytes: number;
  /** Largest rendered bundle (sum of all documents, uncompressed JSON). */
  maxBundleBytes: number;
  /** Most objects in one bundle. */
  maxObjects: number;
  /** YAML alias expansions allowed per document (billion-laughs guard). */
  maxAliasCount: number;
  /** Deepest nesting of maps/lists. */
  maxDepth: number;
}

export const DEFAULT_LIMITS: ManifestLimits = {
  maxFileBytes: 4 * 1024 * 1024,
  maxBundleBytes: 32 * 1024 * 1024,
  maxObjects: 10_000,
  maxAliasCount: 100,
  maxDepth: 64,
};
