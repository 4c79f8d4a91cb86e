/**
 * Configuration export and import after setup (INTEROP §2): the HostConfig spec and the Plans,
 * encrypted with the signed-in admin's signature of the public secret (lib/config-backup, as the
 * wizard does). Import is two calls with the same file and signature: a preview (decrypt, validate,
 * diff; nothing written) and, after the admin confirms, a server-side apply of HostConfig + Plans.
 */
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import {
  API_VERSION,
  blockhostTypes,
  HOST_CONFIG_NAME,
  type HostConfig,
  type Plan,
} from '../../lib/api/v1alpha1/index.js';
import { addressesEqual } from '../../lib/crypto/index.js';
import {
  ConfigBackupError,
  createBackup,
  openBackup,
  parseBackupEnvelope,
  type BackupPayload,
} from '../../lib/config-backup/index.js';
import { isNotFound, KubeApiError } from '../../lib/kube/errors.js';
import type { FaceContext } from '../face.js';
import { HttpError } from '../http/errors.js';
import type { SessionStore } from '../http/sessions.js';
import { validate } from '../http/validation.js';
// The same field manager as the wizard: an import replaces what setup applied, field for field.
import { FIELD_MANAGER } from '../wizard/apply.js';
import type { AdminAudit } from './audit.js';
import { adminWallet, type AdminSession } from './auth.js';

const signature = z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'must be a 65-byte signature (0x + 130 hex)');
const exportBody = z.strictObject({ signature });
const importBody = z.strictObject({
  // Shape checked by parseBackupEnvelope, which names the bad fields.
  backup: z.unknown(),
  signature,
  confirm: z.literal(true, { error: 'must be true to apply the configuration' }).optional(),
  /** The HostConfig's spec generation the preview showed (status writes do not change it). */
  generation: z.int().min(0).optional(),
});

export interface ConfigChange {
  path: string;
  from?: unknown;
  to?: unknown;
}

export interface ImportPreview {
  wallet: string;
  createdAt: string;
  generation?: number;
  hostConfig: { changes: ConfigChange[] };
  plans: { added: string[]; changed: string[]; unchanged: string[]; notInBackup: string[] };
}

/** Leaves of a JSON value as dotted paths (list items by index), so key order never shows as a change. */
function flatten(value: unknown, path: string, out: Map<string, unknown>): Map<string, unknown> {
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) flatten(child, path ? `${path}.${key}` : key, out);
  } else if (value !== undefined) {
    out.set(path, value);
  }
  return out;
}

export function diffSpecs(current: unknown, next: unknown): ConfigChange[] {
  const before = flatten(current ?? {}, '', new Map());
  const after = flatten(next, '', new Map());
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
  return paths
    .filter((path) => before.get(path) !== after.get(path))
    .map((path) => ({
      path,
      ...(before.has(path) && { from: before.get(path) }),
      ...(after.has(path) && { to: after.get(path) }),
    }));
}

function backupFailure(error: unknown): never {
  if (error instanceof ConfigBackupError) {
    const hint =
      error.code === 'DECRYPTION_FAILED'
        ? ' — the file was changed after export, or it is not the file this wallet exported'
        : '';
    throw new HttpError(400, `${error.message}${hint}`, error.fields);
  }
  throw error;
}

export function registerBackupRoutes(
  app: FastifyInstance,
  context: FaceContext,
  sessions: SessionStore<AdminSession>,
  requireAdmin: preHandlerAsyncHookHandler,
  audit: AdminAudit,
): void {
  const { kube } = context;

  const readHost = async (): Promise<HostConfig> => {
    try {
      return await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);
    } catch (error) {
      if (isNotFound(error)) throw new HttpError(409, `there is no HostConfig ${HOST_CONFIG_NAME} yet`);
      throw error;
    }
  };

  /** What the page needs to ask for the signature: the message (the public secret) and the wallet. */
  app.get('/api/backup', { preHandler: requireAdmin }, async (request) => {
    const host = await readHost();
    return { wallet: adminWallet(sessions, request), publicSecret: host.spec.publicSecret };
  });

  app.post('/api/backup/export', { preHandler: requireAdmin }, async (request) => {
    const body = validate(exportBody, request.body ?? {});
    const wallet = adminWallet(sessions, request);
    const [host, plans] = await Promise.all([readHost(), kube.list<Plan>(blockhostTypes.plan)]);
    let backup;
    try {
      backup = createBackup(
        {
          hostConfig: host.spec,
          plans: plans.items
            .map((plan) => ({ name: plan.metadata.name!, spec: plan.spec }))
            .sort((a, b) => a.name.localeCompare(b.name)),
        },
        { wallet, signature: body.signature, publicSecret: host.spec.publicSecret },
        new Date(context.now()),
      );
    } catch (error) {
      backupFailure(error);
    }
    await audit.record({
      wallet,
      action: 'Export',
      reason: 'ConfigurationExported',
      object: host,
      type: blockhostTypes.hostConfig,
      note: `configuration exported with ${plans.items.length} plan(s) from the admin dashboard`,
    });
    return { filename: `blockhost-config-${backup.createdAt.slice(0, 10)}.json`, backup };
  });

  app.post('/api/backup/import', { preHandler: requireAdmin }, async (request) => {
    const body = validate(importBody, request.body ?? {});
    const wallet = adminWallet(sessions, request);
    let envelope;
    try {
      envelope = parseBackupEnvelope(body.backup);
    } catch (error) {
      backupFailure(error);
    }
    // Only the signed-in admin's own backups: another wallet's file could not be decrypted anyway.
    if (!addressesEqual(envelope.wallet, wallet))
      throw new HttpError(
        400,
        `this backup belongs to wallet ${envelope.wallet}, not to the signed-in admin ${wallet}`,
      );
    let payload: BackupPayload;
    try {
      payload = openBackup(body.backup, body.signature);
    } catch (error) {
      backupFailure(error);
    }
    const [host, plans] = await Promise.all([
      kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      }),
      kube.list<Plan>(blockhostTypes.plan),
    ]);
    const existing = new Map(plans.items.map((p) => [p.metadata.name!, p]));
    const inBackup = new Set(payload.plans.map((p) => p.name));
    const preview: ImportPreview = {
      wallet: envelope.wallet,
      createdAt: envelope.createdAt,
      ...(host?.metadata.generation !== undefined && { generation: host.metadata.generation }),
      hostConfig: { changes: diffSpecs(host?.spec, payload.hostConfig) },
      plans: {
        added: payload.plans.filter((p) => !existing.has(p.name)).map((p) => p.name),
        changed: payload.plans
          .filter((p) => existing.has(p.name) && diffSpecs(existing.get(p.name)!.spec, p.spec).length > 0)
          .map((p) => p.name),
        unchanged: payload.plans
          .filter((p) => existing.has(p.name) && diffSpecs(existing.get(p.name)!.spec, p.spec).length === 0)
          .map((p) => p.name),
        // The web service account cannot delete Plans; they stay as they are.
        notInBackup: [...existing.keys()].filter((name) => !inBackup.has(name)).sort(),
      },
    };
    if (!body.confirm) return { applied: false, preview };

    // The spec, not the resourceVersion: the setup pipeline's status writes change that all the time.
    if (body.generation !== host?.metadata.generation)
      throw new HttpError(409, 'the configuration changed since the preview; review the import again');
    const apply = { fieldManager: FIELD_MANAGER, force: true };
    const labels = { 'app.kubernetes.io/managed-by': FIELD_MANAGER };
    let applied: HostConfig;
    try {
      applied = await kube.patch<HostConfig>(
        blockhostTypes.hostConfig,
        HOST_CONFIG_NAME,
        undefined,
        {
          apiVersion: API_VERSION,
          kind: 'HostConfig',
          metadata: { name: HOST_CONFIG_NAME, labels },
          spec: payload.hostConfig,
        },
        'apply',
        apply,
      );
      for (const plan of payload.plans)
        await kube.patch(
          blockhostTypes.plan,
          plan.name,
          undefined,
          { apiVersion: API_VERSION, kind: 'Plan', metadata: { name: plan.name, labels }, spec: plan.spec },
          'apply',
          apply,
        );
    } catch (error) {
      // Admission webhooks and CRD rules (e.g. a chain id or contracts changed on a host in use).
      if (error instanceof KubeApiError && [400, 403, 422].includes(error.status))
        throw new HttpError(422, `the cluster refused the imported configuration: ${error.message}`);
      throw error;
    }
    await audit.record({
      wallet,
      action: 'Import',
      reason: 'ConfigurationImported',
      object: applied,
      type: blockhostTypes.hostConfig,
      note:
        `configuration backup of ${envelope.createdAt} imported (${preview.hostConfig.changes.length} ` +
        `HostConfig change(s), ${payload.plans.length} plan(s)) from the admin dashboard`,
    });
    return { applied: true, preview };
  });
}
