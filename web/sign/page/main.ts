// Signing page: connect the injected wallet, personal_sign the login message the server rendered,
// show the signature (to paste) and, when the terminal opened a callback session, deliver it.
import { api, ApiError, facePath } from '../../shared/page/api.js';
import { castSignCommand, wireCopyButton } from '../../shared/page/copy.js';
import { byId, hideNotice, meta, showNotice, whileBusy } from '../../shared/page/dom.js';
import { connect, injectedProvider, personalSign, WalletError } from '../../shared/page/wallet.js';

const machine = meta('machine') ?? '';
const code = meta('code') ?? '';
const message = meta('message') ?? '';
const session = meta('session');

/** What a failed delivery means for the person at the terminal (the server's text says why). */
function explainDelivery(error: ApiError): [headline: string, detail: string] {
  const again = 'Start the login again in your terminal (ssh) and open the new link.';
  const paste = 'You can still paste the signature below at your terminal’s prompt.';
  switch (error.status) {
    case 403:
      return [
        `This wallet cannot log in to ${machine}: ${error.message}.`,
        'Switch your wallet to the account that holds this VM’s access NFT and sign again.',
      ];
    case 404:
      return [`This login has expired or is unknown: ${error.message}.`, again];
    case 409:
      return [
        'This login was already answered.',
        'If your terminal is still waiting, press Enter there; otherwise log in again.',
      ];
    default:
      return [`The signature did not reach ${machine}: ${error.message}.`, paste];
  }
}

function showSignature(signature: string): void {
  byId('signature').textContent = signature;
  byId('copy-signature-status').textContent = '';
  byId('result').hidden = false;
}

async function signAndDeliver(notice: HTMLElement, button: HTMLButtonElement): Promise<void> {
  hideNotice(notice);
  try {
    const provider = injectedProvider();
    const account = await connect(provider);
    byId('account').textContent = `Connected: ${account}`;
    byId('account').hidden = false;
    showNotice(notice, 'info', 'Sign the message in your wallet.', message);
    const signature = await personalSign(provider, account, message, 'sign the login message');
    showSignature(signature);
    if (!session) {
      showNotice(notice, 'ok', 'Signed. Now paste the signature into your terminal.', 'Copy it from below.');
      return;
    }
    showNotice(notice, 'info', `Sending the signature to ${machine}…`);
    await api(facePath(`/api/sessions/${session}/signature`), {
      method: 'POST',
      body: { machine, code, signature },
    });
    showNotice(notice, 'ok', 'Signed in — go back to your terminal (press Enter if it is still waiting).');
    // The session is answered; signing again could only be refused.
    button.hidden = true;
  } catch (error) {
    if (error instanceof ApiError) showNotice(notice, 'error', ...explainDelivery(error));
    else if (error instanceof WalletError) showNotice(notice, 'error', error.message);
    else showNotice(notice, 'error', `Something went wrong: ${String(error)}`);
  }
}

function start(): void {
  const notice = byId('sign-notice');
  const button = byId<HTMLButtonElement>('sign');
  byId('cast-command').textContent = castSignCommand(message);
  wireCopyButton('copy-signature', 'signature', 'copy-signature-status');
  wireCopyButton('copy-cast', 'cast-command', 'copy-cast-status');
  try {
    injectedProvider();
    button.addEventListener('click', () => void whileBusy(button, () => signAndDeliver(notice, button)));
  } catch (error) {
    // Nothing to connect: say so at once and point to signing elsewhere.
    button.hidden = true;
    showNotice(
      notice,
      'warn',
      (error as WalletError).message,
      'Or sign the message with another wallet tool (see “No wallet in this browser?” below) and paste the signature into your terminal.',
    );
  }
  // Tests (and people) can tell the page is ready.
  document.body.dataset.loaded = 'sign';
}

start();
