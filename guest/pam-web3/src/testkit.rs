//! Fakes shared by the unit tests and `examples/login_time.rs`: a publicly known signing
//! key, a conversation that answers from the info text it was shown, and a passwd table.
//! Not part of the module's behaviour; nothing here is reachable from the PAM entry points.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use k256::ecdsa::SigningKey;

use crate::flow::{Conversation, Passwd};
use crate::gecos::Address;
use crate::hex;
pub use crate::signature::eip191_hash;
use crate::signature::login_message;

/// anvil's account 0, a publicly known test key, and its address.
pub const ANVIL_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub const ANVIL_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

pub fn anvil_wallet() -> Address {
    let mut a = [0u8; 20];
    assert!(hex::decode_into(&ANVIL_ADDRESS.as_bytes()[2..], &mut a));
    a
}

/// Signs like personal_sign and returns `r‖s‖v` with v = 27/28.
pub fn sign(key_hex: &str, message: &str) -> [u8; 65] {
    let mut key = [0u8; 32];
    assert!(hex::decode_into(key_hex.as_bytes(), &mut key));
    let key = SigningKey::from_bytes(&key.into()).unwrap();
    let (signature, recovery_id) = key
        .sign_prehash_recoverable(&eip191_hash(message.as_bytes()))
        .unwrap();
    let mut raw = [0u8; 65];
    raw[..64].copy_from_slice(&signature.to_bytes());
    raw[64] = 27 + recovery_id.to_byte();
    raw
}

pub fn sign_hex(key_hex: &str, message: &str) -> String {
    format!("0x{}", hex::encode(&sign(key_hex, message)))
}

/// The code shown in an info text (`Code: 042917` line).
pub fn code_in(info: &str) -> String {
    let line = info.lines().find(|l| l.starts_with("Code: ")).unwrap();
    line["Code: ".len()..].to_string()
}

/// An answer that pastes `key`'s signature of the login message for the displayed code.
pub fn signs_with(
    key: &'static str,
    machine_id: &'static str,
) -> impl FnMut(&str) -> Result<Vec<u8>, String> {
    move |info| Ok(sign_hex(key, &login_message(machine_id, &code_in(info))).into_bytes())
}

pub type Answer = Box<dyn FnMut(&str) -> Result<Vec<u8>, String>>;

/// Answers the prompt with whatever `answer` makes of the info text it was shown.
pub struct FakeConv {
    pub infos: Vec<String>,
    pub prompts: Vec<String>,
    answer: Answer,
    /// Time spent inside `prompt_echo_off` (the fake "user"), for timing the module alone.
    pub answering: Duration,
}

impl FakeConv {
    pub fn new(answer: impl FnMut(&str) -> Result<Vec<u8>, String> + 'static) -> FakeConv {
        FakeConv {
            infos: Vec::new(),
            prompts: Vec::new(),
            answer: Box::new(answer),
            answering: Duration::ZERO,
        }
    }
}

impl Conversation for FakeConv {
    fn info(&mut self, text: &str) -> Result<(), String> {
        self.infos.push(text.to_string());
        Ok(())
    }

    fn prompt_echo_off(&mut self, prompt: &str) -> Result<Vec<u8>, String> {
        let start = Instant::now();
        self.prompts.push(prompt.to_string());
        let info = self.infos.last().cloned().unwrap_or_default();
        let answer = (self.answer)(&info);
        self.answering += start.elapsed();
        answer
    }
}

/// user → GECOS.
pub struct FakePasswd(pub HashMap<String, String>);

impl FakePasswd {
    pub fn new<'a>(users: impl IntoIterator<Item = (&'a str, String)>) -> FakePasswd {
        FakePasswd(users.into_iter().map(|(u, g)| (u.to_string(), g)).collect())
    }
}

impl Passwd for FakePasswd {
    fn gecos(&self, user: &str) -> Result<Option<String>, String> {
        Ok(self.0.get(user).cloned())
    }
}
