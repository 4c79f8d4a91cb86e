// charts/blockhost against a real API server: every value set's render is accepted by a server-side
// dry run, `helm install` and `helm upgrade` create every object, RBAC is least privilege per
// service account, and the webhooks fail closed for our kinds only. A private control plane: the
// shared one already has our CRDs (not owned by Helm), and this release's webhook configurations
// point at pods that never run here (no kubelet), which would refuse every other test's writes.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { examplePlan } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes } from '../../../lib/api/v1alpha1/index.js';
import { KubeClient } from '../../../lib/kube/client.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { LocalControlPlane } from '../../harness/control-plane/control-plane.js';
import { eventually } from '../../harness/kube.js';
import { installKubevirtCrds } from '../../harness/kubevirt/crds.js';
import { ChartTools, chartDir, parseManifests, valueSets, type Manifest, type ValueSetName } from './helm.js';
import { documentedRights, parseCanIList, rightsIn, type RightLine } from './rbac-table.js';

const log = createLogger('chart-install-test');
const NAMESPACE = 'blockhost';
const STATE_NAMESPACE = `${NAMESPACE}-system`;
let plane: LocalControlPlane;
let client: KubeClient;
let tools: ChartTools;

const objectRef = (o: Manifest) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** The objects the API server holds for `manifests` (kubectl get -f), as kind/namespace/name. */
async function storedRefs(manifests: Manifest[]): Promise<string[]> {
  const yaml = manifests.map((m) => JSON.stringify(m)).join('\n---\n');
  const list = JSON.parse(await tools.kubectl(['get', '-f', '-', '-o', 'json'], yaml)) as {
    items: Manifest[];
  };
  return list.items.map(objectRef).sort();
}

/** `kubectl auth can-i` as a service account of the release: 'yes' or 'no', anything else throws. */
async function canI(serviceAccount: string, args: string[]): Promise<string> {
  const subject = `--as=system:serviceaccount:${NAMESPACE}:${serviceAccount}`;
  const { stdout, stderr } = await tools.kubectlResult(['auth', 'can-i', subject, ...args]);
  const answer = stdout.trim();
  // A resource kubectl cannot discover gets a warning and a meaningless "no": refuse to count it.
  if ((answer !== 'yes' && answer !== 'no') || stderr.includes("doesn't have a resource type"))
    throw new Error(`kubectl auth can-i ${args.join(' ')}: ${stderr}`);
  return answer;
}

/**
 * What the chart grants `serviceAccount` in `namespace`: `kubectl auth can-i --list` minus what an
 * unbound service account gets there anyway (discovery, self-reviews).
 */
async function grantedRights(serviceAccount: string, namespace: string): Promise<RightLine[]> {
  const list = async (account: string) =>
    parseCanIList(
      await tools.kubectl([
        'auth',
        'can-i',
        '--list',
        `--as=system:serviceaccount:${NAMESPACE}:${account}`,
        '-n',
        namespace,
      ]),
    );
  const baseline = new Set(await list('rbac-baseline-unbound'));
  return (await list(serviceAccount)).filter((right) => !baseline.has(right));
}

beforeAll(async () => {
  plane = await LocalControlPlane.start();
  client = KubeClient.fromFile(plane.kubeconfigPath);
  tools = await ChartTools.create(plane.kubeconfigPath);
  // KubeVirt's real CRDs, so that RBAC checks on its resources are about resources the server knows.
  await installKubevirtCrds(client);
  // Namespaces the value sets name (the release's own is made by --create-namespace below).
  for (const name of ['vms', 'golden-images'])
    await client.create(coreTypes.namespace, { metadata: { name } });
}, 300_000);

afterAll(async () => {
  await tools?.cleanup();
  await plane?.stop();
});

describe('server-side dry run of helm template', () => {
  beforeAll(async () => {
    for (const name of ['dry-run', 'dry-run-system'])
      await client.create(coreTypes.namespace, { metadata: { name } });
  });

  test.each(Object.keys(valueSets) as ValueSetName[])(
    'the API server accepts the %s render',
    async (name) => {
      // cert-manager's kinds need its CRDs, which this cluster lacks: the rest is still checked.
      // The state namespace exists already (a dry run creates nothing, so its Roles need it).
      const objects = (await tools.template(valueSets[name], 'dry-run')).filter(
        (o) => !o.apiVersion?.startsWith('cert-manager.io/') && o.kind !== 'Namespace',
      );
      const out = await tools.kubectl(
        ['create', '--dry-run=server', '-o', 'name', '-f', '-'],
        objects.map((o) => JSON.stringify(o)).join('\n---\n'),
      );
      expect(out.trim().split('\n').length).toBe(objects.length);
    },
  );
});

describe('helm install, upgrade and uninstall', () => {
  let installed: Manifest[];

  beforeAll(async () => {
    const began = performance.now();
    await tools.helm(['install', 'blockhost', chartDir, '-n', NAMESPACE, '--create-namespace']);
    log.info({ seconds: (performance.now() - began) / 1000 }, 'helm install finished');
    installed = parseManifests(await tools.helm(['get', 'manifest', 'blockhost', '-n', NAMESPACE]));
  }, 120_000);

  test('creates every object of the release', async () => {
    expect(installed.length).toBeGreaterThan(25);
    expect(await storedRefs(installed)).toEqual(installed.map(objectRef).sort());
  });

  test('each Deployment gets its pods created (they stay Pending: no kubelet here)', async () => {
    for (const component of ['controller', 'webhook', 'web']) {
      await eventually(`${component} pod`, async () => {
        const out = await tools.kubectl([
          'get',
          'pods',
          '-n',
          NAMESPACE,
          '-l',
          `app.kubernetes.io/component=${component}`,
          '-o',
          'jsonpath={.items[*].spec.serviceAccountName}',
        ]);
        return out.trim() === `blockhost-${component}`;
      });
    }
  });

  // Namespaced checks run in the release namespace unless they name another.
  test.each([
    ['controller', 'get secret/blockhost-server-wallet', 'yes'],
    ['controller', 'update secret/blockhost-server-wallet', 'yes'],
    ['controller', 'create secrets', 'yes'],
    ['controller', 'get secret/blockhost-001-wallet-login', 'yes'],
    ['controller', 'update secret/blockhost-setup-code', 'no'],
    ['controller', 'list secrets', 'no'],
    ['controller', 'create configmaps', 'yes'],
    ['controller', 'update lease/blockhost-controller-manager', 'yes'],
    ['controller', 'update lease/other-lease', 'no'],
    ['controller', 'create configmaps -n default', 'no'],
    ['controller', 'create subscriptions.blockhost.io -n any-namespace', 'yes'],
    ['controller', 'update vms.blockhost.io --subresource=status -n any-namespace', 'yes'],
    ['controller', 'create events.events.k8s.io -n default', 'yes'],
    ['controller', 'list nodes', 'yes'],
    ['controller', 'get nodes', 'no'],
    ['controller', 'create virtualmachines.kubevirt.io', 'no'],
    ['controller', 'create pods --subresource=exec', 'no'],
    ['web', 'get secret/blockhost-server-wallet', 'no'],
    ['web', 'list secrets', 'no'],
    ['web', 'create secrets', 'yes'],
    ['web', 'patch secret/blockhost-proxmox-token', 'no'],
    ['web', 'patch secret/blockhost-server-wallet', 'no'],
    ['web', 'get secret/blockhost-proxmox-token', 'no'],
    ['web', 'get configmaps', 'yes'],
    ['web', 'list configmaps', 'yes'],
    ['web', 'create configmaps', 'yes'],
    ['web', 'delete configmaps', 'no'],
    ['web', 'update configmaps', 'no'],
    ['web', 'list nodes', 'yes'],
    ['web', 'list storageclasses.storage.k8s.io', 'yes'],
    ['web', 'get secret/blockhost-setup-code', 'yes'],
    ['web', 'update secret/blockhost-setup-code', 'yes'],
    ['web', 'create hostconfigs.blockhost.io', 'yes'],
    ['web', 'create plans.blockhost.io', 'yes'],
    ['web', 'patch vms.blockhost.io -n any-namespace', 'yes'],
    ['web', 'delete vms.blockhost.io -n any-namespace', 'yes'],
    ['web', 'create subscriptions.blockhost.io -n any-namespace', 'no'],
    ['web', 'update vms.blockhost.io --subresource=status -n any-namespace', 'no'],
    ['webhook', 'list plans.blockhost.io', 'yes'],
    ['webhook', 'watch hostconfigs.blockhost.io', 'yes'],
    ['webhook', 'list vms.blockhost.io -n any-namespace', 'yes'],
    ['webhook', 'get subscriptions.blockhost.io -n any-namespace', 'yes'],
    ['webhook', 'delete vms.blockhost.io -n any-namespace', 'no'],
    ['webhook', 'create plans.blockhost.io', 'no'],
    ['webhook', 'get secret/blockhost-server-wallet', 'no'],
  ])('%s may %s: %s', async (component, action, expected) => {
    const args = action.split(' ');
    if (!args.includes('-n')) args.push('-n', NAMESPACE);
    expect(await canI(`blockhost-${component}`, args)).toBe(expected);
  });

  test.each(['controller', 'webhook', 'web'])(
    'the %s service account holds exactly the rights the chart README documents',
    async (component) => {
      const documented = await documentedRights(component);
      const account = `blockhost-${component}`;
      expect(await grantedRights(account, NAMESPACE)).toEqual(
        rightsIn(documented, ['cluster', 'release namespace']),
      );
      expect(await grantedRights(account, STATE_NAMESPACE)).toEqual(
        rightsIn(documented, ['cluster', 'state namespace']),
      );
      expect(await grantedRights(account, 'elsewhere')).toEqual(rightsIn(documented, ['cluster']));
    },
  );

  // The controller's private state: only the controller writes there; the web reads one ConfigMap.
  test.each([
    ['controller', 'create configmaps', 'yes'],
    ['controller', 'get secret/blockhost-server-wallet', 'yes'],
    ['controller', 'create secrets', 'yes'],
    ['controller', 'list secrets', 'no'],
    ['web', 'get configmaps', 'yes'],
    ['web', 'list configmaps', 'no'],
    ['web', 'create configmaps', 'no'],
    ['web', 'update configmaps', 'no'],
    ['web', 'create secrets', 'no'],
    ['web', 'get secret/blockhost-server-wallet', 'no'],
    ['webhook', 'get configmaps', 'no'],
    ['webhook', 'create configmaps', 'no'],
  ])('in the state namespace, %s may %s: %s', async (component, action, expected) => {
    expect(await canI(`blockhost-${component}`, [...action.split(' '), '-n', STATE_NAMESPACE])).toBe(
      expected,
    );
  });

  test('the webhooks fail closed for our kinds while no webhook pod runs, and leave other kinds alone', async () => {
    const plan = { ...examplePlan, metadata: { name: 'refused-plan' } };
    await expect(client.create(blockhostTypes.plan, plan)).rejects.toThrow(
      /failed calling webhook "validate\.webhooks\.blockhost\.io"/,
    );
    await client.create(coreTypes.configMap, { metadata: { name: 'unaffected', namespace: NAMESPACE } });
  });

  test('helm upgrade applies new values and keeps the webhook certificate', async () => {
    const tlsBefore = (await client.get<Manifest>(coreTypes.secret, 'blockhost-webhook-tls', NAMESPACE)).data;
    const values = await tools.valuesFile({
      controller: { replicas: 2, kubevirt: { enabled: true, namespaces: ['vms'] } },
      web: { adminPrefix: '/manage' },
    });
    await tools.helm(['upgrade', 'blockhost', chartDir, '-n', NAMESPACE, '-f', values]);

    const tlsAfter = (await client.get<Manifest>(coreTypes.secret, 'blockhost-webhook-tls', NAMESPACE)).data;
    expect(tlsAfter).toEqual(tlsBefore);
    const deployment = JSON.parse(
      await tools.kubectl(['get', 'deployment/blockhost-controller', '-n', NAMESPACE, '-o', 'json']),
    ) as Manifest;
    expect(deployment.spec?.replicas).toBe(2);
    const paths = await tools.kubectl([
      'get',
      'ingress/blockhost-web',
      '-n',
      NAMESPACE,
      '-o',
      'jsonpath={.spec.rules[0].http.paths[*].path}',
    ]);
    expect(paths.split(' ')).toEqual(['/manage', '/setup', '/']);
    const status = JSON.parse(await tools.helm(['status', 'blockhost', '-n', NAMESPACE, '-o', 'json'])) as {
      version: number;
      info: { status: string };
    };
    expect(status).toMatchObject({ version: 2, info: { status: 'deployed' } });
    // The KubeVirt backend's rights, in the VM namespace only.
    expect(await canI('blockhost-controller', ['create', 'virtualmachines.kubevirt.io', '-n', 'vms'])).toBe(
      'yes',
    );
    expect(await canI('blockhost-controller', ['create', 'pods', '--subresource=exec', '-n', 'vms'])).toBe(
      'yes',
    );
    expect(
      await canI('blockhost-controller', ['create', 'virtualmachines.kubevirt.io', '-n', NAMESPACE]),
    ).toBe('no');
    expect(await canI('blockhost-controller', ['get', 'namespace/vms'])).toBe('yes');
    expect(await canI('blockhost-controller', ['get', 'namespace/kube-system'])).toBe('no');
    // ... and every KubeVirt right is one the README documents.
    const documented = await documentedRights('controller');
    expect(await grantedRights('blockhost-controller', 'vms')).toEqual(
      rightsIn(documented, ['cluster', 'KubeVirt: cluster', 'KubeVirt: VM namespaces']),
    );
    expect(await grantedRights('blockhost-controller', NAMESPACE)).toEqual(
      rightsIn(documented, ['cluster', 'release namespace', 'KubeVirt: cluster']),
    );
    const upgraded = parseManifests(await tools.helm(['get', 'manifest', 'blockhost', '-n', NAMESPACE]));
    expect(await storedRefs(upgraded)).toEqual(upgraded.map(objectRef).sort());
  });

  test('helm uninstall removes the release but keeps the CRDs (and so every object of our kinds)', async () => {
    await tools.helm(['uninstall', 'blockhost', '-n', NAMESPACE, '--wait']);
    for (const crd of installed.filter((o) => o.kind === 'CustomResourceDefinition'))
      await client.get(coreTypes.customResourceDefinition, crd.metadata.name!);
    await expect(tools.kubectl(['get', 'deployment/blockhost-controller', '-n', NAMESPACE])).rejects.toThrow(
      'NotFound',
    );
  });
});
