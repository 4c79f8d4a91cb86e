//! How much time the module itself takes for one login, next to the crypto it cannot avoid.
//!
//! `cargo run --release --locked --example login_time -- [iterations]` (default 200) prints
//! one JSON line: percentiles of one whole `authenticate` call (config file, GECOS lookup,
//! code and binding, callback session file, pasted signature, parse, recovery, comparison,
//! cleanup) minus the time the fake user spends signing, and of a bare k256 recovery plus
//! keccak address of the same kind of signature; `ratio_p50` is module p50 / recovery p50.
//! The temp dir (config file and pending dir) is on /dev/shm unless TMPDIR is set.

use std::fs;
use std::hint::black_box;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use pam_web3::testkit::{
    anvil_wallet, eip191_hash, sign, signs_with, FakeConv, FakePasswd, ANVIL_ADDRESS, ANVIL_KEY,
};
use pam_web3::{authenticate, Options, SystemClock};
use sha3::{Digest, Keccak256};

const MACHINE: &str = "vm-bench";
const WARMUP: usize = 10;

fn main() {
    let iterations: usize = match std::env::args().nth(1) {
        None => 200,
        Some(arg) => match arg.parse() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("usage: login_time [iterations > 0]");
                std::process::exit(2);
            }
        },
    };

    // The real pending dir, /run/libpam-web3/pending, is on tmpfs; so is /dev/shm. An
    // explicit TMPDIR wins (on a disk the session file's fsync dominates everything).
    let dir = match std::env::var_os("TMPDIR") {
        None if Path::new("/dev/shm").is_dir() => tempfile::tempdir_in("/dev/shm"),
        _ => tempfile::tempdir(),
    }
    .expect("temp dir");
    let config = dir.path().join("config.toml");
    fs::write(
        &config,
        format!(
            "[machine]\nid = \"{MACHINE}\"\nsecret_key = \"{}\"\n[auth]\notp_length = 6\n\
             otp_ttl_seconds = 300\nuse_tls = true\nsigning_url = \"https://host.example/sign\"\n",
            "ab".repeat(32)
        ),
    )
    .expect("write config");
    fs::set_permissions(&config, fs::Permissions::from_mode(0o600)).expect("chmod config");
    let pending = dir.path().join("pending");
    fs::create_dir(&pending).expect("pending dir");
    let args = [
        format!("config={}", config.display()),
        format!("pending_dir={}", pending.display()),
    ];
    let (options, unknown) = Options::from_args(args.iter().map(String::as_str), false);
    assert!(unknown.is_empty());
    let passwd = FakePasswd::new([("admin", format!("nft=7,wallet={ANVIL_ADDRESS}"))]);

    let mut module = Vec::with_capacity(iterations);
    let mut recover = Vec::with_capacity(iterations);
    for i in 0..WARMUP + iterations {
        let mut conv = FakeConv::new(signs_with(ANVIL_KEY, MACHINE));
        let start = Instant::now();
        let result = authenticate("admin", &options, &mut conv, &SystemClock, &passwd);
        let total = start.elapsed();
        assert_eq!(result.expect("login must succeed"), anvil_wallet());
        assert!(conv.prompts.len() == 1 && fs::read_dir(&pending).unwrap().next().is_none());

        // The same kind of signature (a 6-digit code for this machine), signed beforehand.
        let message = format!("Authenticate to {MACHINE} with code: {:06}", i % 1_000_000);
        let raw = sign(ANVIL_KEY, &message);
        let hash = eip191_hash(message.as_bytes());
        let signature = Signature::from_slice(&raw[..64]).unwrap();
        let recovery_id = RecoveryId::from_byte(raw[64] - 27).unwrap();
        let start = Instant::now();
        let address = recover_address(black_box(&hash), black_box(&signature), recovery_id);
        let bare = start.elapsed();
        assert_eq!(black_box(address), anvil_wallet());

        if i >= WARMUP {
            module.push(total - conv.answering);
            recover.push(bare);
        }
    }

    let (m50, m95) = (percentile(&mut module, 50), percentile(&mut module, 95));
    let (r50, r95) = (percentile(&mut recover, 50), percentile(&mut recover, 95));
    println!(
        "{{\"iterations\":{iterations},\"module_p50_us\":{:.1},\"module_p95_us\":{:.1},\
         \"recover_p50_us\":{:.1},\"recover_p95_us\":{:.1},\"ratio_p50\":{:.2}}}",
        micros(m50),
        micros(m95),
        micros(r50),
        micros(r95),
        m50.as_secs_f64() / r50.as_secs_f64()
    );
}

/// The irreducible part: public-key recovery and the keccak address.
fn recover_address(hash: &[u8; 32], signature: &Signature, recovery_id: RecoveryId) -> [u8; 20] {
    let key = VerifyingKey::recover_from_prehash(hash, signature, recovery_id).unwrap();
    let digest = Keccak256::digest(&key.to_encoded_point(false).as_bytes()[1..]);
    digest[12..].try_into().unwrap()
}

/// Nearest-rank percentile.
fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort_unstable();
    samples[(samples.len() * p).div_ceil(100).max(1) - 1]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
