import { describe, expect, it } from '@jest/globals';
import {
  exampleBackends,
  exampleHostConfig,
  examplePlan,
  exampleSubscription,
  exampleVM,
  invalidExamples,
} from '../../lib/api/v1alpha1/examples.js';
import { hostConfigSchema, type HostConfig } from '../../lib/api/v1alpha1/index.js';
import {
  edited,
  staticLookups,
  storedExamples,
  type ClusterObjects,
} from '../../test/harness/webhooks/fixtures.js';
import { fieldPath } from '../field-errors.js';
import { TRANSITION_CHECKS, transitionRulesByKind } from '../transitions.js';
import { validateAdmission, type ValidationOptions } from './index.js';

const { hostConfig: host, plan, subscription, vm } = storedExamples;
const cluster: ClusterObjects = { hostConfig: host, plans: [plan], subscriptions: [subscription], vms: [vm] };

async function admit(
  kind: string,
  object: unknown,
  {
    oldObject,
    objects = cluster,
    subResource,
    options,
  }: {
    oldObject?: unknown;
    objects?: ClusterObjects;
    subResource?: string;
    options?: ValidationOptions;
  } = {},
) {
  return validateAdmission(
    { kind, operation: oldObject ? 'UPDATE' : 'CREATE', object, oldObject, subResource },
    staticLookups(objects),
    options,
  );
}

const paths = (findings: { errors: { path: string }[] }) => findings.errors.map((e) => e.path);

/** `spec.images.1` (examples) → `spec.images[1]` (apiserver and our messages). */
const bracketed = (path: string) => fieldPath(path.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s)));

describe('the examples', () => {
  it.each([
    ['HostConfig', exampleHostConfig],
    ['Plan', examplePlan],
    ['Subscription', exampleSubscription],
    ['VM', exampleVM],
  ])('a valid %s is allowed without warnings', async (kind, object) => {
    expect(await admit(kind, object)).toEqual({ errors: [], warnings: [] });
  });

  describe.each(Object.keys(invalidExamples) as (keyof typeof invalidExamples)[])(
    'invalid %s (the CRD rules, enforced without CEL)',
    (kind) => {
      it.each(invalidExamples[kind])(
        'refuses $name at "$path"',
        async ({ object, oldObject, path, message }) => {
          const { errors } = await admit(kind, object, { oldObject });
          expect(errors.length).toBeGreaterThan(0);
          const error = errors.find((e) => e.path === bracketed(path));
          expect(error).toBeDefined();
          expect(error!.message).toContain(message);
        },
      );
    },
  );
});

describe('transition rules', () => {
  it('has a TypeScript check for every transition rule in the CRDs', () => {
    const rules = [...transitionRulesByKind.values()].flat().map((r) => r.rule);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) expect(Object.keys(TRANSITION_CHECKS)).toContain(rule);
  });

  it('allows an update that keeps the immutable fields', async () => {
    const next = edited(vm, (v) => {
      v.spec.runStrategy = 'Halted';
      v.spec.size.diskGiB = 40;
    });
    expect((await admit('VM', next, { oldObject: vm })).errors).toEqual([]);
  });

  it('refuses removing an immutable field that was set, which CEL cannot see', async () => {
    const next = edited(vm, (v) => delete v.spec.network!.ipv4);
    const { errors } = await admit('VM', next, { oldObject: vm });
    expect(errors).toEqual([
      {
        path: 'spec.network.ipv4',
        message: 'ipv4 is immutable: it cannot be removed once set',
        reason: 'FieldValueForbidden',
      },
    ]);
  });

  it('lets an immutable field be set when it was absent', async () => {
    const stored = edited(vm, (v) => delete v.spec.network);
    expect((await admit('VM', vm, { oldObject: stored })).errors).toEqual([]);
  });

  it('refuses a Subscription moved to another chain', async () => {
    const next = edited(subscription, (s) => (s.spec.chainId = 1));
    expect(paths(await admit('Subscription', next, { oldObject: subscription }))).toEqual(['spec.chainId']);
  });
});

describe('ratcheting', () => {
  // Stored before a rule existed (or written to a cluster without CEL): invalid already.
  const stored = edited(host, (h) => (h.spec.ipv4Pool.gateway = '192.168.122.210'));

  it('lets an object that already breaks a rule get unrelated updates', async () => {
    const next = edited(stored, (h) => (h.metadata.labels = { team: 'ops' }));
    expect((await admit('HostConfig', next, { oldObject: stored })).errors).toEqual([]);
  });

  it('still refuses a new violation in the same update', async () => {
    const next = edited(stored, (h) => (h.spec.gcGraceDays = 400));
    expect(paths(await admit('HostConfig', next, { oldObject: stored }))).toEqual(['spec.gcGraceDays']);
  });
});

describe('VM across objects', () => {
  it('refuses a VM before there is a HostConfig', async () => {
    const { errors } = await admit('VM', exampleVM, { objects: { ...cluster, hostConfig: undefined } });
    expect(errors).toEqual([expect.objectContaining({ path: 'spec.backend', reason: 'FieldValueNotFound' })]);
    expect(errors[0]!.message).toContain('no HostConfig "host" exists yet');
  });

  it('refuses a backend other than the HostConfig backend', async () => {
    const next = edited(vm, (v) => (v.spec.backend = 'proxmox'));
    const { errors } = await admit('VM', next);
    expect(errors).toEqual([
      {
        path: 'spec.backend',
        message: 'must be libvirt, the backend of HostConfig "host" (spec.backend.type)',
      },
    ]);
  });

  it('refuses an image the backend does not list, naming the ones it does', async () => {
    const next = edited(vm, (v) => (v.spec.image = 'ubuntu-24'));
    const { errors } = await admit('VM', next);
    expect(paths({ errors })).toEqual(['spec.image']);
    expect(errors[0]!.message).toBe(
      'must be one of the images of HostConfig "host" spec.backend.libvirt.images: debian-12',
    );
  });

  it('refuses a VM when the HostConfig lacks settings for its backend (a cluster without CEL)', async () => {
    const broken = edited(host, (h) => delete h.spec.backend.libvirt);
    const { errors } = await admit('VM', exampleVM, { objects: { ...cluster, hostConfig: broken } });
    expect(errors[0]!.message).toContain('has no spec.backend.libvirt settings');
  });

  it.each([
    ['outside the range', '192.168.122.199'],
    ['in another subnet', '10.0.0.200'],
    ['the gateway', '192.168.122.1'],
  ])('refuses an IPv4 address %s', async (_what, ipv4) => {
    const next = edited(vm, (v) => (v.spec.network!.ipv4 = ipv4));
    const { errors } = await admit('VM', next);
    expect(errors).toEqual([
      {
        path: 'spec.network.ipv4',
        message:
          'must be inside the pool of HostConfig "host" spec.ipv4Pool (192.168.122.200-192.168.122.250, not the gateway 192.168.122.1)',
      },
    ]);
  });

  it.each([
    ['outside the prefix', '2001:db8:43::200'],
    ['the gateway', '2001:db8:42::1'],
    ['the network address', '2001:db8:42::'],
  ])('refuses an IPv6 address %s', async (_what, ipv6) => {
    const next = edited(vm, (v) => (v.spec.network!.ipv6 = ipv6));
    expect(paths(await admit('VM', next))).toEqual(['spec.network.ipv6']);
  });

  it('refuses IPv6 when the host has none', async () => {
    const noIpv6 = edited(host, (h) => (h.spec.ipv6 = { mode: 'none', allocationSize: 64 }));
    const { errors } = await admit('VM', exampleVM, { objects: { ...cluster, hostConfig: noIpv6 } });
    expect(errors).toEqual([
      expect.objectContaining({ path: 'spec.network.ipv6', reason: 'FieldValueForbidden' }),
    ]);
  });

  it('checks IPv6 against the prefix leased from the broker, and warns while there is none', async () => {
    const broker = edited(host, (h) => {
      h.spec.ipv6 = { mode: 'broker', brokerRegistry: exampleVM.spec.ownerWallet, allocationSize: 64 };
    });
    const waiting = await admit('VM', exampleVM, { objects: { ...cluster, hostConfig: broker } });
    expect(waiting.errors).toEqual([]);
    expect(waiting.warnings).toEqual([expect.stringContaining('spec.network.ipv6 was not checked')]);
    const leased = edited(broker, (h) => (h.status = { ipv6Prefix: '2001:db8:99::/64' }));
    expect(paths(await admit('VM', exampleVM, { objects: { ...cluster, hostConfig: leased } }))).toEqual([
      'spec.network.ipv6',
    ]);
  });

  it('refuses a subscriptionRef to a Subscription that does not exist', async () => {
    const next = edited(vm, (v) => (v.spec.subscriptionRef = { name: 'blockhost-999' }));
    const { errors } = await admit('VM', next);
    expect(errors).toEqual([
      {
        path: 'spec.subscriptionRef.name',
        message: 'no Subscription "blockhost-999" in namespace "blockhost"',
        reason: 'FieldValueNotFound',
      },
    ]);
  });

  it('refuses moving a VM to another Subscription or detaching it', async () => {
    const moved = edited(vm, (v) => (v.spec.subscriptionRef = { name: 'blockhost-008' }));
    const detached = edited(vm, (v) => delete v.spec.subscriptionRef);
    for (const next of [moved, detached])
      expect(paths(await admit('VM', next, { oldObject: vm }))).toEqual(['spec.subscriptionRef']);
  });

  it('does not re-check unchanged fields on update, so a changed HostConfig never blocks stored VMs', async () => {
    const movedPool = edited(host, (h) => {
      h.spec.ipv4Pool = { network: '10.9.0.0/24', start: '10.9.0.10', end: '10.9.0.20', gateway: '10.9.0.1' };
      h.spec.backend = {
        type: 'proxmox',
        proxmox: hostConfigSchema.shape.spec.shape.backend.parse(exampleBackends.proxmox).proxmox,
      };
    });
    const deleting = edited(vm, (v) => {
      v.metadata.finalizers = [];
      v.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    });
    const objects = { hostConfig: movedPool, plans: [], subscriptions: [], vms: [] };
    expect(await admit('VM', deleting, { oldObject: vm, objects })).toEqual({ errors: [], warnings: [] });
  });
});

describe('Subscription across objects', () => {
  it('refuses a second object for the same on-chain subscription in another namespace', async () => {
    const twin = edited(subscription, (s) => (s.metadata.namespace = 'elsewhere'));
    const { errors } = await admit('Subscription', twin);
    expect(errors).toEqual([expect.objectContaining({ path: 'spec.subscriptionId' })]);
    expect(errors[0]!.message).toContain('is already mirrored by blockhost/blockhost-007');
  });

  it('stores a subscription whose plan is unknown, with a warning: chain facts are never refused', async () => {
    const unknownPlan = edited(subscription, (s) => (s.spec.planId = '42'));
    const findings = await admit('Subscription', unknownPlan, { objects: { ...cluster, subscriptions: [] } });
    expect(findings.errors).toEqual([]);
    expect(findings.warnings).toEqual([
      'spec.planId: no Plan has on-chain id 42 on chain 11155111; the subscription fails with UnknownPlan until one does',
    ]);
  });

  it('warns about another chain, another contract and another namespace', async () => {
    const inUse = edited(
      host,
      (h) => (h.status = { contracts: { subscriptions: exampleVM.spec.ownerWallet } }),
    );
    const foreign = edited(subscription, (s) => {
      s.spec.chainId = 1;
      s.metadata.namespace = 'elsewhere';
    });
    const findings = await admit('Subscription', foreign, {
      objects: { hostConfig: inUse, plans: [plan], subscriptions: [] },
      options: { releaseNamespace: 'blockhost' },
    });
    expect(findings.errors).toEqual([]);
    expect(findings.warnings).toEqual([
      'the chain watcher keeps Subscriptions in namespace blockhost; this one is in elsewhere and provisions nothing',
      'spec.chainId 1 is not the chain of HostConfig "host" (11155111)',
      expect.stringContaining('is not the subscriptions contract in use'),
      expect.stringContaining('spec.planId: no Plan has on-chain id 1 on chain 1'),
    ]);
  });

  it('lets the chain watcher update its own object', async () => {
    const extended = edited(subscription, (s) => (s.spec.expiresAt = '2026-03-01T00:00:00Z'));
    expect(await admit('Subscription', extended, { oldObject: subscription })).toEqual({
      errors: [],
      warnings: [],
    });
  });
});

describe('Plan across objects', () => {
  const ubuntu = edited(plan, (p) => (p.spec.size.image = 'ubuntu-24'));

  it('refuses an image the backend does not list', async () => {
    const { errors } = await admit('Plan', ubuntu);
    expect(errors).toEqual([
      {
        path: 'spec.size.image',
        message: 'must be one of the images of HostConfig "host" spec.backend.libvirt.images: debian-12',
        reason: 'FieldValueNotFound',
      },
    ]);
  });

  it('allows any image before a HostConfig exists, and an unchanged image on update', async () => {
    expect((await admit('Plan', ubuntu, { objects: {} })).errors).toEqual([]);
    const repriced = edited(ubuntu, (p) => (p.spec.priceUsdCentsPerDay = 70));
    expect((await admit('Plan', repriced, { oldObject: ubuntu })).errors).toEqual([]);
  });
});

describe('HostConfig across objects', () => {
  const staticNet = (h: HostConfig) =>
    (h.spec.network = { mode: 'static', address: '192.168.122.10/24', gateway: '192.168.122.1' });

  it('allows a bridged pool inside the static host subnet', async () => {
    expect((await admit('HostConfig', edited(host, staticNet))).errors).toEqual([]);
  });

  it('refuses a bridged pool outside the static host subnet, naming each field', async () => {
    const other = edited(host, (h) => {
      staticNet(h);
      h.spec.ipv4Pool = {
        network: '10.0.0.0/24',
        start: '10.0.0.100',
        end: '10.0.0.200',
        gateway: '10.0.0.1',
      };
    });
    const { errors, warnings } = await admit('HostConfig', other);
    expect(paths({ errors })).toEqual(['spec.ipv4Pool.start', 'spec.ipv4Pool.end', 'spec.ipv4Pool.gateway']);
    expect(errors[0]!.message).toBe(
      'must be inside the host subnet 192.168.122.0/24 (spec.network.address): libvirt VMs are bridged onto the host network',
    );
    expect(warnings).toEqual([expect.stringContaining('differs from the host gateway 192.168.122.1')]);
  });

  it('refuses a pool range that contains the host address', async () => {
    const clash = edited(host, (h) => {
      staticNet(h);
      h.spec.network.address = '192.168.122.220/24';
    });
    const { errors } = await admit('HostConfig', clash);
    expect(errors).toEqual([
      {
        path: 'spec.ipv4Pool.start',
        message:
          'the range 192.168.122.200-192.168.122.250 must not include the host address 192.168.122.220: a VM would be given it',
      },
    ]);
  });

  it('applies the bridge rule to Proxmox, and to KubeVirt only with a Multus network', async () => {
    const withBackend = (backend: unknown) =>
      edited(host, (h) => {
        h.spec.network = { mode: 'static', address: '10.1.1.5/24', gateway: '10.1.1.1' };
        h.spec.backend = hostConfigSchema.shape.spec.shape.backend.parse(backend);
      });
    expect((await admit('HostConfig', withBackend(exampleBackends.proxmox))).errors.length).toBe(3);
    expect((await admit('HostConfig', withBackend(exampleBackends.kubevirt))).errors).toEqual([]);
    const multus = {
      ...exampleBackends.kubevirt,
      kubevirt: { ...exampleBackends.kubevirt.kubevirt, networkName: 'lan' },
    };
    expect((await admit('HostConfig', withBackend(multus))).errors.length).toBe(3);
  });

  it('refuses a libvirt NAT pool that overlaps the host subnet', async () => {
    const nat = edited(host, (h) => {
      staticNet(h);
      h.spec.backend.libvirt!.networkMode = 'nat';
    });
    expect(paths(await admit('HostConfig', nat))).toEqual(['spec.ipv4Pool.network']);
    const elsewhere = edited(nat, (h) => (h.spec.network.address = '10.20.0.5/16'));
    elsewhere.spec.network.gateway = '10.20.0.1';
    expect((await admit('HostConfig', elsewhere)).errors).toEqual([]);
  });

  it('cannot check the pool while the host network comes from DHCP', async () => {
    const far = edited(host, (h) => {
      h.spec.ipv4Pool = {
        network: '10.0.0.0/24',
        start: '10.0.0.100',
        end: '10.0.0.200',
        gateway: '10.0.0.1',
      };
    });
    expect((await admit('HostConfig', far)).errors).toEqual([]);
  });

  describe('once contracts are in use', () => {
    const inUse = edited(host, (h) => {
      h.spec.chain.contracts = { subscriptions: exampleSubscription.spec.contract };
      h.status = {
        contracts: { subscriptions: exampleSubscription.spec.contract, nft: exampleVM.spec.ownerWallet },
      };
    });

    it('refuses another chain id', async () => {
      const moved = edited(inUse, (h) => (h.spec.chain.chainId = 1));
      const { errors } = await admit('HostConfig', moved, { oldObject: inUse });
      expect(errors).toEqual([
        expect.objectContaining({ path: 'spec.chain.chainId', reason: 'FieldValueForbidden' }),
      ]);
      expect(errors[0]!.message).toContain('cannot change from 11155111 while contracts are in use');
    });

    it('refuses other contract addresses', async () => {
      const moved = edited(inUse, (h) => (h.spec.chain.contracts!.nft = exampleHostConfig.spec.admin.wallet));
      expect(paths(await admit('HostConfig', moved, { oldObject: inUse }))).toEqual([
        'spec.chain.contracts.nft',
      ]);
    });

    it('allows other chain settings', async () => {
      const more = edited(inUse, (h) => h.spec.chain.rpcEndpoints.push('https://rpc.example/2'));
      expect((await admit('HostConfig', more, { oldObject: inUse })).errors).toEqual([]);
    });

    it('allows moving the chain before any contract is in use', async () => {
      const moved = edited(host, (h) => (h.spec.chain.chainId = 1));
      expect((await admit('HostConfig', moved, { oldObject: host })).errors).toEqual([]);
    });
  });

  it('refuses another backend type while VMs run on the current one', async () => {
    const proxmox = edited(host, (h) => {
      h.spec.backend = hostConfigSchema.shape.spec.shape.backend.parse(exampleBackends.proxmox);
    });
    const { errors } = await admit('HostConfig', proxmox, { oldObject: host });
    expect(errors).toEqual([
      {
        path: 'spec.backend.type',
        message:
          'cannot change from libvirt while 1 VM(s) run there (blockhost/blockhost-007); delete them first',
        reason: 'FieldValueForbidden',
      },
    ]);
    expect((await admit('HostConfig', proxmox, { oldObject: host, objects: { vms: [] } })).errors).toEqual(
      [],
    );
  });

  it('warns when images or pool addresses that VMs and Plans use go away', async () => {
    const shrunk = edited(host, (h) => {
      h.spec.backend.libvirt!.images = [{ name: 'ubuntu-24', path: '/images/u.qcow2', cmdline: 'x' }];
      h.spec.ipv4Pool.start = '192.168.122.220';
    });
    const { errors, warnings } = await admit('HostConfig', shrunk, { oldObject: host });
    expect(errors).toEqual([]);
    expect(warnings).toEqual([
      expect.stringContaining('no longer lists the image of VM(s) blockhost/blockhost-007'),
      expect.stringContaining('no longer lists the image of Plan(s) basic'),
      'spec.ipv4Pool no longer contains the addresses of VM(s) blockhost/blockhost-007; they keep them',
    ]);
  });
});

describe('status writes', () => {
  const status = { subResource: 'status' };

  it('refuses a new on-chain plan id on the same chain, allows one on another chain', async () => {
    const renumbered = edited(plan, (p) => (p.status!.onChainPlanId = '2'));
    expect(paths(await admit('Plan', renumbered, { oldObject: plan, ...status }))).toEqual([
      'status.onChainPlanId',
    ]);
    const otherChain = edited(renumbered, (p) => (p.status!.chainId = 1));
    expect((await admit('Plan', otherChain, { oldObject: plan, ...status })).errors).toEqual([]);
    const first = edited(plan, (p) => delete p.status!.onChainPlanId);
    expect((await admit('Plan', plan, { oldObject: first, ...status })).errors).toEqual([]);
  });

  it('refuses changing or dropping the NFT token id of a subscription', async () => {
    const reminted = edited(subscription, (s) => (s.status!.nft!.tokenId = '2'));
    const dropped = edited(subscription, (s) => delete s.status!.nft);
    for (const next of [reminted, dropped])
      expect(paths(await admit('Subscription', next, { oldObject: subscription, ...status }))).toEqual([
        'status.nft.tokenId',
      ]);
    const unminted = edited(subscription, (s) => delete s.status!.nft);
    expect((await admit('Subscription', subscription, { oldObject: unminted, ...status })).errors).toEqual(
      [],
    );
  });

  it('does not re-validate other status writes (the CRD schema does)', async () => {
    const running = edited(vm, (v) => (v.status!.phase = 'Stopped'));
    expect((await admit('VM', running, { oldObject: vm, ...status })).errors).toEqual([]);
  });
});

it('allows kinds that are not ours and operations it is not registered for', async () => {
  expect(await admit('ConfigMap', { metadata: {} })).toEqual({ errors: [], warnings: [] });
  expect(
    await validateAdmission(
      { kind: 'VM', operation: 'DELETE', object: undefined, oldObject: exampleVM },
      staticLookups(cluster),
    ),
  ).toEqual({ errors: [], warnings: [] });
});
