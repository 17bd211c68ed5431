//! A plain HTTP/1.1 GET over a fresh loopback connection, for tests that read a server's
//! answer byte for byte (no client library between).

use std::io::{Read, Write};
use std::net::TcpStream;

/// `GET path` on `base` (`http://host:port`) with `Connection: close`: the response head
/// (status line and headers) and the body, as sent.
pub fn get(base: &str, path: &str) -> (String, Vec<u8>) {
    let addr = base.strip_prefix("http://").unwrap_or(base);
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read the response");
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(resp.get(..split).unwrap_or_default()).into_owned();
    let body = resp.get(split + 4..).unwrap_or_default().to_vec();
    (head, body)
}
