import { Initial1763856000000 } from './1763856000000-Initial.js';
import { ApplicationSets1763860000000 } from './1763860000000-ApplicationSets.js';
import { AuthAudit1763863000000 } from './1763863000000-AuthAudit.js';
import { RepositoryCredentials1763866000000 } from './1763866000000-RepositoryCredentials.js';
import { Projects1763869000000 } from './1763869000000-Projects.js';
import { Enrollment1763872000000 } from './1763872000000-Enrollment.js';
import { AppEvents1763875000000 } from './1763875000000-AppEvents.js';
import { TargetDrift1763878000000 } from './1763878000000-TargetDrift.js';
import { RenderCache1763881000000 } from './1763881000000-RenderCache.js';
import { FleetScale1764900000000 } from './1764900000000-FleetScale.js';
import { ManualSync1765000000000 } from './1765000000000-ManualSync.js';
import { Rollouts1765100000000 } from './1765100000000-Rollouts.js';
import { Notifications1765200000000 } from './1765200000000-Notifications.js';
import { RemovalOrder1765300000000 } from './1765300000000-RemovalOrder.js';
import { WebConsole1765500000000 } from './1765500000000-WebConsole.js';
import { AppSetRequeue1765400000000 } from './1765400000000-AppSetRequeue.js';
import { HotTargetWrites1765600000000 } from './1765600000000-HotTargetWrites.js';
import { RenderMoves1765700000000 } from './1765700000000-RenderMoves.js';
import { ReplicaBackends1765800000000 } from './1765800000000-ReplicaBackends.js';
import { UnpinnedRenders1765900000000 } from './1765900000000-UnpinnedRenders.js';
import { ConsoleIgnoresHeartbeats1766000000000 } from './1766000000000-ConsoleIgnoresHeartbeats.js';
import { BundleClusterScope1766100000000 } from './1766100000000-BundleClusterScope.js';
import { InventoryVersion1766200000000 } from './1766200000000-InventoryVersion.js';
import { DirectoryRecurseKept1766300000000 } from './1766300000000-DirectoryRecurseKept.js';
import { ChildApplications1766400000000 } from './1766400000000-ChildApplications.js';
import { ClusterCapabilities1766500000000 } from './1766500000000-ClusterCapabilities.js';

/** Every migration, oldest first. TypeORM runs the ones not yet recorded. */
export const MIGRATIONS = [
  Initial1763856000000,
  ApplicationSets1763860000000,
  AuthAudit1763863000000,
  RepositoryCredentials1763866000000,
  Projects1763869000000,
  Enrollment1763872000000,
  AppEvents1763875000000,
  TargetDrift1763878000000,
  RenderCache1763881000000,
  FleetScale1764900000000,
  ManualSync1765000000000,
  Rollouts1765100000000,
  Notifications1765200000000,
  RemovalOrder1765300000000,
  AppSetRequeue1765400000000,
  WebConsole1765500000000,
  HotTargetWrites1765600000000,
  RenderMoves1765700000000,
  ReplicaBackends1765800000000,
  UnpinnedRenders1765900000000,
  ConsoleIgnoresHeartbeats1766000000000,
  BundleClusterScope1766100000000,
  InventoryVersion1766200000000,
  DirectoryRecurseKept1766300000000,
  ChildApplications1766400000000,
  ClusterCapabilities1766500000000,
];
