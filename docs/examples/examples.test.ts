import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { hostConfigSchema, planSchema } from '../../lib/api/v1alpha1/index.js';

const load = (file: string): unknown => parse(readFileSync(new URL(file, import.meta.url), 'utf8'));

describe('documented example manifests', () => {
  it('hostconfig.yaml is a valid HostConfig', () => {
    expect(hostConfigSchema.safeParse(load('./hostconfig.yaml')).error).toBeUndefined();
  });
  it('plan.yaml is a valid Plan', () => {
    expect(planSchema.safeParse(load('./plan.yaml')).error).toBeUndefined();
  });
});
