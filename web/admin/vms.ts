import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import { blockhostTypes, type Subscription, type VM } from '../../lib/api/v1alpha1/index.js';
import { isConflict, isNotFound } from '../../lib/kube/errors.js';
import type { FaceContext } from '../face.js';
import { HttpError } from '../http/errors.js';
import type { SessionStore } from '../http/sessions.js';
import { validate } from '../http/validation.js';
import type { AdminAudit } from './audit.js';
import { adminWallet, type AdminSession } from './auth.js';

/** A row of the VMs page. */
export interface VmRow {
  name: string;
  phase: string;
  runStrategy: 'Always' | 'Halted';
  /** The operator's hold (spec.hold): why the VM is kept stopped against its subscription. */
  hold?: string;
  /** Absent: the controller default; 0 after a kill. */
  shutdownGracePeriodSeconds?: number;
  deleting: boolean;
  backend: string;
  ownerWallet: string;
  ipv4?: string;
  ipv6?: string;
  /** The subscription's on-chain expiry; absent for VMs an admin made. */
  expiresAt?: string;
  subscription?: string;
  message?: string;
  createdAt?: string;
}

const vmParams = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a VM name: lowercase letters, digits and "-"'),
  action: z.enum(['start', 'stop', 'kill', 'destroy'], { error: 'must be start, stop, kill or destroy' }),
});

/** start, stop and kill take no options: `{}` (unknown keys are named in the error). */
const powerBody = z.strictObject({});
const destroyBody = z.strictObject({
  confirm: z.string().min(1, 'type the VM name to confirm').max(63),
});

/**
 * The spec each power action writes. kill is a stop with a grace of 0 (the controller powers off
 * without an ACPI request); start and stop drop a 0 grace again, so a killed VM is not killed
 * once more by its next stop. A grace an operator chose (not 0) is left alone.
 */
const RUN_STRATEGY = { start: 'Always', stop: 'Halted', kill: 'Halted' } as const;

/**
 * The hold stop and kill put on a subscription's VM: without one, the subscription controller
 * starts a paid VM again. start lifts any hold (also one set with kubectl): the admin handed it back.
 */
const HOLD = { stop: 'stopped from the admin dashboard', kill: 'killed from the admin dashboard' } as const;

const POWER_AUDIT = {
  start: { action: 'Start', reason: 'AdminStart' },
  stop: { action: 'Stop', reason: 'AdminStop' },
  kill: { action: 'Kill', reason: 'AdminKill' },
} as const;

function rowOf(vm: VM, subscriptions: Map<string, Subscription>): VmRow {
  const subscription = vm.spec.subscriptionRef ? subscriptions.get(vm.spec.subscriptionRef.name) : undefined;
  const addresses = vm.status?.addresses;
  return {
    name: vm.metadata.name!,
    phase: vm.status?.phase ?? 'Pending',
    runStrategy: vm.spec.runStrategy,
    ...(vm.spec.hold !== undefined && { hold: vm.spec.hold }),
    ...(vm.spec.shutdownGracePeriodSeconds !== undefined && {
      shutdownGracePeriodSeconds: vm.spec.shutdownGracePeriodSeconds,
    }),
    deleting: vm.metadata.deletionTimestamp !== undefined,
    backend: vm.spec.backend,
    ownerWallet: vm.spec.ownerWallet,
    ...((addresses?.ipv4 ?? vm.spec.network?.ipv4) && { ipv4: addresses?.ipv4 ?? vm.spec.network?.ipv4 }),
    ...((addresses?.ipv6 ?? vm.spec.network?.ipv6) && { ipv6: addresses?.ipv6 ?? vm.spec.network?.ipv6 }),
    ...(subscription && { expiresAt: subscription.spec.expiresAt }),
    ...(vm.spec.subscriptionRef && { subscription: vm.spec.subscriptionRef.name }),
    ...(vm.status?.lastTransitionMessage && { message: vm.status.lastTransitionMessage }),
    ...(vm.metadata.creationTimestamp && { createdAt: vm.metadata.creationTimestamp }),
  };
}

/** VMs page API: the table, and start/stop/kill/destroy as patches and deletes of VM objects. */
export function registerVmRoutes(
  app: FastifyInstance,
  context: FaceContext,
  sessions: SessionStore<AdminSession>,
  requireAdmin: preHandlerAsyncHookHandler,
  audit: AdminAudit,
): void {
  const { kube, namespace } = context;

  app.get('/api/vms', { preHandler: requireAdmin }, async () => {
    const [vms, subscriptions] = await Promise.all([
      kube.list<VM>(blockhostTypes.vm, { namespace }),
      kube.list<Subscription>(blockhostTypes.subscription, { namespace }),
    ]);
    const byName = new Map(subscriptions.items.map((s) => [s.metadata.name!, s]));
    return { vms: vms.items.map((vm) => rowOf(vm, byName)).sort((a, b) => a.name.localeCompare(b.name)) };
  });

  app.post('/api/vms/:name/:action', { preHandler: requireAdmin }, async (request) => {
    const { name, action } = validate(vmParams, request.params, 'params');
    const wallet = adminWallet(sessions, request);
    const body =
      action === 'destroy'
        ? validate(destroyBody, request.body ?? {})
        : validate(powerBody, request.body ?? {});
    if ('confirm' in body && body.confirm !== name)
      throw new HttpError(400, 'invalid request body: 1 field to fix', {
        confirm: `type the VM name "${name}" exactly to confirm`,
      });
    let vm: VM;
    try {
      vm = await kube.get<VM>(blockhostTypes.vm, name, namespace);
    } catch (error) {
      if (isNotFound(error)) throw new HttpError(404, `There is no VM named ${name}.`);
      throw error;
    }
    if (vm.metadata.deletionTimestamp) throw new HttpError(409, `VM ${name} is already being destroyed.`);

    if (action === 'destroy') {
      // The uid precondition: never delete a VM that was replaced under the same name meanwhile.
      await kube.delete(blockhostTypes.vm, name, namespace, { preconditions: { uid: vm.metadata.uid! } });
      await audit.record({
        wallet,
        action: 'Destroy',
        reason: 'AdminDestroy',
        object: vm,
        type: blockhostTypes.vm,
        note: `destroy requested from the admin dashboard`,
      });
      return { name, action, changed: true };
    }

    const runStrategy = RUN_STRATEGY[action];
    const grace = vm.spec.shutdownGracePeriodSeconds;
    const graceChange: { shutdownGracePeriodSeconds?: 0 | null } = {};
    if (action === 'kill' && grace !== 0) graceChange.shutdownGracePeriodSeconds = 0;
    // null in a merge patch removes the field: the controller default applies again.
    if (action !== 'kill' && grace === 0) graceChange.shutdownGracePeriodSeconds = null;
    const holdChange: { hold?: string | null } = {};
    if (action === 'start' && vm.spec.hold !== undefined) holdChange.hold = null;
    // A hold already there (an operator's own reason) is kept.
    if (action !== 'start' && vm.spec.subscriptionRef && vm.spec.hold === undefined)
      holdChange.hold = HOLD[action];
    const change = { ...graceChange, ...holdChange };
    if (vm.spec.runStrategy === runStrategy && Object.keys(change).length === 0)
      return { name, action, changed: false };
    const patched = await kube
      .patch<VM>(
        blockhostTypes.vm,
        name,
        namespace,
        // Compare-and-swap: an admin acts on what the page showed, not on a VM changed meanwhile.
        {
          metadata: { resourceVersion: vm.metadata.resourceVersion },
          spec: { runStrategy, ...change },
        },
        'merge',
      )
      .catch((error: unknown) => {
        if (isConflict(error))
          throw new HttpError(409, `VM ${name} changed meanwhile; reload and try again.`);
        throw error;
      });
    const power =
      action === 'kill'
        ? 'runStrategy set to Halted with shutdownGracePeriodSeconds 0 (power off at once)'
        : `runStrategy set to ${runStrategy}`;
    const held =
      holdChange.hold === undefined
        ? ''
        : holdChange.hold === null
          ? ' and its hold lifted'
          : ' and spec.hold set (its subscription keeps it stopped)';
    await audit.record({
      wallet,
      ...POWER_AUDIT[action],
      object: patched,
      type: blockhostTypes.vm,
      note: `${power}${held} from the admin dashboard`,
    });
    return { name, action, changed: true };
  });
}
