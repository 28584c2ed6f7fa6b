//! A minimal HTTP/1.1 GET over a std `TcpStream`, enough to scrape a
//! metrics endpoint from a test: `Connection: close`, read to EOF, bounded by
//! socket timeouts. The server under test (hyper) sends a `Content-Length`;
//! a chunked or malformed response is reported as an error, not guessed at.

#![allow(dead_code)] // each test target uses a different part of it

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `METHOD path` on 127.0.0.1:port.
pub fn request(port: u16, method: &str, path: &str) -> Result<Response, String> {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("read: {e}"))?;
    let raw = String::from_utf8(raw).map_err(|_| "response is not UTF-8".to_string())?;
    let (head, body) = raw.split_once("\r\n\r\n").ok_or("no end of headers")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line `{status_line}`"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header `{line}`"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let response = Response {
        status,
        headers,
        body: body.to_string(),
    };
    if response.header("transfer-encoding").is_some() {
        return Err("unexpected Transfer-Encoding".into());
    }
    if method != "HEAD" {
        let length: usize = response
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .ok_or("no Content-Length")?;
        if length != response.body.len() {
            return Err(format!(
                "Content-Length {length} but {} body bytes",
                response.body.len()
            ));
        }
    }
    Ok(response)
}

pub fn get(port: u16, path: &str) -> Result<Response, String> {
    request(port, "GET", path)
}
