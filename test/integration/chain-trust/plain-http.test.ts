// Plain http:// RPC endpoints: accepted on loopback only, unless allowPlainHttp. The CRD's CEL rule
// (the API server) and the zod check (webhook, wizard) must agree on every case.
import { describe, expect, it } from '@jest/globals';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, hostConfigSchema, type HostConfig } from '../../../lib/api/v1alpha1/index.js';
import { isAlreadyExists } from '../../../lib/kube/errors.js';
import { testClient } from '../../harness/kube.js';

const kube = testClient();
const REFUSAL = 'plain http:// RPC endpoints are accepted only on loopback';

const hostConfig = (rpcEndpoints: string[], allowPlainHttp?: boolean): HostConfig => {
  const host = structuredClone(exampleHostConfig) as HostConfig;
  host.spec.chain.rpcEndpoints = rpcEndpoints;
  if (allowPlainHttp !== undefined) host.spec.chain.allowPlainHttp = allowPlainHttp;
  return host;
};

/** The API server's verdict (a dry run, nothing is stored) and zod's, for the same object. */
async function verdicts(host: HostConfig): Promise<{ apiserver: string; zod: string }> {
  const apiserver = await kube.create(blockhostTypes.hostConfig, host, { dryRun: true }).then(
    () => 'accepted',
    (error: unknown) =>
      // Validation runs before storage: AlreadyExists (another file's HostConfig) means it passed.
      isAlreadyExists(error)
        ? 'accepted'
        : String(error).includes(REFUSAL)
          ? 'refused'
          : `error: ${String(error)}`,
  );
  const parsed = hostConfigSchema.safeParse(host);
  const zod = parsed.success
    ? 'accepted'
    : parsed.error.issues.some(
          (i) => i.message.includes(REFUSAL) && i.path.join('.') === 'spec.chain.rpcEndpoints',
        )
      ? 'refused'
      : `error: ${parsed.error.message}`;
  return { apiserver, zod };
}

describe('plain http RPC endpoints', () => {
  it.each<[string, string[], boolean | undefined, 'accepted' | 'refused']>([
    ['https anywhere', ['https://rpc.example/v1/key'], undefined, 'accepted'],
    ['http on 127.0.0.1', ['http://127.0.0.1:8545'], undefined, 'accepted'],
    ['http on 127.1.2.3', ['http://127.1.2.3:8545/'], undefined, 'accepted'],
    ['http on [::1]', ['http://[::1]:8545'], undefined, 'accepted'],
    ['http on localhost', ['http://localhost:8545/rpc'], undefined, 'accepted'],
    ['http on a LAN address', ['http://192.168.1.20:8545'], undefined, 'refused'],
    ['http on a public name', ['https://rpc.example', 'http://rpc.example'], undefined, 'refused'],
    ['a name that starts like loopback', ['http://127.0.0.1.attacker.example:8545'], undefined, 'refused'],
    ['localhost as a user name', ['http://localhost@rpc.example:8545'], undefined, 'refused'],
    ['a LAN address with allowPlainHttp', ['http://192.168.1.20:8545'], true, 'accepted'],
    ['a LAN address with allowPlainHttp false', ['http://192.168.1.20:8545'], false, 'refused'],
  ])('%s: %s', async (_case, endpoints, allow, expected) => {
    expect(await verdicts(hostConfig(endpoints, allow))).toEqual({ apiserver: expected, zod: expected });
  });
});
