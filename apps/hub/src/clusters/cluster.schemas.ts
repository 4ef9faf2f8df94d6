import { z } from 'zod';
import { annotationMap, dns1123Label, labelMap } from '../common/validation.js';

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
