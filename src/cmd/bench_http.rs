//! `vouch bench http`: a bounded HTTP/1.1 GET load generator for servers on this machine (loopback only), reporting requests per second.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::output::{outln, print_json, CodedError, Exit};

/// Send GET requests over keep-alive connections to one or more URLs on this machine
/// for a fixed time and report requests per second and latency. Targets must be
/// loopback addresses (127.0.0.0/8, ::1, localhost): this is a measuring tool, not a
/// load generator for other hosts. Bounded: at most 1024 connections and 300 seconds.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// URL to request (http:// only); repeat to rotate over several.
    #[arg(long = "url", required = true, value_name = "URL")]
    urls: Vec<String>,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Duration of the run in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone)]
struct Target {
    addr: SocketAddr,
    /// The request bytes, prebuilt.
    request: Vec<u8>,
}

fn refuse(msg: String) -> anyhow::Error {
    CodedError::new("BENCH_E001", Exit::Error, msg).into()
}

/// Parses `http://HOST:PORT/PATH` and insists HOST is loopback.
fn parse_target(url: &str) -> anyhow::Result<Target> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| refuse(format!("{url}: only http:// URLs are supported")))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h,
            p.parse::<u16>()
                .map_err(|_| refuse(format!("{url}: bad port")))?,
        ),
        _ => (hostport, 80),
    };
    let ip: IpAddr = match host.trim_start_matches('[').trim_end_matches(']') {
        "localhost" => IpAddr::from([127, 0, 0, 1]),
        h => h
            .parse()
            .map_err(|_| refuse(format!("{url}: host must be a loopback IP or localhost")))?,
    };
    if !ip.is_loopback() {
        return Err(refuse(format!(
            "{url}: {ip} is not a loopback address; bench http only targets this machine"
        )));
    }
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: vouch-bench\r\n\r\n");
    Ok(Target {
        addr: SocketAddr::new(ip, port),
        request: request.into_bytes(),
    })
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    if args.concurrency == 0 || args.concurrency > 1024 || args.seconds == 0 || args.seconds > 300 {
        return Err(refuse(
            "--concurrency must be 1..=1024 and --seconds 1..=300".into(),
        ));
    }
    let targets: Vec<Target> = args
        .urls
        .iter()
        .map(|u| parse_target(u))
        .collect::<Result<_, _>>()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = rt.block_on(load(Arc::new(targets), args.concurrency, args.seconds));
    let rps = report.requests as f64 / report.elapsed_s;
    let mut lat = report.latencies_us;
    lat.sort_unstable();
    let pct = |p: f64| {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        f64::from(lat[i]) / 1000.0
    };
    let status: BTreeMap<String, u64> = report
        .status
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let value = serde_json::json!({
        "urls": args.urls,
        "concurrency": args.concurrency,
        "seconds": report.elapsed_s,
        "requests": report.requests,
        "requests_per_s": rps,
        "status": status,
        "errors": report.errors,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    });
    if args.json {
        print_json(&value)?;
    } else {
        outln!(
            "{rps:.0} requests/s over {:.1} s ({} requests, {} errors), p50 {:.2} ms, p99 {:.2} ms",
            report.elapsed_s,
            report.requests,
            report.errors,
            pct(0.5),
            pct(0.99)
        )?;
    }
    let ok = report.errors == 0 && report.status.keys().all(|s| *s == 200);
    Ok(if ok { Exit::Ok } else { Exit::Error })
}

#[derive(Debug, Default)]
struct Report {
    requests: u64,
    errors: u64,
    status: BTreeMap<u16, u64>,
    latencies_us: Vec<u32>,
    elapsed_s: f64,
}

async fn load(targets: Arc<Vec<Target>>, concurrency: usize, seconds: u64) -> Report {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let targets = Arc::clone(&targets);
        tasks.push(tokio::spawn(async move {
            connection(&targets, c, deadline).await
        }));
    }
    let mut total = Report::default();
    for t in tasks {
        if let Ok(r) = t.await {
            total.requests += r.requests;
            total.errors += r.errors;
            for (k, v) in r.status {
                *total.status.entry(k).or_default() += v;
            }
            total.latencies_us.extend(r.latencies_us);
        }
    }
    total.elapsed_s = start.elapsed().as_secs_f64();
    total
}

/// One keep-alive connection issuing requests back to back, rotating over targets.
async fn connection(targets: &[Target], offset: usize, deadline: Instant) -> Report {
    let mut r = Report::default();
    let mut buf = Vec::with_capacity(64 << 10);
    let mut conn: Option<TcpStream> = None;
    let mut i = offset;
    while Instant::now() < deadline {
        let t = &targets[i % targets.len()];
        i += 1;
        if conn.is_none() {
            match TcpStream::connect(t.addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    conn = Some(s);
                }
                Err(_) => {
                    r.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(stream) = conn.as_mut() else {
            continue;
        };
        let t0 = Instant::now();
        match exchange(stream, &t.request, &mut buf).await {
            Ok((status, _)) => {
                r.requests += 1;
                *r.status.entry(status).or_default() += 1;
                // Sample latencies (1 in 8) to bound memory on long runs.
                if r.requests % 8 == 0 {
                    r.latencies_us
                        .push(t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                }
            }
            Err(_) => {
                r.errors += 1;
                conn = None;
            }
        }
    }
    r
}

/// Sends one request and reads one Content-Length-framed response into `buf`;
/// returns the status and where the body starts. Shared by `bench http` and `bench rekor`.
pub(crate) async fn exchange(
    s: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, usize)> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    s.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 16 << 10];
    let header_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("connection closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..header_end]).map_err(|_| bad("non-UTF-8 headers"))?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .ok_or_else(|| bad("no content-length"))?;
    while buf.len() - header_end < len {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("connection closed mid-body"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok((status, header_end))
}

#[cfg(test)]
mod tests {
    use super::parse_target;

    #[test]
    fn only_loopback_targets() {
        assert!(parse_target("http://127.0.0.1:8080/log/checkpoint").is_ok());
        assert!(parse_target("http://localhost:1/x").is_ok());
        assert!(parse_target("http://[::1]:8080/").is_ok());
        assert!(parse_target("http://10.0.0.1:8080/").is_err());
        assert!(parse_target("http://example.com/").is_err());
        assert!(parse_target("https://127.0.0.1/").is_err());
    }
}
