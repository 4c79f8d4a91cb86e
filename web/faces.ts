import type { Face } from './face.js';
import { signupFace } from './signup/face.js';

/** Every face the server mounts: adding a face is one line here. */
export const FACES: readonly Face[] = [signupFace];
