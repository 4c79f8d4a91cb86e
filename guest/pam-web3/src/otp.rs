//! The one-time code: generation and its in-memory binding to the VM's secret.

use sha3::{Digest, Sha3_256};
use subtle::ConstantTimeEq;

pub const MIN_LENGTH: u32 = 4;
pub const MAX_LENGTH: u32 = 10;

/// A uniformly random code of `length` decimal digits, zero-padded.
pub fn random_code(length: u32) -> Result<String, String> {
    generate(length, &mut || {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
        Ok(u64::from_le_bytes(bytes))
    })
}

/// Draws from `next_u64` until a value falls below the largest multiple of 10^length,
/// so that taking the remainder has no modulo bias.
pub fn generate(
    length: u32,
    next_u64: &mut dyn FnMut() -> Result<u64, String>,
) -> Result<String, String> {
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        return Err(format!("otp_length {length} out of range"));
    }
    let range = 10u64.pow(length);
    let zone = u64::MAX - u64::MAX % range;
    loop {
        let draw = next_u64()?;
        if draw < zone {
            return Ok(format!("{:0width$}", draw % range, width = length as usize));
        }
    }
}

/// A code and the moment it was shown, with their binding to this VM's secret.
pub struct BoundCode {
    code: String,
    created_at: u64,
    binding: [u8; 32],
}

impl BoundCode {
    pub fn new(code: String, created_at: u64, secret: &[u8; 32], machine_id: &str) -> Self {
        let binding = binding(secret, &code, created_at, machine_id);
        BoundCode {
            code,
            created_at,
            binding,
        }
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn check(
        &self,
        secret: &[u8; 32],
        machine_id: &str,
        now: u64,
        ttl: u64,
    ) -> Result<(), String> {
        verify(
            &self.binding,
            secret,
            &self.code,
            self.created_at,
            machine_id,
            now,
            ttl,
        )
    }
}

/// SHA3-256(secret ‖ code ‖ created_at as u64 LE ‖ machine_id), as in the original module.
pub fn binding(secret: &[u8; 32], code: &str, created_at: u64, machine_id: &str) -> [u8; 32] {
    let mut hasher = Sha3_256::new();
    hasher.update(secret);
    hasher.update(code.as_bytes());
    hasher.update(created_at.to_le_bytes());
    hasher.update(machine_id.as_bytes());
    hasher.finalize().into()
}

pub fn verify(
    expected: &[u8; 32],
    secret: &[u8; 32],
    code: &str,
    created_at: u64,
    machine_id: &str,
    now: u64,
    ttl: u64,
) -> Result<(), String> {
    let actual = binding(secret, code, created_at, machine_id);
    if !bool::from(actual.ct_eq(expected)) {
        return Err("code binding does not match".into());
    }
    if now < created_at {
        return Err("clock went backwards since the code was issued".into());
    }
    if now - created_at > ttl {
        return Err(format!("code expired after {ttl} s"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Prng;

    fn seeded(seed: u64) -> impl FnMut() -> Result<u64, String> {
        let mut prng = Prng(seed);
        move || Ok(prng.next_u64())
    }

    #[test]
    fn length_and_digits() {
        for length in MIN_LENGTH..=MAX_LENGTH {
            let code = random_code(length).unwrap();
            assert_eq!(code.len(), length as usize);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
        assert!(random_code(3).is_err());
        assert!(random_code(11).is_err());
    }

    #[test]
    fn zero_padding_and_rejection() {
        // The first two draws fall in the biased tail and must be skipped.
        let mut draws = vec![Ok(7u64), Ok(u64::MAX - 1), Ok(u64::MAX)].into_iter();
        let code = generate(6, &mut || draws.next_back().unwrap()).unwrap();
        assert_eq!(code, "000007");
    }

    #[test]
    fn digits_are_roughly_uniform() {
        let mut next = seeded(42);
        let mut counts = [[0u32; 10]; 4];
        let samples = 20_000;
        for _ in 0..samples {
            let code = generate(4, &mut next).unwrap();
            for (pos, b) in code.bytes().enumerate() {
                counts[pos][usize::from(b - b'0')] += 1;
            }
        }
        // Expected 2000 per digit per position; sd ≈ 42, so ±300 is far outside noise.
        for row in counts {
            for count in row {
                assert!((1700..=2300).contains(&count), "{row:?}");
            }
        }
    }

    #[test]
    fn binding_accepts_only_the_same_inputs_within_ttl() {
        let secret = [7u8; 32];
        let bound = BoundCode::new("123456".into(), 1_000, &secret, "vm-1");
        assert_eq!(bound.code(), "123456");
        assert!(bound.check(&secret, "vm-1", 1_000, 300).is_ok());
        assert!(bound.check(&secret, "vm-1", 1_300, 300).is_ok());
        assert!(bound
            .check(&secret, "vm-1", 1_301, 300)
            .unwrap_err()
            .contains("expired"));
        assert!(bound
            .check(&secret, "vm-1", 999, 300)
            .unwrap_err()
            .contains("backwards"));
        assert!(bound.check(&[8u8; 32], "vm-1", 1_000, 300).is_err());
        assert!(bound.check(&secret, "vm-2", 1_000, 300).is_err());
        let expected = binding(&secret, "123456", 1_000, "vm-1");
        assert!(verify(&expected, &secret, "123457", 1_000, "vm-1", 1_000, 300).is_err());
        assert!(verify(&expected, &secret, "123456", 1_001, "vm-1", 1_001, 300).is_err());
    }

    #[test]
    fn binding_layout_is_fixed() {
        // Recomputed by hand: the hash of the concatenated bytes in the documented order.
        let mut input = vec![1u8; 32];
        input.extend_from_slice(b"0042");
        input.extend_from_slice(&5u64.to_le_bytes());
        input.extend_from_slice(b"m");
        let direct: [u8; 32] = Sha3_256::digest(&input).into();
        assert_eq!(binding(&[1u8; 32], "0042", 5, "m"), direct);
    }
}
