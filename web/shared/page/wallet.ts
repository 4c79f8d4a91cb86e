// The browser wallet (EIP-1193, window.ethereum) for page scripts: connect, check the chain, sign,
// and one error type whose message a page can show as it is.

export interface Eip1193Provider {
  request(args: { method: string; params?: unknown }): Promise<unknown>;
  on?(event: string, listener: (...args: unknown[]) => void): void;
  removeListener?(event: string, listener: (...args: unknown[]) => void): void;
}

declare global {
  interface Window {
    ethereum?: Eip1193Provider;
  }
}

export type WalletErrorCode = 'NO_WALLET' | 'REJECTED' | 'WRONG_NETWORK' | 'NO_ACCOUNT' | 'FAILED';

export class WalletError extends Error {
  constructor(
    readonly code: WalletErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'WalletError';
  }
}

/** EIP-1193 "user rejected the request" and EIP-3326 "unknown chain". */
const USER_REJECTED = 4001;
const UNKNOWN_CHAIN = 4902;

/** The numeric EIP-1193 code anywhere in an error's cause chain (viem wraps wallet errors). */
export function rpcErrorCode(error: unknown): number | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 10; depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Turns whatever a wallet call threw into a WalletError with a message fit for people. */
export function toWalletError(error: unknown, action: string): WalletError {
  if (error instanceof WalletError) return error;
  if (rpcErrorCode(error) === USER_REJECTED)
    return new WalletError('REJECTED', `You rejected the request to ${action} in your wallet.`, {
      cause: error,
    });
  const text =
    error instanceof Error
      ? ((error as { shortMessage?: string }).shortMessage ?? error.message)
      : String(error);
  return new WalletError('FAILED', `Your wallet could not ${action}: ${text}`, { cause: error });
}

export function hexChainId(chainId: number): string {
  return `0x${chainId.toString(16)}`;
}

/** The injected wallet, or a WalletError telling the visitor to install one. */
export function injectedProvider(): Eip1193Provider {
  const provider = window.ethereum;
  if (!provider || typeof provider.request !== 'function')
    throw new WalletError(
      'NO_WALLET',
      'No wallet found in this browser. Install a wallet extension (such as MetaMask) or open this page in a wallet app.',
    );
  return provider;
}

/** Asks for access to the wallet's accounts; resolves with the first address. */
export async function connect(provider: Eip1193Provider): Promise<`0x${string}`> {
  let accounts: unknown;
  try {
    accounts = await provider.request({ method: 'eth_requestAccounts' });
  } catch (error) {
    throw toWalletError(error, 'connect');
  }
  const [account] = Array.isArray(accounts) ? accounts : [];
  if (typeof account !== 'string')
    throw new WalletError(
      'NO_ACCOUNT',
      'Your wallet has no account to use. Create or unlock one and try again.',
    );
  return account as `0x${string}`;
}

/** The chain the wallet is on now. */
export async function walletChainId(provider: Eip1193Provider): Promise<number> {
  try {
    return Number.parseInt(String(await provider.request({ method: 'eth_chainId' })), 16);
  } catch (error) {
    throw toWalletError(error, 'tell its network');
  }
}

export interface ChainToAdd {
  chainId: number;
  chainName: string;
  rpcUrls: string[];
}

/**
 * Asks the wallet to switch to `chain` (adding it when the wallet does not know it). Throws
 * WRONG_NETWORK if the wallet is still elsewhere afterwards, REJECTED if the visitor declined.
 */
export async function switchChain(provider: Eip1193Provider, chain: ChainToAdd): Promise<void> {
  const chainId = hexChainId(chain.chainId);
  try {
    await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId }] });
  } catch (error) {
    if (rpcErrorCode(error) !== UNKNOWN_CHAIN) throw toWalletError(error, 'switch network');
    try {
      await provider.request({
        method: 'wallet_addEthereumChain',
        params: [
          {
            chainId,
            chainName: chain.chainName,
            rpcUrls: chain.rpcUrls,
            nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
          },
        ],
      });
    } catch (addError) {
      throw toWalletError(addError, 'add the network');
    }
  }
  const now = await walletChainId(provider);
  if (now !== chain.chainId) throw wrongNetwork(now, chain.chainId);
}

export function wrongNetwork(actual: number, expected: number): WalletError {
  return new WalletError(
    'WRONG_NETWORK',
    `Your wallet is on network ${actual}, but this host sells on network ${expected}. Switch your wallet to network ${expected}.`,
  );
}

/** Throws WRONG_NETWORK unless the wallet is on `expected`. */
export async function requireChain(provider: Eip1193Provider, expected: number): Promise<void> {
  const actual = await walletChainId(provider);
  if (actual !== expected) throw wrongNetwork(actual, expected);
}

/** EIP-191 personal_sign of a text message; the signature as the wallet returns it (0x + 130 hex). */
export async function personalSign(
  provider: Eip1193Provider,
  account: string,
  message: string,
  action = 'sign the message',
): Promise<string> {
  const hex = `0x${Array.from(new TextEncoder().encode(message), (b) => b.toString(16).padStart(2, '0')).join('')}`;
  let signature: unknown;
  try {
    signature = await provider.request({ method: 'personal_sign', params: [hex, account] });
  } catch (error) {
    throw toWalletError(error, action);
  }
  if (typeof signature !== 'string' || !/^0x[0-9a-fA-F]{130}$/.test(signature))
    throw new WalletError('FAILED', 'Your wallet returned something that is not a signature.');
  return signature;
}

/** Calls `listener` when the wallet switches account or network (e.g. to re-check the chain). */
export function onWalletChange(provider: Eip1193Provider, listener: () => void): void {
  provider.on?.('accountsChanged', listener);
  provider.on?.('chainChanged', listener);
}
