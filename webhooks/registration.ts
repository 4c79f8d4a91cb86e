import { blockhostTypes, GROUP, VERSION } from '../lib/api/v1alpha1/index.js';
import { MUTATED_RESOURCES } from './mutate/index.js';
import { STATUS_GUARDED_RESOURCES } from './validate/status.js';

// The MutatingWebhookConfiguration and ValidatingWebhookConfiguration for the BlockHost webhooks.
// The test harness registers these objects with a URL and the Helm chart renders the same shape
// with a Service; keep the chart in step with this file.

/** Where the apiserver reaches the webhook server: a Service in the cluster, or a URL (tests). */
export type WebhookEndpoint =
  { service: { namespace: string; name: string; port?: number } } | { url: string };

export interface WebhookRegistrationOptions {
  endpoint: WebhookEndpoint;
  /** PEM of the CA that signed the serving certificate. */
  caBundle: string | Buffer;
  /** Name of both configurations (default `blockhost`). */
  name?: string;
  /** Seconds the apiserver waits for our main-resource reviews (1-30, default 10). */
  timeoutSeconds?: number;
}

const ALL_RESOURCES = Object.values(blockhostTypes).map((t) => t.plural);
const OPERATIONS = ['CREATE', 'UPDATE'];

export const WEBHOOK_NAMES = {
  mutate: 'mutate.webhooks.blockhost.io',
  validate: 'validate.webhooks.blockhost.io',
  validateStatus: 'validate-status.webhooks.blockhost.io',
} as const;

/** Status writes take at most this long to be waved through when the webhook hangs. */
const STATUS_TIMEOUT_SECONDS = 3;

function clientConfig(endpoint: WebhookEndpoint, path: string, caBundle: string | Buffer) {
  const ca = Buffer.from(caBundle).toString('base64');
  if ('url' in endpoint) return { url: `${endpoint.url.replace(/\/$/, '')}${path}`, caBundle: ca };
  const { namespace, name, port = 443 } = endpoint.service;
  return { service: { namespace, name, path, port }, caBundle: ca };
}

function rule(resources: readonly string[]) {
  return {
    apiGroups: [GROUP],
    apiVersions: [VERSION],
    resources: [...resources],
    operations: OPERATIONS,
    scope: '*',
  };
}

/**
 * The two configurations, with these choices made on purpose:
 * - rules name only group blockhost.io, so no other object in the cluster (kube-system included)
 *   ever waits for our server, and its being down cannot harm anything but our kinds;
 * - main resources use failurePolicy Fail: an object our checks never saw must not be stored;
 * - status writes (`<plural>/status`) are not on the main webhook; only the kinds whose status
 *   holds an identity (STATUS_GUARDED_RESOURCES) go to a separate one with failurePolicy Ignore
 *   and a short timeout: controllers must keep reporting status while the webhook is down;
 * - only kinds with defaults from other objects (MUTATED_RESOURCES) are sent to /mutate;
 * - no namespaceSelector or objectSelector: our kinds in any namespace get the same checks, and
 *   excluding a namespace would only open a way around them;
 * - sideEffects None (reviews only read), matchPolicy Equivalent (future versions are checked too),
 *   reinvocationPolicy Never (our defaults do not depend on other mutations).
 */
export function webhookConfigurations({
  endpoint,
  caBundle,
  name = 'blockhost',
  timeoutSeconds = 10,
}: WebhookRegistrationOptions) {
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 30)
    throw new Error(`timeoutSeconds must be a whole number from 1 to 30, got ${timeoutSeconds}`);
  const common = {
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    matchPolicy: 'Equivalent',
  };
  const labels = { 'app.kubernetes.io/name': 'blockhost', 'app.kubernetes.io/component': 'webhooks' };
  const configuration = <W>(kind: string, webhooks: W[]) => ({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind,
    metadata: { name, labels },
    webhooks,
  });
  const mutating = configuration('MutatingWebhookConfiguration', [
    {
      name: WEBHOOK_NAMES.mutate,
      clientConfig: clientConfig(endpoint, '/mutate', caBundle),
      rules: [rule(MUTATED_RESOURCES)],
      failurePolicy: 'Fail',
      timeoutSeconds,
      reinvocationPolicy: 'Never',
      ...common,
    },
  ]);
  const validating = configuration('ValidatingWebhookConfiguration', [
    {
      name: WEBHOOK_NAMES.validate,
      clientConfig: clientConfig(endpoint, '/validate', caBundle),
      rules: [rule(ALL_RESOURCES)],
      failurePolicy: 'Fail',
      timeoutSeconds,
      ...common,
    },
    {
      name: WEBHOOK_NAMES.validateStatus,
      clientConfig: clientConfig(endpoint, '/validate', caBundle),
      rules: [{ ...rule(STATUS_GUARDED_RESOURCES.map((r) => `${r}/status`)), operations: ['UPDATE'] }],
      failurePolicy: 'Ignore',
      timeoutSeconds: Math.min(timeoutSeconds, STATUS_TIMEOUT_SECONDS),
      ...common,
    },
  ]);
  return { mutating, validating };
}
