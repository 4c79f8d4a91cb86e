// The fake PVE API itself, spoken to over raw HTTP: it must refuse what real PVE refuses, with
// PVE's texts, or the driver tests would prove nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent, fetch, FormData } from 'undici';
import { DEFAULT_TOKEN, FakeProxmox } from '../../harness/proxmox/fake-pve.js';
import { waitFor } from '../../harness/processes.js';

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
    await exitStatus((await pve('POST', '/nodes/pve/qemu/124/status/start')).data);
    expect((await pve('POST', '/nodes/pve/qemu/124/agent/ping')).statusText).toBe(
      'QEMU guest agent is not running',
    );
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
