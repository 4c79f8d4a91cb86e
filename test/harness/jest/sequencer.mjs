// The order jest hands test files to its two workers. Files that boot real guests under TCG take
// turns through the `real-guests` lock (LibvirtEnvironment): next to each other in the order, both
// workers would sit on guests (one waiting for the lock) while the light files wait. Spread through
// the light files instead, one worker runs light files while the other has the guests. The node
// test goes first: it needs the node lock the pods test takes for minutes.
import { statSync } from 'node:fs';

const FIRST = ['test/integration/node/node.test.ts'];
const GUEST_FILES = [
  'test/integration/pods/chart-on-node.test.ts',
  'test/integration/e2e/libvirt-purchase.test.ts',
  'test/integration/libvirt/guest-image-boot.test.ts',
];

const rank = (list, test) => list.findIndex((file) => test.path.endsWith(file));

export default class Sequencer {
  sort(tests) {
    const first = tests.filter((t) => rank(FIRST, t) >= 0);
    const guests = tests
      .filter((t) => rank(GUEST_FILES, t) >= 0)
      .sort((a, b) => rank(GUEST_FILES, a) - rank(GUEST_FILES, b));
    // Without timings from earlier runs (a clean clone has none), bigger files first, as jest does.
    const light = tests
      .filter((t) => rank(FIRST, t) < 0 && rank(GUEST_FILES, t) < 0)
      .sort((a, b) => statSync(b.path).size - statSync(a.path).size);
    const gap = Math.ceil(light.length / Math.max(guests.length, 1));
    const ordered = [...first];
    guests.forEach((guest, i) => ordered.push(guest, ...light.slice(i * gap, (i + 1) * gap)));
    if (guests.length === 0) ordered.push(...light);
    return ordered;
  }

  // Nothing is kept between runs: the order above does not depend on earlier results.
  cacheResults() {}
}
