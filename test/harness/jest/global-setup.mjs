// Jest loads global setup with Node's own ESM loader, which cannot resolve our `.js`-suffixed
// TypeScript imports; tsx's loader hook can, so the real setup stays in TypeScript.
import { register } from 'tsx/esm/api';

register();
const { default: globalSetup } = await import('./global-setup.ts');
export default globalSetup;
