//! EIP-191 `personal_sign` signatures: parsing the 65-byte `r‖s‖v` form and recovering
//! the signer's address.

use std::fmt;

use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use sha3::{Digest, Keccak256};
use subtle::ConstantTimeEq;

use crate::gecos::Address;
use crate::hex;

/// Longer answers are refused before any parsing (the original's page used the same cap).
pub const MAX_INPUT_BYTES: usize = 256;
const SIGNATURE_HEX_DIGITS: usize = 130;

#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Malformed(String),
    /// A well-formed signature by someone else; the address is safe to log.
    WrongSigner(Address),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Malformed(reason) => f.write_str(reason),
            Refusal::WrongSigner(address) => {
                write!(f, "signature recovers to {}", address_hex(address))
            }
        }
    }
}

pub fn login_message(machine_id: &str, code: &str) -> String {
    format!("Authenticate to {machine_id} with code: {code}")
}

/// keccak256("\x19Ethereum Signed Message:\n" ‖ decimal byte length ‖ message).
pub fn eip191_hash(message: &[u8]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    hasher.update(b"\x19Ethereum Signed Message:\n");
    hasher.update(message.len().to_string().as_bytes());
    hasher.update(message);
    hasher.finalize().into()
}

pub fn address_hex(address: &Address) -> String {
    format!("0x{}", hex::encode(address))
}

/// The check applied to every answer, pasted or delivered through a callback file.
pub fn verify_answer(input: &[u8], message: &str, wallet: &Address) -> Result<(), Refusal> {
    let (signature, recovery_id) = parse(input)?;
    let signer = recover(&eip191_hash(message.as_bytes()), &signature, recovery_id)?;
    if bool::from(signer.ct_eq(wallet)) {
        Ok(())
    } else {
        Err(Refusal::WrongSigner(signer))
    }
}

pub fn parse(input: &[u8]) -> Result<(Signature, RecoveryId), Refusal> {
    let malformed = |reason: &str| Refusal::Malformed(reason.to_string());
    if input.len() > MAX_INPUT_BYTES {
        return Err(malformed("answer longer than 256 bytes"));
    }
    let digits = hex::strip_0x(input.trim_ascii());
    if digits.len() != SIGNATURE_HEX_DIGITS {
        return Err(malformed("signature is not 130 hex digits"));
    }
    let mut raw = [0u8; 65];
    if !hex::decode_into(digits, &mut raw) {
        return Err(malformed("signature has non-hex characters"));
    }
    let recovery_byte = match raw[64] {
        v @ (0 | 1) => v,
        v @ (27 | 28) => v - 27,
        _ => return Err(malformed("signature v is not 0, 1, 27 or 28")),
    };
    let signature = Signature::from_slice(&raw[..64])
        .map_err(|_| malformed("signature r or s out of range"))?;
    // Ethereum (EIP-2) only accepts low-s; the high-s twin would be a second valid encoding.
    if signature.normalize_s().is_some() {
        return Err(malformed("signature has a high s value"));
    }
    let recovery_id =
        RecoveryId::from_byte(recovery_byte).ok_or_else(|| malformed("signature v is invalid"))?;
    Ok((signature, recovery_id))
}

pub fn recover(
    hash: &[u8; 32],
    signature: &Signature,
    recovery_id: RecoveryId,
) -> Result<Address, Refusal> {
    let key = VerifyingKey::recover_from_prehash(hash, signature, recovery_id)
        .map_err(|_| Refusal::Malformed("no public key recovers from the signature".into()))?;
    let point = key.to_encoded_point(false);
    // Ethereum address: the last 20 bytes of keccak256 of the 64-byte uncompressed key.
    let digest = Keccak256::digest(&point.as_bytes()[1..]);
    let mut address = [0u8; 20];
    address.copy_from_slice(&digest[12..]);
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{anvil_wallet, sign, ANVIL_KEY, OTHER_KEY};

    // Produced by viem 2.57.20: privateKeyToAccount(anvil key 0).signMessage({ message }).
    const VIEM_VECTORS: [(&str, &str); 2] = [
        (
            "Authenticate to blockhost-001 with code: 042917",
            "0xc05fa0f4f2bf41d151e4611a55ff4c618354a1cbb69040ce6116b97d2c785ce872cd93fb36cedd8c2e644ed1859a51d7bb720dc41120877c45fee539b29f87d51c",
        ),
        (
            // Non-ASCII: the EIP-191 length prefix counts bytes, not characters.
            "Authenticate to vm-ünïcode with code: 0000001234",
            "0xa1882b81a011557d7a68e308a0626854dc70ec39f238c72d699879765d4efd6b109b70a44333a6c85910d55f88e42b602fac1097912edf10eca460ab09bac5d51c",
        ),
    ];

    #[test]
    fn viem_signatures_verify() {
        for (message, signature) in VIEM_VECTORS {
            assert_eq!(
                verify_answer(signature.as_bytes(), message, &anvil_wallet()),
                Ok(())
            );
            let upper = signature[2..].to_uppercase();
            assert_eq!(
                verify_answer(upper.as_bytes(), message, &anvil_wallet()),
                Ok(())
            );
        }
    }

    #[test]
    fn own_signatures_match_viem() {
        for (message, signature) in VIEM_VECTORS {
            assert_eq!(
                format!("0x{}", hex::encode(&sign(ANVIL_KEY, message))),
                signature
            );
        }
    }

    #[test]
    fn all_v_encodings_recover() {
        let message = login_message("vm-1", "123456");
        let raw = sign(ANVIL_KEY, &message);
        let recovery = raw[64] - 27;
        for v in [recovery, recovery + 27] {
            let mut variant = raw;
            variant[64] = v;
            let text = format!("  0x{}\n", hex::encode(&variant));
            assert_eq!(
                verify_answer(text.as_bytes(), &message, &anvil_wallet()),
                Ok(())
            );
        }
        // The other parity recovers some other key, never the wallet.
        for v in [1 - recovery, 28 - recovery] {
            let mut variant = raw;
            variant[64] = v;
            let result = verify_answer(hex::encode(&variant).as_bytes(), &message, &anvil_wallet());
            assert!(result.is_err());
        }
    }

    #[test]
    fn wrong_signer_and_wrong_message_are_refused() {
        let message = login_message("vm-1", "123456");
        let signature = hex::encode(&sign(OTHER_KEY, &message));
        match verify_answer(signature.as_bytes(), &message, &anvil_wallet()) {
            Err(Refusal::WrongSigner(a)) => {
                assert_eq!(
                    address_hex(&a),
                    "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
                )
            }
            other => panic!("{other:?}"),
        }
        let signature = hex::encode(&sign(ANVIL_KEY, &login_message("vm-1", "123457")));
        assert!(verify_answer(signature.as_bytes(), &message, &anvil_wallet()).is_err());
    }

    #[test]
    fn high_s_is_refused() {
        let message = login_message("vm-1", "123456");
        let raw = sign(ANVIL_KEY, &message);
        let low = Signature::from_slice(&raw[..64]).unwrap();
        // (r, n - s) with flipped parity is the same point's other valid encoding.
        let (r, s) = low.split_scalars();
        let high = Signature::from_scalars(r, -*s).unwrap();
        let mut twin = raw;
        twin[..64].copy_from_slice(&high.to_bytes());
        twin[64] = if raw[64] == 27 { 28 } else { 27 };
        let result = verify_answer(hex::encode(&twin).as_bytes(), &message, &anvil_wallet());
        assert_eq!(
            result,
            Err(Refusal::Malformed("signature has a high s value".into()))
        );
    }

    #[test]
    fn malformed_inputs_are_refused() {
        let message = login_message("vm-1", "123456");
        let good = hex::encode(&sign(ANVIL_KEY, &message));
        let mut cases = vec![
            String::new(),
            "0x".to_string(),
            good[..128].to_string(),
            format!("{good}00"),
            format!("0x0x{good}"),
            format!("{}zz", &good[..128]),
            format!("{} {}", &good[..64], &good[64..]),
            format!("{}{}", " ".repeat(200), good),
            format!("{}1d", &good[..128]),
            format!("{}{}", "0".repeat(64), &good[64..]),
            format!("{}{}", "f".repeat(64), &good[64..]),
        ];
        cases.push(format!("{}{}", &good[..64], "0".repeat(66)));
        for case in &cases {
            assert!(
                matches!(
                    verify_answer(case.as_bytes(), &message, &anvil_wallet()),
                    Err(Refusal::Malformed(_))
                ),
                "{case}"
            );
        }
    }

    #[test]
    fn eip191_prefix_counts_bytes() {
        let expected: [u8; 32] =
            Keccak256::digest(b"\x19Ethereum Signed Message:\n2\xc3\xbc").into();
        assert_eq!(eip191_hash("ü".as_bytes()), expected);
    }
}
