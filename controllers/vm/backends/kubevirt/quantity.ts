// Kubernetes resource quantities ("2Gi", "1500M", "1e9"), as KubeVirt specs carry memory and disk sizes.

const MIB = 2 ** 20;
const GIB = 2 ** 30;

const SUFFIX_FACTORS: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: MIB,
  Gi: GIB,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|([a-zA-Z]*))$/;

/** The value of a quantity in base units (bytes for memory and storage). */
export function parseQuantity(quantity: string | number): number {
  if (typeof quantity === 'number') return quantity;
  const match = QUANTITY.exec(quantity.trim());
  const factor = match?.[3] === undefined ? 1 : SUFFIX_FACTORS[match[3]];
  if (!match?.[1] || factor === undefined) throw new Error(`not a Kubernetes quantity: "${quantity}"`);
  return Number(match[1] + (match[2] ?? '')) * factor;
}

/** Whole MiB in a quantity, rounded down (a size never reads as larger than it is). */
export const quantityToMiB = (quantity: string | number): number => Math.floor(parseQuantity(quantity) / MIB);

/** Whole GiB in a quantity, rounded down. */
export const quantityToGiB = (quantity: string | number): number => Math.floor(parseQuantity(quantity) / GIB);

export const mib = (value: number): string => `${value}Mi`;
export const gib = (value: number): string => `${value}Gi`;
