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
import { machineName, requireHostConfig } from './host.js';

/** The HostConfig's own field (one source of truth for what the API server accepts). */
const hostnameField = hostConfigSpecSchema.shape.signup.unwrap().shape.hostname.unwrap();

export const HOSTNAME_RULE =
  'must be a host name (RFC 1123): dot-separated labels of letters, digits and hyphens, each 1 to 63 characters and not starting or ending with a hyphen, at most 253 in all, e.g. vms.example.com';

/** Pure: what is wrong with `name` as a public host name, if anything. */
export function hostnameProblem(name: string): string | undefined {
  if (name.length === 0) return 'enter the host name, e.g. vms.example.com';
  if (name.endsWith('.')) return 'leave out the final dot';
  return hostnameField.safeParse(name).success ? undefined : HOSTNAME_RULE;
}

/** The name as stored: trimmed, lower case (DNS ignores case, and admins compare what they sign). */
export const hostnameSchema = z
  .string('must be a host name, e.g. vms.example.com')
  .trim()
  .toLowerCase()
  .superRefine((name, context) => {
    const problem = hostnameProblem(name);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  });

const hostnameBody = z.strictObject({
  hostname: hostnameSchema,
  /** The HostConfig's spec generation the page showed (status writes do not change it). */
  generation: z.int().min(0),
});

/** What the System page shows about the public name, and what follows it. */
export function publicNameOf(host: HostConfig) {
  return {
    hostname: host.spec.signup?.hostname,
    /** spec.signup.url, when the operator set one: then the signup URL does not follow the name. */
    url: host.spec.signup?.url,
    signupUrl: host.status?.signupUrl,
    /** The machine in the dashboard's login message. */
    machine: machineName(host),
    generation: host.metadata.generation,
  };
}

/**
 * The host's public name (`spec.signup.hostname`, the original's `hostnamectl` on the System page):
 * the signup URL setup publishes and the dashboard's login message follow it.
 */
export function registerHostnameRoutes(
  app: FastifyInstance,
  context: FaceContext,
  sessions: SessionStore<AdminSession>,
  requireAdmin: preHandlerAsyncHookHandler,
  audit: AdminAudit,
): void {
  app.post('/api/system/hostname', { preHandler: requireAdmin }, async (request) => {
    const { hostname, generation } = validate(hostnameBody, request.body);
    const wallet = adminWallet(sessions, request);
    const current = await requireHostConfig(context.kube);
    const conflict = () =>
      new HttpError(409, 'The host configuration changed meanwhile; reload the page and try again.');
    if (current.metadata.generation !== generation) throw conflict();
    const before = current.spec.signup?.hostname;
    if (before === hostname) return { changed: false, ...publicNameOf(current) };
    const patched = await context.kube
      .patch<HostConfig>(
        blockhostTypes.hostConfig,
        HOST_CONFIG_NAME,
        undefined,
        {
          // The version just read: a spec change between that read and this patch is a conflict.
          metadata: { resourceVersion: current.metadata.resourceVersion },
          spec: { signup: { hostname } },
        },
        'merge',
      )
      .catch((error: unknown) => {
        if (isConflict(error)) throw conflict();
        if (isInvalid(error))
          throw new HttpError(400, `Refused by the API server: ${(error as KubeApiError).message}`);
        throw error;
      });
    await audit.record({
      wallet,
      action: 'ChangeHostname',
      reason: 'AdminHostnameChanged',
      object: patched,
      type: blockhostTypes.hostConfig,
      note: `public host name changed from ${before ?? '(none: the node address)'} to ${hostname}`,
    });
    return { changed: true, ...publicNameOf(patched) };
  });
}
