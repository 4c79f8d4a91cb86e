import type { KubeClient } from '../../lib/kube/client.js';
import type { KubeObject } from '../../lib/kube/object.js';
import type { ResourceType } from '../../lib/kube/resource-types.js';
import type { Logger } from '../../lib/log.js';
import { EventRecorder } from '../../lib/runtime/events.js';

export interface AdminAction {
  /** The signed-in admin wallet. */
  wallet: string;
  /** Short verb for logs and the Event's action, e.g. `Stop`. */
  action: string;
  /** Event reason, CamelCase, e.g. `AdminStop`. */
  reason: string;
  object: KubeObject;
  type: ResourceType;
  /** What happened, in words; the admin wallet is added. */
  note: string;
}

/**
 * Every admin action leaves two traces: a structured log line and a Kubernetes Event on the object
 * it changed (`kubectl describe vm ...` shows who did what).
 */
export class AdminAudit {
  private readonly recorder: EventRecorder;

  constructor(
    kube: KubeClient,
    private readonly log: Logger,
  ) {
    this.recorder = new EventRecorder(kube, log, 'admin-dashboard');
  }

  async record({ wallet, action, reason, object, type, note }: AdminAction): Promise<void> {
    const { name, namespace } = object.metadata;
    this.log.info({ admin: wallet, action, kind: type.kind, name, namespace }, `admin action: ${note}`);
    await this.recorder.record(object, type, 'Normal', reason, action, `${note} (admin ${wallet})`);
  }
}
