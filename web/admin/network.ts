import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import {
  blockhostTypes,
  HOST_CONFIG_NAME,
  hostConfigSpecSchema,
  type HostConfig,
} from '../../lib/api/v1alpha1/index.js';
import { isConflict, isInvalid, type KubeApiError } from '../../lib/kube/errors.js';
import type { FaceContext } from '../face.js';
import { HttpError } from '../http/errors.js';
import type { SessionStore } from '../http/sessions.js';
import { validate } from '../http/validation.js';
import type { AdminAudit } from './audit.js';
import { adminWallet, type AdminSession } from './auth.js';
import { requireHostConfig } from './host.js';

/** The HostConfig's own admin-commands schema (one source of truth), refusing unknown fields. */
const adminCommandsSchema = hostConfigSpecSchema.shape.admin.shape.commands;
const securityBody = z.strictObject({
  commands: adminCommandsSchema,
  resourceVersion: z.string().min(1).max(64),
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
      network: host.spec.network,
      ipv4Pool: host.spec.ipv4Pool,
      ipv6: { ...host.spec.ipv6, ...(host.status?.ipv6Prefix && { prefixInUse: host.status.ipv6Prefix }) },
      commands: host.spec.admin.commands,
      resourceVersion: host.metadata.resourceVersion,
    };
  });

  app.post('/api/security', { preHandler: requireAdmin }, async (request) => {
    const { commands, resourceVersion } = validate(securityBody, request.body);
    const wallet = adminWallet(sessions, request);
    await requireHostConfig(context.kube);
    const patched = await context.kube
      .patch<HostConfig>(
        blockhostTypes.hostConfig,
        HOST_CONFIG_NAME,
        undefined,
        {
          // The version the page showed: never overwrite a change made meanwhile (wizard, kubectl).
          metadata: { resourceVersion },
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
    return { commands: patched.spec.admin.commands, resourceVersion: patched.metadata.resourceVersion };
  });
}
