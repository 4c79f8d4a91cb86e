import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsMaterial {
  /** PEM of the CA that signed the server certificate: what a client trusts. */
  ca: string;
  cert: string;
  key: string;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A throw-away CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI in `dir`. */
export async function createTlsMaterial(dir: string): Promise<TlsMaterial> {
  const path = (name: string) => join(dir, name);
  const openssl = (args: string[]) => run('openssl', args, { cwd: dir });
  await openssl([
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=BlockHost fake Proxmox VE CA',
  ]);
  await openssl([
    'req',
    '-new',
    ...EC_KEY,
    '-keyout',
    path('server.key'),
    '-out',
    path('server.csr'),
    '-subj',
    '/CN=pve',
  ]);
  await writeFile(
    path('server.ext'),
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '',
    ].join('\n'),
  );
  await openssl([
    'x509',
    '-req',
    '-in',
    path('server.csr'),
    '-CA',
    path('ca.pem'),
    '-CAkey',
    path('ca.key'),
    '-set_serial',
    '1',
    '-days',
    '2',
    '-extfile',
    path('server.ext'),
    '-out',
    path('server.pem'),
  ]);
  const [ca, cert, key] = await Promise.all(
    ['ca.pem', 'server.pem', 'server.key'].map((name) => readFile(path(name), 'utf8')),
  );
  return { ca: ca!, cert: cert!, key: key! };
}
