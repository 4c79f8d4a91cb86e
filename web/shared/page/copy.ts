// Copy buttons for commands and signatures people paste elsewhere (a terminal, another wallet).
import { byId } from './dom.js';

/**
 * Makes `#buttonId` copy the text of `#sourceId`, saying what happened in `#statusId`: the
 * clipboard API where the page is a secure context (https, localhost), else the text is selected
 * for the visitor to copy by hand (plain-http hosts have no clipboard API).
 */
export function wireCopyButton(buttonId: string, sourceId: string, statusId: string): void {
  byId<HTMLButtonElement>(buttonId).addEventListener('click', async () => {
    const source = byId(sourceId);
    const status = byId(statusId);
    try {
      await navigator.clipboard.writeText(source.textContent ?? '');
      status.textContent = 'Copied.';
    } catch {
      const range = document.createRange();
      range.selectNodeContents(source);
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
      status.textContent = 'Selected: press Ctrl+C (or long-press and Copy) to copy.';
    }
  });
}

/**
 * The Foundry command that signs `message` with personal_sign (EIP-191) without a browser wallet;
 * single-quoted for POSIX shells, so any text is passed as it is.
 */
export function castSignCommand(message: string): string {
  return `cast wallet sign --interactive '${message.replaceAll("'", `'\\''`)}'`;
}
