import { z } from 'zod';
import { chainId, conditions, imageName, observedGeneration, positiveUint256, vmSize } from './common.js';
import { defineKind } from './kind.js';

export const PLAN_CONDITIONS = ['Synced', 'Ready'] as const;

export const planSpecSchema = z
  .object({
    displayName: z
      .string()
      .min(1)
      .max(64)
      .describe('Plan name stored on-chain and shown on the signup page, e.g. "Basic VM".'),
    priceUsdCentsPerDay: z
      .int()
      .min(1)
      .max(100_000_000)
      .describe('Price in US cents per day, as the contract charges it (50 = $0.50/day).'),
    active: z
      .boolean()
      .default(true)
      .describe('Whether the plan can be bought; existing subscriptions are unaffected.'),
    size: vmSize
      .extend({
        image: imageName
          .optional()
          .describe("Base image name from the backend's image list; absent: the first image listed."),
      })
      .prefault({})
      .describe('The VM a subscription to this plan gets.'),
  })
  .describe('A plan for sale; the plan controller makes the on-chain plan match.');

export const planStatusSchema = z
  .object({
    onChainPlanId: positiveUint256
      .optional()
      .describe('Plan id in the subscriptions contract, once created.'),
    chainId: chainId.optional().describe('Chain the plan was created on.'),
    syncedName: z.string().max(64).optional().describe('Name last written on-chain.'),
    syncedPriceUsdCentsPerDay: z.int().min(1).optional().describe('Price last written on-chain.'),
    syncedActive: z.boolean().optional().describe('Active flag last written on-chain.'),
    conditions: conditions(PLAN_CONDITIONS).optional(),
    observedGeneration: observedGeneration.optional(),
  })
  .describe('The on-chain side of the plan.');

export const planKind = defineKind(
  {
    kind: 'Plan',
    plural: 'plans',
    singular: 'plan',
    shortNames: ['bhplan'],
    scope: 'Cluster',
    description: 'A VM plan sold on-chain: name, price per day and VM size.',
    printerColumns: [
      { name: 'Name', type: 'string', jsonPath: '.spec.displayName', description: 'On-chain plan name.' },
      {
        name: 'Cents/Day',
        type: 'integer',
        jsonPath: '.spec.priceUsdCentsPerDay',
        description: 'Price in US cents per day.',
      },
      {
        name: 'Active',
        type: 'boolean',
        jsonPath: '.spec.active',
        description: 'Whether the plan can be bought.',
      },
      {
        name: 'On-chain ID',
        type: 'string',
        jsonPath: '.status.onChainPlanId',
        description: 'On-chain plan id.',
      },
    ],
  },
  planSpecSchema,
  planStatusSchema,
);

export const planSchema = planKind.schema;
export type PlanSpec = z.infer<typeof planSpecSchema>;
export type PlanStatus = z.infer<typeof planStatusSchema>;
export type Plan = z.infer<typeof planSchema>;
