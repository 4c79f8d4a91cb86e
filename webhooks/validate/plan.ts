import { HOST_CONFIG_NAME, type Plan } from '../../lib/api/v1alpha1/index.js';
import type { Lookups } from '../lookups.js';
import { backendImages, changed, noFindings, type Admission, type Findings } from './findings.js';

/**
 * A Plan's image must be one the host's backend lists. Before a HostConfig exists (the wizard may
 * write Plans first) there is nothing to check against; the HostConfig check then warns instead.
 */
export async function validatePlan(admission: Admission<Plan>, lookups: Lookups): Promise<Findings> {
  const findings = noFindings();
  const image = admission.object.spec.size?.image;
  if (image === undefined || !changed(admission, (p) => p.spec.size?.image)) return findings;
  const host = await lookups.hostConfig();
  if (!host) return findings;
  const type = host.spec.backend.type;
  const images = backendImages(host, type) ?? [];
  if (!images.includes(image)) {
    findings.errors.push({
      path: 'spec.size.image',
      message: `must be one of the images of HostConfig "${HOST_CONFIG_NAME}" spec.backend.${type}.images: ${images.join(', ') || '(none)'}`,
      reason: 'FieldValueNotFound',
    });
  }
  return findings;
}
