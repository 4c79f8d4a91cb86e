import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import { apiVersionOf, coreTypes, type ResourceType } from '../kube/resource-types.js';
import type { Logger } from '../log.js';

export type EventType = 'Normal' | 'Warning';

interface SeriesState {
  name: string;
  namespace: string;
  count: number;
}

const microTime = (date: Date) => date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
/** Repeats of the same event within this window update one Event's series instead of adding objects. */
const SERIES_WINDOW_MS = 6 * 60_000;

/**
 * Records events.k8s.io/v1 Events about our objects (shown by `kubectl describe` and `kubectl events`).
 * Best effort, like client-go's recorder: a failure to record is logged, never thrown into a reconcile.
 */
export class EventRecorder {
  private readonly series = new Map<string, SeriesState & { firstAt: number }>();

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly controller: string,
    private readonly instance = hostname(),
  ) {}

  async record(
    object: KubeObject,
    type: ResourceType,
    eventType: EventType,
    reason: string,
    action: string,
    note: string,
  ): Promise<void> {
    const { name, namespace, uid, resourceVersion } = object.metadata;
    // Events about cluster-scoped objects live in `default`, as kubectl expects.
    const eventNamespace = namespace ?? 'default';
    const seriesKey = `${uid}\0${eventType}\0${reason}\0${note}`;
    const now = new Date();
    try {
      const previous = this.series.get(seriesKey);
      if (previous && now.getTime() - previous.firstAt < SERIES_WINDOW_MS) {
        previous.count += 1;
        await this.client.patch(
          coreTypes.event,
          previous.name,
          previous.namespace,
          { series: { count: previous.count, lastObservedTime: microTime(now) } },
          'merge',
        );
        return;
      }
      const created = await this.client.create(coreTypes.event, {
        // client-go's naming: `<object>.<unique hex>` (generateName would end in a dot, which is invalid).
        metadata: {
          name: `${name}.${now.getTime().toString(16)}${randomBytes(4).toString('hex')}`,
          namespace: eventNamespace,
        },
        eventTime: microTime(now),
        reportingController: `blockhost.io/${this.controller}`,
        reportingInstance: `${this.controller}-${this.instance}`.slice(0, 128),
        action,
        reason,
        type: eventType,
        note: note.slice(0, 1024),
        regarding: { apiVersion: apiVersionOf(type), kind: type.kind, name, namespace, uid, resourceVersion },
      } as KubeObject);
      this.series.set(seriesKey, {
        name: created.metadata.name ?? '',
        namespace: eventNamespace,
        count: 1,
        firstAt: now.getTime(),
      });
      if (this.series.size > 4096) this.series.delete(this.series.keys().next().value as string);
    } catch (error) {
      this.log.warn({ err: String(error), reason, object: name }, 'could not record event');
    }
  }
}
