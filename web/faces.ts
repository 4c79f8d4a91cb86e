import type { Face } from './face.js';
import { adminFace } from './admin/face.js';
import { signFace } from './sign/face.js';
import { signupFace } from './signup/face.js';
import { wizardFace } from './wizard/face.js';

/** Every face the server mounts: adding a face is one line here. */
export const FACES: readonly Face[] = [signupFace, signFace, adminFace, wizardFace];
