// The CRDs against a real kube-apiserver: installation, defaults, every invalid example of
// lib/api/v1alpha1/examples.ts (schema and CEL), and what kubectl shows.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  exampleHostConfig,
  examplePlan,
  exampleSubscription,
  exampleVM,
  invalidExamples,
  type InvalidExample,
} from '../../lib/api/v1alpha1/examples.js';
import { blockhostTypes } from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isNotFound, KubeApiError } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes, type ResourceType } from '../../lib/kube/resource-types.js';
import { ensureControlPlaneBinaries } from '../harness/control-plane/binaries.js';
import {
  claimHostConfig,
  createTestNamespace,
  deleteNamespace,
  testClient,
  withHostConfigClaimWait,
} from '../harness/kube.js';

type Kind = keyof typeof invalidExamples;

const kinds: Record<Kind, { type: ResourceType; example: KubeObject & { status?: object } }> = {
  HostConfig: { type: blockhostTypes.hostConfig, example: exampleHostConfig },
  Plan: { type: blockhostTypes.plan, example: examplePlan },
  Subscription: { type: blockhostTypes.subscription, example: exampleSubscription },
  VM: { type: blockhostTypes.vm, example: exampleVM },
};
const kindNames = Object.keys(kinds) as Kind[];

/** Where this file puts objects: namespaced kinds in `namespace`, Plans (cluster-scoped) under a unique name. */
interface Place {
  namespace: string;
  planName: string;
}

/** A copy of `object` moved to `place`; HostConfig keeps its name (singleton) and so do Subscriptions (name = id). */
function placed(kind: Kind, object: unknown, place: Place): KubeObject & { status?: object } {
  const copy = structuredClone(object) as KubeObject & { status?: object };
  if (kinds[kind].type.namespaced) copy.metadata.namespace = place.namespace;
  if (kind === 'Plan') copy.metadata.name = place.planName;
  return copy;
}

const ignoreNotFound = (error: unknown) => {
  if (!isNotFound(error)) throw error;
};

/** The apiserver's error for a write that must fail; a write that succeeds fails the test. */
async function rejection(write: Promise<unknown>): Promise<KubeApiError> {
  const error = await write.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof KubeApiError)) {
    throw new Error(`expected the apiserver to reject the write, got ${error ? String(error) : 'success'}`);
  }
  return error;
}

/** Fields the apiserver's Status names in details.causes[].field. */
function causeFields(error: KubeApiError): string[] {
  const details = error.details as { causes?: { field?: string }[] } | undefined;
  return (details?.causes ?? []).map((cause) => cause.field ?? '');
}

/** `spec.images.1` (examples, zod) → `spec.images[1]` (apiserver). */
const apiserverField = (path: string): string => path.replace(/\.(\d+)(?=\.|$)/g, '[$1]');

const kubectlCacheDir = mkdtemp(join(tmpdir(), 'crds-kubectl-'));

async function kubectl(...args: string[]): Promise<string> {
  const kubeconfig = process.env.KUBECONFIG ?? '';
  const cacheDir = await kubectlCacheDir;
  const { stdout } = await promisify(execFile)((await ensureControlPlaneBinaries()).kubectl, [
    '--kubeconfig',
    kubeconfig,
    '--cache-dir',
    cacheDir,
    ...args,
  ]);
  return stdout;
}

const headerOf = (table: string): string[] => table.split('\n')[0]!.trim().split(/\s+/);

describe('BlockHost CRDs on a real apiserver', () => {
  const suffix = randomBytes(3).toString('hex');
  let client: KubeClient;
  /** Valid objects, read by the kubectl tests. */
  let home: Place;
  /** Where the invalid variants are tried, and the valid objects they update are stored. */
  let scratch: Place;
  let releaseHostConfig: () => Promise<void>;

  beforeAll(async () => {
    client = testClient();
    // HostConfig `host` is cluster-wide; other test files use it too.
    releaseHostConfig = await claimHostConfig(client);
    home = { namespace: await createTestNamespace(client, 'crds'), planName: `crds-${suffix}` };
    scratch = { namespace: await createTestNamespace(client, 'crds-x'), planName: `crds-x-${suffix}` };
    for (const kind of kindNames) {
      const object = placed(kind, kinds[kind].example, home);
      const { metadata } = await client.create(kinds[kind].type, object);
      // A create drops status (status subresource): the examples' status goes through /status.
      if (object.status)
        await client.update(kinds[kind].type, { ...object, metadata }, { subresource: 'status' });
    }
  }, withHostConfigClaimWait(120_000));

  afterAll(async () => {
    await client.delete(blockhostTypes.hostConfig, `other-${suffix}`).catch(ignoreNotFound);
    for (const place of [home, scratch]) {
      await client.delete(blockhostTypes.plan, place.planName).catch(ignoreNotFound);
      await deleteNamespace(client, place.namespace);
    }
    await rm(await kubectlCacheDir, { recursive: true, force: true });
    await releaseHostConfig();
  });

  describe('installed CRDs', () => {
    it.each([
      ['hostconfigs.blockhost.io', 'Cluster', ['hc']],
      ['plans.blockhost.io', 'Cluster', ['bhplan']],
      ['subscriptions.blockhost.io', 'Namespaced', ['sub', 'bhsub']],
      ['vms.blockhost.io', 'Namespaced', ['bhvm']],
    ])('%s is Established, %s, short names %j, category blockhost', async (name, scope, shortNames) => {
      const crd = await client.get<
        KubeObject & {
          spec: { scope: string; names: { shortNames: string[]; categories: string[] } };
          status: { conditions: { type: string; status: string }[] };
        }
      >(coreTypes.customResourceDefinition, name);
      expect(crd.spec.scope).toBe(scope);
      expect(crd.spec.names.shortNames).toEqual(shortNames);
      expect(crd.spec.names.categories).toEqual(['blockhost']);
      expect(crd.status.conditions).toContainEqual(
        expect.objectContaining({ type: 'Established', status: 'True' }),
      );
    });
  });

  describe('valid objects', () => {
    it.each([
      [
        'HostConfig',
        {
          spec: {
            chain: { confirmations: 12, pollIntervalSeconds: 5 },
            publicSecret: 'blockhost-access',
            admin: { credentialTokenId: '0', commands: { ports: [22], durationSeconds: 300 } },
            gcGraceDays: 7,
          },
        },
      ],
      ['Plan', { spec: { active: true } }],
      ['Subscription', { spec: { cancelled: false } }],
      ['VM', { spec: { runStrategy: 'Always', cloudInit: { username: 'admin' } } }],
    ] as const)('a valid %s is accepted and read back with defaults and status', async (kind, defaults) => {
      const { type, example } = kinds[kind];
      const { metadata } = placed(kind, example, home);
      const stored = await client.get<KubeObject & { spec: object; status: object }>(
        type,
        metadata.name!,
        metadata.namespace,
      );
      expect(stored).toMatchObject(defaults);
      expect(stored.status).toEqual(example.status);
    });
  });

  describe('HostConfig is a singleton', () => {
    it('rejects a HostConfig not named host', async () => {
      const other = { ...exampleHostConfig, metadata: { name: `other-${suffix}` } };
      const error = await rejection(client.create(blockhostTypes.hostConfig, other));
      expect(error.status).toBe(422);
      expect(error.message).toContain('HostConfig is a singleton: metadata.name must be "host"');
    });
  });

  /** The write an invalid variant makes: a create, or an update of a stored valid object. */
  async function prepareWrite(kind: Kind, { object, oldObject, path }: InvalidExample) {
    const { type, example } = kinds[kind];
    const candidate = placed(kind, object, scratch);
    const isStatus = path.startsWith('status.');
    if (!oldObject && !isStatus) return () => client.create(type, candidate, { dryRun: true });
    const old = placed(kind, oldObject ?? example, scratch);
    await client.delete(type, old.metadata.name!, old.metadata.namespace).catch(ignoreNotFound);
    const stored = await client.create(type, old);
    candidate.metadata.resourceVersion = stored.metadata.resourceVersion;
    return () => client.update(type, candidate, isStatus ? { subresource: 'status' } : {});
  }

  describe.each(kindNames)('invalid %s', (kind) => {
    it.each(invalidExamples[kind])('rejects $name at "$path"', async (example) => {
      const write = await prepareWrite(kind, example);
      const error = await rejection(write());
      expect(error.status).toBe(422);
      expect(error.reason).toBe('Invalid');
      // Rules on the whole object report no field (the apiserver prints <nil>); ours check
      // metadata.name, and their message says so.
      if (example.path) expect(causeFields(error)).toContain(apiserverField(example.path));
      else expect(error.message).toContain('metadata.name');
      expect(error.message).toContain(example.message);
    });
  });

  describe('kubectl', () => {
    /** `kubectl get -o name` of our valid object of `kind`, e.g. `vm.blockhost.io/blockhost-007`. */
    const ourName = (kind: Kind) =>
      `${kind.toLowerCase()}.blockhost.io/${placed(kind, kinds[kind].example, home).metadata.name}`;

    it('get blockhost -A lists all four kinds', async () => {
      const names = (await kubectl('get', 'blockhost', '-A', '-o', 'name')).split('\n');
      expect(names).toEqual(expect.arrayContaining(kindNames.map(ourName)));
      const table = await kubectl('get', 'blockhost', '-A');
      for (const kind of kindNames) expect(table).toContain(ourName(kind));
    });

    it.each([
      ['hc', 'HostConfig'],
      ['bhplan', 'Plan'],
      ['sub', 'Subscription'],
      ['bhsub', 'Subscription'],
      ['bhvm', 'VM'],
    ] as const)('get %s finds our %s', async (shortName, kind) => {
      const scope = kinds[kind].type.namespaced ? ['-n', home.namespace] : [];
      expect((await kubectl('get', shortName, ...scope, '-o', 'name')).split('\n')).toContain(ourName(kind));
    });

    it('get bhvm shows the VM columns', async () => {
      const table = await kubectl('get', 'bhvm', '-n', home.namespace);
      expect(headerOf(table)).toEqual(['NAME', 'PHASE', 'BACKEND', 'IP', 'OWNER', 'HOLD', 'AGE']);
      expect(table.split('\n')[1]?.trim().split(/\s+/).slice(0, 5)).toEqual([
        'blockhost-007',
        'Running',
        'libvirt',
        '192.168.122.200',
        exampleVM.spec.ownerWallet,
      ]);
    });

    it('get subscriptions shows the Subscription columns', async () => {
      const table = await kubectl('get', 'subscriptions', '-n', home.namespace);
      expect(headerOf(table)).toEqual(['NAME', 'ID', 'PLAN', 'SUBSCRIBER', 'EXPIRES', 'PHASE', 'VM', 'AGE']);
      expect(table.split('\n')[1]?.trim().split(/\s+/).slice(0, 7)).toEqual([
        'blockhost-007',
        '7',
        '1',
        exampleSubscription.spec.subscriber,
        exampleSubscription.spec.expiresAt,
        'Active',
        'blockhost-007',
      ]);
    });

    it.each(['vm', 'bhvm'])('explain %s.spec.ownerWallet prints its description', async (resource) => {
      const text = await kubectl(
        'explain',
        `${resource}.spec.ownerWallet`,
        '--api-version=blockhost.io/v1alpha1',
      );
      expect(text).toContain('Wallet allowed to log in (GECOS wallet=); follows NFT transfers.');
    });
  });
});
