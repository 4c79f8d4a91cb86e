// The setup wizard's pages: one script, dispatching on <meta name="bh-page">.
import { api, ApiError, facePath, setCsrfToken } from '../../shared/page/api.js';
import { byId, hideNotice, meta, showNotice, whileBusy } from '../../shared/page/dom.js';
import { clearFieldErrors } from '../../shared/page/forms.js';
import { completeStep, isStepName, stepSchemas } from '../steps.js';
import { showFailure } from './failure.js';
import { collect, syncSections, wireRepeats } from './form.js';
import { startProgress } from './progress.js';
import { startWallet } from './wallet.js';

function startLogin(): void {
  const form = byId<HTMLFormElement>('login-form');
  const notice = byId('notice');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void whileBusy(byId<HTMLButtonElement>('login-submit'), async () => {
      clearFieldErrors(form);
      hideNotice(notice);
      try {
        const { csrfToken, next } = await api<{ csrfToken: string; next: string }>(facePath('/api/login'), {
          method: 'POST',
          body: { code: byId<HTMLInputElement>('f-code').value },
        });
        setCsrfToken(csrfToken);
        window.location.assign(next);
      } catch (error) {
        showFailure(form, notice, error);
      }
    });
  });
}

function startStep(): void {
  const form = byId<HTMLFormElement>('step-form');
  const step = form.dataset.step ?? '';
  if (!isStepName(step)) throw new Error(`unknown step ${step}`);
  const notice = byId('notice');
  syncSections(form);
  form.addEventListener('change', () => syncSections(form));
  wireRepeats(form);
  document.getElementById('server-key-check')?.addEventListener('click', (event) => {
    void whileBusy(event.currentTarget as HTMLButtonElement, async () => {
      const status = byId('server-key-status');
      const input = byId<HTMLInputElement>('server-key');
      const rpcUrl = (collect(form).chain as { rpcEndpoints?: string[] } | undefined)?.rpcEndpoints?.[0];
      try {
        const result = await api<{ address: string; balanceEth?: string }>(facePath('/api/server-wallet'), {
          method: 'POST',
          body: { privateKey: input.value.trim(), ...(rpcUrl && { rpcUrl }) },
        });
        input.value = '';
        status.textContent = `Key for ${result.address}${result.balanceEth !== undefined ? `, balance ${result.balanceEth} ETH` : ''}`;
      } catch (error) {
        status.textContent =
          error instanceof ApiError ? (error.fields.privateKey ?? error.message) : String(error);
      }
    });
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void whileBusy(byId<HTMLButtonElement>('save'), async () => {
      clearFieldErrors(form);
      hideNotice(notice);
      const value = completeStep(step, collect(form));
      // The same schema as the server's: most mistakes show without a round trip.
      const local = stepSchemas[step].safeParse(value);
      if (!local.success) {
        const fields: Record<string, string> = {};
        for (const issue of local.error.issues) fields[issue.path.map(String).join('.')] ??= issue.message;
        showFailure(form, notice, new ApiError(400, 'Some fields need fixing.', fields));
        return;
      }
      try {
        const { next, notice: checked } = await api<{ next: string; notice?: string }>(
          facePath(`/api/steps/${step}`),
          {
            method: 'POST',
            body: value,
          },
        );
        if (checked) showNotice(notice, 'ok', checked);
        window.location.assign(next);
      } catch (error) {
        showFailure(form, notice, error);
      }
    });
  });
}

function download(filename: string, content: unknown): void {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([JSON.stringify(content, null, 2)], { type: 'application/json' }));
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

function startSummary(): void {
  const notice = byId('notice');
  byId<HTMLButtonElement>('apply').addEventListener('click', (event) => {
    void whileBusy(event.currentTarget as HTMLButtonElement, async () => {
      try {
        const { next } = await api<{ next: string }>(facePath('/api/apply'), {
          method: 'POST',
          body: { confirm: true },
        });
        window.location.assign(next);
      } catch (error) {
        showFailure(undefined, notice, error);
      }
    });
  });
  byId<HTMLButtonElement>('export').addEventListener('click', (event) => {
    void whileBusy(event.currentTarget as HTMLButtonElement, async () => {
      try {
        const { filename, backup } = await api<{ filename: string; backup: unknown }>(
          facePath('/api/export'),
          {
            method: 'POST',
            body: {},
          },
        );
        download(filename, backup);
        showNotice(notice, 'ok', `Saved ${filename}: only the admin wallet's signature decrypts it.`);
      } catch (error) {
        showFailure(undefined, notice, error);
      }
    });
  });
}

const pages: Record<string, () => void> = {
  login: startLogin,
  wallet: startWallet,
  step: startStep,
  summary: startSummary,
  progress: startProgress,
};

pages[meta('page') ?? '']?.();
