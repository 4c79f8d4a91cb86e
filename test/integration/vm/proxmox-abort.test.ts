// An aborted Proxmox create (lost leadership, or the call's deadline) stops waiting for its clone
// task at once and sends nothing more; the next create of the same intent adopts the VM that clone
// made: one VM.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ProxmoxBackend } from '../../../controllers/vm/backends/proxmox/backend.js';
import { vmNameForIntent } from '../../../controllers/vm/backends/proxmox/naming.js';
import { FakeProxmox } from '../../harness/proxmox/fake-pve.js';
import { waitFor } from '../../harness/processes.js';
import { backendFor, desiredVm } from '../proxmox/fixtures.js';

describe('Proxmox driver under an abort signal', () => {
  let fake: FakeProxmox;
  let backend: ProxmoxBackend;

  beforeAll(async () => {
    fake = await FakeProxmox.start({ taskDurationMs: 40 });
    backend = backendFor(fake);
  });

  afterAll(async () => {
    await backend?.close();
    await fake?.stop();
  });

  const taskPolls = () => fake.requests({ method: 'GET', path: /\/tasks\/.+\/status$/ }).length;

  it('stops the task wait of a create at once and resumes it under the next call', async () => {
    const desired = desiredVm();
    fake.holdTasks();
    const abort = new AbortController();
    const create = backend.create(desired, abort.signal);
    const outcome = create.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    // Polls back off to 1 s apart: by the fifth, the wait sleeps long enough for a cut to show.
    await waitFor('the clone task polled', async () => taskPolls() >= 5, {
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    const abortedAt = Date.now();
    abort.abort(new Error('leadership lost'));
    const error = await outcome;
    const stoppedMs = Date.now() - abortedAt;
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).toContain('leadership lost');
    // Held tasks never finish: only the signal can end this wait, and it does before the next poll.
    expect(stoppedMs).toBeLessThan(300);
    const requestsAtAbort = fake.requests().length;

    fake.releaseTasks();
    await waitFor(
      'the clone done on PVE',
      async () => fake.vms().some((vm) => vm.name === vmNameForIntent(desired.intentId)),
      {
        timeoutMs: 20_000,
        intervalMs: 50,
      },
    );
    expect(fake.requests().length).toBe(requestsAtAbort);

    const created = await backend.create(desired);
    expect(
      fake
        .vms()
        .filter((vm) => vm.name === vmNameForIntent(desired.intentId))
        .map((vm) => String(vm.vmid)),
    ).toEqual([created.id]);
    await expect(
      backend.observe(
        { namespace: desired.namespace, name: desired.name, intentId: desired.intentId },
        AbortSignal.abort(),
      ),
    ).rejects.toThrow();
  }, 60_000);
});
