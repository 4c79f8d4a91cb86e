// Jest loads global setup with Node's own ESM loader, which cannot resolve our `.js`-suffixed
// TypeScript imports; tsx's loader hook can, so the real setup stays in TypeScript.
import { register } from 'tsx/esm/api';

register();
// A green run prints nothing but jest's summary: components log errors only, unless the caller
// asks for more (LOG_LEVEL=info npm test). Set before any logger exists; the workers and the
// processes tests spawn inherit it.
process.env.LOG_LEVEL ??= 'error';
const { default: globalSetup } = await import('./global-setup.ts');
export default globalSetup;
