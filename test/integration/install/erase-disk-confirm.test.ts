// preseed/erase-disk-confirm.sh, the automated install's one question, run against Debian's own
// debconf (the teletype frontend reading the operator's answers from stdin) in a private database.
// The Debian installer's cdebconf speaks the same confmodule protocol; its `list-devices` exists
// only in the installer, so a stand-in prints a real block device of this machine.
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { installScripts, run, runOk } from '../../harness/install/scripts.js';

/** The question partman-auto owns in the installer, which the script answers. */
const PARTMAN_TEMPLATE = 'Template: partman-auto/disk\nType: string\nDescription: disk to partition\n';

describe('preseed/erase-disk-confirm.sh', () => {
  let dir: string;
  let source: string;
  let env: Record<string, string>;
  let disk: { path: string; gib: number };

  /** Runs a confmodule script under the private debconf database. */
  const debconfScript = async (name: string, body: string) => {
    const file = join(dir, name);
    await writeFile(file, `#!/bin/sh\nset -e\n. /usr/share/debconf/confmodule\n${body}\n`);
    await chmod(file, 0o755);
    return file;
  };
  const confirm = (answers: string[] | undefined, extraEnv: Record<string, string> = {}) =>
    run('sh', [installScripts.eraseDiskConfirm, source], {
      env: { ...env, ...extraEnv },
      ...(answers && { input: answers.map((a) => `${a}\n`).join('') }),
    });
  const chosenDisk = async () => {
    // A confmodule script's stdout is debconf's protocol pipe: the answer goes to a file.
    const answer = join(dir, 'chosen-disk');
    const show = await debconfScript('show.sh', `db_get partman-auto/disk; printf %s "$RET" >${answer}`);
    await runOk(show, [], { env });
    return readFile(answer, 'utf8');
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bh-erase-confirm-'));
    source = join(dir, 'cdrom-blockhost');
    await runOk('mkdir', ['-p', source, join(dir, 'bin')]);
    await runOk('cp', [installScripts.eraseDiskTemplates, source]);
    await writeFile(
      join(dir, 'debconf.conf'),
      [
        'Config: configdb',
        'Templates: templatedb',
        '',
        'Name: configdb',
        'Driver: File',
        `Filename: ${join(dir, 'config.dat')}`,
        '',
        'Name: templatedb',
        'Driver: File',
        `Filename: ${join(dir, 'templates.dat')}`,
        '',
      ].join('\n'),
    );
    const name = (await readdir('/sys/block')).filter((d) => !/^(loop|ram|zram|sr)/.test(d)).sort()[0];
    if (!name) throw new Error('this machine has no block device to describe');
    const sectors = Number((await readFile(`/sys/class/block/${name}/size`, 'utf8')).trim());
    disk = { path: `/dev/${name}`, gib: Math.floor(sectors / 2097152) };
    await writeFile(join(dir, 'bin', 'list-devices'), `#!/bin/sh\n[ "$1" = disk ] && echo ${disk.path}\n`);
    await chmod(join(dir, 'bin', 'list-devices'), 0o755);
    env = {
      DEBCONF_SYSTEMRC: join(dir, 'debconf.conf'),
      DEBIAN_FRONTEND: 'teletype',
      DEBIAN_PRIORITY: 'critical',
      PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`,
    };
    await writeFile(join(dir, 'partman.templates'), PARTMAN_TEMPLATE);
    await runOk(
      await debconfScript('load.sh', `db_x_loadtemplatefile ${join(dir, 'partman.templates')} d-i`),
      [],
      {
        env,
      },
    );
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('shows the first disk and chooses it only once the operator types Understood', async () => {
    const result = await confirm(['yes', 'understood', 'Understood']);
    expect(result.code).toBe(0);
    expect(result.stdout.match(/Type Understood to erase/g)).toHaveLength(3);
    expect(result.stdout).toContain(`Type Understood to erase ${disk.path}, ${disk.gib} GiB`);
    expect(result.stderr).toContain(`the operator confirmed erasing ${disk.path}`);
    expect(await chosenDisk()).toBe(disk.path);
  });

  it('stops the install after five other answers, with no disk chosen', async () => {
    const result = await confirm(['yes', 'y', 'ok', 'UNDERSTOOD', '']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("5 answers were not 'Understood': nothing was erased");
    expect(await chosenDisk()).toBe('');
  });

  it('does not take the answer from a preseed: a preseeded Understood still asks', async () => {
    const preseed = join(dir, 'preseed.cfg');
    await writeFile(preseed, 'd-i blockhost/erase-disk string Understood\n');
    await runOk('debconf-set-selections', [preseed], { env });
    const result = await confirm(['no', 'no', 'no', 'no', 'no']);
    expect(result.code).toBe(1);
    expect(result.stdout.match(/Type Understood to erase/g)).toHaveLength(5);
    expect(result.stderr).toContain("5 answers were not 'Understood'");
    expect(await chosenDisk()).toBe('');
  });

  it('stops the install when the frontend cannot ask (nobody could confirm)', async () => {
    const result = await confirm(undefined, { DEBIAN_FRONTEND: 'noninteractive' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot ask (noninteractive frontend): nothing was erased');
    expect(await chosenDisk()).toBe('');
  });

  it('erases without asking on an ISO built with --unattended-erase', async () => {
    await writeFile(join(source, 'unattended-erase'), 'built with iso/build.sh --unattended-erase\n');
    const result = await confirm(undefined);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('Type Understood');
    expect(result.stderr).toContain('unattended: erasing');
    expect(await chosenDisk()).toBe(disk.path);
  });

  it('refuses a source without its templates, before anything is asked', async () => {
    const result = await run('sh', [installScripts.eraseDiskConfirm, join(dir, 'nowhere')], { env });
    expect([result.code, result.stderr]).toEqual([
      1,
      expect.stringContaining('has no erase-disk-confirm.templates'),
    ]);
  });
});
