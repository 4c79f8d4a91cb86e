//! Seeded fuzzing of the answer check: malformed or tampered input is always refused.

use crate::hex;
use crate::signature::{login_message, verify_answer};
use crate::testutil::{anvil_wallet, sign, Prng, ANVIL_KEY};

const CASES: usize = 10_000;

fn valid_text(raw: &[u8; 65]) -> Vec<u8> {
    format!("0x{}", hex::encode(raw)).into_bytes()
}

/// One malformed variant of a valid signature, chosen by `kind`.
fn mutate(kind: usize, raw: &[u8; 65], prng: &mut Prng) -> Vec<u8> {
    let text = valid_text(raw);
    match kind {
        // Random bytes of a random length.
        0 => (0..prng.below(300))
            .map(|_| prng.next_u64() as u8)
            .collect(),
        // Truncated.
        1 => text[..prng.below(text.len())].to_vec(),
        // Extra hex digits.
        2 => {
            let mut t = text.clone();
            for _ in 0..1 + prng.below(20) {
                t.push(b"0123456789abcdef"[prng.below(16)]);
            }
            t
        }
        // Bit flips in the decoded signature, re-encoded as valid hex.
        3 => {
            let mut flipped = *raw;
            for _ in 0..1 + prng.below(3) {
                flipped[prng.below(65)] ^= 1 << prng.below(8);
            }
            if flipped == *raw {
                flipped[0] ^= 1;
            }
            valid_text(&flipped)
        }
        // Bit flips in the text, except those that only change the case of a hex letter.
        4 => loop {
            let mut t = text.clone();
            let at = prng.below(t.len());
            t[at] ^= 1 << prng.below(8);
            if !t.eq_ignore_ascii_case(&text) {
                break t;
            }
        },
        // Non-UTF-8 bytes inserted.
        5 => {
            let mut t = text.clone();
            t.insert(prng.below(t.len() + 1), 0x80 | prng.next_u64() as u8);
            t
        }
        // Huge: a valid signature drowned in padding, or plain noise.
        6 => {
            let len = 257 + prng.below(100_000);
            if prng.below(2) == 0 {
                let mut t = vec![b' '; len - text.len()];
                t.extend_from_slice(&text);
                t
            } else {
                (0..len).map(|_| prng.next_u64() as u8).collect()
            }
        }
        // Embedded NULs.
        7 => {
            let mut t = text.clone();
            t.insert(prng.below(t.len() + 1), 0);
            t
        }
        // Whitespace inside the signature.
        _ => {
            let mut t = text.clone();
            t.insert(
                1 + prng.below(t.len() - 1),
                b" \t\r\n\x0b\x0c"[prng.below(6)],
            );
            t
        }
    }
}

#[test]
fn malformed_answers_are_always_refused() {
    let message = login_message("blockhost-001", "042917");
    let wallet = anvil_wallet();
    let raw = sign(ANVIL_KEY, &message);
    assert_eq!(verify_answer(&valid_text(&raw), &message, &wallet), Ok(()));

    let mut prng = Prng(0x5eed_f9a3);
    for case in 0..CASES {
        let kind = case % 9;
        let input = mutate(kind, &raw, &mut prng);
        let verdict = verify_answer(&input, &message, &wallet);
        assert!(
            verdict.is_err(),
            "case {case} (kind {kind}) accepted: {input:?}"
        );
    }
}
