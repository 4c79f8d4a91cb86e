import type { StepValues } from './steps.js';

/** Everything the wizard has collected, kept on the server only (the cookie carries an id). */
export interface WizardSession {
  /** issuedAt of the code the session logged in with. */
  codeIssuedAt: string;
  wallet?: { address: string; signature: string; publicSecret: string };
  steps: Partial<StepValues>;
  /** An imported server key: entered once, never sent back to the page. */
  serverKey?: { privateKey: string; address: string };
  /** The Proxmox API token secret, kept out of the step values so forms never echo it. */
  proxmoxSecret?: string;
  /** Secrets this session already created, so a second apply does not trip over them. */
  created: { serverWallet?: boolean };
}
