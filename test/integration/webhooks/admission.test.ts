import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  exampleHostConfig,
  examplePlan,
  exampleSubscription,
  exampleVM,
} from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type HostConfig, type Plan, type VM } from '../../../lib/api/v1alpha1/index.js';
import { isNotFound, KubeApiError } from '../../../lib/kube/errors.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { WEBHOOK_NAMES } from '../../../webhooks/registration.js';
import { freePort, startProcess, waitFor } from '../../harness/processes.js';
import { edited } from '../../harness/webhooks/fixtures.js';
import { WebhookCluster, type KubectlResult } from '../../harness/webhooks/webhook-cluster.js';

const NAMESPACE = 'blockhost';

/** exampleVM as a person might write it: no backend and no image. */
const bareVm = edited(
  exampleVM as unknown as { metadata: { name: string }; spec: Record<string, unknown> },
  (vm) => {
    vm.metadata.name = 'handmade';
    delete vm.spec.backend;
    delete vm.spec.image;
    delete vm.spec.network;
  },
);

/** An HTTPS request trusting only `ca`; the body is sent as JSON when given. */
function httpsRequest(url: string, ca: Buffer, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json' };
    const req = request(url, { ca, method: body === undefined ? 'GET' : 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject).end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('admission webhooks on a real apiserver, driven with kubectl', () => {
  let cluster: WebhookCluster;

  const kubectl = (...args: string[]) => cluster.kubectl(args);
  const apply = (object: unknown) => cluster.kubectl(['apply', '-f', '-'], JSON.stringify(object));
  /** `kubectl patch --subresource=status`, as controllers write status. */
  const patchStatus = (resource: string, name: string, status: object, namespace?: string) =>
    kubectl(
      'patch',
      resource,
      name,
      ...(namespace ? ['-n', namespace] : []),
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status }),
    );

  /**
   * Our refusals carry reason Invalid with one cause per field, so kubectl prints them as it prints
   * schema errors: `The vms "x" is invalid: spec.image: must be ...`.
   */
  function expectRefused(result: KubectlResult, ...texts: string[]) {
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('is invalid: ');
    for (const text of texts) expect(result.stderr).toContain(text);
  }

  function expectAccepted(result: KubectlResult) {
    if (result.code !== 0) throw new Error(`kubectl failed: ${result.stderr}`);
  }

  const exists = (type: typeof blockhostTypes.vm, name: string, namespace?: string) =>
    cluster.client.get(type, name, namespace).then(
      () => true,
      (error: unknown) => {
        if (isNotFound(error)) return false;
        throw error;
      },
    );

  beforeAll(async () => {
    cluster = await WebhookCluster.start({ releaseNamespace: NAMESPACE });
    await cluster.client.create(coreTypes.namespace, { metadata: { name: NAMESPACE } });
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('with the webhook up', () => {
    it('refuses a VM while there is no HostConfig, and stores nothing', async () => {
      expectRefused(await apply(exampleVM), 'spec.backend: no HostConfig "host" exists yet');
      expect(await exists(blockhostTypes.vm, exampleVM.metadata.name, NAMESPACE)).toBe(false);
    });

    it('refuses a HostConfig whose bridged pool lies outside the static host subnet, and stores nothing', async () => {
      const outside = edited(exampleHostConfig, (h) => {
        (h.spec as { network: object }).network = {
          mode: 'static',
          address: '10.0.0.5/24',
          gateway: '10.0.0.1',
        };
      });
      expectRefused(
        await apply(outside),
        'spec.ipv4Pool.start: must be inside the host subnet 10.0.0.0/24 (spec.network.address)',
        'spec.ipv4Pool.end:',
        'spec.ipv4Pool.gateway:',
      );
      expect(await exists(blockhostTypes.hostConfig, 'host')).toBe(false);
    });

    it('accepts a valid HostConfig', async () => {
      expectAccepted(await apply(exampleHostConfig));
    });

    it('refuses a Plan with an image the backend does not list', async () => {
      const ubuntu = edited(examplePlan, (p) => {
        p.metadata.name = 'ubuntu';
        (p.spec.size as { image: string }).image = 'ubuntu-24';
      });
      expectRefused(
        await apply(ubuntu),
        'spec.size.image: must be one of the images of HostConfig "host" spec.backend.libvirt.images: debian-12',
      );
    });

    it('accepts a valid Plan, and its status through the status subresource', async () => {
      expectAccepted(await apply(examplePlan));
      expectAccepted(await patchStatus('plan', 'basic', examplePlan.status));
    });

    it('accepts a Subscription; one with an unknown plan is stored with a warning', async () => {
      expectAccepted(await apply(exampleSubscription));
      const unknownPlan = edited(exampleSubscription, (s) => {
        s.metadata.name = 'blockhost-008';
        s.spec.subscriptionId = '8';
        s.spec.planId = '9';
      });
      const result = await apply(unknownPlan);
      expectAccepted(result);
      expect(result.stderr).toContain('Warning: spec.planId: no Plan has on-chain id 9 on chain 11155111');
    });

    it('refuses a second object for the same on-chain subscription in another namespace', async () => {
      await cluster.client.create(coreTypes.namespace, { metadata: { name: 'elsewhere' } });
      const twin = edited(exampleSubscription, (s) => (s.metadata.namespace = 'elsewhere'));
      expectRefused(
        await apply(twin),
        'spec.subscriptionId: subscription 7 of',
        `is already mirrored by ${NAMESPACE}/blockhost-007`,
      );
    });

    it('defaults backend and image of a VM from the HostConfig and its Plan, visible on the stored object', async () => {
      const result = await apply(bareVm);
      expectAccepted(result);
      expect(result.stderr).toContain('Warning: spec.backend defaulted to libvirt from HostConfig "host"');
      const stored = await cluster.client.get<VM>(blockhostTypes.vm, 'handmade', NAMESPACE);
      expect(stored.spec).toMatchObject({ backend: 'libvirt', image: 'debian-12' });
    });

    it('refuses a VM address outside the pool and an image the backend does not list', async () => {
      const badAddress = edited(exampleVM, (v) => (v.spec.network.ipv4 = '192.168.122.12'));
      expectRefused(
        await apply(badAddress),
        'spec.network.ipv4: must be inside the pool of HostConfig "host" spec.ipv4Pool (192.168.122.200-192.168.122.250',
      );
      const badImage = edited(exampleVM, (v) => (v.spec.image = 'ubuntu-24'));
      expectRefused(await apply(badImage), 'spec.image: must be one of the images');
      expect(await exists(blockhostTypes.vm, exampleVM.metadata.name, NAMESPACE)).toBe(false);
    });

    it('tells API clients which webhook refused, with each field in details.causes', async () => {
      const vm = edited(exampleVM, (v) => {
        v.spec.image = 'ubuntu-24';
        v.spec.network.ipv4 = '192.168.122.12';
      });
      const error = await cluster.client.create(blockhostTypes.vm, vm, { dryRun: true }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(KubeApiError);
      const { status, reason, message, details } = error as KubeApiError;
      expect({ status, reason }).toEqual({ status: 422, reason: 'Invalid' });
      expect(message).toContain(
        `admission webhook "${WEBHOOK_NAMES.validate}" denied the request: spec.image: must be one of`,
      );
      expect((details as { causes: { field: string }[] }).causes.map((c) => c.field)).toEqual([
        'spec.image',
        'spec.network.ipv4',
      ]);
    });

    it('accepts a valid VM', async () => {
      expectAccepted(await apply(exampleVM));
    });

    describe('immutable identities on UPDATE', () => {
      const patch = (kind: string, name: string, body: object, ...extra: string[]) =>
        kubectl('patch', kind, name, '-n', NAMESPACE, '--type=merge', '-p', JSON.stringify(body), ...extra);

      it('refuses moving a VM to another Subscription', async () => {
        const result = await patch('bhvm', 'blockhost-007', {
          spec: { subscriptionRef: { name: 'blockhost-008' } },
        });
        expectRefused(result, 'spec.subscriptionRef: is immutable once set');
      });

      it('refuses removing a claimed address, which CEL cannot see', async () => {
        const result = await patch('bhvm', 'blockhost-007', { spec: { network: { ipv4: null } } });
        expectRefused(result, 'spec.network.ipv4: ipv4 is immutable: it cannot be removed once set');
      });

      it('refuses a VM backend change (the CRD rule, same message)', async () => {
        const result = await patch('bhvm', 'blockhost-007', { spec: { backend: 'proxmox' } });
        expect(result.code).not.toBe(0);
        expect(result.stderr).toContain('backend is immutable');
      });

      it('refuses moving the HostConfig to another chain once its contracts are in use', async () => {
        const contracts = { subscriptions: exampleSubscription.spec.contract };
        expectAccepted(await patchStatus('hc', 'host', { contracts }));
        const result = await kubectl(
          'patch',
          'hc',
          'host',
          '--type=merge',
          '-p',
          '{"spec":{"chain":{"chainId":1}}}',
        );
        expectRefused(result, 'spec.chain.chainId: cannot change from 11155111 while contracts are in use');
        const stored = await cluster.client.get<HostConfig>(blockhostTypes.hostConfig, 'host');
        expect(stored.spec.chain.chainId).toBe(11155111);
      });

      it('allows updates that keep the identities', async () => {
        expectAccepted(
          await patch('bhvm', 'blockhost-007', { spec: { runStrategy: 'Halted', size: { diskGiB: 30 } } }),
        );
        expectAccepted(await patch('sub', 'blockhost-007', { spec: { expiresAt: '2026-03-01T00:00:00Z' } }));
      });

      it('refuses a new on-chain id for a Plan on the same chain (status guard)', async () => {
        const result = await patchStatus('plan', 'basic', { onChainPlanId: '2' });
        expectRefused(result, 'status.onChainPlanId: cannot change while status.chainId stays 11155111');
      });
    });

    it('lets controllers write status', async () => {
      const status = { phase: 'Running', addresses: { ipv4: '192.168.122.200' } };
      expectAccepted(await patchStatus('bhvm', 'blockhost-007', status, NAMESPACE));
      const stored = await cluster.client.get<VM>(blockhostTypes.vm, 'blockhost-007', NAMESPACE);
      expect(stored.status?.phase).toBe('Running');
    });

    it('serves health and Prometheus metrics over TLS', async () => {
      const get = (path: string) => httpsRequest(`${cluster.url}${path}`, cluster.tls.caPem);
      expect(await get('/healthz')).toEqual({ status: 200, body: 'ok' });
      expect(await get('/readyz')).toEqual({ status: 200, body: 'ok' });
      const { body } = await get('/metrics');
      expect(body).toMatch(
        /blockhost_admission_requests_total\{webhook="validate",kind="VM",operation="CREATE",allowed="false"\} [1-9]/,
      );
      expect(body).toMatch(
        /blockhost_admission_requests_total\{webhook="mutate",kind="VM",operation="CREATE",allowed="true"\} [1-9]/,
      );
      expect(body).toMatch(
        /blockhost_admission_requests_total\{webhook="validate",kind="Plan\/status",operation="UPDATE",allowed="false"\} 1/,
      );
      expect(body).toContain('blockhost_admission_duration_seconds_bucket');
    });
  });

  describe('with the webhook down', () => {
    beforeAll(async () => {
      await cluster.stopServer();
    });

    afterAll(async () => {
      await cluster.startServer();
    });

    it('refuses our kinds with a clear error', async () => {
      const plan = edited(examplePlan, (p) => (p.metadata.name = 'while-down'));
      const result = await apply(plan);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(`failed calling webhook "${WEBHOOK_NAMES.validate}"`);
      expect(result.stderr).toContain('connection refused');
      expect(await exists(blockhostTypes.plan, 'while-down')).toBe(false);
      const vm = edited(bareVm, (v) => (v.metadata.name = 'while-down'));
      expect((await apply(vm)).stderr).toContain(`failed calling webhook "${WEBHOOK_NAMES.mutate}"`);
    });

    it('leaves every other kind alone: namespaces, ConfigMaps, kube-system', async () => {
      expectAccepted(await kubectl('create', 'namespace', 'unaffected'));
      expectAccepted(await kubectl('create', 'configmap', 'plain', '-n', 'unaffected', '--from-literal=a=b'));
      expectAccepted(
        await kubectl('create', 'configmap', 'system', '-n', 'kube-system', '--from-literal=a=b'),
      );
      expectAccepted(await kubectl('delete', 'configmap', 'system', '-n', 'kube-system'));
      expectAccepted(await kubectl('create', 'serviceaccount', 'robot', '-n', 'kube-system'));
      const lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'probe', namespace: 'kube-system' },
      };
      expectAccepted(await apply(lease));
    });

    it('keeps status writes of our kinds working, so controllers can report', async () => {
      expectAccepted(await patchStatus('plan', 'basic', { syncedName: 'Basic VM, synced while down' }));
      expectAccepted(await patchStatus('bhvm', 'blockhost-007', { phase: 'Stopped' }, NAMESPACE));
      const stored = await cluster.client.get<Plan>(blockhostTypes.plan, 'basic');
      expect(stored.status?.syncedName).toBe('Basic VM, synced while down');
    });
  });

  it('runs as a CLI: webhooks/main.ts answers reviews over TLS and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const cli = startProcess(
      'webhooks-cli',
      process.execPath,
      [
        '--import',
        'tsx',
        'webhooks/main.ts',
        `--port=${port}`,
        '--host=127.0.0.1',
        `--tls-cert-file=${cluster.tls.files.cert}`,
        `--tls-key-file=${cluster.tls.files.key}`,
        `--kubeconfig=${cluster.kubeconfigPath}`,
      ],
      join(cluster.plane.dir, 'webhooks-cli.log'),
    );
    try {
      const url = `https://127.0.0.1:${port}`;
      await waitFor(
        'the webhook CLI to listen',
        async () => (await httpsRequest(`${url}/readyz`, cluster.tls.caPem)).status === 200,
      );
      const plan = edited(examplePlan, (p) => ((p.spec.size as { image: string }).image = 'ubuntu-24'));
      const review = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'cli-test',
          kind: { group: 'blockhost.io', version: 'v1alpha1', kind: 'Plan' },
          resource: { group: 'blockhost.io', version: 'v1alpha1', resource: 'plans' },
          operation: 'CREATE',
          object: plan,
          oldObject: null,
        },
      };
      const answer = await httpsRequest(`${url}/validate`, cluster.tls.caPem, review);
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toMatchObject({
        kind: 'AdmissionReview',
        response: {
          uid: 'cli-test',
          allowed: false,
          status: { code: 422, message: expect.stringContaining('spec.size.image: must be one of') },
        },
      });
      const garbage = await httpsRequest(`${url}/validate`, cluster.tls.caPem, { kind: 'Pod' });
      expect(garbage.status).toBe(400);
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
    } finally {
      await cli.stop();
    }
  });

  it('checks objects again once the webhook is back', async () => {
    const plan = edited(examplePlan, (p) => (p.metadata.name = 'after-outage'));
    expectAccepted(await apply(plan));
    const bad = edited(plan, (p) => ((p.spec.size as { image: string }).image = 'ubuntu-24'));
    expectRefused(await apply(bad), 'spec.size.image');
    const stored = await cluster.client.get<KubeObject & Plan>(blockhostTypes.plan, 'after-outage');
    expect(stored.spec.size.image).toBe('debian-12');
  });
});
