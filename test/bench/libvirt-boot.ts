import { LibvirtBackend } from '../../controllers/vm/backends/libvirt/driver.js';
import { createLogger } from '../../lib/log.js';
import { LibvirtDaemon } from '../harness/libvirt/libvirtd.js';
import { desiredGuest } from '../harness/libvirt/desired-guest.js';
import { LibvirtEnvironment } from '../harness/libvirt/environment.js';
import { fromSamples, writeResult } from './results.js';

const OWNER = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const AGENT_TIMEOUT_MS = 5 * 60_000;

/**
 * The libvirt driver on a real libvirtd with the real Debian test guest: time of `create` (overlay
 * and seed volumes, define, start) and from start until the guest agent answers (a whole boot with
 * cloud-init; TCG here, so far slower than KVM on a real host).
 */
export async function libvirtGuestBoot(runs = 3): Promise<void> {
  const daemon = await LibvirtDaemon.start();
  const env = await LibvirtEnvironment.start({ guestImage: true });
  const backend = new LibvirtBackend(env.settings, createLogger('bench-libvirt', { level: 'warn' }));
  const createSeconds: number[] = [];
  const agentSeconds: number[] = [];
  try {
    for (let i = 0; i < runs; i += 1) {
      const name = `bench-${i}`;
      const began = performance.now();
      const created = await backend.create(
        desiredGuest(env, {
          namespace: 'bench',
          name,
          ownerWallet: OWNER,
          login: { secretKey: 'ab'.repeat(32) },
        }),
      );
      const started = performance.now();
      createSeconds.push((started - began) / 1000);
      while (!(await backend.observe({ namespace: 'bench', name, id: created.id }))?.guestAgentConnected) {
        if (performance.now() - started > AGENT_TIMEOUT_MS)
          throw new Error(`${name}: no guest agent in 5 minutes`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      agentSeconds.push((performance.now() - started) / 1000);
      await backend.delete(created.id);
    }
  } finally {
    await env.stop(['bench']);
    await daemon.stop();
  }
  writeResult(
    fromSamples('libvirt-define-start', 'libvirt create (volumes, define, start)', 's', createSeconds),
  );
  writeResult(
    fromSamples('libvirt-guest-agent-ready', 'start until the guest agent answers (TCG)', 's', agentSeconds),
  );
}
