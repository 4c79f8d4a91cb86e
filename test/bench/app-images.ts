/**
 * `app-images-build`: BlockHost's controller and web images (images/app/). The cold build is two
 * debootstraps and an npm ci, so it is not re-run here: the build record keeps each layer's build
 * time, and the cold time is the longer of the build's two chains (the Debian root filesystems;
 * Node, node_modules and the app), which run side by side, plus writing the archives. Cached: the
 * time to find both archives. Sizes: each archive against the one-layer spike image of REAL-NODE.md
 * step 4 (78 MB: debootstrap minbase, Node and one script), the smallest image Node runs in here.
 */
import { ensureAppImages, IMAGE_NAMES, type AppImages } from '../../images/app/app-images.js';
import { against, fromSamples, writeResult } from './results.js';

/** "A couple of minutes" (the budget for the cold build on 2 CPUs). */
const COLD_BUILD_LIMIT_S = 180;
const SPIKE_IMAGE_MB = 78;

/** Seconds of a cold build, from the recorded time of every layer of `images`. */
function coldSeconds(images: AppImages): number {
  const layers = new Map(IMAGE_NAMES.flatMap((n) => images.images[n].layers).map((l) => [l.key, l]));
  let debian = 0;
  let rest = 0;
  for (const layer of layers.values())
    if (layer.name.startsWith('base-')) debian += layer.buildSeconds;
    else rest += layer.buildSeconds;
  return Math.max(debian, rest) + images.archiveSeconds;
}

export async function appImagesBuild(runs = 5): Promise<void> {
  const images = await ensureAppImages();
  const cold = coldSeconds(images);
  const cached: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const began = performance.now();
    await ensureAppImages();
    cached.push((performance.now() - began) / 1000);
  }
  writeResult(
    against(
      {
        benchmark: 'app-images-build-cold',
        metric: 'both app images from an empty cache (recorded layer times, longer chain + archives)',
        unit: 's',
        value: cold,
        samples: 1,
      },
      'the limit',
      COLD_BUILD_LIMIT_S,
    ),
  );
  writeResult(
    against(
      fromSamples('app-images-build-cached', 'both app images, found in the cache', 's', cached),
      'the cold build',
      cold,
    ),
  );
  for (const name of IMAGE_NAMES) {
    const image = images.images[name];
    const layers = image.layers.map((l) => `${l.name} ${(l.size / 1e6).toFixed(1)}`).join(', ');
    writeResult(
      against(
        {
          benchmark: `app-image-size-${name}`,
          metric: `${name} OCI archive (${layers} MB compressed; ${(image.unpackedBytes / 1e6).toFixed(0)} MB unpacked)`,
          unit: 'MB',
          value: image.archiveBytes / 1e6,
        },
        'the one-layer spike image (minbase + Node)',
        SPIKE_IMAGE_MB,
      ),
    );
  }
}
