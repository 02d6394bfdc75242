//! A TLS session over a blocking socket, on a sink's own `SSL_CTX`: for the HTTP sink's last
//! attempt when nginx stops at once and its event loop no longer runs. Every step is bounded by
//! the socket's timeouts, which the caller sets to the time left before each read and write; the
//! certificate is checked as on the event loop (`tls::check_peer`).

use std::ffi::{c_int, c_void};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::time::Instant;

use nginx_sys::{
    ngx_connection_t, ngx_log_t, ngx_ssl_connection_index, ngx_ssl_connection_t, ERR_clear_error,
    ERR_error_string_n, ERR_get_error, SSL_connect, SSL_free, SSL_get_error, SSL_new, SSL_read,
    SSL_set_connect_state, SSL_set_ex_data, SSL_set_fd, SSL_write, SSL, SSL_ERROR_SYSCALL,
    SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE, SSL_ERROR_ZERO_RETURN,
};

use super::tls::{check_peer, set_server_name, TlsTarget};

/// What nginx's callbacks on the `SSL_CTX` (new session, verify, info) find as the connection of
/// a TLS session: on a client they read only its log and its `ssl->save_session`, which stays
/// empty, so no session is saved from here.
struct StandIn {
    conn: ngx_connection_t,
    ssl: ngx_ssl_connection_t,
}

pub struct BlockingTls {
    ssl: NonNull<SSL>,
    /// Boxed: OpenSSL keeps a pointer to it until `ssl` is freed.
    _stand_in: Box<StandIn>,
    stream: TcpStream,
}

impl BlockingTls {
    /// Handshakes over `stream` by `deadline` (the socket's timeouts are set to the time left
    /// before each try) and checks the certificate.
    pub fn connect(
        target: &TlsTarget,
        stream: TcpStream,
        log: *mut ngx_log_t,
        deadline: Instant,
    ) -> Result<BlockingTls, String> {
        // SAFETY: the SSL_CTX lives as long as the configuration; SSL_new gives a new session that
        // BlockingTls frees when dropped.
        let ssl = NonNull::new(unsafe { SSL_new(target.ssl_ctx()) }).ok_or("SSL_new() failed")?;
        // SAFETY: all-zero is a valid (empty) ngx_connection_t and ngx_ssl_connection_t, as nginx
        // allocates them with ngx_pcalloc.
        let mut stand_in: Box<StandIn> = Box::new(unsafe { std::mem::zeroed() });
        stand_in.conn.log = log;
        stand_in.conn.fd = stream.as_raw_fd();
        stand_in.ssl.connection = ssl.as_ptr();
        stand_in.conn.ssl = &mut stand_in.ssl;
        let mut tls = BlockingTls {
            ssl,
            _stand_in: stand_in,
            stream,
        };
        let conn: *mut ngx_connection_t = &mut tls._stand_in.conn;
        // SAFETY: `ssl` is live; the stand-in is boxed and outlives it (dropped after SSL_free);
        // the fd is the stream's, open for as long as `ssl` is.
        unsafe {
            if SSL_set_ex_data(ssl.as_ptr(), ngx_ssl_connection_index, conn.cast::<c_void>()) == 0
                || SSL_set_fd(ssl.as_ptr(), tls.stream.as_raw_fd()) == 0
            {
                return Err(format!("cannot set up TLS: {}", ssl_errors()));
            }
            SSL_set_connect_state(ssl.as_ptr());
        }
        set_server_name(ssl.as_ptr(), target.server_name().as_ref());
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .filter(|left| !left.is_zero())
                .ok_or("no time left for the TLS handshake")?;
            tls.stream
                .set_read_timeout(Some(left))
                .and_then(|()| tls.stream.set_write_timeout(Some(left)))
                .map_err(|e| e.to_string())?;
            // SAFETY: as above; a blocking handshake bounded by the socket's timeouts.
            let n = unsafe {
                ERR_clear_error();
                SSL_connect(ssl.as_ptr())
            };
            if n == 1 {
                break;
            }
            match tls.error(n) {
                e if e.kind() == io::ErrorKind::Interrupted => {}
                e => return Err(format!("TLS handshake: {e}")),
            }
        }
        if let Some(name) = target.verified_name() {
            check_peer(ssl.as_ptr(), name)?;
        }
        Ok(tls)
    }

    /// The socket, for its timeouts.
    pub fn tcp(&self) -> &TcpStream {
        &self.stream
    }

    /// What a failed `SSL_*` call that returned `n` means, as an I/O error: a timeout, a
    /// signal (retried by the caller), a closed connection, or a TLS error with OpenSSL's reason.
    fn error(&self, n: c_int) -> io::Error {
        let os = io::Error::last_os_error();
        // SAFETY: `ssl` is live; `n` is what the last call on it returned.
        let code = unsafe { SSL_get_error(self.ssl.as_ptr(), n) } as u32;
        match code {
            // OpenSSL's socket BIO reports a signal (nginx's master repeats SIGTERM while a
            // worker stops) as "want read/write": the caller retries it; anything else is the
            // socket's timeout.
            SSL_ERROR_WANT_READ | SSL_ERROR_WANT_WRITE if os.kind() == io::ErrorKind::Interrupted => os,
            SSL_ERROR_WANT_READ | SSL_ERROR_WANT_WRITE => {
                io::Error::new(io::ErrorKind::TimedOut, "timed out")
            }
            SSL_ERROR_ZERO_RETURN => io::Error::new(io::ErrorKind::UnexpectedEof, "closed"),
            SSL_ERROR_SYSCALL if os.raw_os_error().is_some_and(|e| e != 0) => os,
            _ => io::Error::other(ssl_errors()),
        }
    }
}

impl Read for BlockingTls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = c_int::try_from(buf.len()).unwrap_or(c_int::MAX);
        // SAFETY: `ssl` is live; `buf` is writable for `len` bytes.
        let n = unsafe {
            ERR_clear_error();
            SSL_read(self.ssl.as_ptr(), buf.as_mut_ptr().cast::<c_void>(), len)
        };
        match n {
            n if n > 0 => Ok(n as usize),
            n => match self.error(n) {
                e if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                e => Err(e),
            },
        }
    }
}

impl Write for BlockingTls {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let len = c_int::try_from(buf.len()).unwrap_or(c_int::MAX);
        // SAFETY: `ssl` is live; `buf` is readable for `len` bytes.
        let n = unsafe {
            ERR_clear_error();
            SSL_write(self.ssl.as_ptr(), buf.as_ptr().cast::<c_void>(), len)
        };
        match n {
            n if n > 0 => Ok(n as usize),
            n => Err(self.error(n)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for BlockingTls {
    fn drop(&mut self) {
        // SAFETY: the session is ours; no close_notify: the worker is about to exit.
        unsafe { SSL_free(self.ssl.as_ptr()) };
    }
}

/// OpenSSL's queued errors, oldest first, emptying the queue.
fn ssl_errors() -> String {
    let mut reasons = Vec::new();
    loop {
        // SAFETY: reads and pops this thread's error queue.
        let code = unsafe { ERR_get_error() };
        if code == 0 || reasons.len() >= 4 {
            break;
        }
        let mut buf = [0u8; 256];
        // SAFETY: `buf` is writable for its length; OpenSSL NUL-terminates within it.
        unsafe { ERR_error_string_n(code, buf.as_mut_ptr().cast(), buf.len()) };
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        reasons.push(String::from_utf8_lossy(&buf[..end]).into_owned());
    }
    if reasons.is_empty() {
        "unknown TLS error".to_owned()
    } else {
        reasons.join("; ")
    }
}
