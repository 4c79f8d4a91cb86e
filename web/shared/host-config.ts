import { blockhostTypes, HOST_CONFIG_NAME, type HostConfig } from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';

/** The singleton HostConfig, or undefined before the wizard applied one. */
export async function readHostConfig(kube: KubeClient): Promise<HostConfig | undefined> {
  try {
    return await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
