//! The exact texts shown to the user, and the signing page URL.

pub const PROMPT_WITH_CALLBACK: &str = "Press Enter after signing in browser, or paste signature: ";
pub const PROMPT_PASTE_ONLY: &str = "Paste signature: ";

pub fn info_text(code: &str, machine_id: &str, url: &str) -> String {
    format!("\n=== Web3 Authentication ===\nCode: {code}\nMachine: {machine_id}\nSign at: {url}\n")
}

/// `{base}?machine=…&code=…[&session=…]`; `&` instead of `?` if the base already has a query.
pub fn signing_url(base: &str, machine_id: &str, code: &str, session_id: Option<&str>) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    let mut url = format!(
        "{base}{separator}machine={}&code={}",
        percent_encode(machine_id),
        percent_encode(code)
    );
    if let Some(id) = session_id {
        url.push_str("&session=");
        url.push_str(&percent_encode(id));
    }
    url
}

/// Encodes everything except RFC 3986 unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        assert_eq!(
            signing_url("https://h.example/sign", "blockhost-001", "042917", None),
            "https://h.example/sign?machine=blockhost-001&code=042917"
        );
        assert_eq!(
            signing_url("https://h/sign?x=1", "vm 1&2", "0001", Some("ab12")),
            "https://h/sign?x=1&machine=vm%201%262&code=0001&session=ab12"
        );
        assert_eq!(percent_encode("ü/~"), "%C3%BC%2F~");
    }

    #[test]
    fn info_text_is_exact() {
        assert_eq!(
            info_text("042917", "vm-1", "https://u"),
            "\n=== Web3 Authentication ===\nCode: 042917\nMachine: vm-1\nSign at: https://u\n"
        );
    }
}
