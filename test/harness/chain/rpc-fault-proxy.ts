import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** Shares of requests that meet each fault; 0 (or absent) turns a fault off. */
export interface FaultOptions {
  /** Seeds the PRNG that decides every fault, so a failing run can be replayed. */
  seed: number;
  /** Answered with HTTP 500 (half) or a JSON-RPC "internal error" (half). */
  errorRate?: number;
  /** Answered only after `slowMs`: set it beyond the client's timeout to make timeouts. */
  slowRate?: number;
  slowMs?: number;
  /** eth_getLogs over more blocks than this is refused, as hosted providers do. */
  maxLogRange?: number;
  /** eth_getLogs answers with some entries duplicated and the list shuffled. */
  messyLogsRate?: number;
  /** eth_blockNumber answered with an older value it returned before (a lagging backend). */
  staleRate?: number;
  /**
   * Outages: time is cut into windows of `outageMs`, and one window in every `outageEvery` (at a
   * position drawn from `outageSeed`) answers every request with HTTP 503. Two proxies given the
   * same `outageSeed` go down together, like two front ends of one provider.
   */
  outageMs?: number;
  outageEvery?: number;
  outageSeed?: number;
}

export type FaultKind = 'http500' | 'rpcError' | 'slow' | 'rangeRefused' | 'messyLogs' | 'stale' | 'outage';

/** mulberry32: a tiny seeded PRNG, good enough to pick faults reproducibly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed from BLOCKHOST_FAULT_SEED (to replay a run), else a fresh one. */
export function faultSeed(): number {
  const fromEnv = process.env.BLOCKHOST_FAULT_SEED;
  return fromEnv ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
}

export interface JsonRpcRequest {
  id: unknown;
  method: string;
  params?: unknown[];
}

/**
 * A JSON-RPC proxy in front of a real node that misbehaves like public RPC providers: errors,
 * timeouts, block-range limits, duplicated and shuffled logs, stale heads and outages; and, through
 * `lie`, like a malicious one (forged timestamps, contract answers). Every
 * decision comes from a seeded PRNG with five draws per request (details such as the shuffle come
 * from a second one), so the n-th request meets the same faults in a replay; requests racing each
 * other may still arrive in another order, so a replay is close, not exact.
 */
export class RpcFaultProxy {
  readonly stats: Record<FaultKind, number> = {
    http500: 0,
    rpcError: 0,
    slow: 0,
    rangeRefused: 0,
    messyLogs: 0,
    stale: 0,
    outage: 0,
  };
  private readonly random: () => number;
  private readonly detail: () => number;
  private readonly heads: string[] = [];
  private readonly started = Date.now();
  private downUntil = 0;
  requests = 0;
  /**
   * A compromised provider: rewrites the node's answer to `request` (return `result` to pass it on
   * unchanged). Set and cleared at any time; lies are counted in `lies`.
   */
  lie?: (request: JsonRpcRequest, result: unknown) => unknown;
  lies = 0;

  private constructor(
    private readonly server: Server,
    private readonly upstream: string,
    private readonly options: FaultOptions,
    public url = '',
  ) {
    this.random = seededRandom(options.seed);
    this.detail = seededRandom(options.seed ^ 0x5eed);
  }

  static async start(upstream: string, options: FaultOptions): Promise<RpcFaultProxy> {
    const server = createServer();
    const proxy = new RpcFaultProxy(server, upstream, options);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      proxy.handle(req, res).catch((error: unknown) => reply(res, 502, String(error)));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    proxy.url = `http://127.0.0.1:${address.port}`;
    return proxy;
  }

  /** An outage on demand (besides the scheduled ones): every request fails for the next `ms`. */
  takeDown(ms: number): void {
    this.downUntil = Date.now() + ms;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString();
    const request = JSON.parse(body) as JsonRpcRequest;
    const o = this.options;
    const [error, errorKind, slow, messy, stale] = Array.from({ length: 5 }, this.random);
    this.requests += 1;

    if (this.inOutage()) {
      this.stats.outage += 1;
      return reply(res, 503, 'Service Unavailable');
    }
    if (error! < (o.errorRate ?? 0) && errorKind! < 0.5) {
      this.stats.http500 += 1;
      return reply(res, 500, 'Internal Server Error');
    }
    if (error! < (o.errorRate ?? 0)) {
      this.stats.rpcError += 1;
      return rpcError(res, request, -32603, 'internal error');
    }
    if (slow! < (o.slowRate ?? 0)) {
      this.stats.slow += 1;
      await new Promise((resolve) => setTimeout(resolve, o.slowMs ?? 5000));
    }
    if (request.method === 'eth_getLogs' && o.maxLogRange !== undefined) {
      const { fromBlock, toBlock } = (request.params?.[0] ?? {}) as { fromBlock?: string; toBlock?: string };
      if (fromBlock?.startsWith('0x') && toBlock?.startsWith('0x')) {
        const span = Number(BigInt(toBlock) - BigInt(fromBlock)) + 1;
        if (span > o.maxLogRange) {
          this.stats.rangeRefused += 1;
          return rpcError(res, request, -32000, `query exceeds max block range ${o.maxLogRange}`);
        }
      }
    }

    const upstream = await fetch(this.upstream, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const answer = (await upstream.json()) as { result?: unknown };
    const logs = request.method === 'eth_getLogs' && Array.isArray(answer.result) ? answer.result : [];
    if (logs.length > 0 && messy! < (o.messyLogsRate ?? 0)) {
      this.stats.messyLogs += 1;
      answer.result = this.shuffle([...logs, ...logs.filter(() => this.detail() < 0.5)]);
    }
    if (request.method === 'eth_blockNumber' && typeof answer.result === 'string') {
      const older = this.heads.filter((head) => head !== answer.result);
      this.heads.push(answer.result);
      if (this.heads.length > 50) this.heads.shift();
      if (stale! < (o.staleRate ?? 0) && older.length > 0) {
        this.stats.stale += 1;
        answer.result = older[Math.floor(this.detail() * older.length)];
      }
    }
    if (this.lie && answer.result !== undefined) {
      const told = this.lie(request, answer.result);
      if (JSON.stringify(told) !== JSON.stringify(answer.result)) this.lies += 1;
      answer.result = told;
    }
    reply(res, 200, JSON.stringify(answer));
  }

  private inOutage(): boolean {
    if (Date.now() < this.downUntil) return true;
    const { seed, outageMs, outageEvery, outageSeed = seed } = this.options;
    if (!outageMs || !outageEvery) return false;
    const window = Math.floor((Date.now() - this.started) / outageMs);
    const group = Math.floor(window / outageEvery);
    return window % outageEvery === Math.floor(seededRandom(outageSeed + group * 7919)() * outageEvery);
  }

  private shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i -= 1) {
      const j = Math.floor(this.detail() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

function reply(res: ServerResponse, status: number, body: string): void {
  if (res.destroyed || res.headersSent) return; // the client gave up (timeout)
  res.writeHead(status, { 'content-type': status === 200 ? 'application/json' : 'text/plain' });
  res.end(body);
}

function rpcError(res: ServerResponse, request: JsonRpcRequest, code: number, message: string): void {
  reply(res, 200, JSON.stringify({ jsonrpc: '2.0', id: request.id, error: { code, message } }));
}
