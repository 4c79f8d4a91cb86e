import {
  createWalletClient,
  defineChain,
  http,
  numberToHex,
  type Hex,
  type LocalAccount,
  type WalletClient,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { Page } from 'playwright-core';

/** EIP-1193 error codes the test wallet answers with. */
export const USER_REJECTED = 4001;
const UNSUPPORTED_METHOD = 4200;
const UNKNOWN_CHAIN = 4902;
const INTERNAL_ERROR = -32603;

type Reply = { result: unknown } | { error: { code: number; message: string; data?: unknown } };

export interface TestWalletOptions {
  /** The wallet's key: an anvil test key, or a throw-away one made in the test. */
  privateKey: Hex;
  /** anvil's JSON-RPC URL; every read the page asks of the wallet goes there. */
  rpcUrl: string;
  chainId: number;
}

const BINDING = '__blockhostTestWallet';
const EMIT = '__blockhostTestWalletEmit';

/**
 * Runs in the page before its scripts: window.ethereum as an EIP-1193 provider whose requests go
 * to the Node side through the binding, and whose events the Node side emits.
 */
function installProvider({ binding, emit }: { binding: string; emit: string }) {
  const listeners = new Map<string, Set<(value: unknown) => void>>();
  const w = window as unknown as Record<string, unknown>;
  const call = w[binding] as (payload: unknown) => Promise<Reply>;
  const provider = {
    isBlockHostTestWallet: true,
    async request({ method, params }: { method: string; params?: unknown }) {
      const reply = await call({ method, params: params ?? [] });
      if ('error' in reply) {
        const error = new Error(reply.error.message) as Error & { code: number; data?: unknown };
        error.code = reply.error.code;
        if (reply.error.data !== undefined) error.data = reply.error.data;
        throw error;
      }
      return reply.result;
    },
    on(event: string, listener: (value: unknown) => void) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event)!.add(listener);
      return provider;
    },
    removeListener(event: string, listener: (value: unknown) => void) {
      listeners.get(event)?.delete(listener);
      return provider;
    },
  };
  w[emit] = (event: string, value: unknown) => {
    for (const listener of listeners.get(event) ?? []) listener(value);
  };
  w.ethereum = provider;
}

/**
 * A wallet injected into one page (window.ethereum), backed by a viem account in Node: it connects,
 * signs (personal_sign), signs and sends transactions to anvil, switches network, and passes every
 * read through to anvil. Tests can make it reject the next signature or report another chain.
 */
export class TestWallet {
  readonly account: LocalAccount;
  /** Every request the page made, in order. */
  readonly requests: { method: string; params: unknown }[] = [];
  private readonly client: WalletClient;
  private connected = false;
  private reportedChainId?: number;
  private rejectSignatures = 0;

  private constructor(
    private readonly page: Page,
    private readonly options: TestWalletOptions,
  ) {
    this.account = privateKeyToAccount(options.privateKey);
    const chain = defineChain({
      id: options.chainId,
      name: 'anvil',
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [options.rpcUrl] } },
    });
    this.client = createWalletClient({ chain, transport: http(options.rpcUrl), account: this.account });
  }

  /** Injects the wallet; call before the page navigates. */
  static async install(page: Page, options: TestWalletOptions): Promise<TestWallet> {
    const wallet = new TestWallet(page, options);
    await page.exposeBinding(BINDING, (_source, payload: { method: string; params: unknown }) =>
      wallet.handle(payload),
    );
    await page.addInitScript(installProvider, { binding: BINDING, emit: EMIT });
    return wallet;
  }

  get address(): `0x${string}` {
    return this.account.address;
  }

  /** The next personal_sign (or `count` of them) fails with 4001, as when the user clicks Reject. */
  rejectNextSignature(count = 1): void {
    this.rejectSignatures += count;
  }

  /**
   * Pretends the wallet is on `chainId` (undefined: the real chain again) and tells the page
   * (chainChanged). wallet_switchEthereumChain to the real chain undoes it.
   */
  async reportChainId(chainId: number | undefined): Promise<void> {
    this.reportedChainId = chainId;
    await this.emit('chainChanged', numberToHex(this.chainId));
  }

  get chainId(): number {
    return this.reportedChainId ?? this.options.chainId;
  }

  /** How many requests of `method` the page made. */
  count(method: string): number {
    return this.requests.filter((r) => r.method === method).length;
  }

  private async emit(event: string, value: unknown): Promise<void> {
    await this.page.evaluate(
      ([name, event, value]) =>
        (window as unknown as Record<string, (e: unknown, v: unknown) => void>)[name]!(event, value),
      [EMIT, event, value] as const,
    );
  }

  private async handle({ method, params }: { method: string; params: unknown }): Promise<Reply> {
    this.requests.push({ method, params });
    const list = Array.isArray(params) ? (params as unknown[]) : [];
    try {
      switch (method) {
        case 'eth_requestAccounts':
          this.connected = true;
          return { result: [this.address] };
        case 'eth_accounts':
          return { result: this.connected ? [this.address] : [] };
        case 'eth_chainId':
          return { result: numberToHex(this.chainId) };
        case 'net_version':
          return { result: String(this.chainId) };
        case 'personal_sign':
          return await this.personalSign(list);
        case 'eth_sendTransaction':
          return await this.sendTransaction(list);
        case 'wallet_switchEthereumChain':
        case 'wallet_addEthereumChain': {
          const wanted = Number.parseInt(String((list[0] as { chainId?: string })?.chainId), 16);
          if (wanted !== this.options.chainId)
            return { error: { code: UNKNOWN_CHAIN, message: `Unrecognized chain ID ${wanted}` } };
          await this.reportChainId(undefined);
          return { result: null };
        }
        case 'eth_sign':
        case 'eth_signTransaction':
        case 'eth_signTypedData_v4':
          return {
            error: { code: UNSUPPORTED_METHOD, message: `${method} is not supported by the test wallet` },
          };
        default:
          return await this.forward(method, list);
      }
    } catch (error) {
      const message = (error as { shortMessage?: string }).shortMessage ?? (error as Error).message;
      return { error: { code: INTERNAL_ERROR, message } };
    }
  }

  private async personalSign([message, address]: unknown[]): Promise<Reply> {
    if (!this.connected)
      return { error: { code: 4100, message: 'The wallet is not connected to this page' } };
    if (typeof address !== 'string' || address.toLowerCase() !== this.address.toLowerCase())
      return {
        error: { code: 4100, message: `personal_sign for an account this wallet does not hold: ${address}` },
      };
    if (this.rejectSignatures > 0) {
      this.rejectSignatures -= 1;
      return { error: { code: USER_REJECTED, message: 'User rejected the request.' } };
    }
    if (typeof message !== 'string' || !message.startsWith('0x'))
      return { error: { code: -32602, message: 'personal_sign expects a 0x-hex message' } };
    return { result: await this.account.signMessage({ message: { raw: message as Hex } }) };
  }

  private async sendTransaction([request]: unknown[]): Promise<Reply> {
    if (!this.connected)
      return { error: { code: 4100, message: 'The wallet is not connected to this page' } };
    const tx = request as { from?: string; to?: Hex; data?: Hex; value?: Hex; gas?: Hex };
    if (tx.from && tx.from.toLowerCase() !== this.address.toLowerCase())
      return {
        error: { code: 4100, message: `transaction from an account this wallet does not hold: ${tx.from}` },
      };
    if (this.reportedChainId !== undefined)
      return {
        error: {
          code: INTERNAL_ERROR,
          message: 'the test wallet cannot send on the chain it pretends to be on',
        },
      };
    const hash = await this.client.sendTransaction({
      account: this.account,
      chain: this.client.chain,
      to: tx.to,
      data: tx.data,
      value: tx.value === undefined ? undefined : BigInt(tx.value),
      gas: tx.gas === undefined ? undefined : BigInt(tx.gas),
    });
    return { result: hash };
  }

  private async forward(method: string, params: unknown[]): Promise<Reply> {
    const response = await fetch(this.options.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    const body = (await response.json()) as {
      result?: unknown;
      error?: { code: number; message: string; data?: unknown };
    };
    return body.error ? { error: body.error } : { result: body.result ?? null };
  }
}
