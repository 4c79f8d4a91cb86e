import { httpsUrl, publicHostAddress } from '../host-address.js';
import { notReady, ready, type SetupContext, type StepResult } from '../step.js';

/**
 * SignupPublished: the signup page's public URL: spec.signup.url, else https:// and spec.signup.hostname
 * or the node's address.
 * The web server (a separate component) serves it; this step assigns the URL and does not probe it
 * yet, hence the reason UrlAssigned.
 */
export async function signupStep({ kube, host }: SetupContext): Promise<StepResult> {
  const configured = host.spec.signup?.url;
  if (configured)
    return ready('UrlAssigned', `signup page at ${configured} (from spec.signup.url)`, {
      signupUrl: configured,
    });
  const address = await publicHostAddress(kube, host);
  if ('unknown' in address) return notReady('HostAddressUnknown', address.unknown);
  const signupUrl = httpsUrl(address.address);
  return ready('UrlAssigned', `signup page at ${signupUrl} (from ${address.source})`, { signupUrl });
}
