import { ApplicationSetEntity } from '../appsets/application-set.entity.js';
import { AuditEventEntity } from '../audit/audit-event.entity.js';
import { ApiTokenEntity } from '../auth/api-token.entity.js';
import { AppTargetEntity } from '../applications/app-target.entity.js';
import { ApplicationEntity } from '../applications/application.entity.js';
import { ClusterEntity } from '../clusters/cluster.entity.js';
import { RepositoryEntity } from '../git/repository.entity.js';
import { ProjectEntity } from '../projects/project.entity.js';
import { BundleEntity } from '../render/bundle.entity.js';
import { RepositoryCredentialEntity } from '../repositories/repository-credential.entity.js';

export const ENTITIES = [
  ClusterEntity,
  ApplicationEntity,
  AppTargetEntity,
  BundleEntity,
  RepositoryEntity,
  ApplicationSetEntity,
  ApiTokenEntity,
  AuditEventEntity,
  RepositoryCredentialEntity,
  ProjectEntity,
];
