//! Everything unsafe lives here: the PAM entry points, the PAM conversation, the passwd
//! lookup and syslog. The rest of the crate is safe Rust.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use crate::flow::{self, Code, Conversation, Options, Passwd, SystemClock};
use crate::log;
use crate::signature::{address_hex, MAX_INPUT_BYTES};

const PAM_SUCCESS: c_int = 0;
const PAM_AUTH_ERR: c_int = 7;
const PAM_USER_UNKNOWN: c_int = 10;
const PAM_CONV_ERR: c_int = 19;
const PAM_CONV: c_int = 5;
const PAM_PROMPT_ECHO_OFF: c_int = 1;
const PAM_TEXT_INFO: c_int = 4;
/// Answers are read up to this many bytes; anything that long is refused later anyway.
const MAX_ANSWER_READ: usize = MAX_INPUT_BYTES * 16;

#[repr(C)]
pub struct PamHandle {
    _opaque: [u8; 0],
}

#[repr(C)]
struct PamMessage {
    msg_style: c_int,
    msg: *const c_char,
}

#[repr(C)]
struct PamResponse {
    resp: *mut c_char,
    resp_retcode: c_int,
}

type ConvFn = unsafe extern "C" fn(
    c_int,
    *mut *const PamMessage,
    *mut *mut PamResponse,
    *mut c_void,
) -> c_int;

#[repr(C)]
struct PamConv {
    conv: Option<ConvFn>,
    appdata_ptr: *mut c_void,
}

#[link(name = "pam")]
extern "C" {
    fn pam_get_user(pamh: *mut PamHandle, user: *mut *const c_char, prompt: *const c_char)
        -> c_int;
    fn pam_get_item(pamh: *const PamHandle, item_type: c_int, item: *mut *const c_void) -> c_int;
}

/// # Safety
/// Called by libpam with a valid handle and `argc` valid C strings in `argv`.
#[no_mangle]
pub unsafe extern "C" fn pam_sm_authenticate(
    pamh: *mut PamHandle,
    _flags: c_int,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    // A panic must not unwind into C; it becomes a refusal.
    catch_unwind(AssertUnwindSafe(|| authenticate(pamh, argc, argv))).unwrap_or_else(|_| {
        log::failure("internal error, refusing");
        PAM_AUTH_ERR
    })
}

/// # Safety
/// Called by libpam; no credentials are set, so nothing is dereferenced.
#[no_mangle]
pub unsafe extern "C" fn pam_sm_setcred(
    _pamh: *mut PamHandle,
    _flags: c_int,
    _argc: c_int,
    _argv: *const *const c_char,
) -> c_int {
    PAM_SUCCESS
}

unsafe fn authenticate(pamh: *mut PamHandle, argc: c_int, argv: *const *const c_char) -> c_int {
    let args = module_args(argc, argv);
    let (options, unknown) =
        Options::from_args(args.iter().map(String::as_str), libc::geteuid() == 0);
    for arg in unknown {
        log::warning(&format!("ignoring unknown module argument {arg}"));
    }

    let mut user_ptr: *const c_char = ptr::null();
    if pam_get_user(pamh, &mut user_ptr, ptr::null()) != PAM_SUCCESS || user_ptr.is_null() {
        log::failure("cannot get the user name");
        return PAM_USER_UNKNOWN;
    }
    let Ok(user) = CStr::from_ptr(user_ptr).to_str().map(str::to_owned) else {
        log::failure("user name is not UTF-8");
        return PAM_USER_UNKNOWN;
    };

    let mut item: *const c_void = ptr::null();
    if pam_get_item(pamh, PAM_CONV, &mut item) != PAM_SUCCESS || item.is_null() {
        log::failure("the application offers no conversation");
        return PAM_CONV_ERR;
    }
    let mut conv = PamConversation { conv: item.cast() };

    match flow::authenticate(&user, &options, &mut conv, &SystemClock, &SystemPasswd) {
        Ok(wallet) => {
            log::success(&format!(
                "user {user} authenticated by wallet {}",
                address_hex(&wallet)
            ));
            PAM_SUCCESS
        }
        Err(failure) => {
            log::failure(&failure.reason);
            match failure.code {
                Code::AuthErr => PAM_AUTH_ERR,
                Code::UserUnknown => PAM_USER_UNKNOWN,
                Code::ConvErr => PAM_CONV_ERR,
            }
        }
    }
}

unsafe fn module_args(argc: c_int, argv: *const *const c_char) -> Vec<String> {
    if argv.is_null() {
        return Vec::new();
    }
    (0..usize::try_from(argc).unwrap_or(0))
        .map(|i| *argv.add(i))
        .filter(|arg| !arg.is_null())
        .map(|arg| CStr::from_ptr(arg).to_string_lossy().into_owned())
        .collect()
}

/// The application's conversation, valid for the duration of one pam_sm_authenticate.
struct PamConversation {
    conv: *const PamConv,
}

impl PamConversation {
    /// Sends one message at a time, which sidesteps the Linux/Solaris disagreement about
    /// the layout of the message array.
    fn send(&mut self, style: c_int, text: &str) -> Result<Option<Vec<u8>>, String> {
        let text = CString::new(text).map_err(|_| "message contains NUL".to_string())?;
        let message = PamMessage {
            msg_style: style,
            msg: text.as_ptr(),
        };
        let mut list: *const PamMessage = &message;
        let mut responses: *mut PamResponse = ptr::null_mut();
        // SAFETY: `conv` came from pam_get_item(PAM_CONV) and outlives this call; the
        // message and its text live until the function returns.
        unsafe {
            let conv = &*self.conv;
            let function = conv.conv.ok_or("the application's conversation is NULL")?;
            let rc = function(1, &mut list, &mut responses, conv.appdata_ptr);
            let answer = take_response(responses);
            if rc != PAM_SUCCESS {
                return Err(format!("the application returned {rc}"));
            }
            Ok(answer)
        }
    }
}

/// Copies the answer out and frees what the application allocated with malloc.
unsafe fn take_response(responses: *mut PamResponse) -> Option<Vec<u8>> {
    if responses.is_null() {
        return None;
    }
    let text = (*responses).resp;
    let answer = (!text.is_null()).then(|| {
        let len = libc::strnlen(text, MAX_ANSWER_READ);
        let bytes = std::slice::from_raw_parts(text.cast::<u8>(), len).to_vec();
        libc::free(text.cast());
        bytes
    });
    libc::free(responses.cast());
    answer
}

impl Conversation for PamConversation {
    fn info(&mut self, text: &str) -> Result<(), String> {
        self.send(PAM_TEXT_INFO, text).map(drop)
    }

    fn prompt_echo_off(&mut self, prompt: &str) -> Result<Vec<u8>, String> {
        // A NULL answer is an empty one: "press Enter".
        self.send(PAM_PROMPT_ECHO_OFF, prompt)
            .map(Option::unwrap_or_default)
    }
}

struct SystemPasswd;

impl Passwd for SystemPasswd {
    fn gecos(&self, user: &str) -> Result<Option<String>, String> {
        let name = CString::new(user).map_err(|_| "user name contains NUL".to_string())?;
        let mut size = 1024;
        loop {
            let mut buf = vec![0 as c_char; size];
            // SAFETY: all-zero is a valid `passwd` (null pointers, zero ids).
            let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
            let mut found: *mut libc::passwd = ptr::null_mut();
            // SAFETY: every pointer refers to a live local of the advertised size.
            let rc = unsafe {
                libc::getpwnam_r(
                    name.as_ptr(),
                    &mut entry,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut found,
                )
            };
            if rc == libc::ERANGE && size < 1 << 20 {
                size *= 4;
                continue;
            }
            if rc != 0 {
                return Err(std::io::Error::from_raw_os_error(rc).to_string());
            }
            if found.is_null() {
                return Ok(None);
            }
            if entry.pw_gecos.is_null() {
                return Ok(Some(String::new()));
            }
            // SAFETY: pw_gecos points into `buf`, NUL-terminated by getpwnam_r.
            let gecos = unsafe { CStr::from_ptr(entry.pw_gecos) };
            return Ok(Some(gecos.to_string_lossy().into_owned()));
        }
    }
}

pub fn syslog(priority: c_int, line: &CStr) {
    // SAFETY: a constant format with one %s and a NUL-terminated argument.
    unsafe { libc::syslog(priority, c"%s".as_ptr(), line.as_ptr()) }
}
