// helm and kubectl (the harness-built binaries) run against the chart charts/blockhost, with their
// caches and config in a throw-away directory so nothing touches the user's ~/.config or ~/.cache.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import type { KubeObject } from '../../../lib/kube/object.js';
import { ensureControlPlaneBinaries } from '../../harness/control-plane/binaries.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const chartDir = join(repoRoot, 'charts', 'blockhost');
/** The harness' kube-apiserver version; `helm template` cannot ask a server and defaults to 1.20. */
export const KUBE_VERSION = '1.35.4';

/** A rendered object with the fields the checks read. */
export interface Manifest extends KubeObject {
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  rules?: { apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs: string[] }[];
  webhooks?: Record<string, unknown>[];
}

/** Values for `helm -f`; each set is rendered, dry-run on a server and (some) installed. */
export const valueSets = {
  default: {},
  /** Everything switched on: HA replicas (web: always 1), KubeVirt + libvirt RBAC and mounts, Ingress host with TLS. */
  full: {
    commonLabels: { 'example.com/team': 'ops' },
    controller: {
      replicas: 2,
      keySecretNames: ['blockhost-server-wallet', 'proxmox-token'],
      kubevirt: { enabled: true, namespaces: ['vms'], imageNamespaces: ['golden-images'] },
      libvirt: { enabled: true, supplementalGroups: [108] },
    },
    webhook: { replicas: 2, failurePolicy: 'Fail', timeoutSeconds: 5 },
    web: {
      adminPrefix: '/manage',
      ingress: { host: 'shop.example.com', tls: { enabled: true, secretName: 'shop-tls' } },
    },
  },
  /** The webhook alone: no controller, no web, no PDBs, CRDs managed elsewhere. */
  minimal: {
    crds: { install: false },
    controller: { enabled: false },
    web: { enabled: false },
    webhook: { podDisruptionBudget: { enabled: false } },
  },
  /** cert-manager issues the webhook certificate (its CRDs are not in the test cluster). */
  certManager: { webhook: { certManager: { enabled: true } } },
} as const;
export type ValueSetName = keyof typeof valueSets;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` and resolves with its exit code and output, whatever the code. */
const runForResult = (command: string, args: string[], env: NodeJS.ProcessEnv) =>
  new Promise<RunResult>((resolve) => {
    execFile(command, args, { env }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });

const run = (command: string, args: string[], env: NodeJS.ProcessEnv, input?: string) =>
  new Promise<string>((resolve, reject) => {
    const child = execFile(command, args, { env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      // helm lint reports the findings on stdout and only the verdict on stderr: keep both.
      const output = [stdout.trim(), stderr.trim()].filter(Boolean).join('\n') || error?.message;
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${output}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });

/** Parses a multi-document YAML stream, dropping empty documents. */
export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]?.message}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((doc): doc is Manifest => doc !== null);
}

/** helm and kubectl bound to one kubeconfig (or none, for client-side commands). */
export class ChartTools {
  private constructor(
    private readonly dir: string,
    private readonly helmBin: string,
    private readonly kubectlBin: string,
    private readonly kubeconfig?: string,
  ) {}

  static async create(kubeconfig?: string): Promise<ChartTools> {
    const { helm, kubectl } = await ensureControlPlaneBinaries();
    return new ChartTools(await mkdtemp(join(tmpdir(), 'blockhost-chart-')), helm, kubectl, kubeconfig);
  }

  private get env(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: this.dir,
      HELM_CACHE_HOME: join(this.dir, 'cache'),
      HELM_CONFIG_HOME: join(this.dir, 'config'),
      HELM_DATA_HOME: join(this.dir, 'data'),
      ...(this.kubeconfig && { KUBECONFIG: this.kubeconfig }),
    };
  }

  helm(args: string[]): Promise<string> {
    return run(this.helmBin, args, this.env);
  }

  kubectl(args: string[], input?: string): Promise<string> {
    return run(this.kubectlBin, ['--cache-dir', join(this.dir, 'kube-cache'), ...args], this.env, input);
  }

  /** kubectl for commands whose exit code is an answer (`auth can-i` exits 1 for "no"). */
  kubectlResult(args: string[]): Promise<RunResult> {
    return runForResult(this.kubectlBin, ['--cache-dir', join(this.dir, 'kube-cache'), ...args], this.env);
  }

  /** Writes `values` to a file for `helm -f` and returns its path. */
  async valuesFile(values: object): Promise<string> {
    const path = join(this.dir, `values-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(path, stringify(values));
    return path;
  }

  /** `helm template` of the chart with `values` into `namespace`, parsed. */
  async template(values: object, namespace = 'blockhost'): Promise<Manifest[]> {
    const file = await this.valuesFile(values);
    const args = [
      'template',
      'blockhost',
      chartDir,
      '-n',
      namespace,
      '--kube-version',
      KUBE_VERSION,
      '-f',
      file,
    ];
    return parseManifests(await this.helm(args));
  }

  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
