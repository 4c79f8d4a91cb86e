import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

type Pair = [client: Socket, upstream: Socket];

/**
 * A loopback TCP proxy for fault injection. `freezeExisting()` turns every open connection into a
 * black hole (both ends stay open, nothing more is delivered), which is what a half-dead NAT or a
 * vanished peer looks like; connections opened afterwards work normally.
 */
export class TcpProxy {
  private readonly live = new Set<Pair>();
  private readonly frozen = new Set<Pair>();
  private readonly server: Server;
  port = 0;

  private constructor(targetPort: number, targetHost: string) {
    this.server = createServer((client) =>
      this.forward(client, createConnection({ port: targetPort, host: targetHost })),
    );
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort, targetHost);
    proxy.server.listen(0, '127.0.0.1');
    await once(proxy.server, 'listening');
    const address = proxy.server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    proxy.port = address.port;
    return proxy;
  }

  private forward(client: Socket, upstream: Socket): void {
    const pair: Pair = [client, upstream];
    this.live.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => {
      this.live.delete(pair);
      this.frozen.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of pair) socket.on('error', drop).on('close', drop);
  }

  /** Returns how many connections were frozen. */
  freezeExisting(): number {
    for (const pair of this.live) {
      const [client, upstream] = pair;
      client.unpipe(upstream);
      upstream.unpipe(client);
      // Keep reading so neither peer sees back-pressure; the bytes go nowhere.
      for (const socket of pair) socket.on('data', () => {});
      this.frozen.add(pair);
    }
    const count = this.live.size;
    this.live.clear();
    return count;
  }

  async stop(): Promise<void> {
    for (const pair of [...this.live, ...this.frozen]) pair.forEach((socket) => socket.destroy());
    await new Promise((resolve) => this.server.close(resolve));
  }
}
