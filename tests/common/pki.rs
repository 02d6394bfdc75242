//! A private certificate authority made with the `openssl` command, for TLS tests: a CA, server
//! certificates (good, expired, for another name) and client certificates, as PEM files.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Pki {
    pub dir: tempfile::TempDir,
    /// The CA's certificate: what a client that trusts this CA is given.
    pub ca: PathBuf,
    ca_key: PathBuf,
}

/// A certificate and its key.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

impl Pki {
    /// A new CA, named `name` (two CAs of the same test must have different names).
    pub fn new(name: &str) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let ca_key = dir.path().join("ca.key");
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            text(&ca_key),
            "-out",
            text(&ca),
        ]);
        Pki { dir, ca, ca_key }
    }

    /// A server certificate for `names` (`DNS:localhost,IP:127.0.0.1`), valid for `days` days
    /// from now (-1: it expired a day ago).
    pub fn server(&self, file: &str, names: &str, days: i32) -> Pair {
        self.issue(file, names, days, "serverAuth")
    }

    /// A client certificate, for mutual TLS.
    pub fn client(&self, file: &str) -> Pair {
        self.issue(file, "DNS:analytics-client", 2, "clientAuth")
    }

    fn issue(&self, file: &str, names: &str, days: i32, usage: &str) -> Pair {
        let d = self.dir.path();
        let (cert, key, csr, ext) = (
            d.join(format!("{file}.pem")),
            d.join(format!("{file}.key")),
            d.join(format!("{file}.csr")),
            d.join(format!("{file}.ext")),
        );
        std::fs::write(
            &ext,
            format!("subjectAltName={names}\nextendedKeyUsage={usage}\n"),
        )
        .unwrap();
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={file}"),
            "-keyout",
            text(&key),
            "-out",
            text(&csr),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            text(&csr),
            "-CA",
            text(&self.ca),
            "-CAkey",
            text(&self.ca_key),
            "-CAcreateserial",
            "-days",
            &days.to_string(),
            "-extfile",
            text(&ext),
            "-out",
            text(&cert),
        ]);
        Pair { cert, key }
    }
}
