// blockhost-network-sync for real: the script runs inside a throw-away "host" network namespace
// (joined by a veth pair to its gateway namespace, as in bridge.test.ts), reads the HostConfig from
// the harness's real kube-apiserver with the real kubectl, and writes its status ConfigMap there.
// kubectl itself runs in the test's own network namespace (nsenter), where the API server listens.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, HOST_CONFIG_NAME } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { isNotFound } from '../../../lib/kube/errors.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { ensureControlPlaneBinaries } from '../../harness/control-plane/binaries.js';
import { NetnsPair } from '../../harness/install/netns.js';
import { installScripts, run } from '../../harness/install/scripts.js';
import { claimHostConfig, deleteNamespace, testClient, withHostConfigClaimWait } from '../../harness/kube.js';

const { nic, gatewayIp } = NetnsPair;
const NEW_CIDR = '10.77.0.5/24';
const DHCP_INTERFACES = `source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback

allow-hotplug ${nic}
iface ${nic} inet dhcp
`;
const RESOLV_CONF = 'search example.org\nnameserver 10.77.0.1\n';

type HostConfigObject = KubeObject & { spec: Record<string, unknown> };
type ConfigMap = KubeObject & { data?: Record<string, string> };
interface Network {
  mode: 'dhcp' | 'static';
  interface?: string;
  address?: string;
  gateway?: string;
  dns?: string[];
}

describe('blockhost-network-sync in network namespaces', () => {
  let kube: KubeClient;
  let kubectl: string;
  let release: () => Promise<void>;
  let namespace: string;
  let pair: NetnsPair;
  let root: string;

  const sync = (args: string[] = [], env: Record<string, string> = {}) =>
    run('ip', ['netns', 'exec', pair.host, installScripts.networkSync, '--ping-count', '2', ...args], {
      env: {
        BLOCKHOST_ROOT: root,
        BLOCKHOST_NAMESPACE: namespace,
        BLOCKHOST_KUBECTL: `nsenter --net=/proc/${process.pid}/ns/net ${kubectl}`,
        ...env,
      },
    });
  const status = async () => {
    const cm = await kube.get<ConfigMap>(coreTypes.configMap, 'blockhost-network-status', namespace);
    return { data: cm.data ?? {}, resourceVersion: cm.metadata.resourceVersion };
  };
  const addresses = async (dev: string) =>
    (await pair.inHost('ip', '-4', '-o', 'addr', 'show', 'dev', dev)).stdout;
  const defaultRoute = async () => (await pair.inHost('ip', '-4', 'route', 'show', 'default')).stdout;
  const pingFromHost = () =>
    run('ip', ['netns', 'exec', pair.host, 'ping', '-n', '-c', '1', '-W', '1', gatewayIp]).then(
      (r) => r.code === 0,
    );
  const file = (path: string) => readFile(join(root, path), 'utf8');

  /** Creates or updates the HostConfig `host` with this spec.network; returns its generation. */
  const setNetwork = async (network: Network): Promise<number> => {
    const existing = await kube
      .get<HostConfigObject>(blockhostTypes.hostConfig, HOST_CONFIG_NAME)
      .catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
    const written = existing
      ? await kube.update<HostConfigObject>(blockhostTypes.hostConfig, {
          ...existing,
          spec: { ...existing.spec, network },
        })
      : await kube.create<HostConfigObject>(blockhostTypes.hostConfig, {
          ...exampleHostConfig,
          spec: { ...exampleHostConfig.spec, network },
        });
    return written.metadata.generation ?? 0;
  };

  beforeAll(async () => {
    kube = testClient();
    kubectl = (await ensureControlPlaneBinaries()).kubectl;
    release = await claimHostConfig(kube);
    // Not created here: the command creates the namespace with its status.
    namespace = `network-sync-${randomBytes(3).toString('hex')}`;
  }, withHostConfigClaimWait(120_000));

  afterAll(async () => {
    await release?.();
    await deleteNamespace(kube, namespace);
  });

  beforeEach(async () => {
    pair = await NetnsPair.create();
    root = await mkdtemp(join(tmpdir(), 'bh-network-sync-'));
    await mkdir(join(root, 'etc/network'), { recursive: true });
    await writeFile(join(root, 'etc/network/interfaces'), DHCP_INTERFACES);
    await writeFile(join(root, 'etc/resolv.conf'), RESOLV_CONF);
  });

  afterEach(async () => {
    await pair.delete();
    await rm(root, { recursive: true, force: true });
    await kube.delete(blockhostTypes.hostConfig, HOST_CONFIG_NAME).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  });

  it('applies a static address whose gateway answers, reports it, and a second run changes nothing', async () => {
    const generation = await setNetwork({
      mode: 'static',
      address: NEW_CIDR,
      gateway: gatewayIp,
      dns: ['9.9.9.9', '2620:fe::fe'],
    });
    const result = await sync();
    expect(result.stderr).toContain(`gateway ${gatewayIp} answers on ${nic}`);
    expect(result.code).toBe(0);

    const live = await addresses(nic);
    expect(live).toContain(NEW_CIDR);
    expect(live).not.toContain(NetnsPair.hostCidr);
    expect(await defaultRoute()).toMatch(new RegExp(`^default via ${gatewayIp} dev ${nic} proto static`));
    expect(await pingFromHost()).toBe(true);
    expect(await file('etc/resolv.conf')).toBe(
      '# Written by blockhost-network-sync from the HostConfig spec.network.dns.\n' +
        'search example.org\nnameserver 9.9.9.9\nnameserver 2620:fe::fe\n',
    );
    const stanza = await file('etc/network/interfaces.d/blockhost-network');
    expect(stanza).toContain(
      `auto ${nic}\niface ${nic} inet static\n    address ${NEW_CIDR}\n    gateway ${gatewayIp}\n` +
        '    dns-nameservers 9.9.9.9 2620:fe::fe\n',
    );
    const interfaces = await file('etc/network/interfaces');
    expect(interfaces).toContain(`# blockhost-network-sync: iface ${nic} inet dhcp`);
    expect(interfaces).toContain(`# blockhost-network-sync: allow-hotplug ${nic}`);
    expect(await file('etc/network/interfaces.blockhost-orig')).toBe(DHCP_INTERFACES);
    expect(existsSync(join(root, 'var/lib/blockhost/network-sync/pending'))).toBe(false);

    const reported = await status();
    expect(reported.data).toEqual({
      phase: 'Applied',
      message: `${nic} has ${NEW_CIDR} with the default route via ${gatewayIp}`,
      appliedGeneration: String(generation),
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });

    // Nothing changed since: no network change, no file written, no status update.
    const before = await pair.hostState();
    const second = await sync();
    expect([second.code, second.stderr]).toEqual([0, '']);
    expect(await pair.hostState()).toBe(before);
    expect(await file('etc/network/interfaces.d/blockhost-network')).toBe(stanza);
    expect(await file('etc/network/interfaces')).toBe(interfaces);
    expect((await status()).resourceVersion).toBe(reported.resourceVersion);
    const verbose = await sync(['--verbose']);
    expect(verbose.stderr).toContain('spec.network is applied; nothing to do');
  });

  it('rolls back to the exact previous state when the new gateway does not answer', async () => {
    const resolvBefore = await file('etc/resolv.conf');
    const before = await pair.hostState();
    const generation = await setNetwork({
      mode: 'static',
      address: NEW_CIDR,
      gateway: '10.77.0.99',
      dns: ['9.9.9.9'],
    });
    const result = await sync();
    const message = `gateway 10.77.0.99 did not answer on ${nic} with ${NEW_CIDR}; restored the previous addresses and routes`;
    expect(result.stderr).toContain(message);
    expect(result.code).not.toBe(0);

    expect(await pair.hostState()).toBe(before);
    expect(await file('etc/resolv.conf')).toBe(resolvBefore);
    expect(await file('etc/network/interfaces')).toBe(DHCP_INTERFACES);
    expect(existsSync(join(root, 'etc/network/interfaces.d/blockhost-network'))).toBe(false);
    expect(existsSync(join(root, 'var/lib/blockhost/network-sync/pending'))).toBe(false);
    expect(await pingFromHost()).toBe(true);
    const reported = await status();
    expect(reported.data).toMatchObject({
      phase: 'RolledBack',
      message,
      appliedGeneration: String(generation),
    });

    // The failed spec is not tried again every 30 s: only when it changes (or with --retry).
    const again = await sync();
    expect(again.code).toBe(0);
    expect(await pair.hostState()).toBe(before);
    expect((await status()).resourceVersion).toBe(reported.resourceVersion);
    const retried = await sync(['--retry']);
    expect(retried.code).not.toBe(0);
    expect(await pair.hostState()).toBe(before);
  });

  it('configures the bridge when the interface is its port', async () => {
    const bridged = await run(
      'ip',
      ['netns', 'exec', pair.host, installScripts.bridge, '--ping-count', '2'],
      {
        env: { BLOCKHOST_ROOT: root },
      },
    );
    expect(bridged.code).toBe(0);
    const generation = await setNetwork({
      mode: 'static',
      interface: nic,
      address: NEW_CIDR,
      gateway: gatewayIp,
    });
    const result = await sync();
    expect(result.stderr).toContain(`${nic} is a port of br0: configuring br0`);
    expect(result.code).toBe(0);
    expect(await addresses('br0')).toContain(NEW_CIDR);
    expect(await addresses(nic)).toBe('');
    expect(await defaultRoute()).toMatch(new RegExp(`^default via ${gatewayIp} dev br0`));
    expect(await pingFromHost()).toBe(true);
    const stanza = await file('etc/network/interfaces.d/blockhost-bridge');
    expect(stanza).toContain(
      `auto br0\niface br0 inet static\n    address ${NEW_CIDR}\n    gateway ${gatewayIp}\n`,
    );
    expect(stanza).toContain(`bridge_ports ${nic}`);
    expect(await file('etc/resolv.conf')).toBe(RESOLV_CONF);
    expect((await status()).data).toMatchObject({ phase: 'Applied', appliedGeneration: String(generation) });
  });

  it('refuses DHCP without a DHCP client, and does nothing without a HostConfig', async () => {
    const before = await pair.hostState();
    const none = await sync();
    expect([none.code, none.stderr]).toEqual([0, '']);

    await setNetwork({ mode: 'dhcp' });
    const result = await sync([], { BLOCKHOST_DHCLIENT: join(root, 'no-dhclient') });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('needs dhclient');
    expect(await pair.hostState()).toBe(before);
    expect((await status()).data).toMatchObject({ phase: 'Refused' });
  });
});
