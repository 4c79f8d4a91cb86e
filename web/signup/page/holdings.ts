// What "Your subscriptions" lists: the access NFTs the wallet holds now, however it got them, and
// the subscriptions it bought whose NFT is not minted yet. Pure, so it is tested in Node.

/** One row: a held NFT (with its subscription when it has one), or a subscription still being set up. */
export type Holding =
  | { tokenId: bigint; subscriptionId: bigint }
  | { tokenId: bigint; subscriptionId?: undefined }
  | { tokenId?: undefined; subscriptionId: bigint };

/**
 * Held NFTs with a subscription and the wallet's bought-but-unminted subscriptions, newest
 * subscription first; then NFTs of no subscription (the admin credential, hand-minted ones) by
 * token id. A subscription this wallet bought and whose NFT it gave away is in neither list, so it
 * is not shown: the NFT's holder is the one who logs in.
 */
export function holdingsOf(
  held: readonly { tokenId: bigint; subscriptionId?: bigint }[],
  boughtUnminted: readonly bigint[],
): Holding[] {
  const subscriptions: { subscriptionId: bigint; tokenId?: bigint }[] = [
    ...held.flatMap(({ tokenId, subscriptionId }) =>
      subscriptionId === undefined ? [] : [{ tokenId, subscriptionId }],
    ),
    ...boughtUnminted.map((subscriptionId) => ({ subscriptionId })),
  ];
  subscriptions.sort((a, b) => (a.subscriptionId < b.subscriptionId ? 1 : -1));
  const credentials = held
    .filter((h) => h.subscriptionId === undefined)
    .map(({ tokenId }) => ({ tokenId }))
    .sort((a, b) => (a.tokenId < b.tokenId ? -1 : 1));
  return [...subscriptions, ...credentials] as Holding[];
}
