//! The file sink: lines appended to a file (`O_APPEND`), so that each write lands whole at the end
//! even with several workers, and `nginx -s reopen` rotates it like an access log.
//!
//! nginx opens, reopens and closes the file for us, as it does for logs, because the sink adds a
//! record of its own to the cycle's list of open files. Of its own: `ngx_conf_open_file` would hand
//! back the record of an `access_log` with the same path, and the two modules would then write
//! into each other's `flush`/`data` fields.

use std::fs::File;
use std::io::Write;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;

use nginx_sys::{ngx_conf_t, ngx_list_push, ngx_log_t, ngx_open_file_t, ngx_str_t};

use super::SendOutcome;

/// Pending bytes that trigger a write before the flush timer: large enough for few system calls,
/// small enough that one write never stalls a worker.
pub const FLUSH_THRESHOLD: usize = 64 * 1024;
/// Most bytes per write(2): a write to a regular file blocks the worker for its length.
pub const MAX_WRITE: usize = 1024 * 1024;

/// The sink's record in nginx's list of open files.
pub struct FileTarget {
    file: *mut ngx_open_file_t,
    path: String,
}

impl FileTarget {
    /// Adds the sink's own record for `path` (absolute) to the cycle being configured. nginx opens
    /// it after the configuration is read (in the master, with its privileges, like a log) and
    /// reopens it on `nginx -s reopen`, calling `flush_before_reopen` first.
    ///
    /// # Safety
    /// `cf` must be the configuration being parsed.
    pub unsafe fn register(cf: *mut ngx_conf_t, path: &str) -> Result<FileTarget, String> {
        // The name keeps its NUL byte inside `len`: nginx opens the file by `name.data` as a C
        // string, while `ngx_conf_open_file` (used by access_log, error_log and others) matches
        // records by `len` first, so no other module can ever be handed this record.
        let mut with_nul = path.as_bytes().to_vec();
        with_nul.push(0);
        if with_nul[..path.len()].contains(&0) {
            return Err(format!("\"{path}\" contains a NUL byte"));
        }
        // SAFETY (caller): `cf->pool` and `cf->cycle` belong to the cycle being configured; the
        // name is copied into that pool, so it lives as long as the record.
        unsafe {
            let name = ngx_str_t::from_bytes((*cf).pool, &with_nul).ok_or("out of memory")?;
            let file = ngx_list_push(&mut (*(*cf).cycle).open_files).cast::<ngx_open_file_t>();
            let record = file.as_mut().ok_or("out of memory")?;
            record.fd = -1; // NGX_INVALID_FILE: opened by ngx_init_cycle
            record.name = name;
            record.flush = Some(flush_before_reopen);
            record.data = std::ptr::null_mut();
            Ok(FileTarget {
                file,
                path: path.to_owned(),
            })
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

pub struct FileSink {
    file: *mut ngx_open_file_t,
    path: String,
}

impl FileSink {
    pub fn new(target: &FileTarget) -> FileSink {
        FileSink {
            file: target.file,
            path: target.path.clone(),
        }
    }

    pub fn send(&mut self, batch: &[u8]) -> SendOutcome {
        // SAFETY: the record lives as long as the cycle, and so as long as this worker; its fd is
        // read on every send because `nginx -s reopen` replaces it.
        let fd = unsafe { (*self.file).fd };
        if fd < 0 {
            return SendOutcome::Retry(format!("file:{}: not open", self.path));
        }
        // SAFETY: the fd is open and owned by nginx; ManuallyDrop keeps us from closing it.
        let mut out = ManuallyDrop::new(unsafe { File::from_raw_fd(fd) });
        match out.write(batch) {
            Ok(0) => SendOutcome::Retry(format!("file:{}: nothing written", self.path)),
            Ok(n) => SendOutcome::Sent(n),
            Err(e) => SendOutcome::Retry(format!("file:{}: {e}", self.path)),
        }
    }
}

/// nginx calls this just before it reopens the file (`nginx -s reopen`), so pending lines land in
/// the old file, where a rotation script expects them.
unsafe extern "C" fn flush_before_reopen(_file: *mut ngx_open_file_t, _log: *mut ngx_log_t) {
    crate::worker::flush_before_reopen();
}
