// Wallet page: sign the public secret with an injected wallet (or paste a signature made
// elsewhere); the server recovers the signer. Also imports a configuration backup.
import { api, facePath } from '../../shared/page/api.js';
import { byId, hideNotice, showNotice, whileBusy } from '../../shared/page/dom.js';
import { clearFieldErrors } from '../../shared/page/forms.js';
import { connect, injectedProvider, personalSign, WalletError } from '../../shared/page/wallet.js';
import { showFailure } from './failure.js';

async function submit(
  form: HTMLFormElement,
  notice: HTMLElement,
  body: Record<string, string>,
): Promise<void> {
  clearFieldErrors(form);
  try {
    const { address } = await api<{ address: string; next: string }>(facePath('/api/wallet'), {
      method: 'POST',
      body,
    });
    showNotice(notice, 'ok', `Signed by ${address}`);
    byId('wallet-next').hidden = false;
  } catch (error) {
    showFailure(form, notice, error);
  }
}

export function startWallet(): void {
  const form = byId<HTMLFormElement>('wallet-form');
  const notice = byId('notice');
  const publicSecret = () => byId<HTMLInputElement>('f-publicSecret').value;
  byId<HTMLButtonElement>('wallet-connect').addEventListener('click', (event) => {
    void whileBusy(event.currentTarget as HTMLButtonElement, async () => {
      hideNotice(notice);
      try {
        const provider = injectedProvider();
        const address = await connect(provider);
        const signature = await personalSign(provider, address, publicSecret());
        await submit(form, notice, { address, signature, publicSecret: publicSecret() });
      } catch (error) {
        if (error instanceof WalletError) showNotice(notice, 'error', error.message);
        else showFailure(form, notice, error);
      }
    });
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void whileBusy(byId<HTMLButtonElement>('wallet-submit'), () =>
      submit(form, notice, {
        address: byId<HTMLInputElement>('f-address').value.trim(),
        signature: byId<HTMLInputElement>('f-signature').value.trim(),
        publicSecret: publicSecret(),
      }),
    );
  });
  byId<HTMLButtonElement>('import-submit').addEventListener('click', (event) => {
    void whileBusy(event.currentTarget as HTMLButtonElement, async () => {
      const status = byId('import-notice');
      const file = byId<HTMLInputElement>('import-file').files?.[0];
      if (!file) return showNotice(status, 'error', 'Choose a backup file first.');
      let backup: unknown;
      try {
        backup = JSON.parse(await file.text());
      } catch {
        return showNotice(status, 'error', 'That file is not a BlockHost backup (not JSON).');
      }
      try {
        const { next, plans } = await api<{ next: string; plans: number }>(facePath('/api/import'), {
          method: 'POST',
          body: { backup },
        });
        showNotice(status, 'ok', `Imported the configuration with ${plans} plan${plans === 1 ? '' : 's'}.`);
        window.location.assign(next);
      } catch (error) {
        showFailure(undefined, status, error);
      }
    });
  });
}
