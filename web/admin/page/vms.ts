// VMs: the table, and start/stop/kill/destroy after a confirmation (destroy: type the VM's name).
import type { VmRow } from '../vms.js';
import { ApiError } from '../../shared/page/api.js';
import { byId, el, hideNotice, showNotice, whileBusy } from '../../shared/page/dom.js';
import { clearFieldErrors, showFieldErrors } from '../../shared/page/forms.js';
import { adminApi, dateTime, reportFailure, table } from './common.js';

type Action = 'start' | 'stop' | 'kill' | 'destroy';

const CONFIRM_TEXT: Record<Action, (name: string) => string> = {
  start: (name) => `Start ${name}? The VM controller boots it and keeps it running.`,
  stop: (name) =>
    `Stop ${name}? The VM controller shuts it down (and powers it off if it does not stop in time); the customer loses access until it is started.`,
  kill: (name) =>
    `Kill ${name}? The VM controller powers it off at once, without a shutdown: like pulling the plug, unsaved data in the guest is lost.`,
  destroy: (name) => `Destroy ${name}? The VM and its disk are deleted for good. This cannot be undone.`,
};

/** What stop, kill and start mean for a subscription's VM: they set and lift its hold. */
function holdText(vm: VmRow, action: Action): string {
  if (!vm.subscription || action === 'destroy') return '';
  if (action !== 'start') return ' It is held, so its subscription does not start it again.';
  return vm.hold === undefined
    ? ''
    : ` This lifts the hold ("${vm.hold}"): the VM follows its subscription again, stopped if it has expired, deleted if its grace period is over.`;
}

let pending: { name: string; action: Action } | undefined;

function actionButton(row: VmRow, action: Action, label: string): HTMLButtonElement {
  const button = el(
    'button',
    {
      type: 'button',
      class: action === 'destroy' || action === 'kill' ? 'danger' : 'secondary',
      'aria-label': `${label} ${row.name}`,
    },
    label,
  );
  button.addEventListener('click', () => askToConfirm(row, action));
  return button;
}

function askToConfirm(vm: VmRow, action: Action): void {
  const { name } = vm;
  pending = { name, action };
  const form = byId<HTMLFormElement>('confirm-form');
  clearFieldErrors(form);
  byId('confirm-text').textContent = CONFIRM_TEXT[action](name) + holdText(vm, action);
  byId('confirm-typed').hidden = action !== 'destroy';
  byId<HTMLInputElement>('confirm-name').value = '';
  byId('confirm-go').textContent = `${action[0]!.toUpperCase()}${action.slice(1)} ${name}`;
  byId('confirm').hidden = false;
  byId('confirm').scrollIntoView();
  (action === 'destroy' ? byId('confirm-name') : byId('confirm-go')).focus();
}

function closeConfirm(): void {
  pending = undefined;
  byId('confirm').hidden = true;
}

async function render(): Promise<void> {
  const { vms } = await adminApi<{ vms: VmRow[] }>('/api/vms');
  const container = byId('vm-table');
  if (vms.length === 0) {
    container.replaceChildren(el('p', { class: 'hint' }, 'No VMs yet.'));
    return;
  }
  const rows = vms.map((vm) => {
    const actions = el('div', { class: 'row' });
    if (!vm.deleting) {
      actions.append(
        vm.runStrategy === 'Halted' ? actionButton(vm, 'start', 'Start') : actionButton(vm, 'stop', 'Stop'),
      );
      // Also offered while a stop is still waiting for the guest to shut down.
      const killed = vm.runStrategy === 'Halted' && vm.shutdownGracePeriodSeconds === 0;
      if (vm.phase !== 'Stopped' && !killed) actions.append(actionButton(vm, 'kill', 'Kill'));
      actions.append(actionButton(vm, 'destroy', 'Destroy'));
    }
    const stateText = vm.deleting
      ? 'Deleting'
      : `${vm.phase}${vm.runStrategy === 'Halted' ? ' (kept stopped)' : ''}`;
    const state = el('div', {}, el('span', { 'data-vm-state': vm.name }, stateText));
    if (vm.hold !== undefined)
      state.append(
        el('br'),
        el('span', { class: 'badge held', 'data-vm-hold': vm.name }, 'Held'),
        el('span', { class: 'hint' }, ` ${vm.hold}`),
      );
    return [
      el('span', { class: 'mono' }, vm.name),
      state,
      el('span', { class: 'mono' }, vm.ownerWallet),
      vm.expiresAt ? dateTime(vm.expiresAt) : 'no subscription',
      el('span', { class: 'mono' }, [vm.ipv4, vm.ipv6].filter(Boolean).join(' ') || '—'),
      actions,
    ];
  });
  container.replaceChildren(table(['Name', 'State', 'Owner', 'Expires', 'Addresses', 'Actions'], rows));
}

async function confirm(): Promise<void> {
  if (!pending) return;
  const { name, action } = pending;
  const form = byId<HTMLFormElement>('confirm-form');
  clearFieldErrors(form);
  const body = action === 'destroy' ? { confirm: byId<HTMLInputElement>('confirm-name').value } : {};
  const notice = byId('notice');
  try {
    await adminApi(`/api/vms/${encodeURIComponent(name)}/${action}`, { method: 'POST', body });
    closeConfirm();
    const done = {
      start: 'Start requested',
      stop: 'Stop requested',
      kill: 'Kill requested',
      destroy: 'Destroy requested',
    }[action];
    showNotice(notice, 'ok', `${done} for ${name}.`, 'The VM controller carries it out; the table follows.');
    await render();
  } catch (error) {
    if (error instanceof ApiError && Object.keys(error.fields).length) showFieldErrors(form, error.fields);
    else if (!(error instanceof ApiError && (error.status === 401 || error.status === 403)))
      showNotice(notice, 'error', error instanceof Error ? error.message : String(error));
  }
}

export async function vmsPage(): Promise<void> {
  const go = byId<HTMLButtonElement>('confirm-go');
  byId('confirm-form').addEventListener('submit', (event) => {
    event.preventDefault();
    hideNotice(byId('notice'));
    void whileBusy(go, confirm);
  });
  byId('confirm-cancel').addEventListener('click', closeConfirm);
  await render().catch(reportFailure);
  // Phases change as the controller works; follow them without a reload.
  setInterval(() => void render().catch(() => undefined), 3_000);
}
