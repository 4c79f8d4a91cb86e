// Decrypting an NFT's connection details with a signature made elsewhere (a phone or hardware
// wallet, Foundry's cast): no wallet in this browser is needed, and the signature never leaves the
// page. The only request is the chain read of the NFT's encrypted data, by token id.
import { decryptConnectionDetails, isCryptoError } from '../../../lib/crypto/index.js';
import { castSignCommand } from '../../shared/page/copy.js';
import { byId, hideNotice, showNotice, whileBusy } from '../../shared/page/dom.js';
import { clearFieldErrors, showFieldErrors } from '../../shared/page/forms.js';
import { revertName } from './chain.js';
import { explain, type SignupPage } from './context.js';
import { hideDetails, showDetails } from './details.js';
import { parsePastedSignature, parseTokenId } from './format.js';

/** Puts `tokenId` in the form and the cursor in the signature field (from a row of the list). */
export function offerOfflineDecrypt(tokenId: bigint): void {
  byId<HTMLInputElement>('offline-token').value = tokenId.toString();
  byId('offline').scrollIntoView({ block: 'start' });
  byId<HTMLTextAreaElement>('offline-signature').focus();
}

/** Needs only the config and the chain: it works even when the plans could not be read. */
export function wireOfflineDecrypt(page: Pick<SignupPage, 'config' | 'chain'>): void {
  const { publicSecret } = page.config;
  byId('offline-message').textContent = publicSecret;
  byId('offline-cast').textContent = castSignCommand(publicSecret);
  byId('offline').hidden = false;
  const form = byId<HTMLFormElement>('offline-form');
  const notice = byId('offline-notice');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    hideNotice(notice);
    // Whatever an earlier decryption showed goes: the outcome of this one is all that is on screen.
    hideDetails();
    const data = new FormData(form);
    const token = parseTokenId(String(data.get('tokenId') ?? ''));
    const pasted = parsePastedSignature(String(data.get('signature') ?? ''));
    const fields: Record<string, string> = {};
    if ('error' in token) fields.tokenId = token.error;
    if ('error' in pasted) fields.signature = pasted.error;
    if ('error' in token || 'error' in pasted) {
      showFieldErrors(form, fields);
      return;
    }
    clearFieldErrors(form);
    void whileBusy(byId<HTMLButtonElement>('offline-submit'), async () => {
      let blob;
      try {
        blob = await page.chain.userEncrypted(token.tokenId);
      } catch (error) {
        if (revertName(error) === 'ERC721NonexistentToken') {
          showFieldErrors(form, { tokenId: `There is no NFT #${token.tokenId} on this host.` });
          return;
        }
        showNotice(notice, 'error', explain(error));
        return;
      }
      try {
        const details = decryptConnectionDetails(pasted.signature, blob);
        showNotice(
          notice,
          'ok',
          `NFT #${token.tokenId} decrypted in this browser; the signature was sent nowhere.`,
        );
        showDetails(details);
      } catch (error) {
        if (!isCryptoError(error)) throw error;
        showNotice(
          notice,
          'error',
          `This signature does not open NFT #${token.tokenId}, so nothing is shown.`,
          `It must be the signature of exactly “${publicSecret}” by the wallet the NFT was minted for (the one that bought the subscription).`,
        );
      }
    });
  });
}
