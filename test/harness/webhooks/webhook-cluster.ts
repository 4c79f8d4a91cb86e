import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { apply, installCrds, readManifests } from '../../../lib/kube/apply.js';
import { exampleVM } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes } from '../../../lib/api/v1alpha1/index.js';
import { KubeClient } from '../../../lib/kube/client.js';
import { KubeApiError } from '../../../lib/kube/errors.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import type { ResourceType } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { WEBHOOK_NAMES, webhookConfigurations } from '../../../webhooks/registration.js';
import { startWebhookServer, type WebhookServer } from '../../../webhooks/server.js';
import { crdDir } from '../cluster.js';
import { ensureControlPlaneBinaries } from '../control-plane/binaries.js';
import { LocalControlPlane } from '../control-plane/control-plane.js';
import { generateControlPlanePki } from '../control-plane/pki.js';
import { freePort, waitFor } from '../processes.js';

const log = createLogger('webhook-harness');

const admissionTypes = {
  mutating: {
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    kind: 'MutatingWebhookConfiguration',
    plural: 'mutatingwebhookconfigurations',
    namespaced: false,
  },
  validating: {
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    kind: 'ValidatingWebhookConfiguration',
    plural: 'validatingwebhookconfigurations',
    namespaced: false,
  },
} as const satisfies Record<string, ResourceType>;

export interface WebhookTls {
  caPem: Buffer;
  cert: Buffer;
  key: Buffer;
  /** The same as files, for the CLI's --tls-cert-file and --tls-key-file. */
  files: { ca: string; cert: string; key: string };
}

/** A throw-away CA and a serving certificate for 127.0.0.1, made with openssl. */
export async function generateWebhookTls(dir: string): Promise<WebhookTls> {
  await mkdir(dir, { recursive: true });
  // The control plane's PKI has exactly this: a CA and a serverAuth certificate for 127.0.0.1.
  const pki = await generateControlPlanePki(dir);
  const files = { ca: pki.caCert, cert: pki.servingCert, key: pki.servingKey };
  const [caPem, cert, key] = await Promise.all([files.ca, files.cert, files.key].map((f) => readFile(f)));
  return { caPem: caPem!, cert: cert!, key: key!, files };
}

/** Registers the webhook configurations of webhooks/registration.ts, pointing at `url`. */
export async function registerWebhooks(client: KubeClient, url: string, caPem: Buffer): Promise<void> {
  const { mutating, validating } = webhookConfigurations({ endpoint: { url }, caBundle: caPem });
  await apply(client, admissionTypes.mutating, mutating as KubeObject);
  await apply(client, admissionTypes.validating, validating as KubeObject);
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A private control plane with our CRDs and the webhooks registered. Private because registering
 * webhooks on the shared test apiserver would subject every other test file's objects to them.
 */
export class WebhookCluster {
  private server?: WebhookServer;

  private constructor(
    readonly plane: LocalControlPlane,
    readonly client: KubeClient,
    readonly tls: WebhookTls,
    private readonly port: number,
    private readonly releaseNamespace: string,
    private readonly kubectlPath: string,
    private readonly kubectlCacheDir: string,
  ) {}

  static async start({ releaseNamespace = 'blockhost' } = {}): Promise<WebhookCluster> {
    const plane = await LocalControlPlane.start();
    try {
      const client = KubeClient.fromFile(plane.kubeconfigPath);
      await installCrds(client, await readManifests(crdDir));
      const tls = await generateWebhookTls(join(plane.dir, 'webhook-pki'));
      const { kubectl } = await ensureControlPlaneBinaries();
      const cacheDir = await mkdtemp(join(plane.dir, 'kubectl-cache-'));
      const cluster = new WebhookCluster(
        plane,
        client,
        tls,
        await freePort(),
        releaseNamespace,
        kubectl,
        cacheDir,
      );
      await cluster.startServer();
      await registerWebhooks(client, cluster.url, tls.caPem);
      await cluster.waitUntilEffective();
      log.info({ url: cluster.url, kubeconfig: plane.kubeconfigPath }, 'webhooks registered');
      return cluster;
    } catch (error) {
      await plane.stop();
      throw error;
    }
  }

  /**
   * The apiserver loads webhook configurations through an informer: wait until a VM is refused for
   * want of a HostConfig, which only our webhook checks (a dry run, so nothing is stored).
   */
  private async waitUntilEffective(): Promise<void> {
    const probe = {
      ...structuredClone(exampleVM),
      metadata: { name: 'webhook-probe', namespace: 'default' },
    };
    await waitFor('the webhooks to take effect', async () => {
      const refused = await this.client.create(blockhostTypes.vm, probe, { dryRun: true }).then(
        () => undefined,
        (error: unknown) => error,
      );
      if (refused instanceof KubeApiError && refused.message.includes(WEBHOOK_NAMES.validate)) return true;
      if (refused === undefined) throw new Error('a VM was accepted without a HostConfig');
      throw refused;
    });
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get kubeconfigPath(): string {
    return this.plane.kubeconfigPath;
  }

  get metrics() {
    return this.server?.metrics;
  }

  /** (Re)starts the webhook server on its registered port. */
  async startServer(): Promise<void> {
    if (this.server) return;
    this.server = await startWebhookServer({
      kube: new KubeClient(this.client.kubeConfig, 4000),
      tls: { cert: this.tls.cert, key: this.tls.key },
      host: '127.0.0.1',
      port: this.port,
      releaseNamespace: this.releaseNamespace,
      log: createLogger('webhooks', { level: process.env.LOG_LEVEL ?? 'warn' }),
    });
  }

  /** Closes the webhook server; the registration stays, as when its pod is gone. */
  async stopServer(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }

  /** Runs the harness's kubectl against this cluster; never throws on a non-zero exit. */
  kubectl(args: string[], stdin?: string): Promise<KubectlResult> {
    const child = spawn(
      this.kubectlPath,
      ['--kubeconfig', this.kubeconfigPath, '--cache-dir', this.kubectlCacheDir, ...args],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(stdin ?? '');
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  }

  async stop(): Promise<void> {
    await this.stopServer();
    await this.plane.stop();
  }
}
