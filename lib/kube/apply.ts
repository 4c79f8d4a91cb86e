import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeClient } from './client.js';
import type { KubeObject } from './object.js';
import { coreTypes, type ResourceType } from './resource-types.js';

export const FIELD_MANAGER = 'blockhost';

/** Server-side applies `object` (create or update, our fields only). */
export async function apply<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  object: T,
): Promise<T> {
  const { name, namespace } = object.metadata;
  if (!name) throw new Error(`cannot apply a ${type.kind} without metadata.name`);
  return client.patch<T>(type, name, namespace, object, 'apply', {
    fieldManager: FIELD_MANAGER,
    force: true,
  });
}

/** Reads every YAML document of every `.yaml` file in `dir`, in file-name order. */
export async function readManifests(dir: string): Promise<KubeObject[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.yaml')).sort();
  const documents: KubeObject[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      const value = doc.toJS() as KubeObject | null;
      if (value) documents.push(value);
    }
  }
  return documents;
}

interface CrdStatus {
  status?: { conditions?: { type: string; status: string }[] };
}

/** Applies CRD manifests and waits until the API server reports every one Established. */
export async function installCrds(client: KubeClient, crds: KubeObject[], timeoutMs = 30_000): Promise<void> {
  const type = coreTypes.customResourceDefinition;
  await Promise.all(crds.map((crd) => apply(client, type, crd)));
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    const name = crd.metadata.name ?? '';
    for (;;) {
      const current = await client.get<KubeObject & CrdStatus>(type, name);
      if (current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
