//! A paced (open-loop) HTTP/1.1 load generator for `benches/large_tenant_load.sh`.
//!
//! wrk is closed-loop: each connection sends its next request the moment the
//! last answer arrives, so the server is always saturated and a p99 measured
//! that way is mostly the time spent queueing behind other requests. A latency
//! "at half of peak load" needs requests offered on a schedule instead. Here
//! each keep-alive connection sends at a fixed interval, the connections
//! staggered across it, all driven by one tokio thread so that the generator
//! itself costs little of the cores it shares with the server. A request that
//! could not go out when it was due, because its connection was still waiting
//! for the previous answer, is timed from when it was due, so a slow server is
//! not hidden by sending less (no coordinated omission). A request sent late
//! only because the timer fired late (tokio's timers tick in milliseconds) is
//! timed from when it went out. Many connections, each with a long interval,
//! keep that case rare.
//!
//! The report uses wrk's layout (latency distribution, `Requests/sec`,
//! `Non-2xx or 3xx responses`, `Socket errors`) so the script reads both
//! the same way.
//!
//!   paced_load --rate 12000 --connections 64 --duration 10s -H 'Cookie: a=b' http://127.0.0.1:8080/path

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use tokio::net::TcpStream;

/// How long a connection waits to connect or for an answer, as wrk does.
const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Parser)]
#[command(about = "Offers HTTP GETs at a fixed rate and reports their latency in wrk's layout")]
struct Args {
    /// Requests per second, over all connections together.
    #[arg(long)]
    rate: f64,
    /// Keep-alive connections, each with its own schedule.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// Threads driving the connections.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// How long to offer load: seconds, as `10s`, `10` or `1m`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// A request header, `Name: value`; may be repeated.
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Also write each answered request to this file, one line each: when it
    /// was sent and its latency, both in microseconds from the window's start.
    #[arg(long)]
    timeline: Option<std::path::PathBuf>,
    /// `http://host:port/path?query`.
    url: String,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.strip_suffix('m') {
        Some(minutes) => (minutes, 60.0),
        None => (text.strip_suffix('s').unwrap_or(text), 1.0),
    };
    let seconds: f64 = number.parse().map_err(|_| format!("not a duration: {text}"))?;
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(format!("a duration must be positive: {text}"));
    }
    Ok(Duration::from_secs_f64(seconds * unit))
}

/// Where the requests go and the bytes of one request.
struct Target {
    address: SocketAddr,
    request: Vec<u8>,
}

impl Target {
    fn new(url: &str, headers: &[String]) -> anyhow::Result<Self> {
        let Some(rest) = url.strip_prefix("http://") else { bail!("only http:// URLs: {url}") };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        let address = authority
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {authority}"))?
            .next()
            .with_context(|| format!("{authority} has no address"))?;
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\n");
        for header in headers {
            if !header.contains(':') {
                bail!("a header is `Name: value`: {header}");
            }
            request.push_str(header);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        Ok(Self { address, request: request.into_bytes() })
    }
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    /// When each answered request was sent (or due), µs from the window's
    /// start, in the order of `latencies_us`.
    sent_us: Vec<u32>,
    non_success: u64,
    connect: u64,
    read: u64,
    write: u64,
    timeout: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.sent_us.extend(other.sent_us);
        self.non_success += other.non_success;
        self.connect += other.connect;
        self.read += other.read;
        self.write += other.write;
        self.timeout += other.timeout;
    }
}

/// The parts of an answer the report needs.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    close: bool,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// The first line of `bytes` ending in CRLF, and where the next one starts.
fn line_at(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = bytes.get(at..)?;
    let end = rest.windows(2).position(|pair| pair == b"\r\n")?;
    Some((&rest[..end], at + end + 2))
}

/// Parses one whole answer to a GET from the front of `bytes`: status line,
/// headers, and a body framed by `Content-Length` or chunked encoding.
/// `Ok(None)` while the answer is still incomplete; otherwise the answer and
/// how many bytes it took.
fn parse_answer(bytes: &[u8]) -> io::Result<Option<(Answer, usize)>> {
    let Some((status_line, mut at)) = line_at(bytes, 0) else { return Ok(None) };
    let status = std::str::from_utf8(status_line)
        .ok()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("no status line"))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    loop {
        let Some((line, next)) = line_at(bytes, at) else { return Ok(None) };
        at = next;
        if line.is_empty() {
            break;
        }
        let header = std::str::from_utf8(line).map_err(|_| invalid("a header that is not text"))?;
        let Some((name, value)) = header.split_once(':') else { return Err(invalid("a header without a colon")) };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| invalid("a bad Content-Length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let answer = Answer { status, close };
    if chunked {
        loop {
            let Some((line, next)) = line_at(bytes, at) else { return Ok(None) };
            let size = std::str::from_utf8(line).ok().and_then(|line| line.split(';').next()).unwrap_or_default();
            let size = usize::from_str_radix(size.trim(), 16).map_err(|_| invalid("a bad chunk size"))?;
            at = next;
            if size == 0 {
                // Trailers, if any, end with an empty line.
                loop {
                    let Some((line, next)) = line_at(bytes, at) else { return Ok(None) };
                    at = next;
                    if line.is_empty() {
                        return Ok(Some((answer, at)));
                    }
                }
            }
            at += size + 2;
            if at > bytes.len() {
                return Ok(None);
            }
        }
    }
    if let Some(length) = length {
        return Ok((bytes.len() >= at + length).then_some((answer, at + length)));
    }
    if status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(Some((answer, at)));
    }
    Err(invalid("an answer with no length cannot share its connection"))
}

/// One keep-alive connection and the bytes read from it not yet parsed.
struct Connection {
    stream: TcpStream,
    unread: Vec<u8>,
}

impl Connection {
    async fn open(address: SocketAddr) -> io::Result<Self> {
        let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(address)).await??;
        stream.set_nodelay(true)?;
        Ok(Self { stream, unread: Vec::with_capacity(64 * 1024) })
    }

    async fn send(&self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            self.stream.writable().await?;
            match self.stream.try_write(bytes) {
                Ok(written) => bytes = &bytes[written..],
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    async fn answer(&mut self) -> io::Result<Answer> {
        loop {
            if let Some((answer, used)) = parse_answer(&self.unread)? {
                self.unread.drain(..used);
                return Ok(answer);
            }
            self.stream.readable().await?;
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.try_read(&mut chunk) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                Ok(read) => self.unread.extend_from_slice(&chunk[..read]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Sends one request and waits, at most [`TIMEOUT`], for its answer.
    async fn exchange(&mut self, request: &[u8]) -> Result<Answer, Failure> {
        let exchange = async {
            self.send(request).await.map_err(|_| Failure::Write)?;
            self.answer().await.map_err(|_| Failure::Read)
        };
        tokio::time::timeout(TIMEOUT, exchange).await.unwrap_or(Err(Failure::Timeout))
    }
}

/// Why a request got no answer.
enum Failure {
    Write,
    Read,
    Timeout,
}

/// One connection's schedule: a request every `interval` from `first_due`
/// until `end`; `start` is the window's start, from which sends are timed.
async fn drive(target: Arc<Target>, start: Instant, first_due: Instant, interval: Duration, end: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut connection: Option<Connection> = None;
    let mut due = first_due;
    while due < end {
        // On time, a request is timed from when it goes out (the timer's
        // lateness is not the server's); behind, from when it was due.
        let sent = if Instant::now() < due {
            tokio::time::sleep_until(due.into()).await;
            Instant::now()
        } else {
            due
        };
        due += interval;
        let open = match &mut connection {
            Some(open) => open,
            None => match Connection::open(target.address).await {
                Ok(open) => connection.insert(open),
                Err(_) => {
                    tally.connect += 1;
                    continue;
                }
            },
        };
        match open.exchange(&target.request).await {
            Ok(answer) => {
                tally.latencies_us.push(micros(sent.elapsed()));
                tally.sent_us.push(micros(sent.saturating_duration_since(start)));
                if !(200..400).contains(&answer.status) {
                    tally.non_success += 1;
                }
                if answer.close {
                    connection = None;
                }
            }
            Err(failure) => {
                match failure {
                    Failure::Write => tally.write += 1,
                    Failure::Read => tally.read += 1,
                    Failure::Timeout => tally.timeout += 1,
                }
                connection = None;
            }
        }
    }
    tally
}

fn micros(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros()).unwrap_or(u32::MAX)
}

/// Where a window's slowest 1% fell: in how many of its 10 ms slices, of
/// how many, and the first and last of those slices (µs from the start).
/// One stall puts them in a few neighbouring slices; a tail spread over the
/// window, in many.
fn slowest_slices(sent_us: &[u32], latencies_us: &[u32], p99: u32) -> (usize, usize, u32, u32) {
    const SLICE_US: u32 = 10_000;
    let slices: std::collections::BTreeSet<u32> =
        sent_us.iter().zip(latencies_us).filter(|&(_, &latency)| latency > p99).map(|(&sent, _)| sent / SLICE_US).collect();
    let total = sent_us.iter().max().map_or(0, |last| (last / SLICE_US + 1) as usize);
    let first = slices.first().map_or(0, |slice| slice * SLICE_US);
    let last = slices.last().map_or(0, |slice| slice * SLICE_US);
    (slices.len(), total, first, last)
}

/// A latency as wrk prints it: `812.00us`, `1.42ms`, `2.01s`.
fn wrk_latency(micros: u32) -> String {
    let micros = f64::from(micros);
    if micros < 1_000.0 {
        format!("{micros:.2}us")
    } else if micros < 1_000_000.0 {
        format!("{:.2}ms", micros / 1_000.0)
    } else {
        format!("{:.2}s", micros / 1_000_000.0)
    }
}

/// The value at `percent` of sorted latencies (nearest rank).
fn percentile(sorted: &[u32], percent: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(args: &Args, tally: Tally, elapsed: Duration) -> String {
    let mut sorted = tally.latencies_us.clone();
    sorted.sort_unstable();
    let completed = sorted.len();
    let mut out = format!(
        "Paced {} requests/s over {} connections for {:.1}s to {}\n  Latency Distribution (from when each request was due)\n",
        args.rate,
        args.connections,
        args.duration.as_secs_f64(),
        args.url
    );
    for percent in [50.0, 75.0, 90.0, 99.0, 99.9] {
        out.push_str(&format!("    {percent}%  {}\n", wrk_latency(percentile(&sorted, percent))));
    }
    let (slow, slices, first, last) = slowest_slices(&tally.sent_us, &tally.latencies_us, percentile(&sorted, 99.0));
    if slow > 0 {
        out.push_str(&format!(
            "  Slower than p99: in {slow} of {slices} 10 ms slices, from {:.2}s to {:.2}s\n",
            f64::from(first) / 1e6,
            f64::from(last) / 1e6
        ));
    }
    out.push_str(&format!("  {completed} requests in {:.2}s\n", elapsed.as_secs_f64()));
    if tally.connect + tally.read + tally.write + tally.timeout > 0 {
        out.push_str(&format!("  Socket errors: connect {}, read {}, write {}, timeout {}\n", tally.connect, tally.read, tally.write, tally.timeout));
    }
    if tally.non_success > 0 {
        out.push_str(&format!("  Non-2xx or 3xx responses: {}\n", tally.non_success));
    }
    out.push_str(&format!("Requests/sec: {:.2}\n", completed as f64 / elapsed.as_secs_f64()));
    out
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.rate.is_finite() || args.rate <= 0.0 || args.connections == 0 || args.threads == 0 {
        bail!("--rate, --connections and --threads must be positive");
    }
    let target = Arc::new(Target::new(&args.url, &args.headers)?);
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build()?
    };
    let interval = Duration::from_secs_f64(f64::from(args.connections) / args.rate);
    let (tally, elapsed) = runtime.block_on(async {
        let start = Instant::now() + Duration::from_millis(10);
        let end = start + args.duration;
        let drivers: Vec<_> = (0..args.connections)
            .map(|n| {
                let first_due = start + interval.mul_f64(f64::from(n) / f64::from(args.connections));
                tokio::spawn(drive(Arc::clone(&target), start, first_due, interval, end))
            })
            .collect();
        let mut tally = Tally::default();
        for driver in drivers {
            match driver.await {
                Ok(part) => tally.add(part),
                Err(_) => tally.read += 1,
            }
        }
        (tally, start.elapsed().max(args.duration))
    });
    if let Some(path) = &args.timeline {
        let lines: String = tally.sent_us.iter().zip(&tally.latencies_us).map(|(sent, latency)| format!("{sent} {latency}\n")).collect();
        std::fs::write(path, lines).with_context(|| format!("cannot write {}", path.display()))?;
    }
    print!("{}", report(&args, tally, elapsed));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(text: &str) -> io::Result<(Answer, usize)> {
        parse_answer(text.as_bytes())?.ok_or_else(|| invalid("incomplete"))
    }

    #[test]
    fn an_answer_with_a_length_ends_where_its_body_does() {
        let text = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1";
        assert_eq!(whole(text).expect("a whole answer"), (Answer { status: 200, close: false }, text.len() - 8));
    }

    #[test]
    fn a_chunked_answer_ends_after_its_last_chunk_and_trailers() {
        let text =
            "HTTP/1.1 303 See Other\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nX-T: 1\r\n\r\nnext";
        assert_eq!(whole(text).expect("a whole answer"), (Answer { status: 303, close: true }, text.len() - 4));
    }

    #[test]
    fn an_answer_is_incomplete_until_its_last_byte_arrives() {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody";
        for cut in 0..text.len() {
            assert_eq!(parse_answer(&text.as_bytes()[..cut]).expect("no error"), None, "cut at {cut}");
        }
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n";
        for cut in 0..chunked.len() {
            assert_eq!(parse_answer(&chunked.as_bytes()[..cut]).expect("no error"), None, "cut at {cut}");
        }
        assert!(whole(chunked).is_ok());
    }

    #[test]
    fn an_unframed_or_garbled_answer_is_an_error() {
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\n\r\nbody until close").is_err());
        assert!(parse_answer(b"garbage\r\n").is_err());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n").is_err());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
        assert_eq!(whole("HTTP/1.1 204 No Content\r\n\r\n").expect("no body").1, 27);
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let sorted: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), 50);
        assert_eq!(percentile(&sorted, 99.0), 99);
        assert_eq!(percentile(&sorted, 99.9), 100);
        assert_eq!(percentile(&[], 99.0), 0);
    }

    #[test]
    fn one_stall_puts_the_slowest_requests_in_neighbouring_slices() {
        // A request every ms for a second, 2 ms each, but 30 ms from 500 ms
        // to 520 ms: the slow ones lie in slices 500 and 510 only.
        let sent: Vec<u32> = (0..1_000).map(|ms| ms * 1_000).collect();
        let latencies: Vec<u32> = sent.iter().map(|&at| if (500_000..520_000).contains(&at) { 30_000 } else { 2_000 }).collect();
        assert_eq!(slowest_slices(&sent, &latencies, 2_000), (2, 100, 500_000, 510_000));
        assert_eq!(slowest_slices(&sent, &latencies, 30_000), (0, 100, 0, 0));
        assert_eq!(slowest_slices(&[], &[], 0), (0, 0, 0, 0));
    }

    #[test]
    fn durations_and_latencies_read_and_print_as_wrk_does() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(wrk_latency(812), "812.00us");
        assert_eq!(wrk_latency(1_420), "1.42ms");
        assert_eq!(wrk_latency(2_010_000), "2.01s");
    }

    #[test]
    fn a_target_carries_its_path_host_and_headers() {
        let target = Target::new("http://127.0.0.1:8080/a?q=1", &["Cookie: s=1".to_owned()]).expect("a target");
        assert_eq!(target.address, "127.0.0.1:8080".parse().expect("an address"));
        assert_eq!(target.request, b"GET /a?q=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nCookie: s=1\r\n\r\n");
        assert!(Target::new("https://127.0.0.1:8080/", &[]).is_err());
        assert!(Target::new("http://127.0.0.1:8080/", &["no colon".to_owned()]).is_err());
    }

    /// A server on 127.0.0.1 that answers every request on a connection
    /// with `answer`, until the connection closes.
    fn serve(answer: &'static [u8]) -> SocketAddr {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let address = listener.local_addr().expect("an address");
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                std::thread::spawn(move || {
                    let mut request = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while let Ok(read @ 1..) = stream.read(&mut chunk) {
                        request.extend_from_slice(&chunk[..read]);
                        while let Some(end) = request.windows(4).position(|four| four == b"\r\n\r\n") {
                            request.drain(..end + 4);
                            if stream.write_all(answer).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        address
    }

    fn offer(address: SocketAddr, interval: Duration, for_how_long: Duration) -> Tally {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let target = Arc::new(Target::new(&format!("http://{address}/"), &[]).expect("a target"));
        runtime.block_on(async {
            let start = Instant::now();
            drive(target, start, start, interval, start + for_how_long).await
        })
    }

    #[test]
    fn a_connection_sends_on_its_schedule_and_counts_each_answer() {
        let address = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        let tally = offer(address, Duration::from_millis(20), Duration::from_millis(400));
        assert_eq!(tally.latencies_us.len(), 20, "one request every 20 ms for 400 ms");
        assert_eq!((tally.non_success, tally.connect, tally.read, tally.write, tally.timeout), (0, 0, 0, 0, 0));
    }

    #[test]
    fn refusals_and_a_closed_port_are_counted_as_errors() {
        let address = serve(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
        let tally = offer(address, Duration::from_millis(20), Duration::from_millis(100));
        assert_eq!((tally.latencies_us.len(), tally.non_success), (5, 5));

        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("an address");
        let tally = offer(closed, Duration::from_millis(20), Duration::from_millis(100));
        assert_eq!((tally.latencies_us.len(), tally.connect), (0, 5));
    }
}
