/**
 * Seeded generators of malformed input for the fuzz tests: JSON values of every shape, mutations
 * of a valid document, and raw bodies (bad UTF-8, truncated or deeply nested JSON, forms, wrong
 * content types). Everything comes from one PRNG, so a seed replays a run exactly.
 */
import { seededRandom } from '../harness/chain/rpc-fault-proxy.js';

/**
 * Cases per endpoint: BLOCKHOST_FUZZ_CASES when set (the full run: 10,000 each), else the suite's
 * default, sized so both fuzz files stay under a minute on 2 CPUs.
 */
export function fuzzCases(suiteDefault: number): number {
  const fromEnv = process.env.BLOCKHOST_FUZZ_CASES;
  return fromEnv ? Number(fromEnv) : suiteDefault;
}

/** The seed from BLOCKHOST_FUZZ_SEED (to replay a failure), else a fresh one. */
export function fuzzSeed(): number {
  const fromEnv = process.env.BLOCKHOST_FUZZ_SEED;
  return fromEnv ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
}

export class Fuzz {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = seededRandom(seed);
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Strings that break parsers, validators and templates. */
  string(): string {
    return this.pick([
      () => '',
      () => ' ',
      () => 'x'.repeat(this.pick([65, 257, 4097, 70_000])),
      () => '\u0000\u0001\u001f\u007f',
      () => '\ud800',
      () => '\udfff\ud800x',
      () => '👾'.repeat(this.int(50) + 1),
      () => '<script>alert(1)</script>',
      () => '"; DROP TABLE x; --',
      () => '../../../../etc/passwd',
      () => '%00%ff%zz',
      () => '__proto__',
      () => 'constructor',
      () => '0x',
      () => `0x${'g'.repeat(40)}`,
      () => `0x${'f'.repeat(this.pick([39, 41, 130, 131]))}`,
      () => '1e309',
      () => '-1',
      () => 'NaN',
      () => 'true',
      () => 'null',
      () => 'https://user:pass@example.invalid:99999/x',
      () => 'javascript:alert(1)',
      () => '${7*7}{{7*7}}',
      () => String.fromCharCode(...Array.from({ length: 16 }, () => this.int(0xffff))),
    ])();
  }

  number(): number {
    return this.pick([
      0,
      -0,
      -1,
      1.5,
      2 ** 53,
      2 ** 53 + 2,
      -(2 ** 63),
      1e308,
      Number.MIN_VALUE,
      Number.MAX_SAFE_INTEGER,
      this.int(1_000_000) - 500_000,
    ]);
  }

  /** A random JSON value, nested up to `depth`. */
  json(depth = 3): unknown {
    const kind = this.int(depth > 0 ? 7 : 5);
    switch (kind) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.number();
      case 3:
      case 4:
        return this.string();
      case 5:
        return Array.from({ length: this.int(4) }, () => this.json(depth - 1));
      default: {
        const object: Record<string, unknown> = {};
        for (let i = this.int(4); i > 0; i--)
          object[this.chance(0.2) ? this.string() : `k${i}`] = this.json(depth - 1);
        return object;
      }
    }
  }

  /** A copy of `valid` with one to three nodes replaced, removed, added or wrapped. */
  mutate(valid: unknown): unknown {
    let doc = structuredClone(valid);
    for (let n = this.int(3) + 1; n > 0; n--) doc = this.mutateOnce(doc);
    return doc;
  }

  private mutateOnce(doc: unknown): unknown {
    const paths = allPaths(doc);
    const path = this.pick(paths);
    const action = this.int(5);
    if (path.length === 0 || action === 0) return this.json(2);
    const parent = getAt(doc, path.slice(0, -1)) as Record<string, unknown> | unknown[];
    const key = path[path.length - 1]!;
    const current = (parent as Record<string, unknown>)[key];
    if (action === 1 && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key];
    else if (action === 2) (parent as Record<string, unknown>)[key] = [current];
    else if (action === 3 && !Array.isArray(parent))
      (parent as Record<string, unknown>)[this.string()] = this.json(1);
    else (parent as Record<string, unknown>)[key] = this.json(2);
    return doc;
  }
}

/** Percent-encodes any string byte by byte (encodeURIComponent throws on lone surrogates). */
export function percentEncode(text: string, maxBytes = 2000): string {
  const bytes = Buffer.from(text, 'utf8').subarray(0, maxBytes);
  return [...bytes]
    .map((b) =>
      /[A-Za-z0-9._~-]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, '0')}`,
    )
    .join('');
}

type Path = (string | number)[];

function allPaths(doc: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (doc !== null && typeof doc === 'object')
    for (const [key, value] of Object.entries(doc))
      allPaths(value, [...prefix, Array.isArray(doc) ? Number(key) : key], out);
  return out;
}

function getAt(doc: unknown, path: Path): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], doc);
}

/** One HTTP body as it goes on the wire. */
export interface RawBody {
  contentType?: string;
  payload: string | Buffer;
  /** What the case is, for the failure message. */
  shape: string;
}

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const nestedObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

/** A malformed body for an endpoint whose valid body is `valid` (undefined: it takes none). */
export function malformedBody(fuzz: Fuzz, valid: unknown): RawBody {
  const json = 'application/json';
  switch (fuzz.int(12)) {
    case 0:
    case 1:
    case 2:
    case 3:
      return { contentType: json, payload: JSON.stringify(fuzz.mutate(valid ?? {})), shape: 'mutated JSON' };
    case 4:
      return { contentType: json, payload: JSON.stringify(fuzz.json(4)), shape: 'random JSON' };
    case 5: {
      const text = JSON.stringify(valid ?? { a: 1 });
      return { contentType: json, payload: text.slice(0, fuzz.int(text.length)), shape: 'truncated JSON' };
    }
    case 6:
      return {
        contentType: json,
        payload: fuzz.chance(0.5)
          ? nested(fuzz.pick([1000, 20_000]))
          : nestedObject(fuzz.pick([1000, 10_000])),
        shape: 'deep nesting',
      };
    case 7:
      return {
        contentType: fuzz.pick([json, `${json}; charset=utf-8`]),
        payload: Buffer.concat([
          Buffer.from('{"code":"'),
          Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]),
          Buffer.from('"}'),
        ]),
        shape: 'bad UTF-8',
      };
    case 8:
      return {
        contentType: 'application/x-www-form-urlencoded',
        payload: fuzz.pick(['code=ABCDEF', 'a=1&a=2&__proto__[x]=1', '%zz=%', 'confirm=true']),
        shape: 'form body',
      };
    case 9:
      return {
        contentType: fuzz.pick([
          'text/plain',
          'multipart/form-data; boundary=x',
          'application/xml',
          'application/jsonx',
          '',
        ]),
        payload: JSON.stringify(valid ?? {}),
        shape: 'wrong content type',
      };
    case 10:
      return {
        contentType: json,
        payload: fuzz.pick([
          '{"__proto__":{"admin":true}}',
          '{"constructor":{"prototype":{"x":1}}}',
          'null',
          '""',
          '[]',
          '0',
          'true',
        ]),
        shape: 'hostile JSON',
      };
    default:
      return {
        contentType: json,
        payload: `{"pad":"${'x'.repeat(fuzz.pick([70_000, 200_000]))}"}`,
        shape: 'too large',
      };
  }
}
