//! pam_web3: a PAM module that logs a user in when they sign a one-time code with the
//! wallet recorded in their GECOS field (see README.md and INTEROP §4).

mod config;
mod ffi;
mod flow;
mod gecos;
mod hex;
mod log;
mod otp;
mod prompt;
mod session;
mod signature;

// What `examples/login_time.rs` needs; everything else stays private.
pub use flow::{authenticate, Clock, Conversation, Options, Passwd, SystemClock};
#[doc(hidden)]
pub mod testkit;

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod testutil;
