import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { z } from 'zod';
import { withCel } from '../lib/api/cel.js';
import { toStructuralSchema, type StructuralSchema } from '../lib/api/crd-schema.js';
import { cidrContains, compareIps, isNetworkCidr, parseIp } from '../lib/api/ip.js';
import {
  exampleBackends,
  exampleHostConfig,
  examplePlan,
  exampleSubscription,
  exampleVM,
  invalidExamples,
} from '../lib/api/v1alpha1/examples.js';
import {
  crdDefinitions,
  hostConfigSchema,
  planSchema,
  subscriptionResourceName,
  subscriptionSchema,
  vmSchema,
} from '../lib/api/v1alpha1/index.js';
import { buildCrd, chartCrdsDir, crdsDir, renderCrds } from './generate.js';

const schemas = {
  HostConfig: hostConfigSchema,
  Plan: planSchema,
  Subscription: subscriptionSchema,
  VM: vmSchema,
};

describe.each([
  ['crds', crdsDir],
  ['charts/blockhost/files/crds', chartCrdsDir],
])('committed CRD YAML in %s', (label, dir) => {
  const rendered = renderCrds();

  test.each(rendered)(`${label}/$fileName is up to date`, ({ fileName, content }) => {
    const path = join(dir, fileName);
    const committed = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (committed !== content) {
      throw new Error(`${label}/${fileName} differs from the zod schemas: run \`npm run generate\``);
    }
  });

  test(`${label}/ holds no CRD that is no longer generated`, () => {
    const onDisk = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(onDisk.sort()).toEqual(rendered.map((r) => r.fileName).sort());
  });

  test('rendering is deterministic', () => {
    expect(renderCrds()).toEqual(rendered);
  });
});

/** Every node of a schema with its dotted path and whether it is an object property. */
function* walk(
  node: StructuralSchema,
  path = '',
  isProperty = false,
): Generator<[string, StructuralSchema, boolean]> {
  yield [path, node, isProperty];
  for (const [name, child] of Object.entries(node.properties ?? {}))
    yield* walk(child, `${path}.${name}`, true);
  if (node.items) yield* walk(node.items, `${path}[]`, false);
  if (node.additionalProperties) yield* walk(node.additionalProperties, `${path}{}`, false);
}

describe.each(crdDefinitions.map((def) => [def.kind, buildCrd(def)] as const))('%s CRD', (_kind, crd) => {
  const version = crd.spec.versions[0]!;
  const root = version.schema.openAPIV3Schema;
  const nodes = [...walk(root)];

  test('is structural: a single type everywhere, no unions, refs or strictness markers', () => {
    for (const [path, node] of nodes) {
      expect([path, typeof node.type]).toEqual([path, 'string']);
      for (const banned of ['anyOf', 'oneOf', 'allOf', 'not', '$ref', '$schema', 'nullable', 'const']) {
        expect([path, banned in node]).toEqual([path, false]);
      }
      expect([path, node.properties && node.additionalProperties]).toEqual([path, undefined]);
    }
  });

  test('describes every field, so kubectl explain helps', () => {
    const undescribed = nodes
      .filter(([path, node, isProperty]) => isProperty && path !== '.metadata' && !node.description)
      .map(([path]) => path);
    expect(undescribed).toEqual([]);
    expect(root.description).toBeTruthy();
  });

  test('bounds every string and list, which prices CEL rules within budget', () => {
    const unbounded = nodes
      .filter(
        ([, n]) =>
          (n.type === 'string' && n.maxLength === undefined && n.enum === undefined) ||
          (n.type === 'array' && n.maxItems === undefined),
      )
      .map(([path]) => path)
      .filter((path) => !['.apiVersion', '.kind'].includes(path));
    expect(unbounded).toEqual([]);
  });

  test('uses only RE2 patterns (no lookaround or backreferences)', () => {
    for (const [path, node] of nodes) {
      if (node.pattern) expect([path, /\(\?[=!<]|\\[1-9]/.test(node.pattern)]).toEqual([path, false]);
    }
  });

  test('keys map lists by required fields', () => {
    for (const [path, node] of nodes.filter(([, n]) => n['x-kubernetes-list-type'] === 'map')) {
      for (const key of node['x-kubernetes-list-map-keys'] ?? []) {
        expect([path, node.items?.required?.includes(key)]).toEqual([path, true]);
      }
    }
  });

  test('has a status subresource, printer columns, short names and the blockhost category', () => {
    expect(version.subresources).toEqual({ status: {} });
    expect(version.additionalPrinterColumns.at(-1)?.name).toBe('Age');
    expect(crd.spec.names.shortNames.length).toBeGreaterThan(0);
    expect(crd.spec.names.categories).toEqual(['blockhost']);
  });
});

describe('toStructuralSchema', () => {
  test('carries descriptions, defaults, CEL rules and list types', () => {
    const schema = z
      .object({
        ports: withCel(z.array(z.int().min(1).max(65535)).max(4), [
          { rule: 'size(self) > 0', message: 'ports must not be empty', check: (p) => p.length > 0 },
        ])
          .default([22])
          .meta({ 'x-kubernetes-list-type': 'set' })
          .describe('Ports.'),
      })
      .describe('Root.');
    expect(toStructuralSchema(schema)).toEqual({
      description: 'Root.',
      type: 'object',
      properties: {
        ports: {
          description: 'Ports.',
          type: 'array',
          maxItems: 4,
          default: [22],
          items: { type: 'integer', minimum: 1, maximum: 65535 },
          'x-kubernetes-list-type': 'set',
          'x-kubernetes-validations': [{ rule: 'size(self) > 0', message: 'ports must not be empty' }],
        },
      },
    });
  });

  test('writes out the defaults inside an object default', () => {
    const schema = z
      .object({
        inner: z
          .object({ a: z.int().default(1).describe('A.'), b: z.string().max(3).optional().describe('B.') })
          .prefault({})
          .describe('Inner.'),
      })
      .describe('Root.');
    expect(toStructuralSchema(schema).properties?.inner?.default).toEqual({ a: 1 });
  });

  test.each([
    [
      'a field without description',
      z.object({ a: z.string() }).describe('Root.'),
      '<root>.a: needs a description',
    ],
    [
      'a union',
      z.object({ a: z.union([z.string(), z.int()]).describe('A.') }).describe('Root.'),
      '<root>.a: cannot express anyOf',
    ],
    [
      'a nullable',
      z.object({ a: z.string().nullable().describe('A.') }).describe('Root.'),
      '<root>.a: cannot express',
    ],
    ['an unknown format', z.object({ a: z.email().describe('A.') }).describe('Root.'), 'format email'],
  ])('rejects %s', (_name, schema, message) => {
    expect(() => toStructuralSchema(schema)).toThrow(message);
  });

  test('refuses a CEL rule without a TypeScript check unless it is a transition rule', () => {
    expect(() => withCel(z.string(), [{ rule: 'self != ""', message: 'empty' }])).toThrow(
      'needs a TypeScript check',
    );
    expect(() => withCel(z.string(), [{ rule: 'self == oldSelf', message: 'immutable' }])).not.toThrow();
  });
});

describe('example objects', () => {
  test.each([
    ['HostConfig', exampleHostConfig],
    ['Plan', examplePlan],
    ['Subscription', exampleSubscription],
    ['VM', exampleVM],
  ] as const)('%s example is valid', (kind, example) => {
    expect(schemas[kind].safeParse(example).error?.issues).toBeUndefined();
  });

  test.each(Object.values(exampleBackends))('HostConfig with a $type backend is valid', (backend) => {
    const object = { ...exampleHostConfig, spec: { ...exampleHostConfig.spec, backend } };
    expect(hostConfigSchema.safeParse(object).error?.issues).toBeUndefined();
  });

  test('parsing fills the documented defaults', () => {
    const { spec } = hostConfigSchema.parse(exampleHostConfig);
    expect(spec.chain.confirmations).toBe(12);
    expect(spec.chain.serverWallet).toEqual({
      secretRef: { name: 'blockhost-server-wallet' },
      generate: true,
    });
    expect(spec.admin.credentialTokenId).toBe('0');
    expect(spec.admin.commands).toMatchObject({
      ports: [22],
      durationSeconds: 300,
      maxCommandAgeSeconds: 300,
    });
    expect(spec.publicSecret).toBe('blockhost-access');
    expect(spec.gcGraceDays).toBe(7);
    const vm = vmSchema.parse({ ...exampleVM, spec: { ...exampleVM.spec, size: {} } });
    expect(vm.spec.size).toEqual({ cpu: 1, memoryMiB: 2048, diskGiB: 20 });
    expect(vm.spec.cloudInit.username).toBe('admin');
    expect(vm.spec.runStrategy).toBe('Always');
    expect(planSchema.parse(examplePlan).spec.active).toBe(true);
  });

  test('objects read from the apiserver keep metadata zod does not model', () => {
    const stored = { ...exampleVM, metadata: { ...exampleVM.metadata, managedFields: [{ manager: 'x' }] } };
    expect(vmSchema.parse(stored).metadata.managedFields).toEqual([{ manager: 'x' }]);
  });
});

describe.each(Object.entries(invalidExamples))('invalid %s', (kind, cases) => {
  const schema = schemas[kind as keyof typeof schemas];

  test.each(cases.filter((c) => !c.oldObject))('rejects $name at "$path"', ({ object, path, message }) => {
    const issues = schema.safeParse(object).error?.issues ?? [];
    const reported = issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    expect(reported).toContainEqual({ path, message: expect.stringContaining(message) });
  });
});

// Transition rules need the stored object, so only the apiserver applies them: check that the
// CRD has the rule and that the variant is otherwise a valid object, or it would test nothing.
const updates = Object.entries(invalidExamples).flatMap(([kind, cases]) =>
  cases.filter((c) => c.oldObject).map((c) => ({ ...c, kind: kind as keyof typeof schemas })),
);
test.each(updates)('$kind: the CRD rejects the update "$name"', ({ kind, object, path, message }) => {
  const def = crdDefinitions.find((d) => d.kind === kind)!;
  const transitionMessages = [...walk(buildCrd(def).spec.versions[0]!.schema.openAPIV3Schema)]
    .flatMap(([, node]) => (node['x-kubernetes-validations'] ?? []) as { rule: string; message: string }[])
    .filter((v) => v.rule.includes('oldSelf'))
    .map((v) => v.message);
  expect(transitionMessages).toContainEqual(expect.stringContaining(message));
  const issues = (schemas[kind].safeParse(object).error?.issues ?? []).filter(
    (i) => i.path.join('.') === path,
  );
  expect(issues).toEqual([]);
});

describe('subscriptionResourceName', () => {
  test.each([
    [7, 'blockhost-007'],
    ['42', 'blockhost-042'],
    [123n, 'blockhost-123'],
    ['1234', 'blockhost-1234'],
  ])('%p → %s', (id, name) => {
    expect(subscriptionResourceName(id)).toBe(name);
  });

  test.each([-1, 1.5, '007', 'abc'])('rejects %p', (id) => {
    expect(() => subscriptionResourceName(id)).toThrow('not a subscription id');
  });
});

describe('IP helpers used by the TypeScript side of CEL rules', () => {
  test('parse both families and reject what CEL ip() rejects', () => {
    expect(parseIp('192.168.1.1')).toEqual({ value: 0xc0a80101n, bits: 32 });
    expect(parseIp('2001:db8::1')?.value).toBe(0x20010db8000000000000000000000001n);
    expect(parseIp('::')?.value).toBe(0n);
    for (const bad of ['192.168.01.1', '256.1.1.1', '1:2:3:4:5:6:7:8:9', '1::2::3', 'fe80::1%eth0']) {
      expect([bad, parseIp(bad)]).toEqual([bad, undefined]);
    }
  });

  test('containment, masking and order', () => {
    expect(cidrContains('10.0.0.0/8', '10.255.0.1')).toBe(true);
    expect(cidrContains('10.0.0.5/24', '10.0.0.1')).toBe(true);
    expect(cidrContains('10.0.0.0/24', '10.0.1.1')).toBe(false);
    expect(cidrContains('2001:db8::/32', '2001:db8:ffff::1')).toBe(true);
    expect(cidrContains('10.0.0.0/8', '2001:db8::1')).toBe(false);
    expect(isNetworkCidr('192.168.122.0/24')).toBe(true);
    expect(isNetworkCidr('192.168.122.1/24')).toBe(false);
    expect(isNetworkCidr('2001:db8::/64')).toBe(true);
    expect(isNetworkCidr('10.0.0.0/33')).toBe(false);
    expect(compareIps('10.0.0.9', '10.0.0.10')).toBe(-1);
    expect(compareIps('10.0.0.1', '::1')).toBeUndefined();
  });
});
