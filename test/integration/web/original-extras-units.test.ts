// The pure parts of the original's customer and admin extras: which rows "Your subscriptions"
// shows (NFTs held now, not only bought), the token → subscription index the server answers from,
// the offline decrypt's form parsing, the dashboard's host name rule and the cached read behind
// the public endpoints.
import { describe, expect, it } from '@jest/globals';
import { exampleSubscription } from '../../../lib/api/v1alpha1/examples.js';
import type { Subscription } from '../../../lib/api/v1alpha1/index.js';
import { HOSTNAME_RULE, hostnameProblem, hostnameSchema } from '../../../web/admin/hostname.js';
import { CachedRead } from '../../../web/shared/cached-read.js';
import { subscriptionsByToken } from '../../../web/signup/credentials.js';
import { parsePastedSignature, parseTokenId } from '../../../web/signup/page/format.js';
import { holdingsOf } from '../../../web/signup/page/holdings.js';

describe('holdingsOf', () => {
  it('lists held NFTs with their subscriptions and bought-but-unminted ones, newest first, then bare credentials', () => {
    expect(
      holdingsOf(
        [
          { tokenId: 0n },
          { tokenId: 4n, subscriptionId: 3n },
          { tokenId: 9n, subscriptionId: 7n },
          { tokenId: 2n },
        ],
        [5n, 8n],
      ),
    ).toEqual([
      { subscriptionId: 8n },
      { tokenId: 9n, subscriptionId: 7n },
      { subscriptionId: 5n },
      { tokenId: 4n, subscriptionId: 3n },
      { tokenId: 0n },
      { tokenId: 2n },
    ]);
  });

  it('shows a received NFT, and nothing for a wallet that bought and gave its NFT away', () => {
    // Receiver: holds token 4 of subscription 3, bought nothing.
    expect(holdingsOf([{ tokenId: 4n, subscriptionId: 3n }], [])).toEqual([
      { tokenId: 4n, subscriptionId: 3n },
    ]);
    // Buyer after the transfer: holds nothing; subscription 3 is minted, so it is not "unminted".
    expect(holdingsOf([], [])).toEqual([]);
  });
});

describe('subscriptionsByToken', () => {
  const subscription = (id: string, change: (s: Subscription) => void): Subscription => {
    const s = structuredClone(exampleSubscription) as Subscription;
    s.spec.subscriptionId = id;
    s.spec.credential = undefined;
    s.status = {};
    change(s);
    return s;
  };

  it('links tokens from the confirmed event, else the mint receipt; skips reorged and unminted ones', () => {
    const links = subscriptionsByToken([
      subscription('1', (s) => (s.spec.credential = { tokenId: '4' })),
      subscription('2', (s) => (s.status = { nft: { tokenId: '5' } })),
      // The chain watcher's confirmed record wins over the receipt.
      subscription('3', (s) => {
        s.spec.credential = { tokenId: '6' };
        s.status = { nft: { tokenId: '60' } };
      }),
      subscription('4', (s) => {
        s.spec.credential = { tokenId: '7' };
        s.spec.removedByReorg = true;
      }),
      subscription('5', () => undefined),
    ]);
    expect(Object.fromEntries(links)).toEqual({ '4': '1', '5': '2', '6': '3' });
  });
});

describe('offline decrypt form', () => {
  it('parses NFT numbers from 0', () => {
    expect(parseTokenId('0')).toEqual({ tokenId: 0n });
    expect(parseTokenId(' #12 ')).toEqual({ tokenId: 12n });
    for (const bad of ['', 'abc', '-1', '01', '1.5', '9'.repeat(78)])
      expect(parseTokenId(bad)).toEqual({ error: 'Enter the NFT number, e.g. 4.' });
  });

  it('takes a pasted signature with or without 0x, wrapped over lines, and says what is wrong otherwise', () => {
    const hex = 'Ab'.repeat(65);
    expect(parsePastedSignature(`0x${hex}`)).toEqual({ signature: `0x${hex.toLowerCase()}` });
    expect(parsePastedSignature(`  ${hex.slice(0, 60)}\n${hex.slice(60)}  `)).toEqual({
      signature: `0x${hex.toLowerCase()}`,
    });
    expect(parsePastedSignature(`0x${'ab'.repeat(64)}`)).toEqual({
      error: 'A signature is 130 hex digits (65 bytes), usually starting with 0x; this has 128 digits.',
    });
    expect(parsePastedSignature(`0x${'zz'.repeat(65)}`)).toEqual({
      error:
        'A signature is 130 hex digits (65 bytes), usually starting with 0x; this has characters that are not hex digits.',
    });
  });
});

describe('dashboard host name', () => {
  it('accepts RFC 1123 names, stored trimmed and in lower case', () => {
    expect(hostnameSchema.parse(' VMs.Example.COM ')).toBe('vms.example.com');
    for (const good of [
      'vms.example.com',
      'localhost',
      'a-b.c1.example',
      'xn--bcher-kva.example',
      '203.0.113.5',
    ])
      expect(hostnameProblem(good)).toBeUndefined();
  });

  it('refuses what is not a host name, with the rule', () => {
    expect(hostnameProblem('')).toBe('enter the host name, e.g. vms.example.com');
    expect(hostnameProblem('vms.example.com.')).toBe('leave out the final dot');
    for (const bad of [
      'a..b',
      '-a.example',
      'a-.example',
      'a_b.example',
      'a b',
      `${'x'.repeat(64)}.example`,
      'https://vms.example.com',
      `${'a'.repeat(63)}.`.repeat(4) + 'com',
    ])
      expect({ bad, problem: hostnameProblem(bad) }).toEqual({ bad, problem: HOSTNAME_RULE });
    expect(hostnameSchema.safeParse(42).error?.issues[0]?.message).toBe(
      'must be a host name, e.g. vms.example.com',
    );
  });
});

describe('CachedRead', () => {
  it('reads once per interval, one read at a time', async () => {
    let now = 0;
    let reads = 0;
    const cached = new CachedRead(
      async () => ++reads,
      () => now,
      2_000,
    );
    expect(await Promise.all([cached.get(), cached.get(), cached.get()])).toEqual([1, 1, 1]);
    now = 1_999;
    expect(await cached.get()).toBe(1);
    now = 2_000;
    expect(await cached.get()).toBe(2);
  });

  it('keeps no failed read: the next call tries again', async () => {
    let fail = true;
    const cached = new CachedRead(
      async () => {
        if (fail) throw new Error('API server down');
        return 'ok';
      },
      () => 0,
      2_000,
    );
    await expect(cached.get()).rejects.toThrow('API server down');
    fail = false;
    await expect(cached.get()).resolves.toBe('ok');
  });
});
