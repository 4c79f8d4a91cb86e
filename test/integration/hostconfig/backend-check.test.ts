// The drivers' connectivity checks behind BackendReady, against the real libvirtd and the Proxmox
// API fake: a usable backend passes; each broken setting fails with a reason and the field's name.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BackendError } from '../../../controllers/vm/backend.js';
import { LibvirtBackend } from '../../../controllers/vm/backends/libvirt/driver.js';
import { createLogger } from '../../../lib/log.js';
import { LibvirtEnvironment } from '../../harness/libvirt/environment.js';
import { FakeProxmox } from '../../harness/proxmox/fake-pve.js';
import { backendFor, TEMPLATE_VMID } from '../proxmox/fixtures.js';

const log = createLogger('backend-check-test', { level: process.env.LOG_LEVEL ?? 'warn' });

async function failure(check: Promise<void>): Promise<BackendError> {
  const error = await check.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof BackendError)) throw new Error(`expected a BackendError, got ${String(error)}`);
  return error;
}

describe('BackendReady checks', () => {
  describe('libvirt', () => {
    let env: LibvirtEnvironment;
    const backend = (overrides: Partial<LibvirtEnvironment['settings']> = {}) =>
      new LibvirtBackend({ ...env.settings, ...overrides }, log);

    beforeAll(async () => {
      env = await LibvirtEnvironment.start();
    }, 120_000);
    afterAll(async () => env?.stop(), 60_000);

    it('passes with the environment pool and bridge', async () => {
      await expect(backend().check()).resolves.toBeUndefined();
    });

    it('names a storage pool that does not exist', async () => {
      const error = await failure(backend({ storagePool: 'no-such-pool' }).check());
      expect(error.reason).toBe('StoragePoolMissing');
      expect(error.message).toContain('storage pool "no-such-pool" (backend.libvirt.storagePool)');
    });

    it('names a NAT network that does not exist', async () => {
      const error = await failure(backend({ networkMode: 'nat', natNetwork: 'no-such-net' }).check());
      expect(error.reason).toBe('NetworkMissing');
      expect(error.message).toContain('backend.libvirt.natNetwork');
    });

    it('reports a libvirt it cannot connect to', async () => {
      const error = await failure(backend({ uri: 'qemu+unix:///system?socket=/nonexistent/sock' }).check());
      expect(error.reason).toBe('LibvirtUnreachable');
    });
  });

  describe('proxmox', () => {
    let fake: FakeProxmox;

    beforeAll(async () => {
      fake = await FakeProxmox.start({ templates: [{ vmid: TEMPLATE_VMID, name: 'debian-12-cloud' }] });
    });
    afterAll(async () => fake?.stop());

    it('passes with the token, node and template', async () => {
      await expect(backendFor(fake).check()).resolves.toBeUndefined();
    });

    it('names a template that does not exist', async () => {
      const error = await failure(
        backendFor(fake, { images: [{ name: 'debian-12', templateVmid: 9999 }] }).check(),
      );
      expect(error.reason).toBe('TemplateNotFound');
      expect(error.message).toContain('template VM 9999 of image "debian-12" (backend.proxmox.images)');
    });

    it('names a node that does not exist', async () => {
      const error = await failure(backendFor(fake, { node: 'elsewhere' }).check());
      expect(error.reason).toBe('ProxmoxNodeNotFound');
      expect(error.message).toContain('node "elsewhere" (backend.proxmox.node)');
    });

    it('reports a rejected token', async () => {
      const error = await failure(
        backendFor(fake, {}, { tokenId: 'blockhost@pve!controller', secret: 'wrong' }).check(),
      );
      expect(error.reason).toBe('ProxmoxUnauthorized');
    });
  });
});
