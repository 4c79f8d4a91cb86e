// Client-side checks of charts/blockhost: helm lint, the schema's strictness, and what
// `helm template` renders for each value set (labels, security, probes, RBAC, webhooks, CRDs).
// chart-install.test.ts checks the same renders against a real API server.
import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { parse } from 'yaml';
import { chartCrdsDir } from '../../../crds/generate.js';
import { webhookConfigurations } from '../../../webhooks/registration.js';
import { ChartTools, chartDir, valueSets, type Manifest, type ValueSetName } from './helm.js';

let tools: ChartTools;
const renders = new Map<ValueSetName, Manifest[]>();
const render = (name: ValueSetName) => renders.get(name)!;
const find = (objects: Manifest[], kind: string, name?: string) =>
  objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
const one = (objects: Manifest[], kind: string, name: string) => {
  const found = find(objects, kind, name);
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${found.length}`);
  return found[0]!;
};

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  resources?: { requests?: object; limits?: object };
  livenessProbe?: { httpGet?: { path: string; scheme?: string } };
  readinessProbe?: { httpGet?: { path: string; scheme?: string } };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  containers: Container[];
  volumes?: { name: string; hostPath?: object }[];
}
const podSpec = (deployment: Manifest) => (deployment.spec as { template: { spec: PodSpec } }).template.spec;

beforeAll(async () => {
  tools = await ChartTools.create();
  for (const name of Object.keys(valueSets) as ValueSetName[])
    renders.set(name, await tools.template(valueSets[name]));
}, 300_000);

afterAll(() => tools?.cleanup());

describe('helm lint and values.schema.json', () => {
  test.each(Object.keys(valueSets) as ValueSetName[])('lint passes with the %s values', async (name) => {
    const file = await tools.valuesFile(valueSets[name]);
    const out = await tools.helm(['lint', chartDir, '--strict', '-f', file, '--kube-version', '1.35.4']);
    expect(out).toContain('0 chart(s) failed');
  });

  test.each([
    ['a typo in a key', { web: { adminPrefx: '/x' } }, "additional properties 'adminPrefx' not allowed"],
    ['3 controller replicas', { controller: { replicas: 3 } }, 'value must be one of 1, 2'],
    ['2 web replicas (sessions are in memory)', { web: { replicas: 2 } }, '/web/replicas'],
    ['trusting every proxy hop', { web: { trustProxy: 'true' } }, '/web/trustProxy'],
    ['TLS without a Secret', { web: { ingress: { tls: { enabled: true } } } }, 'secretName'],
    ['a relative admin prefix', { web: { adminPrefix: 'admin' } }, '/web/adminPrefix'],
    ['an unknown failure policy', { webhook: { failurePolicy: 'Sometimes' } }, 'Fail'],
    ['a bad log level', { controller: { logLevel: 'loud' } }, 'value must be one of'],
  ])('rejects %s', async (_name, values, message) => {
    const file = await tools.valuesFile(values);
    const lint = tools.helm(['lint', chartDir, '-f', file, '--kube-version', '1.35.4']);
    await expect(lint).rejects.toThrow(message);
  });
});

describe.each(Object.keys(valueSets) as ValueSetName[])('the %s render', (name) => {
  test('labels every object with the standard app.kubernetes.io labels', () => {
    for (const object of render(name)) {
      expect([object.kind, object.metadata.labels]).toEqual([
        object.kind,
        expect.objectContaining({
          'app.kubernetes.io/name': 'blockhost',
          'app.kubernetes.io/instance': 'blockhost',
          'app.kubernetes.io/managed-by': 'Helm',
          'app.kubernetes.io/part-of': 'blockhost',
          'app.kubernetes.io/version': expect.any(String),
          'helm.sh/chart': expect.stringMatching(/^blockhost-/),
        }),
      ]);
    }
  });

  test('runs every container non-root, read-only, without capabilities, with probes and resources', () => {
    const deployments = find(render(name), 'Deployment');
    expect(deployments.length).toBeGreaterThan(0);
    for (const deployment of deployments) {
      const spec = podSpec(deployment);
      expect(spec.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 10001,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(spec.serviceAccountName).toBe(deployment.metadata.name);
      for (const container of spec.containers) {
        expect(container.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
        expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
        expect(container.resources?.requests).toMatchObject({
          cpu: expect.anything(),
          memory: expect.anything(),
        });
        expect(container.resources?.limits).toMatchObject({ memory: expect.anything() });
        expect(container.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
      }
    }
  });

  test('selects each component with labels its pods carry and budgets at most one pod away', () => {
    for (const deployment of find(render(name), 'Deployment')) {
      const spec = deployment.spec as {
        selector: { matchLabels: object };
        template: { metadata: Manifest['metadata'] };
      };
      expect(spec.template.metadata.labels).toMatchObject(spec.selector.matchLabels);
    }
    for (const pdb of find(render(name), 'PodDisruptionBudget'))
      expect(pdb.spec).toMatchObject({ maxUnavailable: 1 });
  });
});

describe('controller manager', () => {
  test('leader election is on and replicas follow the values', () => {
    for (const [set, replicas] of [
      ['default', 1],
      ['full', 2],
    ] as const) {
      const deployment = one(render(set), 'Deployment', 'blockhost-controller');
      expect(deployment.spec?.replicas).toBe(replicas);
      const container = podSpec(deployment).containers[0]!;
      expect(container.command).toEqual(['node', '/app/controllers/main.js']);
      expect(container.args).toEqual(
        expect.arrayContaining(['--leader-elect=true', '--leader-election-namespace=blockhost']),
      );
    }
  });

  test('mounts the libvirt socket only when the libvirt backend is enabled', () => {
    const volumes = (set: ValueSetName) =>
      (podSpec(one(render(set), 'Deployment', 'blockhost-controller')).volumes ?? []).map((v) => v.name);
    expect(volumes('default')).not.toContain('libvirt-socket');
    expect(volumes('full')).toContain('libvirt-socket');
    const security = podSpec(one(render('full'), 'Deployment', 'blockhost-controller')).securityContext;
    expect(security.supplementalGroups).toEqual([108]);
  });

  test('writes key Secrets by name only, never lists Secrets, and gets KubeVirt rights only where VMs live', () => {
    const role = one(render('full'), 'Role', 'blockhost-controller');
    const secretRules = role.rules!.filter((r) => r.resources?.includes('secrets'));
    expect(secretRules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['blockhost-server-wallet', 'proxmox-token'],
        verbs: ['get', 'update', 'patch'],
      },
      // The VMs' wallet-login Secrets are read back by name (names follow the VMs); never listed.
      // The wizard's handover Secrets (generated names) are deleted once taken over.
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'delete'] },
    ]);
    const kubevirtGrants = (set: ValueSetName) =>
      render(set)
        .filter((o) => o.kind?.endsWith('Binding') && o.metadata.name === 'blockhost-controller-kubevirt')
        .map((b) => `${b.kind} ${b.metadata.namespace ?? '(cluster)'}`);
    expect(kubevirtGrants('default')).toEqual([]);
    // VMs in named namespaces: bound there only, plus `get` on exactly those namespaces.
    expect(kubevirtGrants('full')).toEqual(['RoleBinding vms']);
    expect(one(render('full'), 'ClusterRole', 'blockhost-controller-kubevirt-namespaces').rules).toEqual([
      { apiGroups: [''], resources: ['namespaces'], resourceNames: ['vms'], verbs: ['get'] },
    ]);
    expect(one(render('full'), 'Role', 'blockhost-controller-image-clone').metadata.namespace).toBe(
      'golden-images',
    );
  });
});

describe('web', () => {
  test('reads no Secret but the setup code; may only create the ones the wizard hands over', () => {
    const rules = [
      ...one(render('default'), 'ClusterRole', 'blockhost-web').rules!,
      ...one(render('default'), 'Role', 'blockhost-web').rules!,
    ];
    expect(rules.filter((r) => r.resources?.some((res) => res.startsWith('secrets')))).toEqual([
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['blockhost-setup-code'],
        verbs: ['get', 'update', 'patch'],
      },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
  });

  test('the Ingress sends the admin prefix, the wizard and the signup page to the web Service', () => {
    const paths = (set: ValueSetName) => {
      const ingress = one(render(set), 'Ingress', 'blockhost-web');
      const spec = ingress.spec as {
        ingressClassName: string;
        tls?: object[];
        rules: {
          host?: string;
          http: { paths: { path: string; backend: { service: { name: string } } }[] };
        }[];
      };
      expect(spec.ingressClassName).toBe('traefik');
      expect(spec.rules[0]!.http.paths.every((p) => p.backend.service.name === 'blockhost-web')).toBe(true);
      return {
        paths: spec.rules[0]!.http.paths.map((p) => p.path),
        host: spec.rules[0]!.host,
        tls: spec.tls,
      };
    };
    expect(paths('default')).toEqual({ paths: ['/admin', '/setup', '/'], host: undefined, tls: undefined });
    expect(paths('full')).toEqual({
      paths: ['/manage', '/setup', '/'],
      host: 'shop.example.com',
      tls: [{ secretName: 'shop-tls', hosts: ['shop.example.com'] }],
    });
    const args = podSpec(one(render('full'), 'Deployment', 'blockhost-web')).containers[0]!.args;
    expect(args).toEqual(
      expect.arrayContaining([
        '--admin-prefix=/manage',
        '--wizard-prefix=/setup',
        '--port=8080',
        '--trust-proxy=10.42.0.0/16',
      ]),
    );
  });

  test('is left out entirely when disabled', () => {
    expect(
      render('minimal').filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'web'),
    ).toEqual([]);
  });
});

describe('admission webhooks', () => {
  test('the webhook configurations are those of webhooks/registration.ts, pointed at the Service', () => {
    const objects = render('default');
    const caBundle = Buffer.from(one(objects, 'Secret', 'blockhost-webhook-tls').data!['ca.crt']!, 'base64');
    const expected = webhookConfigurations({
      endpoint: { service: { namespace: 'blockhost', name: 'blockhost-webhook', port: 443 } },
      caBundle,
      name: 'blockhost-webhook',
      timeoutSeconds: 10,
    });
    expect(one(objects, 'MutatingWebhookConfiguration', 'blockhost-webhook').webhooks).toEqual(
      expected.mutating.webhooks,
    );
    expect(one(objects, 'ValidatingWebhookConfiguration', 'blockhost-webhook').webhooks).toEqual(
      expected.validating.webhooks,
    );
  });

  test('only our group is matched, and every main-resource webhook fails closed', () => {
    type Hook = {
      rules: { apiGroups: string[]; resources: string[] }[];
      failurePolicy: string;
      timeoutSeconds: number;
    };
    const hooks = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'].flatMap(
      (kind) => one(render('full'), kind, 'blockhost-webhook').webhooks as Hook[],
    );
    expect(hooks.length).toBe(3);
    for (const hook of hooks) {
      expect(hook.rules.flatMap((r) => r.apiGroups)).toEqual(['blockhost.io']);
      const statusOnly = hook.rules.every((r) => r.resources.every((res) => res.endsWith('/status')));
      expect(hook.failurePolicy).toBe(statusOnly ? 'Ignore' : 'Fail');
      expect(hook.timeoutSeconds).toBe(statusOnly ? 3 : 5);
    }
  });

  test('the self-generated certificate is signed by the caBundle CA and names the Service', () => {
    const objects = render('default');
    const secret = one(objects, 'Secret', 'blockhost-webhook-tls');
    const decode = (key: string) => Buffer.from(secret.data![key]!, 'base64').toString();
    const ca = new X509Certificate(decode('ca.crt'));
    const cert = new X509Certificate(decode('tls.crt'));
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkHost('blockhost-webhook.blockhost.svc')).toBe('blockhost-webhook.blockhost.svc');
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const { clientConfig } = one(objects, kind, 'blockhost-webhook').webhooks![0] as {
        clientConfig: { caBundle: string };
      };
      expect(clientConfig.caBundle).toBe(secret.data!['ca.crt']);
    }
  });

  test('with cert-manager, a Certificate fills the Secret and the CA is injected, not rendered', () => {
    const objects = render('certManager');
    expect(find(objects, 'Secret')).toEqual([]);
    expect(one(objects, 'Issuer', 'blockhost-webhook-selfsigned').spec).toEqual({ selfSigned: {} });
    expect(one(objects, 'Certificate', 'blockhost-webhook').spec).toMatchObject({
      secretName: 'blockhost-webhook-tls',
      dnsNames: expect.arrayContaining(['blockhost-webhook.blockhost.svc']),
      issuerRef: { name: 'blockhost-webhook-selfsigned', kind: 'Issuer' },
    });
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const config = one(objects, kind, 'blockhost-webhook');
      expect(config.metadata.annotations).toEqual({
        'cert-manager.io/inject-ca-from': 'blockhost/blockhost-webhook',
      });
      expect((config.webhooks![0] as { clientConfig: object }).clientConfig).not.toHaveProperty('caBundle');
    }
  });
});

describe('CRDs', () => {
  test('are the generated files, unchanged but for Helm labels and the keep policy', async () => {
    const files = (await readdir(chartCrdsDir)).filter((f) => f.endsWith('.yaml')).sort();
    const generated = await Promise.all(
      files.map(async (f) => parse(await readFile(join(chartCrdsDir, f), 'utf8')) as Manifest),
    );
    const rendered = find(render('default'), 'CustomResourceDefinition');
    expect(rendered.map((crd) => crd.metadata.name).sort()).toEqual(
      generated.map((crd) => crd.metadata.name).sort(),
    );
    for (const crd of rendered) {
      const source = generated.find((g) => g.metadata.name === crd.metadata.name)!;
      expect(crd.spec).toEqual(source.spec);
      expect(crd.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
    }
  });

  test('are left out with crds.install=false', () => {
    expect(find(render('minimal'), 'CustomResourceDefinition')).toEqual([]);
  });
});
