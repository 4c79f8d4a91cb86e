//! Helpers shared by the unit tests: a known signing key and a seeded PRNG.

use k256::ecdsa::SigningKey;

use crate::gecos::Address;
use crate::hex;
use crate::signature::eip191_hash;

/// anvil's account 0, a publicly known test key, and its address.
pub const ANVIL_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub const ANVIL_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// anvil's account 1.
pub const OTHER_KEY: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

pub fn anvil_wallet() -> Address {
    let mut a = [0u8; 20];
    assert!(hex::decode_into(&ANVIL_ADDRESS.as_bytes()[2..], &mut a));
    a
}

/// Signs like personal_sign and returns `r‖s‖v` with v = 27/28.
pub fn sign(key_hex: &str, message: &str) -> [u8; 65] {
    let mut key = [0u8; 32];
    assert!(hex::decode_into(key_hex.as_bytes(), &mut key));
    let key = SigningKey::from_bytes(&key.into()).unwrap();
    let (signature, recovery_id) = key
        .sign_prehash_recoverable(&eip191_hash(message.as_bytes()))
        .unwrap();
    let mut raw = [0u8; 65];
    raw[..64].copy_from_slice(&signature.to_bytes());
    raw[64] = 27 + recovery_id.to_byte();
    raw
}

pub fn sign_hex(key_hex: &str, message: &str) -> String {
    format!("0x{}", hex::encode(&sign(key_hex, message)))
}

/// splitmix64: deterministic, so a failing case can be replayed.
pub struct Prng(pub u64);

impl Prng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
