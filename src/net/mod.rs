//! Outbound connections on nginx's event loop.

pub mod connection;
pub mod tls;
pub mod tls_blocking;
