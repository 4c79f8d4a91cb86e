import { readFile, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

const base64 = async (path: string) => (await readFile(path)).toString('base64');

/** Writes a self-contained kubeconfig (certificates embedded) for a client-certificate user. */
export async function writeKubeconfig(
  path: string,
  {
    server,
    caCert,
    clientCert,
    clientKey,
    name = 'blockhost-local',
  }: {
    server: string;
    caCert: string;
    clientCert: string;
    clientKey: string;
    name?: string;
  },
): Promise<void> {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server, 'certificate-authority-data': await base64(caCert) } }],
    users: [
      {
        name,
        user: {
          'client-certificate-data': await base64(clientCert),
          'client-key-data': await base64(clientKey),
        },
      },
    ],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
}
