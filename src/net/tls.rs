//! TLS for outbound connections, with nginx's own OpenSSL layer: one `ngx_ssl_t` (an `SSL_CTX`)
//! per sink, made when the configuration is read and freed with the cycle's pool, and a
//! non-blocking handshake on nginx's event loop (`ngx_ssl_handshake`), after which the connection's
//! `send`/`recv` are nginx's TLS ones. The peer's certificate is checked as nginx's proxy module
//! does (`proxy_ssl_verify`): the chain against the trusted CAs, then the name. The session of
//! the last connection is offered to the next, so a keep-alive reconnect resumes it.

use std::ffi::{c_char, c_long, c_void, CStr, CString};
use std::net::IpAddr;
use std::ptr::{self, NonNull};

use nginx_sys::{
    ngx_conf_t, ngx_connection_t, ngx_event_handler_pt, ngx_pcalloc, ngx_pnalloc, ngx_pool_cleanup_add,
    ngx_ssl_certificate, ngx_ssl_cleanup_ctx, ngx_ssl_client_session_cache, ngx_ssl_create,
    ngx_ssl_create_connection, ngx_ssl_get_session, ngx_ssl_handshake, ngx_ssl_set_session, ngx_ssl_t,
    ngx_ssl_trusted_certificate, ngx_str_t, NGX_SSL_TLSv1_2, NGX_SSL_TLSv1_3, SSL_SESSION_free, SSL_ctrl,
    SSL_get1_peer_certificate, SSL_get_verify_result, TLSEXT_NAMETYPE_host_name, X509_check_host,
    X509_check_ip_asc, X509_free, X509_verify_cert_error_string, NGX_AGAIN, NGX_OK, NGX_SSL_BUFFER,
    NGX_SSL_CLIENT, SSL, SSL_CTRL_SET_TLSEXT_HOSTNAME, SSL_SESSION, X509_V_OK,
};

use super::connection::Connection;

/// The CA bundle trusted when `tls_ca=` is not given (Debian's and Ubuntu's system bundle).
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Longest certificate chain accepted (OpenSSL's own default).
const VERIFY_DEPTH: isize = 100;

/// What the configuration asks of a TLS sink.
pub struct TlsSettings {
    /// PEM file of the CAs to trust.
    pub ca: String,
    /// PEM files of a client certificate and its key (mutual TLS).
    pub client_cert: Option<(String, String)>,
    /// The name the certificate must carry (and the SNI name unless it is an address).
    pub name: String,
    pub verify: bool,
}

/// A sink's TLS context: nginx's `ngx_ssl_t`, allocated from the configuration's pool and freed
/// with it (`ngx_ssl_cleanup_ctx`), so it lives as long as every worker that uses this
/// configuration.
#[derive(Clone)]
pub struct TlsTarget {
    ssl: NonNull<ngx_ssl_t>,
    name: String,
    verify: bool,
}

impl TlsTarget {
    /// Makes the context as nginx's proxy module does (`ngx_http_proxy_set_ssl`). Files that
    /// cannot be loaded are reported by nginx itself at `emerg`; the error returned names the
    /// parameter.
    ///
    /// # Safety
    /// `cf` must be the configuration being parsed.
    pub unsafe fn create(cf: *mut ngx_conf_t, settings: &TlsSettings) -> Result<TlsTarget, String> {
        // SAFETY: the caller passes the configuration being parsed; its pool lives as long as the
        // cycle, and a zeroed ngx_ssl_t is what ngx_ssl_create expects (as ngx_pcalloc gives the
        // proxy module's).
        unsafe {
            let pool = (*cf).pool;
            let ssl = NonNull::new(ngx_pcalloc(pool, std::mem::size_of::<ngx_ssl_t>()).cast::<ngx_ssl_t>())
                .ok_or("out of memory")?;
            (*ssl.as_ptr()).log = (*cf).log;
            if ngx_ssl_create(
                ssl.as_ptr(),
                (NGX_SSL_TLSv1_2 | NGX_SSL_TLSv1_3) as usize,
                ptr::null_mut(),
            ) != NGX_OK as isize
            {
                return Err("cannot create a TLS context".to_owned());
            }
            let cleanup = ngx_pool_cleanup_add(pool, 0);
            if cleanup.is_null() {
                ngx_ssl_cleanup_ctx(ssl.as_ptr().cast::<c_void>());
                return Err("out of memory".to_owned());
            }
            (*cleanup).handler = Some(ngx_ssl_cleanup_ctx);
            (*cleanup).data = ssl.as_ptr().cast::<c_void>();
            if let Some((cert, key)) = &settings.client_cert {
                let mut cert_str = pool_str(cf, cert)?;
                let mut key_str = pool_str(cf, key)?;
                if ngx_ssl_certificate(cf, ssl.as_ptr(), &mut cert_str, &mut key_str, ptr::null_mut())
                    != NGX_OK as isize
                {
                    return Err(format!("cannot use \"tls_cert={cert}\" with \"tls_key={key}\""));
                }
            }
            if settings.verify {
                let mut ca = pool_str(cf, &settings.ca)?;
                if ngx_ssl_trusted_certificate(cf, ssl.as_ptr(), &mut ca, VERIFY_DEPTH) != NGX_OK as isize {
                    return Err(format!(
                        "cannot load the trusted CAs of \"tls_ca={}\"",
                        settings.ca
                    ));
                }
            }
            // Each new session is handed to `save_session` (kept in the sink's `ClientSlot`), not kept
            // in a cache of the SSL_CTX.
            if ngx_ssl_client_session_cache(cf, ssl.as_ptr(), 1) != NGX_OK as isize {
                return Err("cannot enable TLS session reuse".to_owned());
            }
            Ok(TlsTarget {
                ssl,
                name: settings.name.clone(),
                verify: settings.verify,
            })
        }
    }

    /// The SNI name: none for an address (RFC 6066).
    pub(super) fn server_name(&self) -> Option<CString> {
        if self.name.parse::<IpAddr>().is_ok() {
            None
        } else {
            CString::new(self.name.as_str()).ok()
        }
    }

    /// The `SSL_CTX` made for this sink.
    pub(super) fn ssl_ctx(&self) -> *mut nginx_sys::SSL_CTX {
        // SAFETY: the context lives as long as the configuration that holds this target.
        unsafe { (*self.ssl.as_ptr()).ctx }
    }

    /// The name to verify, when the certificate is verified.
    pub(super) fn verified_name(&self) -> Option<&str> {
        self.verify.then_some(self.name.as_str())
    }
}

/// Sends `name` as the SNI name of `ssl` (`SSL_set_tlsext_host_name`, a macro over `SSL_ctrl`).
pub(super) fn set_server_name(ssl: *mut SSL, name: Option<&CString>) {
    if let Some(name) = name {
        // SAFETY: `ssl` is a live TLS connection not yet handshaked; OpenSSL copies the name.
        unsafe {
            SSL_ctrl(
                ssl,
                SSL_CTRL_SET_TLSEXT_HOSTNAME as i32,
                TLSEXT_NAMETYPE_host_name as c_long,
                name.as_ptr().cast_mut().cast::<c_void>(),
            )
        };
    }
}

/// A copy of `text` in the configuration's pool, NUL-terminated as nginx's file loaders expect.
///
/// # Safety
/// `cf` must be the configuration being parsed.
unsafe fn pool_str(cf: *mut ngx_conf_t, text: &str) -> Result<ngx_str_t, String> {
    // SAFETY: the pool is live; the copy fits the allocation, which has room for the NUL.
    unsafe {
        let data = ngx_pnalloc((*cf).pool, text.len() + 1).cast::<u8>();
        if data.is_null() {
            return Err("out of memory".to_owned());
        }
        ptr::copy_nonoverlapping(text.as_ptr(), data, text.len());
        *data.add(text.len()) = 0;
        Ok(ngx_str_t {
            len: text.len(),
            data,
        })
    }
}

/// What the sink's TLS client keeps between connections, at a fixed address: nginx calls back
/// into it (through the connection's `data`) when a session ticket arrives and when a handshake
/// that had to wait is over.
struct ClientSlot {
    /// The last session the upstream gave, offered on the next connection; ours (one reference).
    session: *mut SSL_SESSION,
    /// The connection's own event handler, restored after the handshake.
    event_handler: ngx_event_handler_pt,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if !self.session.is_null() {
            // SAFETY: we hold one reference to the session (from ngx_ssl_get_session).
            unsafe { SSL_SESSION_free(self.session) };
        }
    }
}

/// How a handshake stands.
pub enum Handshake {
    /// Done, and the certificate (when verified) is trusted and names the upstream.
    Done,
    /// Waiting for the socket: the connection's handler is called with its write event when it
    /// is over, and [`TlsClient::handshake`] must be called again then.
    Again,
    /// Failed for this reason (nginx has logged a protocol failure on its own).
    Failed(String),
}

/// The TLS side of one sink's connections.
pub struct TlsClient {
    target: TlsTarget,
    server_name: Option<CString>,
    slot: Box<ClientSlot>,
}

impl TlsClient {
    pub fn new(target: &TlsTarget) -> TlsClient {
        TlsClient {
            target: target.clone(),
            server_name: target.server_name(),
            slot: Box::new(ClientSlot {
                session: ptr::null_mut(),
                event_handler: None,
            }),
        }
    }

    /// Starts or continues the handshake on a connected `conn`.
    pub fn handshake(&mut self, conn: &mut Connection) -> Handshake {
        if conn.pool().is_err() {
            return Handshake::Failed("out of memory for TLS".to_owned());
        }
        let c = conn.raw();
        // SAFETY: `c` is a live connection owned by `conn`; nginx's TLS functions are called on
        // it as its HTTP upstream does. `slot` is boxed and outlives the connection's use of it:
        // the connection clears `save_session` before it is closed (see Connection's Drop), and
        // the handshake handler runs only while the connection is open.
        unsafe {
            if (*c).ssl.is_null() {
                if ngx_ssl_create_connection(
                    self.target.ssl.as_ptr(),
                    c,
                    (NGX_SSL_BUFFER | NGX_SSL_CLIENT) as usize,
                ) != NGX_OK as isize
                {
                    return Handshake::Failed("cannot start TLS".to_owned());
                }
                set_server_name((*(*c).ssl).connection, self.server_name.as_ref());
                if ngx_ssl_set_session(c, self.slot.session) != NGX_OK as isize {
                    return Handshake::Failed("cannot resume the TLS session".to_owned());
                }
                self.slot.event_handler = (*(*c).write).handler;
                (*c).data = ptr::addr_of_mut!(*self.slot).cast::<c_void>();
                (*(*c).ssl).save_session = Some(save_session);
                match ngx_ssl_handshake(c) {
                    rc if rc == NGX_AGAIN as isize => {
                        (*(*c).ssl).handler = Some(handshake_over);
                        return Handshake::Again;
                    }
                    rc if rc == NGX_OK as isize => {}
                    _ => return Handshake::Failed("TLS handshake failed".to_owned()),
                }
            }
            if (*(*c).ssl).handshaked() == 0 {
                return Handshake::Failed("TLS handshake failed".to_owned());
            }
            match self.check_peer((*(*c).ssl).connection) {
                Ok(()) => Handshake::Done,
                Err(reason) => Handshake::Failed(reason),
            }
        }
    }

    /// The checks of `proxy_ssl_verify on`: the chain, then the name.
    fn check_peer(&self, ssl: *mut SSL) -> Result<(), String> {
        match self.target.verified_name() {
            Some(name) => check_peer(ssl, name),
            None => Ok(()),
        }
    }
}

/// Whether the verified chain of `ssl` is trusted and its certificate names `name`.
pub(super) fn check_peer(ssl: *mut SSL, name: &str) -> Result<(), String> {
    // SAFETY: `ssl` is a live, handshaked TLS connection; the error string is static.
    let rc = unsafe { SSL_get_verify_result(ssl) };
    if rc != X509_V_OK as c_long {
        // SAFETY: OpenSSL returns a static NUL-terminated string for every code.
        let text = unsafe { CStr::from_ptr(X509_verify_cert_error_string(rc)) };
        return Err(format!(
            "TLS certificate verify error: ({rc}:{})",
            text.to_string_lossy()
        ));
    }
    // SAFETY: as above; the certificate comes with a reference that is released below.
    let cert = unsafe { SSL_get1_peer_certificate(ssl) };
    if cert.is_null() {
        return Err("the upstream sent no TLS certificate".to_owned());
    }
    let matches = match (name.parse::<IpAddr>(), CString::new(name)) {
        // SAFETY: `cert` is live; the name is NUL-terminated.
        (Ok(_), Ok(ip)) => unsafe { X509_check_ip_asc(cert, ip.as_ptr(), 0) == 1 },
        // SAFETY: as above; the length is the name's.
        (Err(_), Ok(_)) => unsafe {
            X509_check_host(
                cert,
                name.as_ptr().cast::<c_char>(),
                name.len(),
                0,
                ptr::null_mut(),
            ) == 1
        },
        (_, Err(_)) => false,
    };
    // SAFETY: the reference taken by SSL_get1_peer_certificate.
    unsafe { X509_free(cert) };
    if matches {
        Ok(())
    } else {
        Err(format!("the TLS certificate does not match \"{name}\""))
    }
}

/// nginx's `save_session` callback: keeps the session just received for the next connection.
unsafe extern "C" fn save_session(c: *mut ngx_connection_t) {
    // SAFETY: set only by TlsClient::handshake, with `data` pointing to its slot, and cleared
    // before the connection outlives the slot (Connection's Drop).
    unsafe {
        let slot = &mut *(*c).data.cast::<ClientSlot>();
        let session = ngx_ssl_get_session(c);
        if session.is_null() {
            return;
        }
        if !slot.session.is_null() {
            SSL_SESSION_free(slot.session);
        }
        slot.session = session;
    }
}

/// nginx's handler for a handshake that had to wait: gives the connection its own event handler
/// back and calls it with the write event, as if the socket had become writable.
unsafe extern "C" fn handshake_over(c: *mut ngx_connection_t) {
    // SAFETY: set only by TlsClient::handshake, with `data` pointing to its slot; the events are
    // the live connection's.
    unsafe {
        let slot = &*(*c).data.cast::<ClientSlot>();
        (*(*c).read).handler = slot.event_handler;
        (*(*c).write).handler = slot.event_handler;
        if let Some(handler) = slot.event_handler {
            handler((*c).write);
        }
    }
}
