//! Hex helpers shared by the config, GECOS and signature parsers.

/// Decodes exactly `out.len() * 2` hex digits (either case) into `out`.
/// Returns false on a wrong length or a non-hex byte; `out` is then unspecified.
pub fn decode_into(text: &[u8], out: &mut [u8]) -> bool {
    if text.len() != out.len() * 2 {
        return false;
    }
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(hi), Some(lo)) => *byte = hi << 4 | lo,
            _ => return false,
        }
    }
    true
}

/// Lowercase hex without a prefix.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(DIGITS[usize::from(b >> 4)] as char);
        text.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    text
}

pub fn is_hex_digit(b: u8) -> bool {
    nibble(b).is_some()
}

/// Strips one leading `0x` or `0X`.
pub fn strip_0x(text: &[u8]) -> &[u8] {
    match text {
        [b'0', b'x' | b'X', rest @ ..] => rest,
        _ => text,
    }
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_case() {
        let mut out = [0u8; 3];
        assert!(decode_into(b"00aBfF", &mut out));
        assert_eq!(out, [0x00, 0xab, 0xff]);
        assert_eq!(encode(&out), "00abff");
    }

    #[test]
    fn rejects_bad_input() {
        let mut out = [0u8; 2];
        assert!(!decode_into(b"abc", &mut out));
        assert!(!decode_into(b"abcg", &mut out));
        assert!(!decode_into(b"ab cd", &mut out));
        assert_eq!(strip_0x(b"0Xab"), b"ab");
        assert_eq!(strip_0x(b"ab"), b"ab");
    }
}
