import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { erc20Abi } from 'viem';
import type { FaceContext } from '../face.js';
import type { SessionStore } from '../http/sessions.js';
import { adminWallet, type AdminSession } from './auth.js';
import type { ChainClients } from './chain-clients.js';
import { adminChainOf, requireHostConfig } from './host.js';
import { tokenInfo } from './token.js';

export interface WalletBalance {
  role: 'server' | 'hot' | 'admin';
  label: string;
  address?: string;
  /** Native coin, wei as a decimal string. */
  native?: string;
  /** Primary stablecoin, base units as a decimal string. */
  token?: string;
  error?: string;
}

/**
 * Wallet page API: balances read on-chain. Withdraw and send need the server key, which only the
 * controller manager may read: they are signed wallet requests (wallet-requests.ts, docs/wallet-requests.md).
 */
export function registerWalletRoutes(
  app: FastifyInstance,
  context: FaceContext,
  sessions: SessionStore<AdminSession>,
  requireAdmin: preHandlerAsyncHookHandler,
  clients: ChainClients,
): void {
  app.get('/api/wallet', { preHandler: requireAdmin }, async (request: FastifyRequest) => {
    const host = await requireHostConfig(context.kube);
    const chain = adminChainOf(host);
    const client = clients.for(chain);
    const stablecoin = chain.stablecoin
      ? await tokenInfo(client, chain.stablecoin).catch(() => undefined)
      : undefined;
    const wallets: Omit<WalletBalance, 'native' | 'token' | 'error'>[] = [
      {
        role: 'server',
        label: 'Server wallet (pays gas, owns the contracts)',
        address: host.status?.serverAddress,
      },
      { role: 'hot', label: 'Subscriptions contract (payments collect here)', address: chain.subscriptions },
      { role: 'admin', label: 'Admin wallet (you)', address: adminWallet(sessions, request) },
    ];
    const balances = await Promise.all(
      wallets.map(async (wallet): Promise<WalletBalance> => {
        if (!wallet.address) return { ...wallet, error: 'not known yet (setup has not recorded it)' };
        const address = wallet.address as `0x${string}`;
        try {
          const [native, token] = await Promise.all([
            client.getBalance({ address }),
            chain.stablecoin
              ? client.readContract({
                  address: chain.stablecoin,
                  abi: erc20Abi,
                  functionName: 'balanceOf',
                  args: [address],
                })
              : undefined,
          ]);
          return {
            ...wallet,
            native: native.toString(),
            ...(token !== undefined && { token: token.toString() }),
          };
        } catch {
          return { ...wallet, error: 'the chain RPC endpoints do not answer' };
        }
      }),
    );
    return { chainId: chain.chainId, ...(stablecoin && { stablecoin }), wallets: balances };
  });
}
