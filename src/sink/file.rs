//! The file sink: lines appended to a file that nginx opened (`O_APPEND`), so that each write lands
//! whole at the end even with several workers, and `nginx -s reopen` rotates it like an access log.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;

use nginx_sys::{ngx_log_t, ngx_open_file_t};

use super::SendOutcome;
use crate::config::MainConfig;

/// Pending bytes that trigger a write before the flush timer: large enough for few system calls,
/// small enough that one write never stalls a worker.
pub const FLUSH_THRESHOLD: usize = 64 * 1024;
/// Most bytes per write(2).
pub const MAX_WRITE: usize = 1024 * 1024;

pub struct FileSink {
    file: *mut ngx_open_file_t,
}

impl FileSink {
    pub fn new(file: *mut ngx_open_file_t) -> FileSink {
        FileSink { file }
    }

    pub fn send(&mut self, batch: &[u8]) -> SendOutcome {
        // SAFETY: `file` was returned by ngx_conf_open_file and lives as long as the cycle; its fd
        // is re-read on every send because `nginx -s reopen` replaces it.
        let (fd, name) = unsafe { ((*self.file).fd, (*self.file).name) };
        // SAFETY: the fd is open and owned by nginx; ManuallyDrop keeps us from closing it.
        let mut out = ManuallyDrop::new(unsafe { File::from_raw_fd(fd) });
        match out.write(batch) {
            Ok(0) => SendOutcome::Retry(format!("file:{name}: nothing written")),
            Ok(n) => SendOutcome::Sent(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => SendOutcome::Retry(format!("file:{name}: {e}")),
            Err(e) => SendOutcome::Retry(format!("file:{name}: {e}")),
        }
    }
}

/// nginx calls this just before it reopens the file (`nginx -s reopen`), so pending lines land in
/// the old file, where a rotation script expects them.
pub unsafe extern "C" fn flush_before_reopen(file: *mut ngx_open_file_t, _log: *mut ngx_log_t) {
    // SAFETY: `data` was set to this module's main configuration in init_main_conf, and that
    // configuration lives as long as the cycle that owns `file`.
    let main = unsafe { &mut *(*file).data.cast::<MainConfig>() };
    if let Some(worker) = main.worker.as_mut() {
        worker.flush();
    }
}
