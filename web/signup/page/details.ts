// Decrypting and showing the connection details of an access NFT.
import { decryptConnectionDetails, type ConnectionDetails } from '../../../lib/crypto/index.js';
import { byId, showNotice } from '../../shared/page/dom.js';
import { personalSign, requireChain } from '../../shared/page/wallet.js';
import type { SignupPage } from './context.js';
import { loginPromptExample, sshCommand } from './format.js';

/**
 * Reads the NFT's encrypted data from the chain, asks the wallet for a fresh signature of the
 * public secret (only the buyer's wallet can make it) and decrypts with it.
 */
export async function decryptDetails(page: SignupPage, tokenId: bigint): Promise<ConnectionDetails> {
  const { provider, account } = page.wallet!;
  await requireChain(provider, page.config.chainId);
  const blob = await page.chain.userEncrypted(tokenId);
  const signature = await personalSign(
    provider,
    account,
    page.config.publicSecret,
    'sign the decryption message',
  );
  return decryptConnectionDetails(signature, blob);
}

export function showDetails(details: ConnectionDetails): void {
  byId('detail-hostname').textContent = details.hostname;
  byId('detail-port').textContent = String(details.port);
  byId('detail-username').textContent = details.username;
  byId('ssh-command').textContent = sshCommand(details);
  byId('login-prompt').textContent = loginPromptExample(window.location.origin);
  byId('copy-status').textContent = '';
  const section = byId('details');
  section.hidden = false;
  section.scrollIntoView({ block: 'start' });
}

/** Hides the details section and forgets what it showed. */
export function hideDetails(): void {
  for (const id of ['detail-hostname', 'detail-port', 'detail-username', 'ssh-command', 'login-prompt'])
    byId(id).textContent = '';
  byId('details').hidden = true;
}

/** Decrypts and shows, reporting progress and failure in the notice `noticeId`. */
export async function revealInto(page: SignupPage, tokenId: bigint, noticeId: string): Promise<boolean> {
  const notice = byId(noticeId);
  showNotice(notice, 'info', 'Sign the message in your wallet to decrypt your connection details.');
  const details = await decryptDetails(page, tokenId);
  showNotice(notice, 'ok', 'Your VM is ready. Your connection details are below.');
  showDetails(details);
  return true;
}
