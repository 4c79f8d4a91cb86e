import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

/** test/artifacts/screenshots (git-ignored). */
export const SCREENSHOT_ROOT = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../artifacts/screenshots',
);

export const VIEWPORTS = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1280, height: 800 },
} as const;

/**
 * Saves full-page screenshots of every state a test passes through, at phone and desktop sizes:
 * `test/artifacts/screenshots/<test>/<n>-<name>-<phone|desktop>.png`, numbered in order.
 */
export class Screenshots {
  private count = 0;
  readonly dir: string;
  private cleared?: Promise<void>;

  constructor(test: string) {
    this.dir = join(SCREENSHOT_ROOT, test.replace(/[^A-Za-z0-9_-]+/g, '-'));
  }

  /** Captures `page` now at both sizes, then restores its viewport. Returns the files written. */
  async capture(page: Page, name: string): Promise<string[]> {
    // A re-run replaces the last run's pictures instead of mixing with them.
    this.cleared ??= rm(this.dir, { recursive: true, force: true }).then(async () => {
      await mkdir(this.dir, { recursive: true });
    });
    await this.cleared;
    this.count += 1;
    const before = page.viewportSize();
    const files: string[] = [];
    for (const [size, viewport] of Object.entries(VIEWPORTS)) {
      await page.setViewportSize(viewport);
      // Let the new size lay out and paint first: right after a resize Chromium's full-page capture
      // can leave everything below a focused field blank.
      await page.evaluate(
        () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))),
      );
      const path = join(this.dir, `${String(this.count).padStart(2, '0')}-${name}-${size}.png`);
      await page.screenshot({ path, fullPage: true });
      files.push(path);
    }
    if (before) await page.setViewportSize(before);
    return files;
  }
}
