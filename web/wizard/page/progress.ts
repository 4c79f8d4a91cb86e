// Progress page: polls the HostConfig's conditions (as the server reads them) until setup is done.
import type { Progress } from '../progress.js';
import { api, ApiError, facePath } from '../../shared/page/api.js';
import { byId, el, showNotice, whileBusy } from '../../shared/page/dom.js';

const POLL_MS = 2_000;
const SYMBOL: Record<string, string> = { True: '✔', False: '✖', Unknown: '…', Pending: '○' };

function render(progress: Progress): void {
  const message = byId('progress-message');
  if (!progress.applied) {
    showNotice(message, 'warn', 'Nothing has been applied yet: confirm the summary first.');
    return;
  }
  const failed = progress.steps.filter((s) => s.status === 'False' && s.type !== 'Ready');
  showNotice(
    message,
    progress.ready ? 'ok' : failed.length ? 'warn' : 'info',
    progress.message ?? 'Setting up…',
  );
  byId('progress-steps').replaceChildren(
    ...progress.steps.map((step) =>
      el(
        'li',
        { 'data-type': step.type, 'data-status': step.status, class: `step-${step.status.toLowerCase()}` },
        `${SYMBOL[step.status] ?? ''} ${step.label}: ${step.status === 'Pending' ? 'waiting' : (step.reason ?? step.status)}`,
        ...(step.message ? [el('div', { class: 'hint' }, step.message)] : []),
      ),
    ),
  );
  byId('retry').hidden = failed.length === 0;
  if (progress.serverAddress) {
    byId('server-wallet').hidden = false;
    byId('server-address').textContent = progress.serverAddress;
    byId('server-balance').textContent =
      progress.serverBalanceEth !== undefined
        ? `${progress.serverBalanceEth} ETH`
        : 'unknown (RPC unreachable)';
  }
}

function finished(): void {
  byId('done').hidden = false;
  byId('back-to-summary').hidden = true;
  // The last conditions read were from before Ready; the closed wizard can no longer refresh them.
  byId('steps-card').hidden = true;
  showNotice(byId('progress-message'), 'ok', 'Every setup step is done; the setup wizard is now closed.');
}

export function startProgress(): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const poll = async () => {
    try {
      render(await api<Progress>(facePath('/api/progress')));
    } catch (error) {
      if (error instanceof ApiError && error.status === 410) return finished();
      showNotice(byId('progress-message'), 'error', error instanceof Error ? error.message : String(error));
    }
    timer = setTimeout(() => void poll(), POLL_MS);
  };
  byId<HTMLButtonElement>('retry').addEventListener('click', (event) => {
    void whileBusy(event.currentTarget as HTMLButtonElement, async () => {
      await api(facePath('/api/retry'), { method: 'POST', body: {} }).catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 410) finished();
      });
      clearTimeout(timer);
      await poll();
    });
  });
  void poll();
}
