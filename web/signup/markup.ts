import { html, type SafeHtml } from '../assets/html.js';

/**
 * The signup page's static markup; signup/page/main.ts fills it in. Sections start hidden and are
 * shown as the visitor gets there, so the page works top to bottom on a phone.
 */
export function signupPage(): SafeHtml {
  return html`
    <h1>Rent a virtual machine</h1>
    <p class="hint" id="host-line">
      Pay with a stablecoin from your wallet; your VM's login details are encrypted to your wallet.
    </p>
    <div id="notice" role="alert" hidden></div>

    <section class="card" aria-labelledby="plans-title">
      <h2 id="plans-title">Plans</h2>
      <p id="plans-status" class="hint" role="status">Loading plans from the chain…</p>
    </section>

    <section class="card" aria-labelledby="wallet-title">
      <h2 id="wallet-title">Your wallet</h2>
      <p id="account" class="mono" hidden></p>
      <div id="network-notice" role="alert" hidden></div>
      <div class="row">
        <button type="button" id="connect" disabled>Connect wallet</button>
        <button type="button" id="switch-network" class="secondary" hidden>Switch network</button>
      </div>
    </section>

    <section class="card" id="buy" aria-labelledby="buy-title" hidden>
      <h2 id="buy-title">Buy a subscription</h2>
      <form id="buy-form" novalidate>
        <fieldset class="choices" id="plan-choices">
          <legend>Plan</legend>
        </fieldset>
        <label for="buy-days">Days</label>
        <input
          id="buy-days"
          name="days"
          type="number"
          inputmode="numeric"
          min="1"
          max="3650"
          step="1"
          value="30"
          required
          aria-describedby="buy-total"
        />
        <p id="buy-total" class="hint" role="status"></p>
        <button type="submit" id="buy-submit">Buy</button>
      </form>
      <div id="buy-notice" role="alert" hidden></div>
    </section>

    <section class="card" id="progress" aria-labelledby="progress-title" hidden>
      <h2 id="progress-title">Your purchase</h2>
      <div id="progress-notice" role="status"></div>
    </section>

    <section class="card" id="details" aria-labelledby="details-title" hidden>
      <h2 id="details-title">Connect to your VM</h2>
      <dl class="details">
        <dt>Host</dt>
        <dd id="detail-hostname" class="mono"></dd>
        <dt>Port</dt>
        <dd id="detail-port" class="mono"></dd>
        <dt>User</dt>
        <dd id="detail-username" class="mono"></dd>
      </dl>
      <h3>How to log in</h3>
      <p>Log in with SSH. No SSH key or password is needed: this wallet is the key.</p>
      <pre class="command" id="ssh-command"></pre>
      <div class="row">
        <button type="button" id="copy-ssh">Copy SSH command</button>
        <span id="copy-status" class="hint" role="status"></span>
      </div>
      <p>The login shows a one-time code, your VM's name and a link:</p>
      <pre class="command" id="login-prompt"></pre>
      <ol id="login-steps">
        <li>
          Open the link, connect this same wallet and sign. Then press Enter in the terminal: you are logged
          in.
        </li>
        <li>
          Or sign the message
          <span class="mono">Authenticate to &lt;machine&gt; with code: &lt;code&gt;</span> with this wallet
          anywhere else (for example <span class="mono">cast wallet sign</span>) and paste the signature at
          the prompt.
        </li>
      </ol>
    </section>

    <section class="card" id="mine" aria-labelledby="mine-title" hidden>
      <h2 id="mine-title">Your subscriptions</h2>
      <div id="mine-list"></div>
    </section>

    <section class="card" id="extend" aria-labelledby="extend-title" hidden>
      <h2 id="extend-title">Extend a subscription</h2>
      <form id="extend-form" novalidate>
        <label for="extend-id">Subscription number</label>
        <input
          id="extend-id"
          name="subscriptionId"
          type="text"
          inputmode="numeric"
          autocomplete="off"
          required
        />
        <label for="extend-days">Days to add</label>
        <input
          id="extend-days"
          name="days"
          type="number"
          inputmode="numeric"
          min="1"
          max="3650"
          step="1"
          value="30"
          required
        />
        <button type="submit" id="extend-submit">Extend</button>
      </form>
      <div id="extend-notice" role="alert" hidden></div>
    </section>

    <section class="card" id="offline" aria-labelledby="offline-title" hidden>
      <h2 id="offline-title">Decrypt with a signature from elsewhere</h2>
      <p class="hint">
        No wallet in this browser, or the NFT was passed on to you? Sign this message with the wallet that
        bought the subscription, anywhere that does personal_sign (EIP-191), and paste the signature below. It
        is used only in this browser and sent nowhere.
      </p>
      <pre class="command" id="offline-message"></pre>
      <p class="hint">For example, with Foundry's cast:</p>
      <pre class="command" id="offline-cast"></pre>
      <form id="offline-form" novalidate>
        <label for="offline-token">NFT number</label>
        <input
          id="offline-token"
          name="tokenId"
          type="text"
          inputmode="numeric"
          autocomplete="off"
          required
        />
        <label for="offline-signature">Signature (0x and 130 hex digits)</label>
        <textarea
          id="offline-signature"
          name="signature"
          rows="3"
          autocomplete="off"
          spellcheck="false"
          required
        ></textarea>
        <button type="submit" id="offline-submit">Decrypt</button>
      </form>
      <div id="offline-notice" role="alert" hidden></div>
    </section>
  `;
}
