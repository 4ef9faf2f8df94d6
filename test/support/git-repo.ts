import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { GIT_OPTIONS, gitEnv } from '../../libs/git/src/index.js';

/** A real git repository on disk that a test commits to. */
export class TestRepo {
  private constructor(
    readonly dir: string,
    private readonly git: SimpleGit,
  ) {}

  static async create(prefix = 'axle-repo-'): Promise<TestRepo> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    const git = simpleGit({ ...GIT_OPTIONS, baseDir: dir }).env(gitEnv());
    await git.init(['--initial-branch=main']);
    await git.addConfig('user.name', 'Axle Test');
    await git.addConfig('user.email', 'test@axle.local');
    await git.addConfig('commit.gpgsign', 'false');
    return new TestRepo(dir, git);
  }

  get fileUrl(): string {
    return `file://${this.dir}`;
  }

  /** Writes (or, with `null`, deletes) files and commits them; returns the commit SHA. */
  async commit(files: Record<string, string | null>, message = 'update'): Promise<string> {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.dir, path);
      if (content === null) {
        await rm(full, { force: true });
      } else {
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, content);
      }
    }
    await this.git.raw(['add', '-A']);
    await this.git.commit(message, { '--allow-empty': null });
    return (await this.git.revparse(['HEAD'])).trim();
  }

  /** Switches to `branch`, creating it at HEAD when it does not exist. */
  async checkout(branch: string): Promise<void> {
    const exists = (await this.git.branchLocal()).all.includes(branch);
    await this.git.raw(exists ? ['checkout', branch] : ['checkout', '-b', branch]);
  }

  async tag(name: string): Promise<void> {
    await this.git.addTag(name);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
