//! Slow clients cannot hold connections: a body trickled byte by byte is
//! cut off soon after its headers, idle connections are closed, and the
//! connections open at once are capped, while everyone else is answered.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app_with};

/// What a trickling client saw: the answer's first bytes (empty when the
/// connection was only closed), how long after its headers it came, and
/// whether the server then closed the connection.
struct Cutoff {
    answer: String,
    after: Duration,
    closed: bool,
}

/// Whether the server closes the connection within a few seconds.
async fn closed_by_server(socket: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), socket.read_to_end(&mut rest)).await.is_ok()
}

/// Sends a POST's headers at once, then its body one byte every 250 ms,
/// until the server answers or closes; gives up after `patience`.
async fn trickle(app: &TestApp, path: &str, content_type: &str, patience: Duration) -> Option<Cutoff> {
    let mut socket = TcpStream::connect(app.address.trim_start_matches("http://")).await.expect("connects");
    let head = format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nContent-Length: 1000\r\n\r\n");
    socket.write_all(head.as_bytes()).await.expect("headers sent");
    let started = Instant::now();
    let mut buffer = [0u8; 512];
    while started.elapsed() < patience {
        tokio::select! {
            read = socket.read(&mut buffer) => {
                let after = started.elapsed();
                let answer = match read {
                    Ok(n) => String::from_utf8_lossy(&buffer[..n]).into_owned(),
                    Err(_) => String::new(),
                };
                let closed = answer.is_empty() || closed_by_server(&mut socket).await;
                return Some(Cutoff { answer, after, closed });
            }
            () = tokio::time::sleep(Duration::from_millis(250)) => {
                if socket.write_all(b"a").await.is_err() {
                    return Some(Cutoff { answer: String::new(), after: started.elapsed(), closed: true });
                }
            }
        }
    }
    None
}

/// A fresh client (its own connection) asks for `/healthz`.
async fn healthz(app: &TestApp) -> u16 {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().expect("client");
    client.get(app.url("/healthz")).send().await.expect("healthz answered").status().as_u16()
}

#[tokio::test]
async fn a_client_trickling_a_body_is_cut_off_within_the_body_timeout_while_others_are_answered() {
    let app = spawn_app_with(|s| s.body_timeout = Duration::from_secs(1)).await;

    let trickling = async {
        let form = trickle(&app, "/login", "application/x-www-form-urlencoded", Duration::from_secs(8)).await;
        let webhook = trickle(&app, "/webhooks/whatsapp", "application/json", Duration::from_secs(8)).await;
        (form, webhook)
    };
    let others = async {
        let mut answers = Vec::new();
        for _ in 0..8 {
            answers.push(healthz(&app).await);
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        answers
    };
    let ((form, webhook), answers) = tokio::join!(trickling, others);

    for (what, cutoff) in [("form", form), ("webhook", webhook)] {
        let cutoff = cutoff.unwrap_or_else(|| panic!("{what}: still open after 8 s of trickling"));
        assert!(cutoff.after < Duration::from_secs(4), "{what}: cut off only after {:?}", cutoff.after);
        assert!(cutoff.answer.starts_with("HTTP/1.1 408"), "{what}: {}", cutoff.answer);
        assert!(cutoff.closed, "{what}: the connection stayed open after the 408");
    }
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
}

#[tokio::test]
async fn a_slow_body_that_arrives_within_the_timeout_is_read_whole() {
    let app = spawn_app_with(|s| s.body_timeout = Duration::from_secs(3)).await;
    let mut socket = TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
    let body = "email=a%40b.example&password=x";
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );

    socket.write_all(head.as_bytes()).await.unwrap();
    for part in body.as_bytes().chunks(10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        socket.write_all(part).await.unwrap();
    }
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();

    // Read whole, the form reaches its CSRF check, which a raw socket without a session fails.
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_in_line_and_are_answered_once_idle_ones_are_closed() {
    let app = spawn_app_with(|s| {
        s.max_connections = 2;
        s.header_timeout = Duration::from_secs(1);
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(&address).await.expect("connects"));
    }

    let started = Instant::now();
    let answer = healthz(&app).await;
    let waited = started.elapsed();

    assert_eq!(answer, 200);
    // Two idle connections fill the cap: the new one waits until the first are closed.
    assert!(waited >= Duration::from_millis(800), "answered after {waited:?}: the cap did not hold");
    assert!(waited < Duration::from_secs(10), "answered only after {waited:?}");
    drop(idle);
}
