//! A thin safe wrapper over an outbound `ngx_connection_t`: connect, send, receive, wait, close.
//! The HTTP sink never touches a raw connection or event pointer itself.

use std::net::SocketAddr;
use std::ptr::{self, NonNull};

use nginx_sys::{
    ngx_close_connection, ngx_connection_log_error_e_NGX_ERROR_ERR, ngx_connection_t, ngx_create_pool,
    ngx_destroy_pool, ngx_event_connect_peer, ngx_event_get_peer, ngx_event_handler_pt, ngx_event_t,
    ngx_handle_read_event, ngx_handle_write_event, ngx_log_t, ngx_peer_connection_t, ngx_pool_t,
    ngx_ssl_shutdown, ngx_str_t, ngx_tcp_nodelay, sockaddr, sockaddr_in, sockaddr_in6, sockaddr_storage,
    socklen_t, AF_INET, AF_INET6, NGX_AGAIN, NGX_OK,
};

/// The first block of a connection's pool (that of nginx's HTTP upstream connections).
const CONNECTION_POOL_SIZE: usize = 128;

/// A peer's address in the form nginx keeps pointers to: it must outlive every connection made to
/// it, so it is boxed by its owner and never moved.
pub struct PeerAddress {
    addr: sockaddr_storage,
    len: socklen_t,
    /// For nginx's own log lines about the connection.
    name: ngx_str_t,
    _name_text: Box<str>,
}

impl PeerAddress {
    pub fn new(peer: SocketAddr, name: &str) -> Box<PeerAddress> {
        // SAFETY: all-zero is a valid sockaddr_storage.
        let mut addr: sockaddr_storage = unsafe { std::mem::zeroed() };
        let len = write_sockaddr(&peer, &mut addr);
        let text: Box<str> = name.into();
        Box::new(PeerAddress {
            addr,
            len,
            name: ngx_str_t {
                len: text.len(),
                data: text.as_ptr().cast_mut(),
            },
            _name_text: text,
        })
    }
}

/// What one non-blocking send or receive did.
pub enum Io {
    /// This many bytes were sent or received.
    Done(usize),
    /// The socket is not ready: wait for its event.
    Again,
    /// The peer closed the connection (receive only).
    Closed,
    Error,
}

/// An open outbound connection; closed when dropped.
pub struct Connection {
    c: NonNull<ngx_connection_t>,
}

impl Connection {
    /// Starts a non-blocking connect. `handler` is called for both the read and the write event;
    /// it can tell them apart with [`Connection::is_write_event`]. Returns the connection and
    /// whether it is already connected.
    pub fn connect(
        peer: &mut PeerAddress,
        log: *mut ngx_log_t,
        handler: ngx_event_handler_pt,
    ) -> Result<(Connection, bool), ()> {
        // SAFETY: all-zero is the documented initial state of a peer connection.
        let mut pc: ngx_peer_connection_t = unsafe { std::mem::zeroed() };
        pc.sockaddr = ptr::addr_of_mut!(peer.addr).cast::<sockaddr>();
        pc.socklen = peer.len;
        pc.name = &mut peer.name;
        pc.get = Some(ngx_event_get_peer);
        pc.log = log;
        pc.set_log_error(ngx_connection_log_error_e_NGX_ERROR_ERR);
        // SAFETY: `pc` points to `peer`, which its owner keeps boxed for longer than any
        // connection (nginx keeps `c->sockaddr` and `c->addr_text` pointing into it). The call
        // does not block.
        let rc = unsafe { ngx_event_connect_peer(&mut pc) };
        if rc != NGX_OK as isize && rc != NGX_AGAIN as isize {
            return Err(());
        }
        let c = NonNull::new(pc.connection).ok_or(())?;
        // SAFETY: on NGX_OK or NGX_AGAIN nginx returns a live connection that is ours until we
        // close it; its events keep `data` pointing to the connection (nginx's convention).
        unsafe {
            let conn = c.as_ptr();
            (*(*conn).read).handler = handler;
            (*(*conn).write).handler = handler;
            (*conn).log = log;
            (*(*conn).read).log = log;
            (*(*conn).write).log = log;
            // A request goes out as its head, then its body from where it lies: without this,
            // Nagle's algorithm could hold the body's last segment until the head is acknowledged.
            // A failure (logged by nginx) costs only that delay.
            ngx_tcp_nodelay(conn);
        }
        Ok((Connection { c }, rc == NGX_OK as isize))
    }

    /// For the TLS layer, which works on the connection as nginx's own modules do.
    pub(super) fn raw(&self) -> *mut ngx_connection_t {
        self.c.as_ptr()
    }

    /// The connection's memory pool, made on first use (as nginx's HTTP upstream does) and freed
    /// when the connection is closed: nginx's TLS layer keeps its state there.
    pub(super) fn pool(&mut self) -> Result<*mut ngx_pool_t, ()> {
        let c = self.raw();
        // SAFETY: a live connection; a pool made here is freed by `close`.
        unsafe {
            if (*c).pool.is_null() {
                (*c).pool = ngx_create_pool(CONNECTION_POOL_SIZE, (*c).log);
            }
            NonNull::new((*c).pool).map(NonNull::as_ptr).ok_or(())
        }
    }

    /// Whether `ev` is this connection's write event.
    pub fn is_write_event(&self, ev: *mut ngx_event_t) -> bool {
        // SAFETY: a live connection's events are valid.
        unsafe { (*self.raw()).write == ev }
    }

    /// Whether `ev` is one of this connection's events.
    pub fn owns_event(&self, ev: *mut ngx_event_t) -> bool {
        // SAFETY: as above.
        unsafe { (*self.raw()).write == ev || (*self.raw()).read == ev }
    }

    /// Whether nginx asked this connection to close (`worker_shutdown_timeout` passed).
    pub fn close_requested(&self) -> bool {
        // SAFETY: a live connection.
        unsafe { (*self.raw()).close() != 0 }
    }

    pub fn send(&mut self, bytes: &[u8]) -> Io {
        let c = self.raw();
        // SAFETY: a live connection made by ngx_event_connect_peer has `send` set; `bytes` is
        // readable for its length.
        let n = unsafe {
            match (*c).send {
                Some(send) => send(c, bytes.as_ptr().cast_mut(), bytes.len()),
                None => return Io::Error,
            }
        };
        match n {
            n if n > 0 => Io::Done(n as usize),
            n if n == NGX_AGAIN as isize => Io::Again,
            _ => Io::Error,
        }
    }

    pub fn recv(&mut self, buf: &mut [u8]) -> Io {
        let c = self.raw();
        // SAFETY: a live connection has `recv` set; `buf` is writable for its length.
        let n = unsafe {
            match (*c).recv {
                Some(recv) => recv(c, buf.as_mut_ptr(), buf.len()),
                None => return Io::Error,
            }
        };
        match n {
            0 => Io::Closed,
            n if n > 0 => Io::Done(n as usize),
            n if n == NGX_AGAIN as isize => Io::Again,
            _ => Io::Error,
        }
    }

    /// Asks the event loop to call the handler when the socket can be read.
    pub fn wait_readable(&mut self) -> Result<(), ()> {
        // SAFETY: the read event of a live connection.
        let rc = unsafe { ngx_handle_read_event((*self.raw()).read, 0) };
        (rc == NGX_OK as isize).then_some(()).ok_or(())
    }

    /// Asks the event loop to call the handler when the socket can be written.
    pub fn wait_writable(&mut self) -> Result<(), ()> {
        // SAFETY: the write event of a live connection.
        let rc = unsafe { ngx_handle_write_event((*self.raw()).write, 0) };
        (rc == NGX_OK as isize).then_some(()).ok_or(())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let c = self.raw();
        // SAFETY: the connection is live and ours. A TLS connection says goodbye (close_notify)
        // without waiting for the peer's; if even that must wait for the socket, nginx finishes
        // it on its own and then calls `close_after_shutdown`. Its session callback is cleared
        // first: the sink that set it may be gone by then.
        unsafe {
            let ssl = (*c).ssl;
            if !ssl.is_null() {
                (*ssl).save_session = None;
                (*ssl).set_no_wait_shutdown(1);
                if ngx_ssl_shutdown(c) == NGX_AGAIN as isize {
                    (*ssl).handler = Some(close_after_shutdown);
                    return;
                }
            }
        }
        // SAFETY: as above.
        unsafe { close(c) };
    }
}

/// Closes a TLS connection once nginx has finished its shutdown.
unsafe extern "C" fn close_after_shutdown(c: *mut ngx_connection_t) {
    // SAFETY: nginx calls this once, with the connection whose shutdown is over; nobody else
    // holds it any more.
    unsafe { close(c) };
}

/// Closes `c` and frees its pool (made for TLS, see `Connection::pool`).
///
/// # Safety
/// `c` must be a live connection that nobody uses afterwards.
unsafe fn close(c: *mut ngx_connection_t) {
    // SAFETY: per the caller; nginx removes the connection's events, timers and posted events, so
    // no handler of it runs afterwards, and it leaves `pool` to its owner, us.
    unsafe {
        let pool = (*c).pool;
        ngx_close_connection(c);
        if !pool.is_null() {
            ngx_destroy_pool(pool);
        }
    }
}

fn write_sockaddr(addr: &SocketAddr, out: &mut sockaddr_storage) -> socklen_t {
    match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large enough and suitably aligned for any sockaddr.
            let sin = unsafe { &mut *(out as *mut sockaddr_storage).cast::<sockaddr_in>() };
            sin.sin_family = AF_INET as _;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
            std::mem::size_of::<sockaddr_in>() as socklen_t
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above.
            let sin6 = unsafe { &mut *(out as *mut sockaddr_storage).cast::<sockaddr_in6>() };
            sin6.sin6_family = AF_INET6 as _;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_addr.__in6_u.__u6_addr8 = v6.ip().octets();
            sin6.sin6_scope_id = v6.scope_id();
            std::mem::size_of::<sockaddr_in6>() as socklen_t
        }
    }
}
