// Trust boundaries that admission holds: the web server (which may patch VMs for the dashboard's
// actions) cannot hand a subscription VM's login to another wallet, a VM cannot take an address in
// use, and a Subscription planted in another namespace cannot block the chain watcher's.
import { describe, expect, it } from '@jest/globals';
import { validateAdmission } from '../../../webhooks/validate/index.js';
import {
  edited,
  staticLookups,
  storedExamples,
  type ClusterObjects,
} from '../../harness/webhooks/fixtures.js';

const { hostConfig, plan, subscription, vm } = storedExamples;
const cluster: ClusterObjects = { hostConfig, plans: [plan], subscriptions: [subscription], vms: [vm] };
const ATTACKER = '0x000000000000000000000000000000000000dead';

const admit = (kind: string, object: unknown, oldObject?: unknown, objects = cluster) =>
  validateAdmission(
    { kind, operation: oldObject ? 'UPDATE' : 'CREATE', object, oldObject },
    staticLookups(objects),
    { releaseNamespace: 'blockhost' },
  );
const paths = (findings: { errors: { path: string }[] }) => findings.errors.map((e) => e.path);

describe("a patch of another VM's login (GECOS)", () => {
  it.each([
    ['spec.ownerWallet', (v: typeof vm) => (v.spec.ownerWallet = ATTACKER)],
    ['spec.nftTokenId', (v: typeof vm) => (v.spec.nftTokenId = '99')],
    [
      'spec.cloudInit.gecos',
      (v: typeof vm) => (v.spec.cloudInit = { ...v.spec.cloudInit!, gecos: `wallet=${ATTACKER},nft=1` }),
    ],
  ])('is refused: %s must follow the Subscription', async (path, change) => {
    expect(paths(await admit('VM', edited(vm, change), vm))).toEqual([path]);
  });

  it("follows an NFT transfer: the Subscription's new holder is accepted", async () => {
    const transferred = edited(subscription, (s) => (s.spec.credential = { tokenId: '1', holder: ATTACKER }));
    const next = edited(vm, (v) => (v.spec.ownerWallet = ATTACKER));
    expect(await admit('VM', next, vm, { ...cluster, subscriptions: [transferred] })).toEqual({
      errors: [],
      warnings: [],
    });
  });
});

describe('a VM with an explicit address in use', () => {
  it.each([
    ['ipv4', '192.168.122.200'],
    ['ipv6', '2001:db8:42::200'],
  ] as const)('is refused (%s %s belongs to blockhost/blockhost-007)', async (family, address) => {
    const other = edited(vm, (v) => {
      v.metadata.name = 'intruder';
      v.metadata.namespace = 'tenant';
      delete v.spec.subscriptionRef;
      v.spec.network = { [family]: address };
    });
    const { errors } = await admit('VM', other);
    expect(errors).toEqual([expect.objectContaining({ path: `spec.network.${family}` })]);
    expect(errors[0]!.message).toContain('in use by VM blockhost/blockhost-007');
  });
});

describe('a Subscription planted in another namespace', () => {
  const planted = edited(subscription, (s) => (s.metadata.namespace = 'tenant'));

  it("does not block the chain watcher's own object (the twin)", async () => {
    const findings = await admit('Subscription', subscription, undefined, {
      ...cluster,
      subscriptions: [planted],
    });
    expect(findings.errors).toEqual([]);
  });

  it('is stored only with a warning that it provisions nothing', async () => {
    const findings = await admit('Subscription', planted, undefined, { ...cluster, subscriptions: [] });
    expect(findings.warnings).toContain(
      'the chain watcher keeps Subscriptions in namespace blockhost; this one is in tenant and provisions nothing',
    );
  });
});
