//! The whole login flow, end to end, with fake conversation, clock and passwd.

use std::cell::{Cell, RefCell};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use crate::flow::{authenticate, Clock, Code, Failure, Options};
use crate::prompt::{PROMPT_PASTE_ONLY, PROMPT_WITH_CALLBACK};
use crate::session::PollPolicy;
use crate::signature::login_message;
use crate::testkit::{self, code_in, FakeConv, FakePasswd};
use crate::testutil::{anvil_wallet, sign_hex, ANVIL_ADDRESS, ANVIL_KEY, OTHER_KEY};

const MACHINE: &str = "vm-test";
const START: u64 = 1_700_000_000;

/// Time moves only when told to; each sleep advances it and may run the host's action.
struct FakeClock {
    now: Rc<Cell<u64>>,
    sleeps: Cell<u32>,
    on_sleep: RefCell<Box<dyn FnMut(u32)>>,
}

impl Clock for FakeClock {
    fn now_unix(&self) -> u64 {
        self.now.get()
    }

    fn sleep(&self, duration: Duration) {
        assert_eq!(duration, Duration::from_millis(250));
        self.sleeps.set(self.sleeps.get() + 1);
        (self.on_sleep.borrow_mut())(self.sleeps.get());
    }
}

struct Setup {
    dir: tempfile::TempDir,
    options: Options,
    now: Rc<Cell<u64>>,
    on_sleep: Option<Box<dyn FnMut(u32)>>,
    passwd: FakePasswd,
}

impl Setup {
    fn new(with_pending_dir: bool) -> Setup {
        Setup::with_auth(
            with_pending_dir,
            "signing_url = \"https://host.example/sign\"\n",
        )
    }

    fn with_auth(with_pending_dir: bool, auth_extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.toml");
        fs::write(
            &config_path,
            format!(
                "[machine]\nid = \"{MACHINE}\"\nsecret_key = \"{}\"\n\
                 [auth]\notp_length = 6\notp_ttl_seconds = 300\nuse_tls = true\n{auth_extra}",
                "ab".repeat(32)
            ),
        )
        .unwrap();
        fs::set_permissions(&config_path, fs::Permissions::from_mode(0o640)).unwrap();
        let pending_dir = dir.path().join("pending");
        if with_pending_dir {
            fs::create_dir(&pending_dir).unwrap();
        }
        let users = [
            ("admin", format!("nft=7,wallet={ANVIL_ADDRESS}")),
            ("nowallet", "Just A Name".to_string()),
        ];
        Setup {
            options: Options {
                config_path,
                pending_dir,
                poll: PollPolicy::default(),
                require_root_owned_config: false,
            },
            dir,
            now: Rc::new(Cell::new(START)),
            on_sleep: None,
            passwd: FakePasswd::new(users),
        }
    }

    fn pending(&self) -> PathBuf {
        self.options.pending_dir.clone()
    }

    fn run(
        &mut self,
        user: &str,
        answer: impl FnMut(&str) -> Result<Vec<u8>, String> + 'static,
    ) -> (Result<[u8; 20], Failure>, FakeConv, u32) {
        let mut conv = FakeConv::new(answer);
        let clock = FakeClock {
            now: self.now.clone(),
            sleeps: Cell::new(0),
            on_sleep: RefCell::new(self.on_sleep.take().unwrap_or_else(|| Box::new(|_| {}))),
        };
        let result = authenticate(user, &self.options, &mut conv, &clock, &self.passwd);
        (result, conv, clock.sleeps.get())
    }
}

fn signs_with(key: &'static str) -> impl FnMut(&str) -> Result<Vec<u8>, String> {
    testkit::signs_with(key, MACHINE)
}

fn entries(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |d| d.count())
}

fn reason(result: Result<[u8; 20], Failure>) -> (Code, String) {
    let failure = result.unwrap_err();
    (failure.code, failure.reason)
}

#[test]
fn pasted_signature_without_callback_dir() {
    let mut setup = Setup::new(false);
    let (result, conv, _) = setup.run("admin", signs_with(ANVIL_KEY));
    assert_eq!(result.unwrap(), anvil_wallet());
    let code = code_in(&conv.infos[0]);
    assert_eq!(code.len(), 6);
    assert_eq!(
        conv.infos,
        vec![format!(
            "\n=== Web3 Authentication ===\nCode: {code}\nMachine: {MACHINE}\n\
             Sign at: https://host.example/sign?machine={MACHINE}&code={code}\n"
        )]
    );
    assert_eq!(conv.prompts, vec![PROMPT_PASTE_ONLY]);
}

#[test]
fn callback_signature_arrives_after_some_polls() {
    let mut setup = Setup::new(true);
    let pending = setup.pending();
    setup.on_sleep = Some(Box::new(move |n| {
        if n != 3 {
            return;
        }
        // Act as the host: read the session JSON and answer through the .sig file.
        let json = fs::read_dir(&pending)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .unwrap();
        let session: serde_json::Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
        let otp = session["otp"].as_str().unwrap();
        assert_eq!(session["machine_id"], MACHINE);
        let sig = sign_hex(ANVIL_KEY, &login_message(MACHINE, otp));
        let sid = session["session_id"].as_str().unwrap();
        fs::write(pending.join(format!("{sid}.sig")), format!("{sig}\n")).unwrap();
    }));
    let (result, conv, sleeps) = setup.run("admin", |_| Ok(b"\n".to_vec()));
    assert_eq!(result.unwrap(), anvil_wallet());
    assert_eq!(sleeps, 3);
    assert_eq!(conv.prompts, vec![PROMPT_WITH_CALLBACK]);
    let url = conv.infos[0]
        .lines()
        .find_map(|l| l.strip_prefix("Sign at: "))
        .unwrap();
    let sid = url.split("&session=").nth(1).unwrap();
    assert_eq!(sid.len(), 32);
    assert_eq!(entries(&setup.pending()), 0);
}

#[test]
fn pasted_signature_with_callback_dir() {
    let mut setup = Setup::new(true);
    let (result, _, sleeps) = setup.run("admin", signs_with(ANVIL_KEY));
    assert!(result.is_ok());
    assert_eq!(sleeps, 0);
    assert_eq!(entries(&setup.pending()), 0);
}

#[test]
fn callback_timeout_cleans_up() {
    let mut setup = Setup::new(true);
    let (result, _, sleeps) = setup.run("admin", |_| Ok(Vec::new()));
    assert_eq!(
        reason(result),
        (
            Code::AuthErr,
            "no callback signature within 10 s (user admin)".into()
        )
    );
    assert_eq!(sleeps, 40);
    assert_eq!(entries(&setup.pending()), 0);
}

#[test]
fn invalid_callback_signature_is_refused_and_cleaned_up() {
    let mut setup = Setup::new(true);
    let pending = setup.pending();
    setup.on_sleep = Some(Box::new(move |_| {
        let json = fs::read_dir(&pending)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        fs::write(json.with_extension("sig"), format!("0x{}", "1".repeat(130))).unwrap();
    }));
    let (result, _, _) = setup.run("admin", |_| Ok(Vec::new()));
    assert_eq!(reason(result).0, Code::AuthErr);
    assert_eq!(entries(&setup.pending()), 0);
}

#[test]
fn empty_answer_without_callback_is_refused() {
    let mut setup = Setup::new(false);
    let (result, _, _) = setup.run("admin", |_| Ok(b"  ".to_vec()));
    assert_eq!(reason(result).1, "empty answer from user admin");
}

#[test]
fn other_wallet_is_refused_with_its_address() {
    let mut setup = Setup::new(false);
    let (result, _, _) = setup.run("admin", signs_with(OTHER_KEY));
    assert_eq!(
        reason(result).1,
        "signature recovers to 0x70997970c51812dc3a010c7d01b50e0d17dc79c8 not the wallet of user admin"
    );
}

#[test]
fn signature_for_another_code_is_refused() {
    let mut setup = Setup::new(false);
    let (result, _, _) = setup.run("admin", |info| {
        let wrong = format!(
            "{:06}",
            (code_in(info).parse::<u32>().unwrap() + 1) % 1_000_000
        );
        Ok(sign_hex(ANVIL_KEY, &login_message(MACHINE, &wrong)).into_bytes())
    });
    assert!(reason(result).1.starts_with("signature recovers to 0x"));
}

#[test]
fn slow_answer_expires() {
    let mut setup = Setup::new(true);
    let now = setup.now.clone();
    let mut sign = signs_with(ANVIL_KEY);
    let (result, _, _) = setup.run("admin", move |info| {
        now.set(now.get() + 301);
        sign(info)
    });
    assert_eq!(reason(result).1, "code expired after 300 s");
    assert_eq!(entries(&setup.pending()), 0);
}

#[test]
fn answer_within_ttl_is_accepted() {
    let mut setup = Setup::new(false);
    let now = setup.now.clone();
    let mut sign = signs_with(ANVIL_KEY);
    let (result, _, _) = setup.run("admin", move |info| {
        now.set(now.get() + 300);
        sign(info)
    });
    assert!(result.is_ok());
}

#[test]
fn user_problems() {
    let mut setup = Setup::new(false);
    let (result, conv, _) = setup.run("ghost", signs_with(ANVIL_KEY));
    assert_eq!(
        reason(result),
        (Code::UserUnknown, "no such user ghost".into())
    );
    assert!(conv.infos.is_empty());
    let (result, _, _) = setup.run("nowallet", signs_with(ANVIL_KEY));
    assert_eq!(
        reason(result),
        (
            Code::AuthErr,
            "GECOS has no wallet= field (user nowallet)".into()
        )
    );
}

#[test]
fn config_problems() {
    let mut setup = Setup::with_auth(false, "");
    let (result, conv, _) = setup.run("admin", signs_with(ANVIL_KEY));
    let (code, text) = reason(result);
    assert_eq!(code, Code::AuthErr);
    assert!(
        text.ends_with(": config has no [auth] signing_url"),
        "{text}"
    );
    assert!(conv.infos.is_empty());

    let mut setup = Setup::new(false);
    fs::set_permissions(
        &setup.options.config_path,
        fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let (result, _, _) = setup.run("admin", signs_with(ANVIL_KEY));
    assert!(reason(result).1.contains("writable"));
    fs::remove_file(&setup.options.config_path).unwrap();
    let (result, _, _) = setup.run("admin", signs_with(ANVIL_KEY));
    assert!(reason(result).1.contains("cannot open config"));
    drop(setup.dir);
}

#[test]
fn conversation_failure_cleans_up() {
    let mut setup = Setup::new(true);
    let (result, _, _) = setup.run("admin", |_| Err("client went away".into()));
    assert_eq!(
        reason(result),
        (
            Code::ConvErr,
            "conversation failed: client went away".into()
        )
    );
    assert_eq!(entries(&setup.pending()), 0);
}

#[test]
fn module_arguments() {
    let (options, unknown) =
        Options::from_args(["config=/tmp/c.toml", "pending_dir=/tmp/p", "debug"], true);
    assert_eq!(options.config_path, Path::new("/tmp/c.toml"));
    assert_eq!(options.pending_dir, Path::new("/tmp/p"));
    assert!(options.require_root_owned_config);
    assert_eq!(unknown, vec!["debug"]);
    let (options, _) = Options::from_args([], false);
    assert_eq!(options.config_path, Path::new("/etc/pam_web3/config.toml"));
    assert_eq!(options.pending_dir, Path::new("/run/libpam-web3/pending"));
    assert_eq!(options.poll.interval, Duration::from_millis(250));
    assert_eq!(options.poll.timeout, Duration::from_secs(10));
}
