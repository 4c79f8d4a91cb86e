import { randomBytes } from 'node:crypto';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { getAddress } from 'viem';
import { z } from 'zod';
import { recoverAddress } from '../../lib/crypto/eip191.js';
import { isAlreadyExists, isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import {
  formatWalletRequest,
  parseWalletRequest,
  WALLET_REQUEST_ANNOTATIONS as A,
  WALLET_REQUEST_LABEL,
  WALLET_REQUEST_MAX_TTL_MS,
  walletRequestFields,
  walletRequestName,
  type WalletRequest,
  type WalletRequestPhase,
} from '../../lib/wallet-request/message.js';
import type { FaceContext } from '../face.js';
import { HttpError } from '../http/errors.js';
import type { SessionStore } from '../http/sessions.js';
import { validate } from '../http/validation.js';
import type { AdminAudit } from './audit.js';
import { adminWallet, type AdminSession } from './auth.js';
import { adminChainOf, machineName, requireHostConfig } from './host.js';

interface RequestConfigMap extends KubeObject {
  data?: { message?: string; signature?: string };
}

/** A row of the recent-requests list, and the status the page polls. */
export interface WalletRequestRow {
  name: string;
  action: string;
  token: string;
  amount: string;
  to: string;
  expires: string;
  phase: WalletRequestPhase | 'Submitted';
  reason?: string;
  txHash?: string;
  createdAt?: string;
}

const submitBody = z.strictObject({
  message: z.string().min(1).max(2000),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'must be a 65-byte signature: 0x and 130 hex digits'),
});
const nameParams = z.strictObject({
  name: z.string().regex(/^blockhost-wallet-request-[0-9a-f]{64}$/, 'must be a wallet request name'),
});

const invalid = (field: string, message: string) =>
  new HttpError(400, 'invalid request body: 1 field to fix', { [field]: message });

function rowOf(cm: RequestConfigMap): WalletRequestRow | undefined {
  let request: WalletRequest;
  try {
    request = parseWalletRequest(cm.data?.message ?? '');
  } catch {
    return undefined;
  }
  const notes = cm.metadata.annotations ?? {};
  return {
    name: cm.metadata.name!,
    action: request.action,
    token: request.token,
    amount: request.amount,
    to: request.to,
    expires: request.expires,
    phase: (notes[A.phase] as WalletRequestPhase | undefined) ?? 'Submitted',
    ...(notes[A.reason] && { reason: notes[A.reason] }),
    ...(notes[A.txHash] && { txHash: notes[A.txHash] }),
    ...(cm.metadata.creationTimestamp && { createdAt: cm.metadata.creationTimestamp }),
  };
}

/**
 * Withdraw and send: the dashboard drafts the canonical message, the admin signs it in the wallet,
 * and this server stores message and signature as a labelled ConfigMap. It never executes anything
 * (it has no key): the controller manager re-checks everything and sends the transaction once.
 */
export function registerWalletRequestRoutes(
  app: FastifyInstance,
  context: FaceContext,
  sessions: SessionStore<AdminSession>,
  requireAdmin: preHandlerAsyncHookHandler,
  audit: AdminAudit,
): void {
  const { kube, namespace } = context;

  /** The request as this host would draft it now, from the HostConfig (503 before setup). */
  const draftOf = async () => {
    const host = await requireHostConfig(kube);
    const chain = adminChainOf(host);
    if (!chain.subscriptions) throw new HttpError(503, 'The subscriptions contract is not deployed yet.');
    return {
      host: machineName(host),
      chain: chain.chainId,
      contract: getAddress(chain.subscriptions),
    };
  };

  app.post('/api/wallet/requests/draft', { preHandler: requireAdmin }, async (request) => {
    const fields = validate(walletRequestFields, request.body);
    const draft: WalletRequest = {
      ...(await draftOf()),
      ...fields,
      nonce: randomBytes(16).toString('hex'),
      expires: new Date(context.now() + WALLET_REQUEST_MAX_TTL_MS).toISOString(),
    };
    const message = formatWalletRequest(draft);
    return { message, name: walletRequestName(message), expires: draft.expires };
  });

  app.post('/api/wallet/requests', { preHandler: requireAdmin }, async (request, reply) => {
    const { message, signature } = validate(submitBody, request.body);
    const wallet = adminWallet(sessions, request);
    let parsed: WalletRequest;
    try {
      parsed = parseWalletRequest(message);
    } catch (error) {
      throw invalid('message', (error as Error).message);
    }
    const expected = await draftOf();
    if (parsed.host !== expected.host)
      throw invalid('message', `the request names host ${parsed.host}, not ${expected.host}`);
    if (parsed.chain !== expected.chain || parsed.contract !== expected.contract)
      throw invalid('message', `the request is for another chain or contract than this host's`);
    const expires = Date.parse(parsed.expires);
    if (expires <= context.now())
      throw invalid('message', `the request expired at ${parsed.expires}; draft a new one`);
    if (expires > context.now() + WALLET_REQUEST_MAX_TTL_MS + 5_000)
      throw invalid('message', 'the request must expire within 10 minutes');
    let signer: string;
    try {
      signer = recoverAddress(message, signature);
    } catch (error) {
      throw invalid('signature', `not a valid signature: ${(error as Error).message}`);
    }
    if (signer.toLowerCase() !== wallet.toLowerCase())
      throw invalid('signature', `signed by ${signer}, not by the signed-in admin ${wallet}`);

    const name = walletRequestName(message);
    let created: RequestConfigMap;
    try {
      created = await kube.create<RequestConfigMap>(coreTypes.configMap, {
        metadata: { name, namespace, labels: { [WALLET_REQUEST_LABEL]: 'true' } },
        data: { message, signature },
      } as RequestConfigMap);
    } catch (error) {
      // The name is the message hash: the same signed request stored again is the same object.
      if (isAlreadyExists(error))
        throw new HttpError(
          409,
          'This signed request was already submitted; a request runs once. Draft a new one.',
        );
      throw error;
    }
    await audit.record({
      wallet,
      action: parsed.action === 'withdraw' ? 'Withdraw' : 'Send',
      reason: parsed.action === 'withdraw' ? 'AdminWithdrawRequested' : 'AdminSendRequested',
      object: created,
      type: coreTypes.configMap,
      note:
        parsed.action === 'withdraw'
          ? `withdraw of all ${parsed.token} to ${parsed.to} requested`
          : `send of ${parsed.amount} base units of ${parsed.token} to ${parsed.to} requested`,
    });
    reply.code(201);
    return rowOf(created);
  });

  app.get('/api/wallet/requests', { preHandler: requireAdmin }, async () => {
    const list = await kube.list<RequestConfigMap>(coreTypes.configMap, {
      namespace,
      labelSelector: `${WALLET_REQUEST_LABEL}=true`,
    });
    const rows = list.items.map(rowOf).filter((row): row is WalletRequestRow => row !== undefined);
    rows.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || a.name.localeCompare(b.name));
    return { requests: rows.slice(0, 20) };
  });

  app.get('/api/wallet/requests/:name', { preHandler: requireAdmin }, async (request) => {
    const { name } = validate(nameParams, request.params, 'params');
    try {
      const row = rowOf(await kube.get<RequestConfigMap>(coreTypes.configMap, name, namespace));
      if (row) return row;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    throw new HttpError(404, `There is no wallet request named ${name}.`);
  });
}
