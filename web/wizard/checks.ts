/**
 * Server-side checks of what the operator entered, so a mistake shows next to its field before
 * anything is applied: the RPC serves the chain id, existing contracts have code, an imported
 * server key's balance, and the VM backend answers.
 */
import { Agent, fetch } from 'undici';
import type { KubeClient } from '../../lib/kube/client.js';

const CHECK_TIMEOUT_MS = 5_000;

export class CheckError extends Error {}

/** One JSON-RPC call with a timeout; throws CheckError with a readable reason. */
export async function rpcCall<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  let response: Awaited<ReturnType<typeof fetch>>;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
    });
  } catch (error) {
    throw new CheckError(
      `does not answer (${(error as Error).name === 'TimeoutError' ? 'timed out' : (error as Error).message})`,
    );
  }
  if (!response.ok) throw new CheckError(`answers HTTP ${response.status}`);
  const body = (await response.json().catch(() => undefined)) as
    { result?: T; error?: { message?: string } } | undefined;
  if (!body || body.error || body.result === undefined)
    throw new CheckError(`answers ${method} with an error: ${body?.error?.message ?? 'not JSON-RPC'}`);
  return body.result;
}

/** Field → message for every RPC endpoint that does not serve `chainId`. */
export async function checkRpcEndpoints(
  endpoints: readonly string[],
  chainId: number,
): Promise<Record<string, string>> {
  const fields: Record<string, string> = {};
  await Promise.all(
    endpoints.map(async (url, index) => {
      try {
        const served = Number(BigInt(await rpcCall<string>(url, 'eth_chainId')));
        if (served !== chainId)
          fields[`chain.rpcEndpoints.${index}`] = `${url} serves chain id ${served}, not ${chainId}`;
      } catch (error) {
        fields[`chain.rpcEndpoints.${index}`] = `${url} ${(error as Error).message}`;
      }
    }),
  );
  return fields;
}

/** True when `address` holds contract code on the chain behind `url`. */
export async function hasCode(url: string, address: string): Promise<boolean> {
  const code = await rpcCall<string>(url, 'eth_getCode', [address, 'latest']);
  return code !== '0x' && code !== '';
}

export async function balanceWei(url: string, address: string): Promise<bigint> {
  return BigInt(await rpcCall<string>(url, 'eth_getBalance', [address, 'latest']));
}

/** Wei as ETH text with up to 6 decimals. */
export function formatEth(wei: bigint): string {
  const whole = wei / 10n ** 18n;
  const fraction = (wei % 10n ** 18n).toString().padStart(18, '0').slice(0, 6).replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : `${whole}`;
}

export interface ProxmoxCheck {
  apiUrl: string;
  node: string;
  tokenId: string;
  secret: string;
  insecureSkipTLSVerify: boolean;
  templateVmids: readonly number[];
}

/**
 * The controller's own check, from here: listing the node's VMs proves the API answers, accepts
 * the token and knows the node; the list shows whether each image's template exists.
 */
export async function checkProxmox(settings: ProxmoxCheck): Promise<string> {
  const dispatcher = new Agent({ connect: { rejectUnauthorized: !settings.insecureSkipTLSVerify } });
  try {
    let response: Awaited<ReturnType<typeof fetch>>;
    try {
      response = await fetch(
        `${settings.apiUrl.replace(/\/$/, '')}/nodes/${encodeURIComponent(settings.node)}/qemu`,
        {
          headers: { authorization: `PVEAPIToken=${settings.tokenId}=${settings.secret}` },
          dispatcher,
          signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
        },
      );
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CheckError(
        `the Proxmox API does not answer: ${cause?.code ?? cause?.message ?? (error as Error).message}` +
          (cause?.code?.includes('CERT') || cause?.code?.includes('SELF_SIGNED')
            ? ' (a self-signed certificate needs "accept the certificate without verification")'
            : ''),
      );
    }
    if (response.status === 401)
      throw new CheckError('Proxmox refused the API token (401): check the token id and secret');
    if (response.status === 403) throw new CheckError('the API token lacks permissions on the node (403)');
    if (!response.ok)
      throw new CheckError(
        `Proxmox answered ${response.status} ${response.statusText} for node "${settings.node}"`,
      );
    const { data } = (await response.json()) as {
      data: { vmid: number | string; template?: number | string }[];
    };
    for (const vmid of settings.templateVmids) {
      const vm = data.find((v) => Number(v.vmid) === vmid);
      if (!vm || !Number(vm.template))
        throw new CheckError(
          `template VM ${vmid} ${vm ? 'is not a template' : 'does not exist'} on node ${settings.node}`,
        );
    }
    return `Proxmox answers: node ${settings.node} has ${data.length} VM${data.length === 1 ? '' : 's'}, templates found`;
  } finally {
    await dispatcher.close();
  }
}

/** KubeVirt is usable when the API server serves kubevirt.io/v1 VirtualMachines (API discovery). */
export async function checkKubevirt(kube: KubeClient): Promise<string> {
  let resources: { resources?: { name: string }[] };
  try {
    resources = await kube.request('GET', '/apis/kubevirt.io/v1');
  } catch {
    throw new CheckError('KubeVirt is not installed: the cluster does not serve kubevirt.io/v1');
  }
  if (!resources.resources?.some((r) => r.name === 'virtualmachines'))
    throw new CheckError('KubeVirt is not installed: kubevirt.io/v1 has no virtualmachines resource');
  return 'KubeVirt answers: kubevirt.io/v1 VirtualMachines are served';
}
