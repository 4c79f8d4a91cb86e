// The simulator's virt-launcher virsh and qemu-ga: what they answer, and that the KubeVirt driver's
// transport reads those answers the way it reads the real ones.
import { describe, expect, it } from '@jest/globals';
import { BackendError, GuestAgentUnavailableError } from '../../../controllers/vm/backend.js';
import { virshAgentTransport } from '../../../controllers/vm/backends/kubevirt/virsh-agent.js';
import { execThroughAgent, readFileThroughAgent } from '../../../controllers/vm/guest-agent.js';
import { GuestAgent } from '../../harness/kubevirt/qga.js';
import { virsh, type LauncherDomain } from '../../harness/kubevirt/virsh.js';
import { SimulatedGuest } from '../../harness/proxmox/guest.js';

const URI = 'qemu+unix:///session?socket=/var/run/libvirt/virtqemud-sock';
const DOMAIN = 'vms_blockhost-001';

function booted(): { guest: SimulatedGuest; domain: LauncherDomain } {
  const guest = new SimulatedGuest();
  guest.boot({
    metaData: 'instance-id: 1\n',
    userData: [
      '#cloud-config',
      'users: [{name: admin, gecos: "wallet=0xabc"}]',
      'bootcmd: [[install, -d, -m, "0700", /run/libpam-web3, /run/libpam-web3/pending]]',
      'write_files: [{path: /etc/motd, content: hello}]',
    ].join('\n'),
  });
  return { guest, domain: { name: DOMAIN, running: true, agent: new GuestAgent(guest) } };
}

const argv = (command: object | string, overrides: Partial<Record<number, string>> = {}) => {
  const args = ['virsh', '-c', URI, 'qemu-agent-command', DOMAIN, '--timeout', '30'];
  args.push(typeof command === 'string' ? command : JSON.stringify(command));
  for (const [at, value] of Object.entries(overrides)) args[Number(at)] = value!;
  return args;
};

/** The reply's `return`, failing the test on a virsh error. */
function send(domain: LauncherDomain, execute: string, args?: object): unknown {
  const output = virsh(argv({ execute, ...(args && { arguments: args }) }), domain);
  expect(output).toMatchObject({ exitCode: 0, stderr: '' });
  return (JSON.parse(output.stdout) as { return: unknown }).return;
}

const stderrOf = (command: string[], domain: LauncherDomain) => {
  const output = virsh(command, domain);
  expect(output.exitCode).toBe(1);
  return output.stderr.trim();
};

describe('virsh qemu-agent-command in the simulated virt-launcher', () => {
  it('guest-exec runs a program in the guest; guest-exec-status reports it once, output base64', () => {
    const { domain } = booted();
    const { pid } = send(domain, 'guest-exec', {
      path: '/usr/bin/getent',
      arg: ['passwd', 'admin'],
      'capture-output': true,
    }) as { pid: number };
    const status = send(domain, 'guest-exec-status', { pid }) as Record<string, unknown>;
    expect(status).toMatchObject({ exited: true, exitcode: 0 });
    expect(Buffer.from(status['out-data'] as string, 'base64').toString()).toBe(
      'admin:x:1000:1000:wallet=0xabc:/home/admin:/bin/sh\n',
    );
    expect(stderrOf(argv({ execute: 'guest-exec-status', arguments: { pid } }), domain)).toBe(
      "error: internal error: unable to execute QEMU agent command 'guest-exec-status': Invalid parameter 'pid'",
    );
  });

  it('the driver transport runs usermod and reads input-data', async () => {
    const { guest, domain } = booted();
    const transport = virshAgentTransport(async (command) => virsh(command, domain), DOMAIN);
    const usermod = { path: '/usr/sbin/usermod', args: ['-c', 'wallet=0xdef', 'admin'] };
    expect(await execThroughAgent(transport, usermod)).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    expect(guest.users().find((u) => u.name === 'admin')?.gecos).toBe('wallet=0xdef');
    expect((await execThroughAgent(transport, { path: 'cat', input: 'piped' })).stdout).toBe('piped');
  });

  it("guest-file-open of a missing file fails with QGA's strerror inside virsh's error", () => {
    const { domain } = booted();
    expect(stderrOf(argv({ execute: 'guest-file-open', arguments: { path: '/x', mode: 'r' } }), domain)).toBe(
      "error: internal error: unable to execute QEMU agent command 'guest-file-open': " +
        "failed to open file '/x' (mode: 'r'): No such file or directory",
    );
  });

  it('cloud-init ran at boot: write_files are there, bootcmd made the pending directory', () => {
    const { guest, domain } = booted();
    const handle = send(domain, 'guest-file-open', { path: '/etc/motd' }) as number;
    expect(send(domain, 'guest-file-read', { handle })).toEqual({
      count: 5,
      'buf-b64': Buffer.from('hello').toString('base64'),
      eof: true,
    });
    expect(send(domain, 'guest-file-close', { handle })).toEqual({});
    expect(() => guest.files.write('/run/libpam-web3/pending/a.json', Buffer.from('{}'))).not.toThrow();
  });

  it('guest-file-write truncates and writes; reads come in counts, eof only after a short read', () => {
    const { guest, domain } = booted();
    guest.files.write('/tmp/f', Buffer.from('old content'));
    const w = send(domain, 'guest-file-open', { path: '/tmp/f', mode: 'w' }) as number;
    const data = Buffer.from('abcd').toString('base64');
    expect(send(domain, 'guest-file-write', { handle: w, 'buf-b64': data })).toEqual({
      count: 4,
      eof: false,
    });
    send(domain, 'guest-file-close', { handle: w });
    expect(guest.files.read('/tmp/f').toString()).toBe('abcd');

    const r = send(domain, 'guest-file-open', { path: '/tmp/f', mode: 'r' }) as number;
    expect(send(domain, 'guest-file-read', { handle: r, count: 4 })).toMatchObject({ count: 4, eof: false });
    expect(send(domain, 'guest-file-read', { handle: r, count: 4 })).toEqual({
      count: 0,
      'buf-b64': '',
      eof: true,
    });
    send(domain, 'guest-file-close', { handle: r });
    expect(stderrOf(argv({ execute: 'guest-file-close', arguments: { handle: r } }), domain)).toMatch(
      /'guest-file-close': handle '\d+' has not been found$/,
    );
  });

  it('the driver reads a missing file as undefined and a directory as an error', async () => {
    const { domain } = booted();
    const transport = virshAgentTransport(async (command) => virsh(command, domain), DOMAIN);
    expect(await readFileThroughAgent(transport, '/nope', 100)).toBeUndefined();
    await expect(readFileThroughAgent(transport, '/etc', 100)).rejects.toThrow(
      /failed to read file: Is a directory/,
    );
  });

  it('refuses any other command line as virsh does', () => {
    const { domain } = booted();
    const ping = { execute: 'guest-ping' };
    expect(stderrOf(argv(ping, { 2: 'qemu:///system' }), domain)).toMatch(
      /^error: failed to connect to the hypervisor\nerror: Failed to connect socket to '\/var\/run\/libvirt\/libvirt-sock'/,
    );
    expect(stderrOf(argv(ping, { 3: 'qemu-monitor-command' }), domain)).toBe(
      "error: unknown command: 'qemu-monitor-command'",
    );
    expect(stderrOf(argv(ping, { 4: 'other_vm' }), domain)).toBe("error: failed to get domain 'other_vm'");
    expect(stderrOf(argv(ping, { 5: '--async' }), domain)).toBe(
      "error: command 'qemu-agent-command' doesn't support option --async",
    );
    expect(stderrOf(argv(ping, { 6: 'soon' }), domain)).toBe(
      "error: Numeric value 'soon' for <timeout> option is malformed or out of range",
    );
    expect(stderrOf([...argv(ping), 'extra'], domain)).toMatch(/doesn't support option/);
    expect(stderrOf(argv('{not json'), domain)).toMatch(
      /^error: internal error: cannot parse json \{not json/,
    );
    expect(stderrOf(argv({ execute: 'guest-shutdown' }), domain)).toBe(
      "error: internal error: unable to execute QEMU agent command 'guest-shutdown': " +
        'The command guest-shutdown has not been found',
    );
    expect(() => virsh(['sh', '-c', 'true'], domain)).toThrow(/only virsh/);
  });

  it('a stopped domain or a disconnected agent: errors the driver reads as GuestAgentUnavailable', async () => {
    const { domain } = booted();
    const ping = { execute: 'guest-ping' };
    for (const down of [
      { ...domain, agent: undefined },
      { ...domain, running: false },
    ]) {
      const transport = virshAgentTransport(async (command) => virsh(command, down), DOMAIN);
      await expect(transport(ping)).rejects.toBeInstanceOf(GuestAgentUnavailableError);
    }
    expect(stderrOf(argv(ping), { ...domain, agent: undefined })).toBe(
      'error: Guest agent is not responding: QEMU guest agent is not connected',
    );
    const wrongDomain = virshAgentTransport(async (command) => virsh(command, domain), 'vms_other');
    const error = await wrongDomain(ping).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect(error).not.toBeInstanceOf(GuestAgentUnavailableError);
  });
});
