import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import {
  blockhostTypes,
  HOST_CONFIG_NAME,
  hostConfigSpecSchema,
  type HostConfig,
} from '../../lib/api/v1alpha1/index.js';
import { isConflict, isInvalid, isNotFound, type KubeApiError } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import type { FaceContext } from '../face.js';
import { HttpError } from '../http/errors.js';
import type { SessionStore } from '../http/sessions.js';
import { validate } from '../http/validation.js';
import type { AdminAudit } from './audit.js';
import { adminWallet, type AdminSession } from './auth.js';
import { requireHostConfig } from './host.js';

/** Written by the node after it applies spec.network (k3s/blockhost-network-sync). */
const NETWORK_STATUS_CONFIGMAP = 'blockhost-network-status';

/** The HostConfig's own admin-commands schema (one source of truth), refusing unknown fields. */
const adminCommandsSchema = hostConfigSpecSchema.shape.admin.shape.commands;
const securityBody = z.strictObject({
  commands: adminCommandsSchema,
  /** The HostConfig's spec generation the page showed (status writes do not change it). */
  generation: z.int().min(0),
});

/** Network and security page API: addresses in use, and the admin-command (knock) settings. */
export function registerNetworkRoutes(
  app: FastifyInstance,
  context: FaceContext,
  sessions: SessionStore<AdminSession>,
  requireAdmin: preHandlerAsyncHookHandler,
  audit: AdminAudit,
): void {
  app.get('/api/network', { preHandler: requireAdmin }, async () => {
    const host = await requireHostConfig(context.kube);
    return {
      applied: await readNetworkStatus(context),
      network: host.spec.network,
      ipv4Pool: host.spec.ipv4Pool,
      ipv6: { ...host.spec.ipv6, ...(host.status?.ipv6Prefix && { prefixInUse: host.status.ipv6Prefix }) },
      commands: host.spec.admin.commands,
      generation: host.metadata.generation,
    };
  });

  app.post('/api/security', { preHandler: requireAdmin }, async (request) => {
    const { commands, generation } = validate(securityBody, request.body);
    const wallet = adminWallet(sessions, request);
    const current = await requireHostConfig(context.kube);
    // Never overwrite a spec change made meanwhile (wizard, kubectl); the setup pipeline's status
    // writes change the resourceVersion all the time, the generation only with the spec.
    if (current.metadata.generation !== generation)
      throw new HttpError(409, 'The host configuration changed meanwhile; reload the page and try again.');
    const patched = await context.kube
      .patch<HostConfig>(
        blockhostTypes.hostConfig,
        HOST_CONFIG_NAME,
        undefined,
        {
          // The version just read: a spec change between that read and this patch is a conflict.
          metadata: { resourceVersion: current.metadata.resourceVersion },
          // null removes a command name the admin cleared (merge patch).
          spec: { admin: { commands: { ...commands, commandName: commands.commandName ?? null } } },
        },
        'merge',
      )
      .catch((error: unknown) => {
        if (isConflict(error))
          throw new HttpError(
            409,
            'The host configuration changed meanwhile; reload the page and try again.',
          );
        if (isInvalid(error))
          throw new HttpError(400, `Refused by the API server: ${(error as KubeApiError).message}`);
        throw error;
      });
    await audit.record({
      wallet,
      action: 'UpdateAdminCommands',
      reason: 'AdminCommandsUpdated',
      object: patched,
      type: blockhostTypes.hostConfig,
      note: `admin commands ${commands.enabled ? 'enabled' : 'disabled'}, ports ${commands.ports.join(',')}, open ${commands.durationSeconds}s, max age ${commands.maxCommandAgeSeconds}s`,
    });
    return { commands: patched.spec.admin.commands, generation: patched.metadata.generation };
  });
}

/** What the node reported after applying spec.network (k3s/blockhost-network-sync), if anything yet. */
const networkStatusSchema = z.object({
  phase: z.enum(['Applied', 'RolledBack', 'Refused']),
  message: z.string().max(4096).default(''),
  appliedGeneration: z.coerce.number().int().min(0).optional(),
  time: z.string().max(64).optional(),
});

async function readNetworkStatus(
  context: FaceContext,
): Promise<z.infer<typeof networkStatusSchema> | undefined> {
  const configMap = await context.kube
    .get<KubeObject & { data?: Record<string, string> }>(
      coreTypes.configMap,
      NETWORK_STATUS_CONFIGMAP,
      context.namespace,
    )
    .catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
  const parsed = networkStatusSchema.safeParse(configMap?.data);
  return parsed.success ? parsed.data : undefined;
}
