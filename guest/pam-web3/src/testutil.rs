//! Helpers for the unit tests only: the shared fakes (see `testkit`), a second key and a
//! seeded PRNG.

pub use crate::testkit::{anvil_wallet, sign, sign_hex, ANVIL_ADDRESS, ANVIL_KEY};

/// anvil's account 1.
pub const OTHER_KEY: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

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
