//! One login attempt, from config to verdict, written against small traits so that it
//! runs unchanged under PAM and in tests.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{self, Config};
use crate::gecos::{self, Address};
use crate::otp::{self, BoundCode};
use crate::prompt;
use crate::session::{self, PollPolicy, Session};
use crate::signature::{self, Refusal};

pub trait Conversation {
    fn info(&mut self, text: &str) -> Result<(), String>;
    /// The raw answer; it may be any bytes, so it is not forced into UTF-8.
    fn prompt_echo_off(&mut self, prompt: &str) -> Result<Vec<u8>, String>;
}

pub trait Clock {
    fn now_unix(&self) -> u64;
    fn sleep(&self, duration: Duration);
}

pub trait Passwd {
    /// The GECOS field of `user`, or None when there is no such user.
    fn gecos(&self, user: &str) -> Result<Option<String>, String>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> u64 {
        // A clock before 1970 reads as 0, which the TTL check then treats as "not yet".
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    AuthErr,
    UserUnknown,
    ConvErr,
}

#[derive(Debug)]
pub struct Failure {
    pub code: Code,
    /// One line for syslog; never the secret or the code binding.
    pub reason: String,
}

fn refuse(reason: impl Into<String>) -> Failure {
    Failure {
        code: Code::AuthErr,
        reason: reason.into(),
    }
}

#[derive(Debug)]
pub struct Options {
    pub config_path: PathBuf,
    pub pending_dir: PathBuf,
    pub poll: PollPolicy,
    pub require_root_owned_config: bool,
}

impl Options {
    /// Module arguments `config=` and `pending_dir=` (meant for tests); other arguments
    /// are returned so the caller can log them.
    pub fn from_args<'a>(
        args: impl IntoIterator<Item = &'a str>,
        running_as_root: bool,
    ) -> (Options, Vec<String>) {
        let mut options = Options {
            config_path: config::DEFAULT_PATH.into(),
            pending_dir: session::DEFAULT_PENDING_DIR.into(),
            poll: PollPolicy::default(),
            require_root_owned_config: running_as_root,
        };
        let mut unknown = Vec::new();
        for arg in args {
            if let Some(path) = arg.strip_prefix("config=") {
                options.config_path = path.into();
            } else if let Some(path) = arg.strip_prefix("pending_dir=") {
                options.pending_dir = path.into();
            } else {
                unknown.push(arg.to_string());
            }
        }
        (options, unknown)
    }
}

/// Runs one attempt for `user`; on success returns the wallet that signed.
pub fn authenticate(
    user: &str,
    options: &Options,
    conv: &mut dyn Conversation,
    clock: &dyn Clock,
    passwd: &dyn Passwd,
) -> Result<Address, Failure> {
    let cfg =
        config::load(&options.config_path, options.require_root_owned_config).map_err(refuse)?;
    let wallet = wallet_of(user, passwd)?;

    let code = otp::random_code(cfg.otp_length).map_err(refuse)?;
    let bound = BoundCode::new(code, clock.now_unix(), &cfg.secret.0, &cfg.machine_id);
    // Held until the function returns: its Drop removes the session files on every path.
    let session = open_session(options, &cfg, bound.code())?;

    let url = prompt::signing_url(
        &cfg.signing_url,
        &cfg.machine_id,
        bound.code(),
        session.as_ref().map(Session::id),
    );
    conv.info(&prompt::info_text(bound.code(), &cfg.machine_id, &url))
        .map_err(conversation_failed)?;
    let question = match session {
        Some(_) => prompt::PROMPT_WITH_CALLBACK,
        None => prompt::PROMPT_PASTE_ONLY,
    };
    let mut answer = conv
        .prompt_echo_off(question)
        .map_err(conversation_failed)?;

    if answer.trim_ascii().is_empty() {
        let Some(session) = &session else {
            return Err(refuse(format!("empty answer from user {user}")));
        };
        answer = session
            .wait_for_signature(options.poll, &mut |d| clock.sleep(d))
            .map_err(|e| refuse(format!("{e} (user {user})")))?;
    }

    bound
        .check(
            &cfg.secret.0,
            &cfg.machine_id,
            clock.now_unix(),
            cfg.otp_ttl_seconds,
        )
        .map_err(refuse)?;
    let message = signature::login_message(&cfg.machine_id, bound.code());
    signature::verify_answer(&answer, &message, &wallet).map_err(|refusal| match refusal {
        Refusal::WrongSigner(_) => refuse(format!("{refusal} not the wallet of user {user}")),
        Refusal::Malformed(_) => refuse(format!("{refusal} (user {user})")),
    })?;
    Ok(wallet)
}

fn wallet_of(user: &str, passwd: &dyn Passwd) -> Result<Address, Failure> {
    match passwd.gecos(user) {
        Ok(Some(gecos)) => gecos::wallet(&gecos).map_err(|e| refuse(format!("{e} (user {user})"))),
        Ok(None) => Err(Failure {
            code: Code::UserUnknown,
            reason: format!("no such user {user}"),
        }),
        Err(e) => Err(refuse(format!("cannot look up user {user}: {e}"))),
    }
}

/// A callback session exists only where the host has prepared the pending directory.
fn open_session(options: &Options, cfg: &Config, code: &str) -> Result<Option<Session>, Failure> {
    if !options.pending_dir.is_dir() {
        return Ok(None);
    }
    let id = session::new_session_id().map_err(refuse)?;
    Session::create(&options.pending_dir, id, code, &cfg.machine_id)
        .map(Some)
        .map_err(refuse)
}

fn conversation_failed(e: String) -> Failure {
    Failure {
        code: Code::ConvErr,
        reason: format!("conversation failed: {e}"),
    }
}
