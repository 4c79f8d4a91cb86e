/**
 * BlockHost crypto: runs unchanged in Node and in a browser bundle (Uint8Array, TextEncoder and
 * noble only; randomness from WebCrypto). Every function throws only CryptoError.
 *
 * Convention: a `string` that stands for bytes (keys, signatures, blobs) is hex, with or without
 * `0x`; it is never text. Messages to sign are the exception: strings are UTF-8 text, like viem.
 */
export { CryptoError, isCryptoError, type CryptoErrorCode } from './errors.js';
export { bytesToHex, hexToBytes } from './hex.js';
export { addressesEqual, isAddress, toChecksumAddress } from './address.js';
export {
  addressFromPrivateKey,
  addressFromPublicKey,
  generateServerKey,
  parsePrivateKey,
  parsePublicKey,
  publicKeyFromPrivateKey,
  type ServerKey,
} from './keys.js';
export {
  decryptUserSignature,
  eciesDecrypt,
  eciesEncrypt,
  encryptUserSignature,
  ECIES_OVERHEAD,
  type EciesEncryptOptions,
} from './ecies.js';
export {
  decryptConnectionDetails,
  decryptWithSignature,
  encodeConnectionDetails,
  encryptConnectionDetails,
  encryptWithSignature,
  isConnectionDetails,
  parseConnectionDetails,
  signatureKey,
  SYMMETRIC_OVERHEAD,
  type ConnectionDetails,
} from './symmetric.js';
export { isSignatureText } from './signature.js';
export { hashMessage, recoverAddress, signMessage, verifyMessage, type SignableMessage } from './eip191.js';
export {
  authMessage,
  CODE_ALPHABET,
  CODE_LENGTH,
  codesMatch,
  generateCode,
  normalizeCode,
} from './auth-code.js';
