import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { url } from '../../lib/api/v1alpha1/common.js';
import { blockhostTypes, HOST_CONFIG_NAME } from '../../lib/api/v1alpha1/index.js';
import { ConfigBackupError, createBackup, openBackup } from '../../lib/config-backup/index.js';
import {
  addressesEqual,
  addressFromPrivateKey,
  isCryptoError,
  recoverAddress,
} from '../../lib/crypto/index.js';
import type { Face, FaceContext } from '../face.js';
import { HttpError } from '../http/errors.js';
import type { Session } from '../http/sessions.js';
import { validate } from '../http/validation.js';
import { applyConfiguration } from './apply.js';
import { assemble, stepsFromBackup } from './assemble.js';
import { balanceWei, formatEth } from './checks.js';
import { readHostFacts } from './host-facts.js';
import {
  closedPage,
  loginPage,
  nextPage,
  pagePath,
  progressPage,
  stepPage,
  summaryPage,
  titleOf,
  walletPage,
} from './pages.js';
import { readHostConfig } from '../shared/host-config.js';
import { isReady, readProgress, RETRY_SETUP_ANNOTATION } from './progress.js';
import type { WizardSession } from './session.js';
import { SetupCode } from './setup-code.js';
import { verifyStep } from './step-checks.js';
import {
  completeStep,
  isStepName,
  loginSchema,
  serverKeySchema,
  stepSchemas,
  walletStepSchema,
  type StepName,
} from './steps.js';
import { summaryRows } from './summary.js';

/** The wizard's session: as long as a code is valid, ended early by an hour without use. */
const SESSION_ABSOLUTE_MS = 4 * 60 * 60_000;
const SESSION_IDLE_MS = 60 * 60_000;

const stepParams = z.object({
  step: z.string().refine(isStepName, 'no such step'),
});

const applyBody = z.object({ confirm: z.literal(true, 'confirm the summary first') });
const importBody = z.object({ backup: z.unknown() });
const serverKeyBody = serverKeySchema.extend({ rpcUrl: url('https?').optional() });

function backupError(error: unknown): never {
  if (error instanceof ConfigBackupError) throw new HttpError(400, error.message, error.fields);
  throw error;
}

async function register(app: FastifyInstance, context: FaceContext): Promise<void> {
  const { kube, namespace, prefix, log } = context;
  const sessions = context.sessions<WizardSession>({
    cookieName: 'bh_setup',
    absoluteTtlMs: SESSION_ABSOLUTE_MS,
    idleTtlMs: SESSION_IDLE_MS,
  });
  const setupCode = new SetupCode(kube, namespace, context.now);
  const dashboard = context.prefixes.admin;
  const guard = { preHandler: sessions.requireSession };
  const session = (request: FastifyRequest) => sessions.sessionOf(request).data;

  // Served only until setup is complete: afterwards every route, login included, answers 410.
  app.addHook('onRequest', async (request, reply) => {
    if (!isReady(await readHostConfig(kube))) return;
    reply.code(410);
    if (request.url.startsWith(`${prefix}/api/`))
      return reply.send({
        error: 'setup is complete; the setup wizard is closed: use the admin dashboard',
        dashboard,
      });
    return context.sendPage(reply, {
      title: 'Setup complete — BlockHost',
      heading: 'Setup',
      scripts: [],
      body: closedPage(dashboard),
    });
  });

  /** The signed-in session for a page, or a redirect to the login page. */
  const pageSession = (request: FastifyRequest, reply: FastifyReply): Session<WizardSession> | undefined => {
    const current = sessions.current(request);
    if (!current) void reply.redirect(`${prefix}/`, 303);
    return current;
  };
  const sendPage = (
    reply: FastifyReply,
    current: Session<WizardSession>,
    title: string,
    page: string,
    body: Parameters<FaceContext['sendPage']>[1]['body'],
  ) =>
    context.sendPage(reply, {
      title: `${title} — BlockHost setup`,
      heading: 'Setup',
      scripts: ['wizard'],
      meta: { csrf: current.csrfToken, page },
      body,
    });

  app.get('/', async (request, reply) => {
    if (sessions.current(request)) return reply.redirect(`${prefix}/wallet`, 303);
    return context.sendPage(reply, {
      title: 'Sign in — BlockHost setup',
      heading: 'Setup',
      scripts: ['wizard'],
      meta: { page: 'login' },
      body: loginPage(),
    });
  });

  app.post('/api/login', { config: { rateLimit: context.loginRateLimit } }, async (request, reply) => {
    const { code } = validate(loginSchema, request.body);
    const { issuedAt } = await setupCode.redeem(code);
    const created = sessions.create(request, reply, { codeIssuedAt: issuedAt, steps: {}, created: {} });
    request.log.info('setup wizard login');
    return { csrfToken: created.csrfToken, next: `${prefix}/wallet` };
  });

  app.post('/api/logout', guard, async (request, reply) => {
    sessions.destroy(request, reply);
    return { done: true };
  });

  app.get('/wallet', async (request, reply) => {
    const current = pageSession(request, reply);
    if (!current) return reply;
    return sendPage(reply, current, titleOf('wallet'), 'wallet', walletPage(prefix, current.data.wallet));
  });

  app.post('/api/wallet', guard, async (request) => {
    const body = validate(walletStepSchema, request.body);
    let signer: string;
    try {
      signer = recoverAddress(body.publicSecret, body.signature);
    } catch (error) {
      if (isCryptoError(error))
        throw new HttpError(400, 'the signature is not valid', { signature: error.message });
      throw error;
    }
    if (!addressesEqual(signer, body.address))
      throw new HttpError(400, 'the signature was not made by this address', {
        signature: `signed by ${signer}, not by ${body.address}: sign "${body.publicSecret}" with the admin wallet`,
      });
    session(request).wallet = { address: signer, signature: body.signature, publicSecret: body.publicSecret };
    request.log.info({ admin: signer }, 'admin wallet signed');
    return { address: signer, next: `${prefix}${pagePath('network')}` };
  });

  app.get('/step/:step', async (request, reply) => {
    const { step } = validate(stepParams, request.params, 'params') as { step: StepName };
    const current = pageSession(request, reply);
    if (!current) return reply;
    const data = current.data;
    const facts =
      step === 'network' || step === 'storage' ? await readHostFacts(kube, namespace, log) : undefined;
    return sendPage(
      reply,
      current,
      titleOf(step),
      'step',
      stepPage(prefix, step, {
        values: data.steps[step] ?? {},
        facts,
        ...(data.serverKey && { serverAddress: data.serverKey.address }),
        hasProxmoxSecret: data.proxmoxSecret !== undefined,
      }),
    );
  });

  app.post('/api/steps/:step', guard, async (request) => {
    const { step } = validate(stepParams, request.params, 'params') as { step: StepName };
    const data = session(request);
    const value = validate(stepSchemas[step], completeStep(step, request.body));
    const { notice } = await verifyStep(step, value, data, { kube, namespace, log });
    (data.steps as Record<string, unknown>)[step] = value;
    return { next: `${prefix}${pagePath(nextPage(step))}`, ...(notice && { notice }) };
  });

  app.post('/api/server-wallet', guard, async (request) => {
    const { privateKey, rpcUrl } = validate(serverKeyBody, request.body);
    let address: string;
    try {
      address = addressFromPrivateKey(privateKey);
    } catch (error) {
      if (isCryptoError(error))
        throw new HttpError(400, 'not a usable private key', { privateKey: error.message });
      throw error;
    }
    const normalized = privateKey.startsWith('0x')
      ? privateKey.toLowerCase()
      : `0x${privateKey.toLowerCase()}`;
    session(request).serverKey = { privateKey: normalized, address };
    request.log.info({ address }, 'server wallet key entered');
    const balance = rpcUrl ? await balanceWei(rpcUrl, address).then(formatEth, () => undefined) : undefined;
    return { address, ...(balance !== undefined && { balanceEth: balance }) };
  });

  app.get('/summary', async (request, reply) => {
    const current = pageSession(request, reply);
    if (!current) return reply;
    const result = assemble(current.data);
    const problems = result.ok ? { missing: [], fields: {} } : result;
    const applied = (await readHostConfig(kube)) !== undefined;
    return sendPage(
      reply,
      current,
      'Summary',
      'summary',
      summaryPage(prefix, summaryRows(current.data), problems, applied),
    );
  });

  app.post('/api/apply', guard, async (request) => {
    validate(applyBody, request.body);
    const data = session(request);
    const result = assemble(data);
    if (!result.ok)
      throw new HttpError(
        400,
        result.missing.length
          ? `still to fill in: ${result.missing.join(', ')}`
          : 'the configuration has errors',
        result.fields,
      );
    await applyConfiguration(kube, namespace, log, data, result.value);
    return { next: `${prefix}/progress` };
  });

  app.get('/progress', async (request, reply) => {
    const current = pageSession(request, reply);
    if (!current) return reply;
    return sendPage(reply, current, 'Progress', 'progress', progressPage(prefix, dashboard));
  });

  app.get('/api/progress', guard, async () => readProgress(kube));

  app.post('/api/retry', guard, async (request) => {
    if (!(await readHostConfig(kube))) throw new HttpError(409, 'nothing has been applied yet');
    const requestedAt = new Date(context.now()).toISOString();
    await kube.patch(
      blockhostTypes.hostConfig,
      HOST_CONFIG_NAME,
      undefined,
      { metadata: { annotations: { [RETRY_SETUP_ANNOTATION]: requestedAt } } },
      'merge',
    );
    request.log.info('setup retry requested');
    return { requestedAt };
  });

  app.post('/api/export', guard, async (request) => {
    const data = session(request);
    const result = assemble(data);
    if (!result.ok)
      throw new HttpError(409, 'finish every step before exporting the configuration', result.fields);
    const backup = (() => {
      try {
        return createBackup(
          { hostConfig: result.value.spec, plans: result.value.plans },
          {
            wallet: data.wallet!.address,
            signature: data.wallet!.signature,
            publicSecret: data.wallet!.publicSecret,
          },
          new Date(context.now()),
        );
      } catch (error) {
        return backupError(error);
      }
    })();
    return { filename: `blockhost-config-${backup.createdAt.slice(0, 10)}.json`, backup };
  });

  app.post('/api/import', guard, async (request) => {
    const { backup } = validate(importBody, request.body);
    const data = session(request);
    if (!data.wallet)
      throw new HttpError(
        409,
        'sign with the admin wallet first: the backup is encrypted with its signature',
      );
    let payload;
    try {
      payload = openBackup(backup, data.wallet.signature);
    } catch (error) {
      backupError(error);
    }
    data.steps = stepsFromBackup(payload);
    request.log.info('configuration backup imported into the session');
    return { next: `${prefix}/summary`, plans: payload.plans.length };
  });
}

/** The setup wizard (default /setup): one-time code, admin wallet, the steps, apply, progress. */
export const wizardFace: Face = {
  name: 'wizard',
  prefix: (prefixes) => prefixes.wizard,
  entries: { wizard: 'wizard/page/main.ts' },
  register,
};
