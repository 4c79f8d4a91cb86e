// A real Debian guest under libvirt: cloud-init creates the subscriber account `admin` with the
// GECOS `wallet=<address>,nft=<id>` from a NoCloud seed ISO, and the QEMU guest agent (guest-exec)
// reads it and changes it as an NFT transfer would (INTEROP §4). TCG by default, since KVM guests
// hang on the build machines (MACHINE-NOTES); BLOCKHOST_TEST_DOMAIN_TYPE=kvm on real hosts.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogger } from '../../../lib/log.js';
import { ensureGuestImage, type GuestImage } from '../../harness/libvirt/guest-image.js';
import { LibvirtDaemon, virsh } from '../../harness/libvirt/libvirtd.js';
import { blockhostGecos, renderCloudInit } from '../../../controllers/vm/cloud-init.js';
import { writeSeedIso } from '../../../controllers/vm/seed-iso.js';
import { waitFor } from '../../harness/processes.js';

const run = promisify(execFile);
const log = createLogger('guest-boot-test');

const domainType = process.env.BLOCKHOST_TEST_DOMAIN_TYPE ?? 'qemu';
/** The first run builds the guest image (about 2 minutes) before booting (about 1 minute under TCG). */
const TIMEOUT_MS = 10 * 60_000;
const AGENT_TIMEOUT_MS = 4 * 60_000;

const firstOwner = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const nextOwner = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';

interface ExecResult {
  exitcode: number;
  stdout: string;
  stderr: string;
}

const xmlEscape = (value: string) =>
  value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');

function domainXml(options: {
  name: string;
  image: GuestImage;
  overlay: string;
  seedIso: string;
  macAddress: string;
  consoleLog: string;
}): string {
  const { name, image, overlay, seedIso, macAddress, consoleLog } = options;
  return `<domain type='${domainType}'>
  <name>${xmlEscape(name)}</name>
  <memory unit='MiB'>1024</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${xmlEscape(image.kernel)}</kernel>
    <initrd>${xmlEscape(image.initrd)}</initrd>
    <cmdline>root=/dev/vda console=ttyS0</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${xmlEscape(overlay)}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='${xmlEscape(seedIso)}'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <interface type='user'>
      <mac address='${macAddress}'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='${xmlEscape(consoleLog)}'/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
  </devices>
  <!-- The cached base image lives under root's home (mode 0700), which libvirt's default QEMU
       user cannot traverse: run this test guest's QEMU as root instead of relabelling files. -->
  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>
</domain>
`;
}

describe('a Debian guest under libvirt', () => {
  let daemon: LibvirtDaemon | undefined;
  let image: GuestImage;
  let workDir: string | undefined;
  let consoleLog = '';
  const domain = `blockhost-test-${randomBytes(4).toString('hex')}`;
  let defined = false;

  const agent = async <T>(command: object, timeoutSeconds = 30): Promise<T> => {
    const out = await virsh(daemon!.uri, [
      'qemu-agent-command',
      domain,
      '--timeout',
      String(timeoutSeconds),
      JSON.stringify(command),
    ]);
    return (JSON.parse(out) as { return: T }).return;
  };

  /** guest-exec + guest-exec-status until the process has exited; output decoded from base64. */
  const guestExec = async (path: string, args: string[], timeoutMs = 120_000): Promise<ExecResult> => {
    const { pid } = await agent<{ pid: number }>({
      execute: 'guest-exec',
      arguments: { path, arg: args, 'capture-output': true },
    });
    let result: ExecResult | undefined;
    await waitFor(
      `${path} ${args.join(' ')} in the guest`,
      async () => {
        const status = await agent<{
          exited: boolean;
          exitcode?: number;
          signal?: number;
          'out-data'?: string;
          'err-data'?: string;
        }>({ execute: 'guest-exec-status', arguments: { pid } });
        if (!status.exited) return false;
        result = {
          exitcode: status.exitcode ?? -(status.signal ?? 1),
          stdout: Buffer.from(status['out-data'] ?? '', 'base64').toString('utf8'),
          stderr: Buffer.from(status['err-data'] ?? '', 'base64').toString('utf8'),
        };
        return true;
      },
      { timeoutMs, intervalMs: 500 },
    );
    return result!;
  };

  const gecosOf = async (user: string): Promise<string | undefined> => {
    const { exitcode, stdout, stderr } = await guestExec('/usr/bin/getent', ['passwd', user]);
    if (exitcode !== 0) throw new Error(`getent passwd ${user} exited ${exitcode}: ${stderr}`);
    return stdout.trim().split(':')[4];
  };

  const consoleTail = async () =>
    consoleLog ? (await readFile(consoleLog, 'utf8').catch(() => '')).split('\n').slice(-40).join('\n') : '';

  beforeAll(async () => {
    daemon = await LibvirtDaemon.start();
    const buildStart = Date.now();
    image = await ensureGuestImage();
    log.info({ ms: Date.now() - buildStart, dir: image.dir }, 'guest image ready');
    workDir = await mkdtemp(join(tmpdir(), 'blockhost-guest-'));
    consoleLog = join(workDir, 'console.log');
  }, TIMEOUT_MS);

  afterAll(async () => {
    if (daemon && defined) {
      await virsh(daemon.uri, ['destroy', domain]).catch(() => undefined);
      await virsh(daemon.uri, ['undefine', domain]).catch((error: unknown) => {
        log.error({ err: error, domain }, 'undefine failed');
      });
    }
    if (workDir) await rm(workDir, { recursive: true, force: true });
    await daemon?.stop();
  }, 60_000);

  it(
    'boots from a seed ISO; cloud-init creates admin with the owner GECOS; guest-exec changes it',
    async () => {
      const dir = workDir!;
      const overlay = join(dir, 'disk.qcow2');
      const seedIso = join(dir, 'seed.iso');
      const macAddress = `52:54:00:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;

      await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', image.baseImage, overlay]);
      // The product's cloud-init, exactly as every backend renders it (DHCP: no network config).
      await writeSeedIso(
        seedIso,
        renderCloudInit({ name: domain, username: 'admin', ownerWallet: firstOwner, nftTokenId: '1' }),
      );
      const xmlPath = join(dir, 'domain.xml');
      await writeFile(xmlPath, domainXml({ name: domain, image, overlay, seedIso, macAddress, consoleLog }));
      await virsh(daemon!.uri, ['define', xmlPath]);
      defined = true;

      const bootStart = Date.now();
      await virsh(daemon!.uri, ['start', domain]);
      log.info({ ms: Date.now() - bootStart, domain }, 'virsh start returned');

      let stopped: string | undefined;
      await waitFor(
        'the guest agent answering guest-ping',
        async () => {
          try {
            await agent({ execute: 'guest-ping' }, 5);
            return true;
          } catch (error) {
            const state = (await virsh(daemon!.uri, ['domstate', domain]).catch(() => 'unknown')).trim();
            if (state !== 'running') stopped = `domain is ${state}`;
            throw error;
          }
        },
        { timeoutMs: AGENT_TIMEOUT_MS, intervalMs: 2000, abortIf: () => stopped },
      ).catch(async (error: unknown) => {
        throw new Error(`${String(error)}\n--- guest console (last lines) ---\n${await consoleTail()}`, {
          cause: error,
        });
      });
      log.info({ ms: Date.now() - bootStart, domain }, 'guest agent answered guest-ping');

      // The agent starts before cloud-init has finished; wait for cloud-init rather than racing it.
      const cloudInit = await guestExec(
        '/usr/bin/cloud-init',
        ['status', '--wait', '--long'],
        AGENT_TIMEOUT_MS,
      );
      log.info(
        { ms: Date.now() - bootStart, exitcode: cloudInit.exitcode, status: cloudInit.stdout.trim() },
        'cloud-init finished',
      );

      // 0: done without errors (1: errors, 2: recoverable errors such as deprecated keys).
      expect({ exitcode: cloudInit.exitcode, status: cloudInit.stdout }).toMatchObject({ exitcode: 0 });
      expect(await gecosOf('admin')).toBe(blockhostGecos(firstOwner, '1'));

      const usermod = await guestExec('/usr/sbin/usermod', ['-c', blockhostGecos(nextOwner, '2'), 'admin']);
      expect(usermod).toMatchObject({ exitcode: 0 });
      expect(await gecosOf('admin')).toBe(blockhostGecos(nextOwner, '2'));
      // And the guest really has the account, not just a passwd line: its home was made.
      const home = await guestExec('/usr/bin/stat', ['-c', '%U', '/home/admin']);
      expect(home.stdout.trim()).toBe('admin');

      await virsh(daemon!.uri, ['destroy', domain]);
      await virsh(daemon!.uri, ['undefine', domain]);
      defined = false;
      await rm(overlay);
    },
    TIMEOUT_MS,
  );
});
