// iso/build.sh on a small netinst-like ISO the test builds itself (no download site is reachable
// here): boot catalog, boot menus, payload and checksums of the result, then the chain the real
// install runs: the preseed's late-command from the ISO into a target root, and first boot there.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes, type ResourceType } from '../../../lib/kube/resource-types.js';
import {
  ensureControlPlaneBinaries,
  type ControlPlaneBinaries,
} from '../../harness/control-plane/binaries.js';
import { installScripts, repoDir, run, runOk } from '../../harness/install/scripts.js';
import { deleteNamespace, testClient } from '../../harness/kube.js';

const ARGS = 'auto=true priority=critical preseed/file=/cdrom/preseed.cfg blockhost.backend=kubevirt';
// A public key only (no secret): the format build.sh and sshd expect.
const SSH_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBlockHostTestKeyNotARealOneAAAAAAAAAAAAAAAA operator@test\n';
const nodeType: ResourceType = { group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false };

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('iso/build.sh', () => {
  let binaries: ControlPlaneBinaries;
  let scratch: string;
  let netinst: string;
  let payload: string;
  let iso: string;
  let tree: string;
  let passwordHash: string;
  let buildSeconds: number;

  beforeAll(async () => {
    binaries = await ensureControlPlaneBinaries();
    scratch = await mkdtemp(join(tmpdir(), 'bh-iso-'));
    netinst = join(scratch, 'debian-12-netinst-standin.iso');
    payload = join(scratch, 'payload');
    iso = join(scratch, 'out', 'blockhost.iso');
    tree = join(scratch, 'extracted');
    await runOk(installScripts.makeNetinst, [netinst]);
    await runOk(installScripts.makePayload, [payload, binaries.helm]);
    await writeFile(join(scratch, 'key.pub'), SSH_KEY);
    passwordHash = (
      await runOk('openssl', ['passwd', '-6', '-salt', 'blockhosttest', 'not-a-real-password'])
    ).stdout.trim();

    const started = process.hrtime.bigint();
    const build = await run(installScripts.buildIso, [
      ...['--netinst', netinst, '--payload', payload, '--out', iso, '--backend', 'kubevirt'],
      ...['--ssh-key', join(scratch, 'key.pub'), '--password-hash', passwordHash],
    ]);
    buildSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (build.code !== 0) throw new Error(`build.sh failed:\n${build.stderr}`);
    console.log(`test ISO build time: ${buildSeconds.toFixed(2)} s (${(await stat(iso)).size} bytes)`);
    await runOk('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', tree]);
  });

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('keeps BIOS and UEFI boot and the hybrid layout', async () => {
    expect(buildSeconds).toBeLessThan(60);
    const report = (
      await runOk('xorriso', ['-indev', iso, '-report_el_torito', 'plain', '-report_system_area', 'plain'])
    ).stdout;
    expect(report).toMatch(/El Torito boot img :\s+1\s+BIOS\s+y\s+none\s+0x0000\s+0x00\s+4\s/);
    expect(report).toMatch(/El Torito boot img :\s+2\s+UEFI\s+y\s+none/);
    expect(report).toMatch(/El Torito img path :\s+1\s+\/isolinux\/isolinux\.bin/);
    expect(report).toMatch(/El Torito img opts :\s+1\s+boot-info-table/);
    expect(report).toMatch(/El Torito img path :\s+2\s+\/boot\/grub\/efi\.img/);
    expect(report).toMatch(/El Torito cat path :\s+\/isolinux\/boot\.cat/);
    expect(report).toMatch(/System area summary: MBR isohybrid .*GPT/);
    const info = (await runOk('isoinfo', ['-d', '-i', iso])).stdout;
    expect(info).toMatch(/Volume id: BLOCKHOST/);
  });

  it('puts "Install BlockHost (automated)" first and default in the isolinux menu', async () => {
    const menu = await readFile(join(tree, 'isolinux/menu.cfg'), 'utf8');
    expect(menu.split('\n').filter((l) => l.startsWith('include '))[0]).toBe('include blockhost.cfg');
    const entry = await readFile(join(tree, 'isolinux/blockhost.cfg'), 'utf8');
    expect(entry).toContain('menu label ^Install BlockHost (automated)');
    expect(entry).toContain('menu default');
    expect(entry).toContain('kernel /install.amd/vmlinuz');
    expect(entry).toContain(`append ${ARGS} vga=788 initrd=/install.amd/initrd.gz --- quiet`);
    // Debian's own "menu default" (Graphical install) is gone, its entries stay.
    const gtk = await readFile(join(tree, 'isolinux/gtk.cfg'), 'utf8');
    expect(gtk).toContain('label installgui');
    expect(gtk).not.toMatch(/menu default/);
    expect(await readFile(join(tree, 'isolinux/isolinux.cfg'), 'utf8')).toMatch(/^timeout 100$/m);
  });

  it('puts the same entry first in the UEFI grub menu, with a timeout', async () => {
    const grub = await readFile(join(tree, 'boot/grub/grub.cfg'), 'utf8');
    const entries = grub.split('\n').filter((l) => /^\s*menuentry /.test(l));
    expect(entries[0]).toBe("menuentry 'Install BlockHost (automated)' {");
    expect(entries).toHaveLength(3);
    expect(grub).toContain(
      `linux    /install.amd/vmlinuz ${ARGS} vga=788 --- quiet\n    initrd   /install.amd/initrd.gz\n`,
    );
    expect(grub.indexOf('set default=0')).toBeLessThan(grub.indexOf('menuentry'));
    expect(grub).toMatch(/^set timeout=10$/m);
  });

  it('carries the preseed (with the password hash), the first-boot scripts and the payload unchanged', async () => {
    const preseed = await readFile(join(tree, 'preseed.cfg'), 'utf8');
    const original = await readFile(installScripts.preseed, 'utf8');
    expect(preseed).toBe(
      original.replace(
        'd-i passwd/user-password-crypted password !',
        `d-i passwd/user-password-crypted password ${passwordHash}`,
      ),
    );
    const check = await run('debconf-set-selections', ['--checkonly', join(tree, 'preseed.cfg')]);
    expect([check.code, check.stderr]).toEqual([0, '']);

    for (const script of [
      'firstboot.sh',
      'lib.sh',
      'blockhost-setup-code',
      'blockhost-bridge',
      'blockhost-host-facts',
      'blockhost-network-sync',
      'blockhost-firstboot.service',
      'blockhost-network-sync.service',
      'blockhost-network-sync.timer',
    ])
      expect(await readFile(join(tree, 'blockhost/k3s', script))).toEqual(
        await readFile(join(repoDir, 'k3s', script)),
      );
    expect(await readFile(join(tree, 'blockhost/late-command.sh'))).toEqual(
      await readFile(installScripts.lateCommand),
    );
    expect(await readFile(join(tree, 'blockhost/erase-disk-confirm.sh'))).toEqual(
      await readFile(installScripts.eraseDiskConfirm),
    );
    expect(await readFile(join(tree, 'blockhost/erase-disk-confirm.templates'))).toEqual(
      await readFile(installScripts.eraseDiskTemplates),
    );
    // Built without --unattended-erase: the install asks before it erases the disk.
    expect(existsSync(join(tree, 'blockhost/unattended-erase'))).toBe(false);
    expect(await readFile(join(tree, 'blockhost/authorized_keys'), 'utf8')).toBe(SSH_KEY);
    const payloadFiles = await filesUnder(payload);
    expect(await filesUnder(join(tree, 'blockhost/artifacts'))).toEqual(payloadFiles);
    for (const file of payloadFiles)
      expect(await readFile(join(tree, 'blockhost/artifacts', file))).toEqual(
        await readFile(join(payload, file)),
      );
  });

  it('lists every file in md5sum.txt with its right checksum', async () => {
    // Run where the installer runs it: relative to the root of the medium.
    const verified = await runOk('sh', ['-c', `cd "${tree}" && md5sum --check --strict --quiet md5sum.txt`]);
    expect(verified.stdout).toBe('');
    const listed = (await readFile(join(tree, 'md5sum.txt'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => l.replace(/^[0-9a-f]{32} {2}\.\//, ''))
      .sort();
    const expected = (await filesUnder(tree)).filter(
      (f) => !['md5sum.txt', 'isolinux/boot.cat', 'isolinux/isolinux.bin'].includes(f),
    );
    expect(listed).toEqual(expected);
    expect(listed).toEqual(
      expect.arrayContaining(['preseed.cfg', 'blockhost/k3s/firstboot.sh', 'boot/grub/grub.cfg']),
    );
  });

  it('installs like the real installer would: late-command from the ISO into a target, then first boot there', async () => {
    const kube: KubeClient = testClient();
    const id = randomBytes(3).toString('hex');
    const target = join(scratch, 'target');
    const namespace = `iso-chain-${id}`;
    const node = `iso-chain-node-${id}`;
    await mkdir(join(target, 'etc'), { recursive: true });
    await writeFile(
      join(target, 'etc/passwd'),
      'root:x:0:0:root:/root:/bin/bash\nblockhost:x:1000:1000:BlockHost operator:/home/blockhost:/bin/bash\n',
    );
    // The installer's kernel command line, as the grub entry on the ISO sets it.
    const grub = await readFile(join(tree, 'boot/grub/grub.cfg'), 'utf8');
    const linux = /linux\s+(\/install\.amd\/vmlinuz .*)$/m.exec(grub)?.[1] ?? '';
    await writeFile(join(scratch, 'cmdline'), `BOOT_IMAGE=${linux}\n`);

    await runOk('sh', [
      join(tree, 'blockhost/late-command.sh'),
      join(tree, 'blockhost'),
      target,
      join(scratch, 'cmdline'),
    ]);
    expect(await readFile(join(target, 'etc/blockhost/firstboot.env'), 'utf8')).toContain(
      'BLOCKHOST_BACKEND=kubevirt\n',
    );
    expect(await readFile(join(target, 'etc/systemd/system/blockhost-firstboot.service'), 'utf8')).toContain(
      'ExecStart=/opt/blockhost/k3s/firstboot.sh',
    );
    expect((await stat(join(target, 'opt/blockhost/k3s/firstboot.sh'))).mode & 0o111).toBe(0o111);
    for (const command of [
      'blockhost-setup-code',
      'blockhost-bridge',
      'blockhost-host-facts',
      'blockhost-network-sync',
    ])
      expect((await runOk('readlink', [join(target, 'usr/local/sbin', command)])).stdout.trim()).toBe(
        `/opt/blockhost/k3s/${command}`,
      );
    // The network sync timer is enabled (as systemctl enable would) and its service installed.
    expect(
      (
        await runOk('readlink', [
          join(target, 'etc/systemd/system/timers.target.wants/blockhost-network-sync.timer'),
        ])
      ).stdout.trim(),
    ).toBe('/etc/systemd/system/blockhost-network-sync.timer');
    expect(
      await readFile(join(target, 'etc/systemd/system/blockhost-network-sync.service'), 'utf8'),
    ).toContain('ExecStart=/usr/local/sbin/blockhost-network-sync');
    expect((await stat(join(target, 'opt/blockhost/k3s/blockhost-network-sync'))).mode & 0o111).toBe(0o111);
    const keys = await stat(join(target, 'home/blockhost/.ssh/authorized_keys'));
    expect([keys.mode & 0o777, keys.uid, keys.gid]).toEqual([0o600, 1000, 1000]);

    try {
      const firstboot = await run(join(target, 'opt/blockhost/k3s/firstboot.sh'), [], {
        env: {
          BLOCKHOST_ROOT: target,
          BLOCKHOST_NAMESPACE: namespace,
          BLOCKHOST_NODE_NAME: node,
          FAKE_K3S_RECORD: join(scratch, 'k3s-invocations'),
          FAKE_K3S_KUBECTL: binaries.kubectl,
          FAKE_K3S_NODE_DELAY: '1',
        },
      });
      expect(firstboot.stderr).toContain('first boot complete');
      expect(firstboot.code).toBe(0);
      const secret = await kube.get<KubeObject & { data: Record<string, string> }>(
        coreTypes.secret,
        'blockhost-setup-code',
        namespace,
      );
      const code = Buffer.from(secret.data.code ?? '', 'base64').toString();
      expect(await readFile(join(target, 'etc/issue'), 'utf8')).toContain(`One-time code: ${code}`);
      expect(existsSync(join(target, 'var/lib/rancher/k3s/server/manifests/blockhost.yaml'))).toBe(true);
    } finally {
      await deleteNamespace(kube, namespace);
      await kube.delete(nodeType, node).catch(() => undefined);
    }

    const otherTarget = join(scratch, 'other-target');
    await mkdir(join(otherTarget, 'etc'), { recursive: true });
    const badCmdline = join(scratch, 'bad-cmdline');
    await writeFile(badCmdline, 'blockhost.backend=vmware quiet\n');
    const lateCommand = join(tree, 'blockhost/late-command.sh');
    const bad = await run('sh', [lateCommand, join(tree, 'blockhost'), otherTarget, badCmdline]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('unknown blockhost.backend=vmware');
    const noTarget = await run('sh', [lateCommand, join(tree, 'blockhost'), join(scratch, 'no-target')]);
    expect(noTarget.stderr).toContain('does not look like the installed system');
    expect(await filesUnder(otherTarget)).toEqual([]);
  });

  it('with --unattended-erase marks the ISO to erase the first disk without asking', async () => {
    const out = join(scratch, 'unattended.iso');
    const extracted = join(scratch, 'unattended');
    await runOk(installScripts.buildIso, [
      ...['--netinst', netinst, '--payload', payload, '--out', out],
      ...['--ssh-key', join(scratch, 'key.pub'), '--unattended-erase'],
    ]);
    await runOk('xorriso', ['-osirrox', 'on', '-indev', out, '-extract', '/blockhost', extracted]);
    expect(await readFile(join(extracted, 'unattended-erase'), 'utf8')).toContain('--unattended-erase');
    await rm(out);
  });

  it('refuses bad input with a clear message and writes no ISO', async () => {
    const out = join(scratch, 'refused.iso');
    const incomplete = join(scratch, 'incomplete');
    await runOk('cp', ['-R', payload, incomplete]);
    await rm(join(incomplete, 'k3s'));
    const key = ['--ssh-key', join(scratch, 'key.pub')];
    const good = ['--netinst', netinst, '--payload', payload, '--out', out];
    const cases: [string[], string][] = [
      [['--netinst', netinst, '--payload', incomplete, '--out', out, ...key], 'lacks: k3s'],
      [good, 'give --ssh-key and/or --password-hash'],
      [[...good, '--password-hash', 'secret'], 'is not a crypt(3) hash'],
      [[...good, ...key, '--backend', 'vmware'], '--backend must be'],
      [['--netinst', iso, '--payload', payload, '--out', out, ...key], 'already has the BlockHost entry'],
      [
        ['--netinst', join(scratch, 'missing.iso'), '--payload', payload, '--out', out, ...key],
        'netinst ISO not found',
      ],
      [['--payload'], '--payload needs a value'],
    ];
    for (const [args, message] of cases) {
      const result = await run(installScripts.buildIso, args);
      expect([result.code === 0, result.stderr]).toEqual([false, expect.stringContaining(message)]);
    }
    expect(existsSync(out)).toBe(false);
  });
});
