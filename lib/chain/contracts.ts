import type { HostConfig } from '../api/v1alpha1/index.js';

export interface ContractsInUse {
  subscriptions?: string;
  nft?: string;
  startBlock?: number;
}

/**
 * The contracts a host works with: those setup recorded in status (deployed or adopted), else the
 * existing ones the operator named in spec. The controllers and the signup page must agree on this.
 */
export function contractsInUse(host: HostConfig): ContractsInUse | undefined {
  return host.status?.contracts?.subscriptions ? host.status.contracts : host.spec.chain.contracts;
}
