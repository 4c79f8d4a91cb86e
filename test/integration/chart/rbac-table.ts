// The chart's RBAC as documented (the per-component tables in charts/blockhost/README.md) and as
// granted (`kubectl auth can-i --list`), both flattened to one line per resource, name and verb so
// that two rules kubectl prints merged, or a table row naming several resources, compare equal.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chartDir } from './helm.js';

/** Where a README row holds; see the RBAC section of charts/blockhost/README.md. */
export const SCOPES = [
  'cluster',
  'release namespace',
  'state namespace',
  'KubeVirt: cluster',
  'KubeVirt: VM namespaces',
] as const;
export type Scope = (typeof SCOPES)[number];

/** `resource name verb`, with `*` for "any name". */
export type RightLine = string;

const rightLine = (resource: string, name: string, verb: string): RightLine =>
  `${resource} ${name || '*'} ${verb}`;

/** Each component's documented rights by scope, read from the README's `### <component>` tables. */
export async function documentedRights(component: string): Promise<Map<Scope, RightLine[]>> {
  const readme = await readFile(join(chartDir, 'README.md'), 'utf8');
  const section = readme.split('\n## RBAC')[1]?.split('\n## ')[0];
  if (!section) throw new Error('charts/blockhost/README.md has no "## RBAC" section');
  const table = section.split(`\n### ${component}\n`)[1]?.split('\n### ')[0];
  if (!table) throw new Error(`the README's RBAC section has no "### ${component}" table`);
  const rights = new Map<Scope, RightLine[]>(SCOPES.map((scope) => [scope, []]));
  for (const row of table
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| Where'))) {
    const [where = '', resources = '', names = '', verbs = ''] = row
      .split('|')
      .slice(1, 5)
      .map((cell) => cell.trim());
    if (!SCOPES.includes(where as Scope)) throw new Error(`README RBAC row with unknown scope: ${row}`);
    const codes = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
    const nameList = codes(names);
    for (const resource of codes(resources))
      for (const name of nameList.length > 0 ? nameList : [''])
        for (const verb of verbs.split(/\s+/))
          rights.get(where as Scope)!.push(rightLine(resource, name, verb));
  }
  return rights;
}

/** The documented rights of `scopes` together, sorted and without repeats. */
export function rightsIn(documented: Map<Scope, RightLine[]>, scopes: Scope[]): RightLine[] {
  return [...new Set(scopes.flatMap((scope) => documented.get(scope) ?? []))].sort();
}

/**
 * The resource rights in `kubectl auth can-i --list` output (the table kubectl prints; it has no
 * JSON output). Non-resource URLs (discovery, health) are left out: the chart grants none.
 */
export function parseCanIList(output: string): RightLine[] {
  const rights = new Set<RightLine>();
  for (const line of output.split('\n').slice(1)) {
    if (!line.trim()) continue;
    const match = /^(\S*)\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s*$/.exec(line);
    if (!match) throw new Error(`unexpected kubectl auth can-i --list line: ${line}`);
    const [, resource, nonResourceUrls, names, verbs = ''] = match;
    if (!resource || nonResourceUrls) continue;
    const nameList = names ? names.split(' ') : [''];
    for (const name of nameList)
      for (const verb of verbs.split(' ')) rights.add(rightLine(resource, name, verb));
  }
  return [...rights].sort();
}
