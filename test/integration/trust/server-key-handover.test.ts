// Trust boundary: the server key and the Proxmox token. The web server hands them over through
// Secrets with generated names whose contents must match what the HostConfig records (the key's
// address, the token id); the controller moves them into its state namespace. A Secret planted
// under a fixed name in the release namespace, or a handover holding something else, is never used.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ChainServices } from '../../../controllers/chain/services.js';
import type { SetupContext } from '../../../controllers/hostconfig/step.js';
import { backendStep } from '../../../controllers/hostconfig/steps/backend.js';
import { keysStep } from '../../../controllers/hostconfig/steps/keys.js';
import type { BackendProvider } from '../../../controllers/vm/backends/provider.js';
import { PROXMOX_TOKEN_HANDOVER, SERVER_WALLET_HANDOVER } from '../../../lib/api/handover.js';
import { exampleBackends, exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import { hostConfigSchema, type HostConfig } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import { createTestNamespace, deleteNamespace, testClient } from '../../harness/kube.js';

describe('server key handover', () => {
  let kube: KubeClient;
  let release: string;
  let state: string;
  const log = createLogger('trust-handover');

  beforeAll(async () => {
    kube = testClient();
    release = await createTestNamespace(kube, 'trust-release');
    state = await createTestNamespace(kube, 'trust-state');
  });
  afterAll(async () => {
    for (const namespace of [release, state]) await deleteNamespace(kube, namespace);
  });

  /** The keys step as the HostConfig controller runs it, for a HostConfig with `annotations`. */
  const runKeys = (annotations: Record<string, string>, generate = false, serverAddress?: string) => {
    const host = hostConfigSchema.parse({
      ...structuredClone(exampleHostConfig),
      metadata: { name: 'host', annotations },
    }) as HostConfig;
    if (serverAddress) host.status = { serverAddress };
    host.spec.chain.serverWallet = { secretRef: { name: 'blockhost-server-wallet' }, generate };
    const context = {
      host,
      kube,
      namespace: state,
      chain: { namespace: release } as ChainServices,
      log,
      state: {},
    } as unknown as SetupContext;
    return keysStep(context);
  };
  const handover = async (key: string) =>
    (
      await kube.create(coreTypes.secret, {
        metadata: { generateName: SERVER_WALLET_HANDOVER.namePrefix, namespace: release },
        stringData: { [SERVER_WALLET_HANDOVER.key]: key },
      } as KubeObject)
    ).metadata.name!;
  const annotate = (secret: string, address: string) => ({
    [SERVER_WALLET_HANDOVER.secretAnnotation]: secret,
    [SERVER_WALLET_HANDOVER.addressAnnotation]: address,
  });

  it('never uses a Secret planted under the wallet name in the release namespace', async () => {
    await kube.create(coreTypes.secret, {
      metadata: { name: 'blockhost-server-wallet', namespace: release },
      stringData: { privateKey: anvilPrivateKey(7) },
    } as KubeObject);
    const result = await runKeys({});
    expect(result.ready).toBe(false);
    expect(result.reason).toBe('SecretMissing');
  });

  it('on upgrade, adopts a release-namespace key only if it is the wallet the status records', async () => {
    // The Secret planted above holds account 7's key; the controller recorded account 3.
    expect(await runKeys({}, false, anvilAccount(3).address)).toMatchObject({ reason: 'SecretMissing' });
  });

  it('refuses a handover whose key is not the one the HostConfig names', async () => {
    const name = await handover(anvilPrivateKey(7));
    const result = await runKeys(annotate(name, anvilAccount(3).address));
    expect(result).toMatchObject({ ready: false, reason: 'HandoverMismatch' });
    // Nothing reached the state namespace.
    await expect(kube.get(coreTypes.secret, 'blockhost-server-wallet', state)).rejects.toThrow();
  });

  it('moves a matching handover into the state namespace and deletes it', async () => {
    const name = await handover(anvilPrivateKey(3));
    const result = await runKeys(annotate(name, anvilAccount(3).address));
    expect(result).toMatchObject({ ready: true, status: { serverAddress: anvilAccount(3).address } });
    await expect(kube.get(coreTypes.secret, name, release)).rejects.toThrow(/not found/i);
    // Once stored, the state Secret is the key: a later handover never replaces it.
    const later = await handover(anvilPrivateKey(7));
    const again = await runKeys(annotate(later, anvilAccount(7).address));
    expect(again).toMatchObject({ ready: true, status: { serverAddress: anvilAccount(3).address } });
  });

  it('on upgrade, moves the key of the recorded wallet from the release namespace', async () => {
    const previousState = state;
    state = await createTestNamespace(kube, 'trust-state-upgrade');
    try {
      // The release namespace still holds account 7's key (planted in the first test, as an older
      // release would have stored it); the status records account 7.
      const result = await runKeys({}, false, anvilAccount(7).address);
      expect(result).toMatchObject({ ready: true, status: { serverAddress: anvilAccount(7).address } });
    } finally {
      await deleteNamespace(kube, state);
      state = previousState;
    }
  });

  describe('the Proxmox token', () => {
    const TOKEN_SECRET = 'blockhost-proxmox-token';
    /** The backend step with a driver that only reports success (the handover is what is tested). */
    const runBackend = (annotations: Record<string, string>, wasReady = false) => {
      const host = hostConfigSchema.parse({
        ...structuredClone(exampleHostConfig),
        metadata: { name: 'host', annotations },
        spec: {
          ...structuredClone(exampleHostConfig.spec),
          backend: {
            ...structuredClone(exampleBackends.proxmox),
            proxmox: {
              ...structuredClone(exampleBackends.proxmox.proxmox),
              tokenSecretRef: { name: TOKEN_SECRET },
            },
          },
        },
      }) as HostConfig;
      if (wasReady)
        host.status = {
          conditions: [
            {
              type: 'BackendReady',
              status: 'True',
              reason: 'BackendReachable',
              message: '',
              lastTransitionTime: '2026-01-01T00:00:00Z',
            },
          ],
        };
      const backends = { for: async () => ({ type: 'proxmox' }) } as unknown as BackendProvider;
      return backendStep({
        host,
        kube,
        namespace: state,
        chain: { namespace: release } as ChainServices,
        backends,
        log,
        state: {},
      } as unknown as SetupContext);
    };
    const tokenHandover = async (tokenId: string, secret: string) =>
      (
        await kube.create(coreTypes.secret, {
          metadata: { generateName: PROXMOX_TOKEN_HANDOVER.namePrefix, namespace: release },
          stringData: { tokenId, secret },
        } as KubeObject)
      ).metadata.name!;
    const stored = async () => {
      const secret = await kube.get<KubeObject & { data: Record<string, string> }>(
        coreTypes.secret,
        TOKEN_SECRET,
        state,
      );
      return Buffer.from(secret.data.tokenId!, 'base64').toString();
    };

    it('never adopts a token planted in the release namespace of a host whose backend never worked', async () => {
      await kube.create(coreTypes.secret, {
        metadata: { name: TOKEN_SECRET, namespace: release },
        stringData: { tokenId: 'attacker@pve!t', secret: 'x' },
      } as KubeObject);
      await runBackend({});
      await expect(kube.get(coreTypes.secret, TOKEN_SECRET, state)).rejects.toThrow(/not found/i);
    });

    it('refuses a handover whose token is not the one the HostConfig names, and stores the one that is', async () => {
      const forged = await tokenHandover('attacker@pve!t', 'x');
      const refused = await runBackend({
        [PROXMOX_TOKEN_HANDOVER.secretAnnotation]: forged,
        [PROXMOX_TOKEN_HANDOVER.tokenIdAnnotation]: 'blockhost@pve!api',
      });
      expect(refused).toMatchObject({ ready: false, reason: 'HandoverMismatch' });
      await expect(kube.get(coreTypes.secret, TOKEN_SECRET, state)).rejects.toThrow();

      const real = await tokenHandover('blockhost@pve!api', 'the-secret');
      const result = await runBackend({
        [PROXMOX_TOKEN_HANDOVER.secretAnnotation]: real,
        [PROXMOX_TOKEN_HANDOVER.tokenIdAnnotation]: 'blockhost@pve!api',
      });
      expect(result.ready).toBe(true);
      expect(await stored()).toBe('blockhost@pve!api');
      await expect(kube.get(coreTypes.secret, real, release)).rejects.toThrow(/not found/i);
    });

    it('on upgrade, moves the token a working backend used from the release namespace', async () => {
      const previousState = state;
      state = await createTestNamespace(kube, 'trust-token-upgrade');
      try {
        await runBackend({}, true);
        // The token the release namespace holds (created by the first Proxmox test) is the one in use.
        expect(await stored()).toBe('attacker@pve!t');
      } finally {
        await deleteNamespace(kube, state);
        state = previousState;
      }
    });
  });
});
