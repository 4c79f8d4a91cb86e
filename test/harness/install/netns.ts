import { randomBytes } from 'node:crypto';
import { run, runOk } from './scripts.js';

/**
 * Two network namespaces joined by a veth pair: "host" (the server, its NIC `uplink0` with
 * 10.77.0.2/24 and a default route) and "gw" (its gateway, 10.77.0.1). The bridge script runs in
 * "host", so the machine's own network is never touched.
 */
export class NetnsPair {
  static readonly nic = 'uplink0';
  static readonly gatewayIp = '10.77.0.1';
  static readonly hostCidr = '10.77.0.2/24';

  private constructor(
    readonly host: string,
    readonly gw: string,
  ) {}

  static async create(): Promise<NetnsPair> {
    const id = randomBytes(3).toString('hex');
    const pair = new NetnsPair(`bh-${id}-host`, `bh-${id}-gw`);
    try {
      await runOk('ip', ['netns', 'add', pair.host]);
      await runOk('ip', ['netns', 'add', pair.gw]);
      await runOk('ip', [
        'link',
        'add',
        NetnsPair.nic,
        'netns',
        pair.host,
        'type',
        'veth',
        'peer',
        'name',
        'gw0',
        'netns',
        pair.gw,
      ]);
      await pair.inGw('ip', 'link', 'set', 'lo', 'up');
      await pair.inGw('ip', 'addr', 'add', `${NetnsPair.gatewayIp}/24`, 'dev', 'gw0');
      await pair.inGw('ip', 'link', 'set', 'gw0', 'up');
      await pair.inHost('ip', 'link', 'set', 'lo', 'up');
      await pair.inHost('ip', 'addr', 'add', NetnsPair.hostCidr, 'dev', NetnsPair.nic);
      await pair.inHost('ip', 'link', 'set', NetnsPair.nic, 'up');
      await pair.inHost('ip', 'route', 'add', 'default', 'via', NetnsPair.gatewayIp, 'proto', 'static');
    } catch (error) {
      await pair.delete();
      throw error;
    }
    return pair;
  }

  inHost(...command: string[]) {
    return runOk('ip', ['netns', 'exec', this.host, ...command]);
  }

  inGw(...command: string[]) {
    return runOk('ip', ['netns', 'exec', this.gw, ...command]);
  }

  /** Addresses, routes and links of "host", without the counters that change on their own. */
  async hostState(): Promise<string> {
    const addresses = (await this.inHost('ip', '-4', '-o', 'addr', 'show')).stdout.replace(
      /\s+valid_lft.*$/gm,
      '',
    );
    const routes = (await this.inHost('ip', '-4', 'route', 'show')).stdout;
    const links = (await this.inHost('ip', '-o', 'link', 'show')).stdout
      .replace(/\d+: /g, '')
      .replace(/ qlen \d+/g, '');
    return `${addresses}\n${routes}\n${links}`;
  }

  async delete(): Promise<void> {
    await run('ip', ['netns', 'del', this.host]);
    await run('ip', ['netns', 'del', this.gw]);
  }
}
