import { KubeClient } from '../../lib/kube/client.js';
import { KubeApiError } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';

const VERBS: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
const WRITE_VERBS = new Set(Object.values(VERBS));

/** ConfigMaps serve several purposes; their names say which (see the stores that write them). */
const CONFIGMAP_PURPOSES: [RegExp, string][] = [
  [/^blockhost-tx-/, 'tx-intent'],
  [/^blockhost-ipv[46]-/, 'address-claim'],
  [/^blockhost-chain-/, 'chain-checkpoint'],
];

type RequestOptions = NonNullable<Parameters<KubeClient['request']>[2]>;
type Counts = Map<string, number>;
const bump = (counts: Counts, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
const sorted = (counts: Counts) => Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));

/**
 * A KubeClient that counts the requests it makes by verb and resource (`create vms`,
 * `update subscriptions/status`, `create configmaps[address-claim]`, `list configmaps?<label keys>`),
 * with failed ones (409 Conflict, 409 AlreadyExists...) counted apart by status, and updates that
 * changed nothing (the API server kept the resourceVersion) counted as no-ops. Watches are not
 * counted: they are streams, not requests.
 */
export class CountingKubeClient extends KubeClient {
  private counts: Counts = new Map();
  private failures: Counts = new Map();
  private noops: Counts = new Map();

  override async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const key = requestKey(method, path, options);
    bump(this.counts, key);
    let result: T;
    try {
      result = await super.request<T>(method, path, options);
    } catch (error) {
      const why = error instanceof KubeApiError ? `${error.status} ${error.reason}` : 'no response';
      bump(this.failures, `${key} → ${why}`);
      throw error;
    }
    const sentVersion = (options.body as KubeObject | undefined)?.metadata?.resourceVersion;
    if (method === 'PUT' && sentVersion && (result as KubeObject).metadata.resourceVersion === sentVersion)
      bump(this.noops, key);
    return result;
  }

  /** Starts counting afresh (the set-up before a measurement is not part of it). */
  reset(): void {
    this.counts = new Map();
    this.failures = new Map();
    this.noops = new Map();
  }

  /** Every request by key, the writes among them, failed requests, and updates that changed nothing. */
  snapshot() {
    const requests = sorted(this.counts);
    const writes = Object.fromEntries(Object.entries(requests).filter(([key]) => isWrite(key)));
    return { requests, writes, failed: sorted(this.failures), noopUpdates: sorted(this.noops) };
  }

  /** Writes so far, of the request keys `include` accepts. */
  writeCount(include: (key: string) => boolean = () => true): number {
    return [...this.counts]
      .filter(([key]) => isWrite(key) && include(key))
      .reduce((sum, [, n]) => sum + n, 0);
  }
}

const isWrite = (key: string) => WRITE_VERBS.has(key.split(' ')[0]!);

/**
 * `<verb> <resource>[/<subresource>][[purpose]][?<label keys>]` from a REST path such as
 * /apis/blockhost.io/v1alpha1/namespaces/ns/vms/x/status.
 */
function requestKey(method: string, path: string, { body, query }: RequestOptions): string {
  const segments = path.split('/').filter(Boolean);
  // /api/v1/... or /apis/<group>/<version>/...
  let rest = segments.slice(segments[0] === 'api' ? 2 : 3);
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  const [resource = '?', name, subresource] = rest;
  const verb = VERBS[method] ?? (name === undefined ? 'list' : 'get');
  const objectName = name ?? (body as KubeObject | undefined)?.metadata?.name;
  const purpose =
    resource === 'configmaps' && objectName
      ? CONFIGMAP_PURPOSES.find(([pattern]) => pattern.test(objectName))?.[1]
      : undefined;
  // Label keys only: values such as a VM's uid would make a key per object.
  const selector = query?.labelSelector
    ? `?${String(query.labelSelector)
        .split(',')
        .map((term) => term.split(/[=!]/)[0])
        .join(',')}`
    : '';
  return `${verb} ${resource}${subresource ? `/${subresource}` : ''}${purpose ? `[${purpose}]` : ''}${selector}`;
}
