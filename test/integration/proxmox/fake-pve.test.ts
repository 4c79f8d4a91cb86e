// The fake PVE API itself, spoken to over raw HTTP: it must refuse what real PVE refuses, with
// PVE's texts, or the driver tests would prove nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent, fetch, FormData } from 'undici';
import type { ProxmoxBackend } from '../../../controllers/vm/backends/proxmox/backend.js';
import { DEFAULT_TOKEN, FakeProxmox } from '../../harness/proxmox/fake-pve.js';
import { waitFor } from '../../harness/processes.js';
import { backendFor, desiredVm } from './fixtures.js';

interface Answer {
  status: number;
  statusText: string;
  data: unknown;
  message?: string;
  errors?: Record<string, string>;
}

const UPID = /^UPID:pve:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:[a-z]+:[^:\s]*:blockhost@pve!controller:$/;

/** Raw HTTP access to one fake: requests, task waits, clones of template 9000. */
function clientOf(fake: FakeProxmox) {
  const agent = new Agent({ connect: { ca: fake.ca } });

  async function pve(
    method: string,
    path: string,
    body?: Record<string, unknown> | FormData,
    authorization = `PVEAPIToken=${DEFAULT_TOKEN.tokenId}=${DEFAULT_TOKEN.secret}`,
  ): Promise<Answer> {
    const json = body !== undefined && !(body instanceof FormData);
    const response = await fetch(fake.url + path, {
      method,
      dispatcher: agent,
      headers: { authorization, ...(json && { 'content-type': 'application/json' }) },
      body: json ? JSON.stringify(body) : body,
    });
    const parsed = (await response.json()) as Omit<Answer, 'status' | 'statusText'>;
    return { status: response.status, statusText: response.statusText, ...parsed };
  }

  /** Waits for a task and returns its exit status. */
  async function exitStatus(upid: unknown): Promise<string> {
    expect(upid).toMatch(UPID);
    let task: { status: string; exitstatus?: string } = { status: 'running' };
    await waitFor('the task', async () => {
      task = (await pve('GET', `/nodes/pve/tasks/${encodeURIComponent(upid as string)}/status`))
        .data as typeof task;
      return task.status === 'stopped';
    });
    return task.exitstatus!;
  }

  async function clone(newid: number, extra: Record<string, unknown> = {}): Promise<unknown> {
    return (
      await pve('POST', '/nodes/pve/qemu/9000/clone', { newid, full: 1, storage: 'local-lvm', ...extra })
    ).data;
  }

  return { pve, exitStatus, clone, close: () => agent.close() };
}

describe('fake PVE API', () => {
  let fake: FakeProxmox;
  let client: ReturnType<typeof clientOf>;
  const pve = (...args: Parameters<ReturnType<typeof clientOf>['pve']>) => client.pve(...args);
  const exitStatus = (upid: unknown) => client.exitStatus(upid);
  const clone = (newid: number, extra?: Record<string, unknown>) => client.clone(newid, extra);

  beforeAll(async () => {
    fake = await FakeProxmox.start({ taskDurationMs: 20, agentDelayMs: 400 });
    client = clientOf(fake);
  });

  afterAll(async () => {
    await client?.close();
    await fake?.stop();
  });

  it('requires a valid API token', async () => {
    expect(await pve('GET', '/cluster/resources', undefined, '')).toMatchObject({
      status: 401,
      statusText: 'No ticket',
    });
    const wrong = await pve(
      'GET',
      '/cluster/resources',
      undefined,
      `PVEAPIToken=${DEFAULT_TOKEN.tokenId}=nope`,
    );
    expect(wrong).toMatchObject({ status: 401, statusText: 'invalid token value!', data: null });
  });

  it('answers a missing VM with HTTP 500 and the config-file message, as PVE does', async () => {
    const answer = await pve('GET', '/nodes/pve/qemu/4242/status/current');
    expect(answer.status).toBe(500);
    expect(answer.message).toBe("Configuration file 'nodes/pve/qemu-server/4242.conf' does not exist\n");
  });

  it('locks a clone until it is done and refuses a second clone into the same VMID', async () => {
    fake.holdTasks();
    const upid = await clone(120, { name: 'first' });
    expect((await pve('GET', '/nodes/pve/qemu/120/status/current')).data).toMatchObject({
      lock: 'clone',
      status: 'stopped',
    });
    expect(await pve('PUT', '/nodes/pve/qemu/120/config', { cores: 2 })).toMatchObject({
      status: 500,
      statusText: 'VM is locked (clone)',
    });
    expect(await pve('POST', '/nodes/pve/qemu/9000/clone', { newid: 120, full: 1 })).toMatchObject({
      status: 500,
      statusText: 'unable to create VM 120: config file already exists',
    });
    fake.releaseTasks();
    expect(await exitStatus(upid)).toBe('OK');
    const config = (await pve('GET', '/nodes/pve/qemu/120/config')).data as Record<string, unknown>;
    expect(config).toMatchObject({ name: 'first', scsi0: 'local-lvm:vm-120-disk-0,size=2G' });
    expect(config).not.toHaveProperty('lock');
    expect(config.net0).not.toBe(fake.vm(9000)?.config.net0);
  });

  it('validates parameters like PVE', async () => {
    const badName = await pve('POST', '/nodes/pve/qemu/9000/clone', { newid: 121, name: 'not_a_dns_name' });
    expect(badName).toMatchObject({ status: 400, statusText: 'Parameter verification failed.' });
    expect(badName.errors).toHaveProperty('name');
    const linked = await pve('POST', '/nodes/pve/qemu/9000/clone', {
      newid: 121,
      full: 0,
      storage: 'local-lvm',
    });
    expect(linked.statusText).toBe("parameter 'storage' not allowed for linked clones");
    const unknownKey = await pve('PUT', '/nodes/pve/qemu/9000/config', { hugepages: 1 });
    expect(unknownKey.errors).toHaveProperty('hugepages');
    expect((await pve('GET', '/nodes/other/qemu')).statusText).toMatch(/hostname lookup 'other' failed/);
  });

  it('does not start a template, and fails the task of starting a running VM', async () => {
    expect(await exitStatus((await pve('POST', '/nodes/pve/qemu/9000/status/start')).data)).toBe(
      "you can't start a vm if it's a template",
    );
    await exitStatus(await clone(122));
    expect(await exitStatus((await pve('POST', '/nodes/pve/qemu/122/status/start')).data)).toBe('OK');
    expect(await exitStatus((await pve('POST', '/nodes/pve/qemu/122/status/start')).data)).toBe(
      'VM 122 already running',
    );
    // Stopping or shutting down a stopped VM is fine.
    expect(await exitStatus((await pve('POST', '/nodes/pve/qemu/122/status/stop')).data)).toBe('OK');
    expect(await exitStatus((await pve('POST', '/nodes/pve/qemu/122/status/shutdown')).data)).toBe('OK');
  });

  it('refuses to destroy a running VM', async () => {
    await exitStatus(await clone(123));
    await exitStatus((await pve('POST', '/nodes/pve/qemu/123/status/start')).data);
    expect(await pve('DELETE', '/nodes/pve/qemu/123?purge=1')).toMatchObject({
      status: 500,
      statusText: 'VM 123 is running - destroy failed',
    });
    await exitStatus((await pve('POST', '/nodes/pve/qemu/123/status/stop')).data);
    expect(
      await exitStatus(
        (await pve('DELETE', '/nodes/pve/qemu/123?purge=1&destroy-unreferenced-disks=1')).data,
      ),
    ).toBe('OK');
    expect(fake.imageVolumes()).not.toContain('local-lvm:vm-123-disk-0');
  });

  it('answers the guest agent only some time after boot of a VM with the agent enabled', async () => {
    await exitStatus(await clone(124));
    expect((await pve('POST', '/nodes/pve/qemu/124/agent/ping')).statusText).toBe(
      'No QEMU guest agent configured',
    );
    await pve('PUT', '/nodes/pve/qemu/124/config', { agent: '1' });
    expect((await pve('POST', '/nodes/pve/qemu/124/agent/ping')).statusText).toBe('VM 124 is not running');
    fake.holdAgents();
    await exitStatus((await pve('POST', '/nodes/pve/qemu/124/status/start')).data);
    expect((await pve('POST', '/nodes/pve/qemu/124/agent/ping')).statusText).toBe(
      'QEMU guest agent is not running',
    );
    fake.releaseAgents();
    await waitFor(
      'the agent',
      async () => (await pve('POST', '/nodes/pve/qemu/124/agent/ping')).status === 200,
    );
    const { pid } = (
      await pve('POST', '/nodes/pve/qemu/124/agent/exec', { command: ['getent', 'passwd', 'root'] })
    ).data as { pid: number };
    let status: Record<string, unknown> = {};
    await waitFor('the program', async () => {
      status = (await pve('GET', `/nodes/pve/qemu/124/agent/exec-status?pid=${pid}`)).data as typeof status;
      return status.exited === 1;
    });
    expect(status).toMatchObject({ exitcode: 0, 'out-data': 'root:x:0:0:root:/root:/bin/bash\n' });
    // QGA forgets a process once it reported its exit.
    expect((await pve('GET', `/nodes/pve/qemu/124/agent/exec-status?pid=${pid}`)).statusText).toBe(
      "Agent error: Invalid parameter 'pid'",
    );
  });

  describe('agent/file-read and agent/file-write', () => {
    const PENDING = '/run/libpam-web3/pending';
    let backend: ProxmoxBackend;
    beforeAll(() => {
      backend = backendFor(fake, { vmidRange: { start: 500, end: 599 } });
    });
    // A failed test leaves its VMs (and seed ISOs), which later tests would trip over.
    afterAll(async () => {
      for (const { vmid } of fake.vms().filter((vm) => vm.vmid >= 500 && vm.vmid <= 599))
        await backend.delete(String(vmid)).catch(() => undefined);
      await backend?.close();
    });

    /** A VM the driver made from the real cloud-init seed; resolves once its agent answers. */
    async function guestVm(running = true): Promise<number> {
      const vmid = Number((await backend.create(desiredVm({ running }))).id);
      if (running) await agentUp(vmid);
      return vmid;
    }
    const agentUp = (vmid: number) =>
      waitFor(
        'the agent',
        async () => (await pve('POST', `/nodes/pve/qemu/${vmid}/agent/ping`)).status === 200,
      );
    const read = (vmid: number, file: string) =>
      pve('GET', `/nodes/pve/qemu/${vmid}/agent/file-read?file=${encodeURIComponent(file)}`);
    const write = (vmid: number, body: Record<string, unknown>) =>
      pve('POST', `/nodes/pve/qemu/${vmid}/agent/file-write`, body);
    /** Stops (a no-op when stopped) and destroys a VM the driver did not make. */
    const destroy = async (vmid: number) => {
      await power(vmid, 'stop');
      expect(await exitStatus((await pve('DELETE', `/nodes/pve/qemu/${vmid}?purge=1`)).data)).toBe('OK');
    };
    const power = async (vmid: number, action: string) =>
      expect(await exitStatus((await pve('POST', `/nodes/pve/qemu/${vmid}/status/${action}`)).data)).toBe(
        'OK',
      );

    it('reads what cloud-init wrote and round-trips a file, refusing what PVE refuses', async () => {
      const vmid = await guestVm();
      expect(((await read(vmid, '/etc/pam_web3/config.toml')).data as { content: string }).content).toContain(
        'id = "blockhost-001"',
      );
      expect(await read(vmid, `${PENDING}/none.json`)).toMatchObject({
        status: 500,
        message: `Agent error: failed to open file '${PENDING}/none.json' (mode: 'r'): No such file or directory\n`,
      });
      expect(await write(vmid, { file: '/run/no-such-dir/x.sig', content: 'x' })).toMatchObject({
        status: 500,
        statusText: expect.stringMatching(/No such file or directory$/),
      });

      expect(await write(vmid, { file: `${PENDING}/a.sig`, content: 'signed\n' })).toMatchObject({
        status: 200,
        data: null,
      });
      expect(fake.guestFile(vmid, `${PENDING}/a.sig`)).toBe('signed\n');
      expect((await read(vmid, `${PENDING}/a.sig`)).data).toEqual({ content: 'signed\n' });

      // encode=0: the content is base64 already and PVE hands it to the agent as it is.
      const b64 = Buffer.from('raw bytes').toString('base64');
      expect((await write(vmid, { file: '/tmp/b', content: b64, encode: 0 })).status).toBe(200);
      expect(fake.guestFile(vmid, '/tmp/b')).toBe('raw bytes');
      expect((await write(vmid, { file: '/tmp/c', content: 'not base64!', encode: 0 })).statusText).toBe(
        'Agent error: Base64 data contains invalid characters',
      );

      const full = 'x'.repeat(61_440);
      expect((await write(vmid, { file: '/tmp/full', content: full })).status).toBe(200);
      expect(fake.guestFile(vmid, '/tmp/full')).toBe(full);
      const oversized = await write(vmid, { file: '/tmp/over', content: `${full}x` });
      expect(oversized).toMatchObject({ status: 400, statusText: 'Parameter verification failed.' });
      expect(oversized.errors).toEqual({ content: 'value may only be 61440 characters long' });
      expect(fake.guestFile(vmid, '/tmp/over')).toBeUndefined();
      expect((await write(vmid, { encode: 'maybe' })).errors).toEqual({
        file: 'property is missing and it is not optional',
        content: 'property is missing and it is not optional',
        encode: "type check ('boolean') failed - got 'maybe'",
      });
      expect((await pve('GET', `/nodes/pve/qemu/${vmid}/agent/file-read`)).errors).toEqual({
        file: 'property is missing and it is not optional',
      });

      // PVE returns at most 16 MiB and says the rest was cut off.
      fake.plantGuestFile(vmid, '/tmp/big', 'y'.repeat(16 * 2 ** 20 + 1));
      const big = (await read(vmid, '/tmp/big')).data as { content: string; truncated?: number };
      expect([big.content.length, big.truncated]).toEqual([16 * 2 ** 20, 1]);
      await backend.delete(String(vmid));
    });

    it('needs a running VM whose agent answers, but checks parameters first', async () => {
      const vmid = await guestVm(false);
      expect((await read(vmid, '/etc/hostname')).statusText).toBe(`VM ${vmid} is not running`);
      expect((await write(vmid, { file: '/tmp/x', content: 'x' })).statusText).toBe(
        `VM ${vmid} is not running`,
      );
      expect((await write(vmid, { file: '/tmp/x' })).status).toBe(400);
      fake.holdAgents();
      await power(vmid, 'start');
      expect((await read(vmid, '/etc/hostname')).statusText).toBe('QEMU guest agent is not running');
      expect((await write(vmid, { file: '/tmp/x', content: 'x' })).statusText).toBe(
        'QEMU guest agent is not running',
      );
      fake.releaseAgents();
      expect(fake.guestFile(vmid, '/tmp/x')).toBeUndefined();
      await backend.delete(String(vmid));
    });

    it('empties /run on every boot, where the seed re-creates the pending directory; clones copy the disk', async () => {
      const vmid = await guestVm();
      fake.plantGuestFile(vmid, `${PENDING}/s.json`, '{}');
      fake.plantGuestFile(vmid, '/root/kept', 'on disk');
      await power(vmid, 'stop');
      await power(vmid, 'start');
      await agentUp(vmid);
      expect((await read(vmid, `${PENDING}/s.json`)).message).toMatch(/No such file or directory/);
      expect(((await read(vmid, '/root/kept')).data as { content: string }).content).toBe('on disk');
      expect((await write(vmid, { file: `${PENDING}/s.sig`, content: 'x' })).status).toBe(200);
      await power(vmid, 'stop');
      const copied = (await pve('POST', `/nodes/pve/qemu/${vmid}/clone`, { newid: 590, full: 1 })).data;
      expect(await exitStatus(copied)).toBe('OK');
      expect(fake.guestFile(590, '/root/kept')).toBe('on disk');
      await destroy(590);
      await backend.delete(String(vmid));

      // The directory is the seed's doing: a guest booted without one has none.
      await exitStatus(await clone(591));
      await pve('PUT', '/nodes/pve/qemu/591/config', { agent: '1' });
      await power(591, 'start');
      await agentUp(591);
      expect((await write(591, { file: `${PENDING}/s.sig`, content: 'x' })).message).toMatch(
        /No such file or directory/,
      );
      await destroy(591);
    });
  });

  it('grows disks only', async () => {
    await exitStatus(await clone(125));
    expect(
      await exitStatus((await pve('PUT', '/nodes/pve/qemu/125/resize', { disk: 'scsi0', size: '+1G' })).data),
    ).toBe('OK');
    expect(fake.vm(125)?.config.scsi0).toContain('size=3G');
    const shrink = (await pve('PUT', '/nodes/pve/qemu/125/resize', { disk: 'scsi0', size: '1G' })).data;
    expect(await exitStatus(shrink)).toBe('shrinking disks is not supported');
  });

  it('makes other writers wait for the config file lock a task holds, up to the lock timeout', async () => {
    const slow = await FakeProxmox.start({ taskDurationMs: 600, lockTimeoutMs: 200 });
    const slowClient = clientOf(slow);
    try {
      await slowClient.exitStatus(await slowClient.clone(130));
      const resize = (
        await slowClient.pve('PUT', '/nodes/pve/qemu/130/resize', { disk: 'scsi0', size: '3G' })
      ).data;
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await slowClient.pve('PUT', '/nodes/pve/qemu/130/config', { cores: 2 })).statusText).toBe(
        "can't lock file '/var/lock/qemu-server/lock-130.conf' - got timeout",
      );
      expect(await slowClient.exitStatus(resize)).toBe('OK');
      expect((await slowClient.pve('PUT', '/nodes/pve/qemu/130/config', { cores: 2 })).status).toBe(200);
    } finally {
      await slowClient.close();
      await slow.stop();
    }
  });

  it('takes ISO uploads on file storage only, and reads what was uploaded', async () => {
    const iso = () => {
      const form = new FormData();
      form.append('content', 'iso');
      form.append('filename', new Blob([Buffer.from('not really an ISO')]), 'seed.iso');
      return form;
    };
    expect((await pve('POST', '/nodes/pve/storage/local-lvm/upload', iso())).statusText).toBe(
      "can't upload to storage type 'lvmthin'",
    );
    expect(await exitStatus((await pve('POST', '/nodes/pve/storage/local/upload', iso())).data)).toBe('OK');
    const content = (await pve('GET', '/nodes/pve/storage/local/content?content=iso')).data;
    expect(content).toEqual([expect.objectContaining({ volid: 'local:iso/seed.iso', size: 17 })]);
    expect(
      await exitStatus((await pve('DELETE', '/nodes/pve/storage/local/content/local%3Aiso%2Fseed.iso')).data),
    ).toBe('OK');
    expect(fake.isoVolumes()).toEqual([]);
  });

  it('lists VMs and the next free VMID cluster-wide', async () => {
    const resources = (await pve('GET', '/cluster/resources?type=vm')).data as {
      vmid: number;
      template: number;
    }[];
    expect(resources).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: 'qemu/9000', vmid: 9000, template: 1 })]),
    );
    expect((await pve('GET', '/cluster/nextid')).data).toBe('100');
    expect((await pve('GET', '/cluster/nextid?vmid=9000')).errors).toEqual({
      vmid: 'VM 9000 already exists',
    });
  });
});
