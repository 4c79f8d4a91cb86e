import { loginMessage } from '../../lib/login-signature/request.js';
import { html, type SafeHtml } from '../assets/html.js';
import type { SignLink } from './fields.js';

/**
 * The signing page; sign/page/main.ts connects the wallet, signs and delivers. Everything the
 * visitor must compare with the terminal (machine, code, the exact message) is rendered here.
 */
export function signPage({ machine, code, session }: SignLink): SafeHtml {
  return html`
    <h1>Log in to your VM</h1>
    <p class="hint">
      Your terminal is waiting for a signature from the wallet that holds this VM's access NFT. Sign only if
      the machine and code below are the ones your terminal shows.
    </p>

    <section class="card" aria-labelledby="request-title">
      <h2 id="request-title">Login request</h2>
      <dl class="details">
        <dt>Machine</dt>
        <dd id="machine" class="mono">${machine}</dd>
        <dt>Code</dt>
        <dd id="code" class="mono">${code}</dd>
      </dl>
      <p class="hint">Your wallet signs exactly this message (personal_sign):</p>
      <pre class="command" id="message">${loginMessage(machine, code)}</pre>
    </section>

    <section class="card" aria-labelledby="wallet-title">
      <h2 id="wallet-title">Sign with your wallet</h2>
      <p id="account" class="mono" hidden></p>
      <div id="sign-notice" role="alert" hidden></div>
      <button type="button" id="sign">Connect wallet and sign</button>
    </section>

    <section class="card" id="result" aria-labelledby="result-title" hidden>
      <h2 id="result-title">Your signature</h2>
      <p class="hint">
        ${
          session
            ? 'Your terminal gets it from this page. Should that fail, paste it at the terminal’s prompt.'
            : 'Paste it at your terminal’s “Paste signature:” prompt.'
        }
      </p>
      <pre class="command" id="signature"></pre>
      <div class="row">
        <button type="button" id="copy-signature">Copy signature</button>
        <span id="copy-signature-status" class="hint" role="status"></span>
      </div>
    </section>

    <section class="card" aria-labelledby="elsewhere-title">
      <h2 id="elsewhere-title">No wallet in this browser?</h2>
      <p class="hint">
        Sign the message above with the same wallet anywhere that does personal_sign (EIP-191), for example
        with Foundry's cast, and paste the signature (0x and 130 hex digits) at your terminal's prompt:
      </p>
      <pre class="command" id="cast-command"></pre>
      <div class="row">
        <button type="button" id="copy-cast" class="secondary">Copy command</button>
        <span id="copy-cast-status" class="hint" role="status"></span>
      </div>
    </section>
  `;
}

/** A link that is not the one the terminal printed (cut short, wrapped, edited): which part is wrong. */
export function badLinkPage(fields: Record<string, string>): SafeHtml {
  return html`
    <h1>This login link is not complete</h1>
    <div class="notice error" role="alert">
      <ul id="link-errors">
        ${Object.entries(fields).map(
          ([field, message]) => html`<li><span class="mono">${field || 'link'}</span>: ${message}</li>`,
        )}
      </ul>
    </div>
    <p class="hint">
      Open the link exactly as your terminal prints it after “Sign at:” — when it wraps over two lines, copy
      both.
    </p>
  `;
}
