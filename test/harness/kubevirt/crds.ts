// KubeVirt's real VirtualMachine and VirtualMachineInstance CRDs for the test control plane, which
// runs no virt-operator: build-crds.sh prints them with KubeVirt's own generator (cached per version).
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { installCrds } from '../../../lib/kube/apply.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { isAlreadyExists, isConflict } from '../../../lib/kube/errors.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';

const buildScript = join(dirname(fileURLToPath(import.meta.url)), 'build-crds.sh');

/** Marks CRDs with the generator output they came from, so installs of the same output are skipped. */
const SOURCE_ANNOTATION = 'blockhost.io/kubevirt-crds';

/** Path of the generated CRD YAML; generates it first when the cache has none (stderr shows progress). */
export async function ensureKubevirtCrds(): Promise<string> {
  const child = spawn('bash', [buildScript], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`generating the KubeVirt CRDs failed (exit ${code}); see the output above`);
  const path = stdout.trim().split('\n').at(-1);
  if (!path) throw new Error('build-crds.sh printed no path');
  return path;
}

interface Crd extends KubeObject {
  status?: { conditions?: { type: string; status: string }[] };
}

async function isInstalled(kube: KubeClient, name: string, source: string): Promise<boolean> {
  const current = await kube
    .list<Crd>(coreTypes.customResourceDefinition, { fieldSelector: `metadata.name=${name}` })
    .then((list) => list.items[0]);
  return (
    current?.metadata.annotations?.[SOURCE_ANNOTATION] === source &&
    current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') === true
  );
}

/**
 * Installs the CRDs and waits until they are Established. Idempotent, and safe when several jest
 * workers sharing one API server call it at once: the same output is applied only when missing, and
 * a create race between workers is retried.
 */
export async function installKubevirtCrds(kube: KubeClient): Promise<void> {
  const path = await ensureKubevirtCrds();
  const source = basename(dirname(path));
  const crds = parseAllDocuments(await readFile(path, 'utf8'))
    .map((doc) => doc.toJS() as Crd | null)
    .filter((crd): crd is Crd => crd !== null)
    .map((crd) => ({
      ...crd,
      metadata: {
        ...crd.metadata,
        annotations: { ...crd.metadata.annotations, [SOURCE_ANNOTATION]: source },
      },
    }));
  const installed = await Promise.all(crds.map((crd) => isInstalled(kube, crd.metadata.name ?? '', source)));
  const missing = crds.filter((_, i) => !installed[i]);
  for (let attempt = 1; missing.length > 0; attempt += 1) {
    try {
      await installCrds(kube, missing);
      return;
    } catch (error) {
      if (attempt >= 5 || !(isConflict(error) || isAlreadyExists(error))) throw error;
    }
  }
}
