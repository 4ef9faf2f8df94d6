import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import { RepositoryCredentialEntity } from './repository-credential.entity.js';

/** Repository credentials (table `repository_credentials`), secrets sealed. */
@Injectable()
export class CredentialsRepository {
  private readonly repo: Repository<RepositoryCredentialEntity>;

  constructor(ds: DataSource) {
    this.repo = ds.getRepository(RepositoryCredentialEntity);
  }

  async insert(
    c: Pick<
      RepositoryCredentialEntity,
      'urlPrefix' | 'type' | 'username' | 'secretSealed' | 'knownHosts'
    >,
  ): Promise<void> {
    await this.repo.insert(c);
  }

  list(): Promise<RepositoryCredentialEntity[]> {
    return this.repo.find({ order: { urlPrefix: 'ASC' } });
  }

  findByPrefix(urlPrefix: string): Promise<RepositoryCredentialEntity | null> {
    return this.repo.findOneBy({ urlPrefix });
  }

  async delete(id: string): Promise<void> {
    await this.repo.delete({ id });
  }
}
