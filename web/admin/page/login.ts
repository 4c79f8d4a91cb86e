// Login: get a one-time code from the server, have the wallet sign
// "Authenticate to {machine} with code: {code}", and exchange the signature for a session.
import { api, ApiError, facePath, setCsrfToken } from '../../shared/page/api.js';
import { byId, hideNotice, showNotice, whileBusy } from '../../shared/page/dom.js';
import { connect, injectedProvider, personalSign, WalletError } from '../../shared/page/wallet.js';

interface Challenge {
  code: string;
  machine: string;
  message: string;
  expiresAt: string;
}

async function signIn(): Promise<void> {
  const notice = byId('login-notice');
  hideNotice(notice);
  try {
    const provider = injectedProvider();
    const account = await connect(provider);
    const challenge = await api<Challenge>(facePath('/api/challenge'), { method: 'POST', body: {} });
    byId('challenge-code').textContent = challenge.code;
    byId('challenge-machine').textContent = challenge.machine;
    byId('challenge').hidden = false;
    showNotice(notice, 'info', 'Sign the message in your wallet.', challenge.message);
    const signature = await personalSign(provider, account, challenge.message);
    const session = await api<{ csrfToken: string }>(facePath('/api/login'), {
      method: 'POST',
      body: { code: challenge.code, signature },
    });
    setCsrfToken(session.csrfToken);
    showNotice(notice, 'ok', 'Signed in.');
    window.location.assign(facePath('/'));
  } catch (error) {
    const message =
      error instanceof WalletError || error instanceof ApiError
        ? error.message
        : `Sign-in failed: ${String(error)}`;
    showNotice(notice, 'error', message);
  }
}

export function loginPage(): void {
  const button = byId<HTMLButtonElement>('login');
  button.addEventListener('click', () => void whileBusy(button, signIn));
}
