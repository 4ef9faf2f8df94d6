import { z } from 'zod';
import { annotationMap, dns1123Label, labelMap, labelSelectorParam } from '../common/validation.js';

export const createClusterSchema = z
  .object({
    name: dns1123Label,
    labels: labelMap.default({}),
    annotations: annotationMap.default({}),
    server: z.string().max(2048).default(''),
  })
  .strict();

export type CreateCluster = z.output<typeof createClusterSchema>;

export const updateClusterSchema = z
  .object({
    labels: labelMap.optional(),
    annotations: annotationMap.optional(),
    server: z.string().max(2048).optional(),
  })
  .strict();

export type UpdateCluster = z.output<typeof updateClusterSchema>;

/**
 * GET /clusters: a page (`limit`, then `after` = the last name) of the clusters whose labels
 * match `selector` (Kubernetes syntax: `env=prod,region in (eu-west,eu-central),!legacy`) and,
 * with `connected`, whose agent is (`true`) or is not (`false`) connected. All of them without.
 */
export const clusterListQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    after: z.string().min(1).max(63).optional(),
    selector: labelSelectorParam.optional(),
    connected: z
      .enum(['true', 'false'])
      .transform((v) => v === 'true')
      .optional(),
  })
  .strict();
