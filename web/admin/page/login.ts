// Login: get a one-time code from the server, have the wallet sign
// "Authenticate to {machine} with code: {code}", and exchange the signature for a session. Without
// an injected wallet the same message is signed elsewhere and the signature pasted: the server
// checks both the same way (web/admin/auth.ts).
import { api, ApiError, facePath, setCsrfToken } from '../../shared/page/api.js';
import { castSignCommand, wireCopyButton } from '../../shared/page/copy.js';
import { byId, hideNotice, showNotice, whileBusy } from '../../shared/page/dom.js';
import { clearFieldErrors, showFieldErrors } from '../../shared/page/forms.js';
import { connect, injectedProvider, personalSign, WalletError } from '../../shared/page/wallet.js';

interface Challenge {
  code: string;
  machine: string;
  message: string;
  expiresAt: string;
}

const newChallenge = () => api<Challenge>(facePath('/api/challenge'), { method: 'POST', body: {} });

/** Exchanges a signed challenge for a session and opens the dashboard. */
async function logIn(code: string, signature: string, notice: HTMLElement): Promise<void> {
  const session = await api<{ csrfToken: string }>(facePath('/api/login'), {
    method: 'POST',
    body: { code, signature },
  });
  setCsrfToken(session.csrfToken);
  showNotice(notice, 'ok', 'Signed in.');
  window.location.assign(facePath('/'));
}

function explain(error: unknown): string {
  return error instanceof WalletError || error instanceof ApiError
    ? error.message
    : `Sign-in failed: ${String(error)}`;
}

async function signIn(): Promise<void> {
  const notice = byId('login-notice');
  hideNotice(notice);
  try {
    const provider = injectedProvider();
    const account = await connect(provider);
    const challenge = await newChallenge();
    byId('challenge-code').textContent = challenge.code;
    byId('challenge-machine').textContent = challenge.machine;
    byId('challenge').hidden = false;
    showNotice(notice, 'info', 'Sign the message in your wallet.', challenge.message);
    await logIn(challenge.code, await personalSign(provider, account, challenge.message), notice);
  } catch (error) {
    showNotice(notice, 'error', explain(error));
  }
}

/** The paste path: the challenge stays on the page until the pasted signature is sent. */
function wirePasteLogin(): void {
  const notice = byId('paste-notice');
  const form = byId<HTMLFormElement>('paste-form');
  const field = byId<HTMLTextAreaElement>('paste-signature');
  let challenge: Challenge | undefined;

  const getButton = byId<HTMLButtonElement>('paste-challenge');
  getButton.addEventListener('click', () => {
    void whileBusy(getButton, async () => {
      hideNotice(notice);
      try {
        challenge = await newChallenge();
      } catch (error) {
        showNotice(notice, 'error', explain(error));
        return;
      }
      byId('paste-message').textContent = challenge.message;
      byId('paste-cast').textContent = castSignCommand(challenge.message);
      byId('paste-copy-status').textContent = '';
      field.value = '';
      clearFieldErrors(form);
      byId('paste-step').hidden = false;
      getButton.textContent = 'Get a new login message';
    });
  });
  wireCopyButton('copy-paste-message', 'paste-message', 'paste-copy-status');

  const submit = byId<HTMLButtonElement>('paste-login');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void whileBusy(submit, async () => {
      hideNotice(notice);
      clearFieldErrors(form);
      const signature = field.value.trim();
      if (!signature) {
        showFieldErrors(form, { signature: 'Paste the signature of the message above.' });
        return;
      }
      try {
        await logIn(challenge!.code, signature, notice);
      } catch (error) {
        if (error instanceof ApiError && error.status === 400) {
          // The messages go under the field; only those that fit no field need the notice.
          const unplaced = showFieldErrors(form, error.fields);
          if (unplaced.length) showNotice(notice, 'error', explain(error), unplaced.join(' '));
          return;
        }
        // Any other refusal used the code up (codes are single-use): the next try needs a new message.
        byId('paste-step').hidden = true;
        showNotice(notice, 'error', explain(error), 'Get a new login message to try again.');
      }
    });
  });
}

export function loginPage(): void {
  const button = byId<HTMLButtonElement>('login');
  button.addEventListener('click', () => void whileBusy(button, signIn));
  wirePasteLogin();
}
