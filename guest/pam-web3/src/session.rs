//! Callback sessions: the files through which a host-served signing page hands the
//! signature to the waiting login (`<sid>.json` out, `<sid>.sig` in).

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::hex;
use crate::signature::MAX_INPUT_BYTES;

pub const DEFAULT_PENDING_DIR: &str = "/run/libpam-web3/pending";
const SIGNATURE_HEX_DIGITS: usize = 130;

#[derive(Clone, Copy, Debug)]
pub struct PollPolicy {
    pub interval: Duration,
    pub timeout: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            interval: Duration::from_millis(250),
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Serialize)]
struct PendingJson<'a> {
    otp: &'a str,
    machine_id: &'a str,
    session_id: &'a str,
}

/// An open session. Dropping it removes every file it may have left, whatever the outcome.
#[derive(Debug)]
pub struct Session {
    id: String,
    json: PathBuf,
    sig: PathBuf,
    tmp: PathBuf,
}

/// 16 random bytes as 32 lowercase hex digits.
pub fn new_session_id() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(hex::encode(&bytes))
}

impl Session {
    pub fn create(dir: &Path, id: String, otp: &str, machine_id: &str) -> Result<Session, String> {
        let session = Session {
            json: dir.join(format!("{id}.json")),
            sig: dir.join(format!("{id}.sig")),
            // Dot-prefixed so nothing that lists `*.json` picks up a half-written file.
            tmp: dir.join(format!(".{id}.json.tmp")),
            id,
        };
        let body = serde_json::to_vec(&PendingJson {
            otp,
            machine_id,
            session_id: &session.id,
        })
        .map_err(|e| format!("cannot encode session: {e}"))?;
        session
            .write_json(&body)
            .map_err(|e| format!("cannot write session file in {}: {e}", dir.display()))?;
        Ok(session)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Written to a temp file, synced, then renamed, so readers see all of it or nothing.
    fn write_json(&self, body: &[u8]) -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&self.tmp)?;
        file.write_all(body)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.tmp, &self.json)
    }

    /// Waits for `<sid>.sig`, calling `sleep` between looks. Returns the file's bytes once
    /// they are no longer a prefix of a signature still being written.
    pub fn wait_for_signature(
        &self,
        policy: PollPolicy,
        sleep: &mut dyn FnMut(Duration),
    ) -> Result<Vec<u8>, String> {
        let interval_ms = policy.interval.as_millis().max(1);
        let retries = policy.timeout.as_millis().div_ceil(interval_ms);
        let mut saw_partial = false;
        for attempt in 0..=retries {
            if attempt > 0 {
                sleep(policy.interval);
            }
            match self.read_signature()? {
                SigFile::Complete(bytes) => return Ok(bytes),
                SigFile::Partial => saw_partial = true,
                SigFile::Missing => {}
            }
        }
        let secs = policy.timeout.as_secs_f32();
        Err(if saw_partial {
            format!("callback signature still incomplete after {secs} s")
        } else {
            format!("no callback signature within {secs} s")
        })
    }

    fn read_signature(&self) -> Result<SigFile, String> {
        let file = match File::open(&self.sig) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(SigFile::Missing),
            Err(e) => return Err(format!("cannot open {}: {e}", self.sig.display())),
        };
        let mut bytes = Vec::new();
        // One byte over the cap is enough for the signature check to refuse it.
        file.take(MAX_INPUT_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read {}: {e}", self.sig.display()))?;
        Ok(if is_unfinished(&bytes) {
            SigFile::Partial
        } else {
            SigFile::Complete(bytes)
        })
    }
}

enum SigFile {
    Missing,
    Partial,
    Complete(Vec<u8>),
}

/// The guest agent's open/write/close is not atomic: a short run of hex digits (with or
/// without the `0x`) is a signature still arriving. Anything else is judged as it is.
fn is_unfinished(bytes: &[u8]) -> bool {
    let digits = hex::strip_0x(bytes);
    digits.len() < SIGNATURE_HEX_DIGITS && digits.iter().all(|&b| hex::is_hex_digit(b))
}

impl Drop for Session {
    fn drop(&mut self) {
        for path in [&self.json, &self.sig, &self.tmp] {
            // NotFound is the normal case for the temp file and a missing .sig.
            let _ = fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    const SIG: &str = "0xc05fa0f4f2bf41d151e4611a55ff4c618354a1cbb69040ce6116b97d2c785ce872cd93fb36cedd8c2e644ed1859a51d7bb720dc41120877c45fee539b29f87d51c";

    fn fast() -> PollPolicy {
        PollPolicy {
            interval: Duration::from_millis(250),
            timeout: Duration::from_secs(10),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn session_id_is_32_lowercase_hex() {
        let id = new_session_id().unwrap();
        assert_eq!(id.len(), 32);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_ne!(id, new_session_id().unwrap());
    }

    #[test]
    fn json_is_complete_private_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let id = "0123456789abcdef0123456789abcdef";
        let session = Session::create(dir.path(), id.into(), "042917", "vm-\"1\"").unwrap();
        let path = dir.path().join(format!("{id}.json"));
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!(r#"{{"otp":"042917","machine_id":"vm-\"1\"","session_id":"{id}"}}"#)
        );
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(names(dir.path()), vec![format!("{id}.json")]);
        fs::write(dir.path().join(format!("{id}.sig")), SIG).unwrap();
        drop(session);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn readers_never_see_a_partial_json() {
        let dir = tempfile::tempdir().unwrap();
        let id = "00000000000000000000000000000001";
        let path = dir.path().join(format!("{id}.json"));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (path, stop) = (path.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seen = 0;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(text) = fs::read_to_string(&path) {
                        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                        assert_eq!(value["session_id"], id);
                        seen += 1;
                    }
                }
                seen
            })
        };
        let machine = "m".repeat(4000);
        for _ in 0..300 {
            drop(Session::create(dir.path(), id.into(), "123456", &machine).unwrap());
        }
        stop.store(true, Ordering::Relaxed);
        reader.join().unwrap();
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn failed_create_leaves_nothing_under_the_final_name() {
        let dir = tempfile::tempdir().unwrap();
        let id = "00000000000000000000000000000002";
        // A stale temp file makes create_new fail; the final name must not appear.
        fs::write(dir.path().join(format!(".{id}.json.tmp")), b"{").unwrap();
        assert!(Session::create(dir.path(), id.into(), "1", "m").is_err());
        assert!(names(dir.path()).is_empty());
        assert!(Session::create(&dir.path().join("missing"), id.into(), "1", "m").is_err());
    }

    /// Sleeps are counted; `on_sleep` can write the .sig file to simulate the host.
    fn poll_with(
        session: &Session,
        mut on_sleep: impl FnMut(u32),
    ) -> (Result<Vec<u8>, String>, u32) {
        let mut sleeps = 0;
        let result = session.wait_for_signature(fast(), &mut |d| {
            assert_eq!(d, Duration::from_millis(250));
            sleeps += 1;
            on_sleep(sleeps);
        });
        (result, sleeps)
    }

    #[test]
    fn signature_appearing_later_is_picked_up() {
        let dir = tempfile::tempdir().unwrap();
        let session = Session::create(dir.path(), "a".repeat(32), "1", "m").unwrap();
        let sig = session.sig.clone();
        let (result, sleeps) = poll_with(&session, |n| {
            if n == 5 {
                fs::write(&sig, format!("{SIG}\n")).unwrap();
            }
        });
        assert_eq!(result.unwrap(), format!("{SIG}\n").into_bytes());
        assert_eq!(sleeps, 5);
    }

    #[test]
    fn partial_signature_keeps_polling() {
        let dir = tempfile::tempdir().unwrap();
        let session = Session::create(dir.path(), "b".repeat(32), "1", "m").unwrap();
        let sig = session.sig.clone();
        let (result, sleeps) = poll_with(&session, |n| match n {
            1 => fs::write(&sig, "").unwrap(),
            2 => fs::write(&sig, "0").unwrap(),
            3 => fs::write(&sig, "0x").unwrap(),
            4 => fs::write(&sig, &SIG[..70]).unwrap(),
            5 => fs::write(&sig, &SIG[2..100]).unwrap(),
            6 => fs::write(&sig, SIG).unwrap(),
            _ => {}
        });
        assert_eq!(result.unwrap(), SIG.as_bytes());
        assert_eq!(sleeps, 6);
    }

    #[test]
    fn complete_garbage_is_returned_for_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let session = Session::create(dir.path(), "c".repeat(32), "1", "m").unwrap();
        fs::write(&session.sig, "0xnot-a-signature").unwrap();
        let (result, sleeps) = poll_with(&session, |_| {});
        assert_eq!(result.unwrap(), b"0xnot-a-signature");
        assert_eq!(sleeps, 0);
    }

    #[test]
    fn timeout_when_nothing_or_only_a_prefix_arrives() {
        let dir = tempfile::tempdir().unwrap();
        let session = Session::create(dir.path(), "d".repeat(32), "1", "m").unwrap();
        let (result, sleeps) = poll_with(&session, |_| {});
        assert_eq!(result.unwrap_err(), "no callback signature within 10 s");
        assert_eq!(sleeps, 40);
        fs::write(&session.sig, &SIG[..50]).unwrap();
        let (result, _) = poll_with(&session, |_| {});
        assert!(result.unwrap_err().contains("incomplete"));
        drop(session);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn unfinished_detection() {
        assert!(is_unfinished(b""));
        assert!(is_unfinished(b"0"));
        assert!(is_unfinished(b"0x"));
        assert!(is_unfinished(b"0xabc"));
        assert!(is_unfinished(b"abc"));
        assert!(!is_unfinished(SIG.as_bytes()));
        assert!(!is_unfinished(b"0xab\n"));
        assert!(!is_unfinished(b"0xzz"));
    }
}
