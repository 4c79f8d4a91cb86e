import { formatEther, formatGwei, type Address, type PublicClient } from 'viem';
import {
  blockhostTypes,
  DEFAULT_SERVER_WALLET_LOW_MINTS,
  HOST_CONFIG_NAME,
  type HostConfig,
} from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { findCondition, setCondition, type ConditionUpdate } from '../../lib/runtime/conditions.js';
import type { EventRecorder } from '../../lib/runtime/events.js';
import { updateStatus } from '../../lib/runtime/status.js';
import type { Gauge } from 'prom-client';

/**
 * Gas of one mintForSubscription with a connection-details payload, with margin: anvil estimates
 * about 270,000 (test/integration/chain/server-wallet.test.ts checks it stays below this).
 */
export const MINT_GAS = 350_000n;

export interface WalletReading {
  address: Address;
  balanceWei: bigint;
  /** The fee a transaction would be signed with now (the sender's, never above the fee cap). */
  maxFeePerGasWei: bigint;
  /** spec.chain.serverWalletLowMints; 0 turns the check off. */
  mints: number;
}

/**
 * ServerWalletLow: True while the server wallet cannot pay for `mints` mints at current fees,
 * False once it can. Undefined when the check is off (the condition is then left as it is).
 */
export function serverWalletLowCondition(reading: WalletReading): ConditionUpdate | undefined {
  if (reading.mints <= 0) return undefined;
  const threshold = BigInt(reading.mints) * MINT_GAS * reading.maxFeePerGasWei;
  const holds = `the server wallet ${reading.address} holds ${formatEther(reading.balanceWei)} ETH`;
  const enough = `${reading.mints} mints at ${formatGwei(reading.maxFeePerGasWei)} gwei need ${formatEther(threshold)} ETH`;
  if (reading.balanceWei < threshold)
    return {
      type: 'ServerWalletLow',
      status: 'True',
      reason: 'BelowThreshold',
      message: `${holds}; ${enough}: send ETH to ${reading.address} before mints and plan updates fail`,
    };
  return { type: 'ServerWalletLow', status: 'False', reason: 'Funded', message: `${holds}; ${enough}` };
}

export interface WalletCheckTools {
  kube: KubeClient;
  events: EventRecorder;
  balance: Gauge<'role' | 'token'>;
}

/**
 * Reads the server wallet's balance into the gauge and sets ServerWalletLow on the HostConfig, with a
 * Warning Event when it turns True and a Normal one when it is funded again.
 */
export async function checkServerWallet(
  tools: WalletCheckTools,
  client: PublicClient,
  address: Address,
  feeCap: () => Promise<bigint>,
): Promise<void> {
  const [balanceWei, fees, cap] = await Promise.all([
    client.getBalance({ address }),
    client.estimateFeesPerGas(),
    feeCap(),
  ]);
  tools.balance.set({ role: 'server', token: 'ETH' }, Number(formatEther(balanceWei)));
  const host = await tools.kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);
  const update = serverWalletLowCondition({
    address,
    balanceWei,
    maxFeePerGasWei: fees.maxFeePerGas < cap ? fees.maxFeePerGas : cap,
    mints: host.spec.chain.serverWalletLowMints ?? DEFAULT_SERVER_WALLET_LOW_MINTS,
  });
  if (!update) return;
  const was = findCondition(host.status?.conditions, 'ServerWalletLow');
  const stored = await updateStatus<HostConfig>(
    tools.kube,
    blockhostTypes.hostConfig,
    { name: HOST_CONFIG_NAME },
    (latest) => {
      const conditions = setCondition(latest.status?.conditions, {
        ...update,
        observedGeneration: latest.metadata.generation,
      });
      if (conditions === latest.status?.conditions) return false;
      latest.status = { ...latest.status, conditions };
    },
  );
  if (was?.status === update.status) return;
  if (update.status === 'True')
    await tools.events.record(
      stored,
      blockhostTypes.hostConfig,
      'Warning',
      'ServerWalletLow',
      'CheckWallet',
      update.message!,
    );
  else if (was)
    await tools.events.record(
      stored,
      blockhostTypes.hostConfig,
      'Normal',
      'ServerWalletFunded',
      'CheckWallet',
      update.message!,
    );
}
