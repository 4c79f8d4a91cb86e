import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths of the key material a local control plane needs; everything is ECDSA P-256 (fast to make). */
export interface ControlPlanePki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

async function newKey(dir: string, name: string): Promise<string> {
  await openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name);
  return join(dir, name);
}

async function signedCert(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
): Promise<{ cert: string; key: string }> {
  const key = await newKey(dir, `${name}.key`);
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(dir, 'req', '-new', '-key', key, '-subj', subject, '-out', `${name}.csr`);
  await openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  );
  return { cert: join(dir, `${name}.crt`), key };
}

const CLIENT_EXTENSIONS =
  'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n';

/** A client certificate (`subject` like `/O=group/CN=user`) signed by the CA in `dir`. */
export function clientCert(
  dir: string,
  name: string,
  subject: string,
): Promise<{ cert: string; key: string }> {
  return signedCert(dir, name, subject, CLIENT_EXTENSIONS);
}

/** A serving certificate for `ipAddresses` and `dnsNames`, signed by the CA in `dir`. */
export function servingCert(
  dir: string,
  name: string,
  subject: string,
  { ipAddresses, dnsNames }: { ipAddresses: string[]; dnsNames: string[] },
): Promise<{ cert: string; key: string }> {
  const names = [...ipAddresses.map((ip) => `IP:${ip}`), ...dnsNames.map((dns) => `DNS:${dns}`)];
  return signedCert(
    dir,
    name,
    subject,
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${names.join(',')}`,
      '',
    ].join('\n'),
  );
}

/**
 * Generates a throw-away CA, the API server's serving certificate (loopback and in-cluster names,
 * plus `ipAddresses`: by default the first address of the default service CIDR), a `system:masters`
 * client certificate and the service-account signing key pair.
 */
export async function generateControlPlanePki(
  dir: string,
  { ipAddresses = ['127.0.0.1', '10.0.0.1'] }: { ipAddresses?: string[] } = {},
): Promise<ControlPlanePki> {
  const caKey = await newKey(dir, 'ca.key');
  await openssl(
    dir,
    'req',
    '-x509',
    '-new',
    '-key',
    caKey,
    '-subj',
    '/CN=blockhost-local-ca',
    '-days',
    '30',
    '-out',
    'ca.crt',
  );
  const serving = await servingCert(dir, 'apiserver', '/CN=kube-apiserver', {
    ipAddresses,
    dnsNames: [
      'localhost',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
    ],
  });
  const admin = await clientCert(dir, 'admin', '/O=system:masters/CN=blockhost-admin');
  const serviceAccountKey = await newKey(dir, 'sa.key');
  await openssl(dir, 'pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
  return {
    caCert: join(dir, 'ca.crt'),
    caKey,
    servingCert: serving.cert,
    servingKey: serving.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    serviceAccountKey,
    serviceAccountPub: join(dir, 'sa.pub'),
  };
}
