// blockhost-host-facts (first boot's host-facts step, and the refresh command) against the harness's
// real API server with the real kubectl and jq; lsblk and ip print fixtures (fake-host-tools). The
// ConfigMap it writes must be what the wizard reads: parsed with the wizard's own schema.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KubeClient } from '../../../lib/kube/client.js';
import { isNotFound } from '../../../lib/kube/errors.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { HOST_FACTS_CONFIGMAP, hostFactsSchema } from '../../../web/wizard/host-facts.js';
import { ensureControlPlaneBinaries } from '../../harness/control-plane/binaries.js';
import {
  expectedHostFacts,
  ipRouteFixture,
  lsblkFixture,
  writeHostFixtures,
} from '../../harness/install/host-facts-fixtures.js';
import { installScripts, run, runOk } from '../../harness/install/scripts.js';
import { deleteNamespace, testClient } from '../../harness/kube.js';

type ConfigMap = KubeObject & {
  data?: Record<string, string>;
  metadata: { resourceVersion?: string; managedFields?: { manager?: string; operation?: string }[] };
};

describe('blockhost-host-facts', () => {
  let kube: KubeClient;
  let scratch: string;
  let namespace: string;
  let env: Record<string, string>;

  const configMap = () => kube.get<ConfigMap>(coreTypes.configMap, HOST_FACTS_CONFIGMAP, namespace);
  /** As the wizard reads it (web/wizard/host-facts.ts readHostFacts). */
  const wizardFacts = (object: ConfigMap) =>
    hostFactsSchema.parse({
      blockDevices: JSON.parse(object.data?.blockDevices ?? 'null'),
      interfaces: JSON.parse(object.data?.interfaces ?? 'null'),
    });
  const fixtures = (name: string, options?: Parameters<typeof writeHostFixtures>[1]) =>
    writeHostFixtures(join(scratch, name), options);

  beforeAll(async () => {
    kube = testClient();
    const { kubectl } = await ensureControlPlaneBinaries();
    scratch = await mkdtemp(join(tmpdir(), 'bh-host-facts-'));
    // Not created here: the command creates the namespace itself (first boot may run before the chart).
    namespace = `host-facts-${randomBytes(3).toString('hex')}`;
    env = {
      BLOCKHOST_KUBECTL: kubectl,
      BLOCKHOST_NAMESPACE: namespace,
      BLOCKHOST_LOG_FILE: join(scratch, 'firstboot.log'),
      ...(await fixtures('standard')),
    };
  });

  afterAll(async () => {
    await deleteNamespace(kube, namespace);
    await rm(scratch, { recursive: true, force: true });
  });

  it('writes the disks and interfaces the wizard reads: / disk in use, the default-route interface suggested', async () => {
    const result = await run(installScripts.hostFacts, [], { env });
    expect([result.code, result.stdout]).toEqual([0, '']);
    expect(result.stderr).toContain(
      `host facts written to ConfigMap ${namespace}/${HOST_FACTS_CONFIGMAP}: 3 disk(s) (2 in use: /dev/sda, /dev/nvme0n1), 4 interface(s) (default route: eno1 via 192.168.1.1)`,
    );

    const object = await configMap();
    expect(Object.keys(object.data ?? {}).sort()).toEqual(['blockDevices', 'interfaces']);
    const facts = wizardFacts(object);
    expect(facts).toEqual(expectedHostFacts);
    // The disk holding / (through a partition and LVM) is never offered; the empty one is.
    expect(facts.blockDevices.find((d) => d.path === '/dev/sda')?.inUse).toBe(true);
    expect(facts.blockDevices.find((d) => d.path === '/dev/sdb')?.inUse).toBe(false);
    expect(facts.interfaces.filter((i) => i.defaultRoute).map((i) => i.name)).toEqual(['eno1']);
    // Exactly the wizard's format, nothing the schema would default or drop.
    expect(JSON.parse(object.data?.blockDevices ?? '')).toEqual(expectedHostFacts.blockDevices);
    expect(JSON.parse(object.data?.interfaces ?? '')).toEqual(expectedHostFacts.interfaces);

    // Server-side apply under its own field manager, labelled as ours.
    expect(object.metadata.labels).toEqual({
      'app.kubernetes.io/part-of': 'blockhost',
      'app.kubernetes.io/managed-by': 'blockhost-host-facts',
    });
    expect(object.metadata.managedFields?.map((f) => [f.manager, f.operation])).toEqual([
      ['blockhost-host-facts', 'Apply'],
    ]);
    expect(object.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toBeUndefined();
  });

  it('is idempotent: a second run with the same host changes nothing', async () => {
    const before = await configMap();
    const again = await run(installScripts.hostFacts, [], { env });
    expect(again.code).toBe(0);
    const after = await configMap();
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.data).toEqual(before.data);
  });

  it('refreshes the facts after a disk was added and the network changed', async () => {
    const added = {
      path: '/dev/sdc',
      size: 4000787030016,
      model: 'ST4000NM000A',
      type: 'disk',
      mountpoints: [null],
    };
    const refreshed = await run(installScripts.hostFacts, [], {
      env: {
        ...env,
        ...(await fixtures('disk-added', {
          lsblk: { blockdevices: [...lsblkFixture.blockdevices, added] },
          ipRoute: ipRouteFixture.filter((r) => r.dev === 'eno2'),
        })),
      },
    });
    expect(refreshed.code).toBe(0);
    const facts = wizardFacts(await configMap());
    expect(facts.blockDevices.map((d) => d.path)).toEqual([
      '/dev/sda',
      '/dev/sdb',
      '/dev/nvme0n1',
      '/dev/sdc',
    ]);
    expect(facts.blockDevices.at(-1)).toEqual({
      path: '/dev/sdc',
      sizeBytes: 4000787030016,
      model: 'ST4000NM000A',
      inUse: false,
    });
    expect(facts.interfaces.filter((i) => i.defaultRoute)).toEqual([
      {
        name: 'eno2',
        mac: '3c:ec:ef:12:34:57',
        addresses: ['10.0.0.5/24'],
        gateway: '10.0.0.1',
        defaultRoute: true,
      },
    ]);
    expect(facts.interfaces.find((i) => i.name === 'eno1')).not.toHaveProperty('gateway');
    // Back to the original host.
    await runOk(installScripts.hostFacts, [], { env });
    expect(wizardFacts(await configMap())).toEqual(expectedHostFacts);
  });

  it('copes with older and odd tool output: sizes as strings, no model, no default route (empty output)', async () => {
    const result = await run(installScripts.hostFacts, ['--print'], {
      env: {
        ...env,
        ...(await fixtures('odd', {
          lsblk: {
            blockdevices: [
              { path: '/dev/vda', size: '21474836480', model: '   ', type: 'disk', mountpoints: [null] },
              { path: '/dev/vdb', size: '0', model: null, type: 'disk', mountpoints: [null] },
            ],
          },
          ipRoute: '',
        })),
      },
    });
    expect(result.code).toBe(0);
    const facts = hostFactsSchema.parse(JSON.parse(result.stdout));
    expect(facts.blockDevices).toEqual([{ path: '/dev/vda', sizeBytes: 21474836480, inUse: false }]);
    expect(facts.interfaces.some((i) => i.defaultRoute || i.gateway)).toBe(false);
    expect(facts.interfaces.map((i) => i.name)).toEqual(['eno1', 'eno2', 'eno3', 'ib0']);
  });

  it('--print shows the facts and writes nothing', async () => {
    const elsewhere = `host-facts-print-${randomBytes(3).toString('hex')}`;
    const result = await run(installScripts.hostFacts, ['--print'], {
      env: { ...env, BLOCKHOST_NAMESPACE: elsewhere },
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(expectedHostFacts);
    const lookup = await kube.get(coreTypes.namespace, elsewhere).then(
      () => 'exists',
      (error: unknown) => (isNotFound(error) ? 'not found' : error),
    );
    expect(lookup).toBe('not found');
  });

  it("reads this machine's real lsblk and ip into facts the wizard accepts", async () => {
    const { BLOCKHOST_LSBLK: _lsblk, BLOCKHOST_IP: _ip, FAKE_HOST_DIR: _dir, ...real } = env;
    const result = await run(installScripts.hostFacts, ['--print'], { env: real });
    expect([result.code, result.stderr]).toEqual([0, '']);
    const facts = hostFactsSchema.parse(JSON.parse(result.stdout));
    expect(facts.interfaces.map((i) => i.name)).not.toContain('lo');
    // The disk this test runs from holds / (unless the root is not on a block device at all).
    const root = await run('findmnt', ['-n', '-o', 'SOURCE', '/']);
    if (root.stdout.trim().startsWith('/dev/')) expect(facts.blockDevices.some((d) => d.inUse)).toBe(true);
  });

  it('fails clearly and leaves the facts as they were when a tool fails or output is garbage', async () => {
    const before = await configMap();
    const cases: [Record<string, string>, string][] = [
      [{ BLOCKHOST_LSBLK: 'false' }, 'lsblk failed; the host facts are unchanged'],
      [{ BLOCKHOST_IP: 'false' }, 'ip address failed; the host facts are unchanged'],
      [
        await fixtures('garbage', { lsblk: 'lsblk: unknown column: MOUNTPOINTS\n' }),
        "could not read lsblk's output",
      ],
      [{ BLOCKHOST_JQ: join(scratch, 'no-such-jq') }, 'jq is needed'],
      [{ BLOCKHOST_KUBECTL: 'false' }, `could not write ConfigMap ${namespace}/${HOST_FACTS_CONFIGMAP}`],
      [{ BLOCKHOST_NAMESPACE: 'Bad_Name' }, "BLOCKHOST_NAMESPACE 'Bad_Name' is not a valid namespace name"],
    ];
    for (const [override, message] of cases) {
      const result = await run(installScripts.hostFacts, [], { env: { ...env, ...override } });
      expect([override, result.code === 0, result.stderr]).toEqual([
        override,
        false,
        expect.stringContaining(message),
      ]);
    }
    const unknown = await run(installScripts.hostFacts, ['--bogus'], { env });
    expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringContaining('unknown argument: --bogus')]);
    const after = await configMap();
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });
});
