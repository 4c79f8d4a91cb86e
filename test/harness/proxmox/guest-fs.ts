// The guest's filesystem, as far as the agent's file-read/file-write and cloud-init touch it: files
// and directories by absolute path. `/run` is a tmpfs: empty after every boot until systemd-tmpfiles
// (or cloud-init's bootcmd) re-creates directories in it. Errors carry the strerror texts QGA reports.
import { posix } from 'node:path';

/** Directories of the base image that BlockHost's cloud-init and the tests rely on. */
const IMAGE_DIRS = ['/', '/etc', '/etc/tmpfiles.d', '/home', '/root', '/run', '/tmp', '/usr', '/var'];
const TMPFS = '/run';
const TMPFILES_DIR = '/etc/tmpfiles.d';

/** A failed file operation; `message` is the strerror text (QGA appends it to its own). */
export class GuestFsError extends Error {}

const parentOf = (path: string) => path.slice(0, path.lastIndexOf('/')) || '/';
const inTmpfs = (path: string) => path.startsWith(`${TMPFS}/`);
/** QGA hands the path to open() as it is; its working directory is `/`. */
const normalize = (path: string) => posix.resolve('/', path);

export class GuestFilesystem {
  private readonly files = new Map<string, Buffer>();
  private readonly dirs = new Set<string>(IMAGE_DIRS);

  copy(): GuestFilesystem {
    const copy = new GuestFilesystem();
    for (const [path, data] of this.files) copy.files.set(path, Buffer.from(data));
    for (const dir of this.dirs) copy.dirs.add(dir);
    return copy;
  }

  /** open(path, O_RDONLY) and read it all. */
  read(path: string): Buffer {
    const data = this.files.get(normalize(path));
    if (data) return data;
    if (this.dirs.has(normalize(path))) throw new GuestFsError('Is a directory');
    throw new GuestFsError('No such file or directory');
  }

  /** open(path, O_WRONLY|O_CREAT|O_TRUNC): the directory must exist. */
  write(path: string, data: Buffer): void {
    const file = normalize(path);
    if (this.dirs.has(file)) throw new GuestFsError('Is a directory');
    if (!this.dirs.has(parentOf(file))) throw new GuestFsError('No such file or directory');
    this.files.set(file, Buffer.from(data));
  }

  /** mkdir -p, as cloud-init's write_files and systemd-tmpfiles create missing parents. */
  mkdirp(path: string): void {
    const dir = normalize(path);
    if (this.files.has(dir)) throw new GuestFsError('Not a directory');
    if (dir !== '/') this.mkdirp(parentOf(dir));
    this.dirs.add(dir);
  }

  /**
   * A boot: the tmpfs starts empty, then systemd-tmpfiles-setup.service creates the directories of
   * every /etc/tmpfiles.d/*.conf.
   */
  boot(): void {
    for (const path of this.files.keys()) if (inTmpfs(path)) this.files.delete(path);
    for (const dir of this.dirs) if (inTmpfs(dir)) this.dirs.delete(dir);
    for (const path of [...this.files.keys()].sort())
      if (parentOf(path) === TMPFILES_DIR && path.endsWith('.conf')) this.tmpfilesCreate(path);
  }

  /**
   * `systemd-tmpfiles --create <config>`, for the `d` lines BlockHost writes (path, mode, owner,
   * group, age); other line types are not modelled and are ignored.
   */
  tmpfilesCreate(config: string): void {
    for (const line of this.read(config).toString('utf8').split('\n')) {
      const [type, path] = line.trim().split(/\s+/);
      if (type === 'd' && path?.startsWith('/')) this.mkdirp(path);
    }
  }
}
