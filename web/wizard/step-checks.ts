/**
 * Checks a step needs beyond its schema, against the world: the host's disks, the chain's RPC and
 * contracts, the VM backend. Failures are field errors, so the page shows them next to the input.
 */
import type { KubeClient } from '../../lib/kube/client.js';
import type { Logger } from '../../lib/log.js';
import { HttpError } from '../http/errors.js';
import { CheckError, checkKubevirt, checkProxmox, checkRpcEndpoints, hasCode } from './checks.js';
import { readHostFacts } from './host-facts.js';
import type { WizardSession } from './session.js';
import type { StepName, StepValues } from './steps.js';

interface Services {
  kube: KubeClient;
  namespace: string;
  log: Logger;
}

const refuse = (fields: Record<string, string>): never => {
  const count = Object.keys(fields).length;
  throw new HttpError(400, `${count} field${count === 1 ? '' : 's'} to fix`, fields);
};

export async function verifyStep(
  step: StepName,
  value: StepValues[StepName],
  session: WizardSession,
  { kube, namespace, log }: Services,
): Promise<{ notice?: string }> {
  switch (step) {
    case 'storage': {
      const device = (value as StepValues['storage']).storage?.device;
      if (device === undefined) return {};
      const facts = await readHostFacts(kube, namespace, log);
      const disk = facts?.blockDevices.find((d) => d.path === device);
      if (!disk) return refuse({ 'storage.device': `${device} is not one of this host's disks` });
      if (disk.inUse) return refuse({ 'storage.device': `${device} is in use by the system` });
      return {};
    }
    case 'chain': {
      const { chain, serverWallet } = value as StepValues['chain'];
      const fields = await checkRpcEndpoints(chain.rpcEndpoints, chain.chainId);
      const rpc = chain.rpcEndpoints[0]!;
      if (Object.keys(fields).length === 0 && !chain.deploy) {
        for (const field of ['subscriptions', 'nft'] as const) {
          const address = chain.contracts?.[field];
          if (address && !(await hasCode(rpc, address).catch(() => false)))
            fields[`chain.contracts.${field}`] = `no contract code at ${address} on chain ${chain.chainId}`;
        }
      }
      if (serverWallet === 'import' && !session.serverKey)
        fields.serverWallet = 'enter the private key and check it, or choose to generate a wallet';
      if (Object.keys(fields).length > 0) return refuse(fields);
      return {};
    }
    case 'backend': {
      const backend = value as StepValues['backend'];
      const { type } = backend.backend;
      if (type === 'proxmox') {
        const secret = backend.proxmoxToken?.secret || session.proxmoxSecret;
        if (!secret) return refuse({ 'proxmoxToken.secret': 'the API token secret is required' });
        const proxmox = backend.backend.proxmox!;
        try {
          const notice = await checkProxmox({
            apiUrl: proxmox.apiUrl,
            node: proxmox.node,
            tokenId: backend.proxmoxToken!.tokenId,
            secret,
            insecureSkipTLSVerify: proxmox.insecureSkipTLSVerify,
            templateVmids: proxmox.images.map((i) => i.templateVmid),
          });
          // Kept apart from the step values, so no form ever renders it back.
          session.proxmoxSecret = secret;
          delete backend.proxmoxToken!.secret;
          return { notice };
        } catch (error) {
          if (error instanceof CheckError) return refuse({ 'backend.proxmox.apiUrl': error.message });
          throw error;
        }
      }
      if (type === 'kubevirt') {
        try {
          return { notice: await checkKubevirt(kube) };
        } catch (error) {
          if (error instanceof CheckError) return refuse({ 'backend.type': error.message });
          throw error;
        }
      }
      return {
        notice:
          'libvirt is checked by the controller after you apply (the web server cannot reach libvirtd).',
      };
    }
    default:
      return {};
  }
}
