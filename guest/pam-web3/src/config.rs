//! `/etc/pam_web3/config.toml`: parsing, validation and the file-permission check.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Deserialize;

use crate::hex;
use crate::otp;

pub const DEFAULT_PATH: &str = "/etc/pam_web3/config.toml";
const DEFAULT_OTP_LENGTH: u32 = 6;
const DEFAULT_OTP_TTL_SECONDS: u64 = 300;
/// Longer than a day makes no sense for a one-time login code.
const MAX_OTP_TTL_SECONDS: u64 = 86_400;
/// A config is a handful of lines; anything much bigger is not ours.
const MAX_FILE_BYTES: u64 = 64 * 1024;

#[derive(Debug)]
pub struct Config {
    pub machine_id: String,
    pub secret: Secret,
    pub otp_length: u32,
    pub otp_ttl_seconds: u64,
    pub signing_url: String,
}

/// The per-VM secret; its Debug output is redacted so it cannot reach a log by accident.
pub struct Secret(pub [u8; 32]);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

// Every field is optional here so that a missing value gets our own message, and
// unknown keys (e.g. `use_tls`, which only mattered for the original's own HTTPS page)
// are ignored for forward compatibility.
#[derive(Deserialize)]
struct RawConfig {
    machine: Option<RawMachine>,
    auth: Option<RawAuth>,
}

#[derive(Deserialize)]
struct RawMachine {
    id: Option<String>,
    secret_key: Option<String>,
}

#[derive(Deserialize)]
struct RawAuth {
    otp_length: Option<i64>,
    otp_ttl_seconds: Option<i64>,
    signing_url: Option<String>,
}

/// Reads and validates the config. `require_root_owner` is set when the module runs as
/// root: a config anyone else could have written must not decide who logs in.
pub fn load(path: &Path, require_root_owner: bool) -> Result<Config, String> {
    let shown = path.display();
    let file = File::open(path).map_err(|e| format!("cannot open config {shown}: {e}"))?;
    // fstat the opened file, not the path, so the checked file is the one we read.
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot stat config {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("config {shown} is not a regular file"));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!("config {shown} is group- or world-writable"));
    }
    if require_root_owner && meta.uid() != 0 {
        return Err(format!("config {shown} is not owned by root"));
    }
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read config {shown}: {e}"))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "config {shown} is larger than {MAX_FILE_BYTES} bytes"
        ));
    }
    parse(&text).map_err(|e| format!("config {shown}: {e}"))
}

pub fn parse(text: &str) -> Result<Config, String> {
    // The parser's own message may quote the offending value, which could be the secret,
    // so only the line number is reported.
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        match line {
            Some(line) => format!("invalid TOML or value type at line {line}"),
            None => "invalid TOML or value type".to_string(),
        }
    })?;

    let machine = raw.machine.ok_or("config has no [machine] section")?;
    let machine_id = machine.id.ok_or("config has no [machine] id")?;
    if machine_id.is_empty() || machine_id.chars().any(char::is_control) {
        return Err("config [machine] id is empty or has control characters".into());
    }
    let secret_hex = machine
        .secret_key
        .ok_or("config has no [machine] secret_key")?;
    let mut secret = [0u8; 32];
    if !hex::decode_into(secret_hex.as_bytes(), &mut secret) {
        return Err("config [machine] secret_key is not 64 hex digits".into());
    }

    let auth = raw.auth.ok_or("config has no [auth] signing_url")?;
    let otp_length = match auth.otp_length {
        None => DEFAULT_OTP_LENGTH,
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| (otp::MIN_LENGTH..=otp::MAX_LENGTH).contains(n))
            .ok_or_else(|| {
                format!(
                    "config [auth] otp_length must be between {} and {}",
                    otp::MIN_LENGTH,
                    otp::MAX_LENGTH
                )
            })?,
    };
    let otp_ttl_seconds = match auth.otp_ttl_seconds {
        None => DEFAULT_OTP_TTL_SECONDS,
        Some(n) => u64::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_OTP_TTL_SECONDS).contains(n))
            .ok_or_else(|| {
                format!("config [auth] otp_ttl_seconds must be between 1 and {MAX_OTP_TTL_SECONDS}")
            })?,
    };
    let signing_url = auth.signing_url.ok_or("config has no [auth] signing_url")?;
    let has_scheme = signing_url.starts_with("https://") || signing_url.starts_with("http://");
    if !has_scheme
        || signing_url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("config [auth] signing_url is not an http(s) URL".into());
    }

    Ok(Config {
        machine_id,
        secret: Secret(secret),
        otp_length,
        otp_ttl_seconds,
        signing_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    const SECRET: &str = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

    fn sample(extra_auth: &str) -> String {
        format!(
            "[machine]\nid = \"blockhost-001\"\nsecret_key = \"{SECRET}\"\n\
             [auth]\notp_length = 6\notp_ttl_seconds = 300\nuse_tls = true\n{extra_auth}"
        )
    }

    #[test]
    fn parses_full_config_and_ignores_unknown_keys() {
        let text =
            sample("signing_url = \"https://host.example/sign\"\nfuture = 1\n[other]\nx = 2\n");
        let cfg = parse(&text).unwrap();
        assert_eq!(cfg.machine_id, "blockhost-001");
        assert_eq!(cfg.secret.0[0], 0x00);
        assert_eq!(cfg.secret.0[31], 0xff);
        assert_eq!(cfg.otp_length, 6);
        assert_eq!(cfg.otp_ttl_seconds, 300);
        assert_eq!(cfg.signing_url, "https://host.example/sign");
    }

    #[test]
    fn defaults_for_optional_values() {
        let text = format!(
            "[machine]\nid = \"m\"\nsecret_key = \"{SECRET}\"\n[auth]\nsigning_url = \"http://h/\"\n"
        );
        let cfg = parse(&text).unwrap();
        assert_eq!((cfg.otp_length, cfg.otp_ttl_seconds), (6, 300));
    }

    #[test]
    fn missing_signing_url_has_the_documented_reason() {
        assert_eq!(
            parse(&sample("")).unwrap_err(),
            "config has no [auth] signing_url"
        );
    }

    #[test]
    fn bad_values_are_refused_without_echoing_them() {
        let cases = [
            sample("signing_url = \"ftp://x\""),
            sample("signing_url = \"https://a b\""),
            sample("signing_url = \"https://h\"").replace("otp_length = 6", "otp_length = 3"),
            sample("signing_url = \"https://h\"").replace("otp_length = 6", "otp_length = 11"),
            sample("signing_url = \"https://h\"").replace("otp_length = 6", "otp_length = \"6\""),
            sample("signing_url = \"https://h\"")
                .replace("otp_ttl_seconds = 300", "otp_ttl_seconds = 0"),
            sample("signing_url = \"https://h\"").replace("id = \"blockhost-001\"", "id = \"\""),
            sample("signing_url = \"https://h\"").replace(SECRET, "abcd"),
            sample("signing_url = \"https://h\"").replace(SECRET, &"g".repeat(64)),
            sample("signing_url = \"https://h\"").replace(&format!("\"{SECRET}\""), SECRET),
            "[auth]\nsigning_url = \"https://h\"\n".to_string(),
            "not toml at all".to_string(),
        ];
        for text in &cases {
            let reason = parse(text).unwrap_err();
            assert!(!reason.to_lowercase().contains("00112233"), "{reason}");
        }
    }

    fn write_config(dir: &Path, mode: u32) -> std::path::PathBuf {
        let path = dir.join("config.toml");
        fs::write(&path, sample("signing_url = \"https://h/\"")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn file_permissions_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), 0o640);
        assert!(load(&path, false).is_ok());
        for mode in [0o660, 0o646] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            assert!(load(&path, false).unwrap_err().contains("writable"));
        }
        assert!(load(&dir.path().join("absent.toml"), false).is_err());
        assert!(load(dir.path(), false).is_err());
    }

    #[test]
    fn owner_is_checked_when_required() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), 0o640);
        let owned_by_root = fs::metadata(&path).unwrap().uid() == 0;
        assert_eq!(load(&path, true).is_ok(), owned_by_root);
        if owned_by_root {
            // Running as root: hand the file to another user and expect a refusal.
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            assert!(load(&path, true).unwrap_err().contains("not owned by root"));
            assert!(load(&path, false).is_ok());
        }
    }
}
