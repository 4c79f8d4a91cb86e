/**
 * How the setup wizard hands an imported server key or a Proxmox API token to the controller
 * (docs/controller-state.md).
 * The web server may create Secrets in the release namespace but not read them, and nothing in the
 * controller's state namespace. So it creates a handover Secret with a generated name and records
 * that name and the key's address on the HostConfig it applies (after the operator confirmed the
 * summary). The controller moves the key to its state namespace only when the Secret it finds under
 * that name holds a key of that address, then deletes the handover Secret. A Secret anyone planted
 * under a fixed name is never used. The Proxmox token goes the same way, matched by its token id.
 */
export const SERVER_WALLET_HANDOVER = {
  /** HostConfig annotation: name of the handover Secret in the release namespace. */
  secretAnnotation: 'blockhost.io/server-wallet-handover',
  /** HostConfig annotation: address of the key in it, as the wizard derived it. */
  addressAnnotation: 'blockhost.io/server-wallet-handover-address',
  /** generateName of the handover Secret. */
  namePrefix: 'blockhost-server-wallet-handover-',
  /** Key of the private key in the handover Secret (as in the wallet Secret). */
  key: 'privateKey',
} as const;

export const PROXMOX_TOKEN_HANDOVER = {
  /** HostConfig annotation: name of the handover Secret (keys tokenId and secret). */
  secretAnnotation: 'blockhost.io/proxmox-token-handover',
  /** HostConfig annotation: the token id (user@realm!name) the Secret must hold. */
  tokenIdAnnotation: 'blockhost.io/proxmox-token-handover-id',
  namePrefix: 'blockhost-proxmox-token-handover-',
} as const;
