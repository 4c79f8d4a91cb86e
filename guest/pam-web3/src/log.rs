//! One-line syslog messages under LOG_AUTH with the `pam_web3: ` prefix.

use std::ffi::CString;

use crate::ffi;

pub fn failure(reason: &str) {
    ffi::syslog(libc::LOG_AUTH | libc::LOG_NOTICE, &line(reason));
}

pub fn warning(text: &str) {
    ffi::syslog(libc::LOG_AUTH | libc::LOG_WARNING, &line(text));
}

pub fn success(text: &str) {
    ffi::syslog(libc::LOG_AUTH | libc::LOG_INFO, &line(text));
}

/// User names and file contents can carry control characters; they must not split or
/// forge log lines, and a NUL would truncate the message.
fn line(text: &str) -> CString {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    CString::new(format!("pam_web3: {clean}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_prefixed_and_single() {
        assert_eq!(
            line("bad\nuser\0x").to_str().unwrap(),
            "pam_web3: bad?user?x"
        );
    }
}
