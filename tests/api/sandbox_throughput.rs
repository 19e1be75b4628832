//! The Graph API sandbox holding each number to Meta's throughput when told
//! to: sends beyond it in one second are answered with 130429, and
//! `/_sandbox/rates` shows from outside how many each second took.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use wabapool::demo::{sandbox_fixture, sandbox_token};
use wabapool::meta::sandbox::Sandbox;

/// The sandbox alone, with a client and the first demo number (STANDARD).
struct Meta {
    base_url: String,
    client: reqwest::Client,
    number: String,
    token: String,
    _sandbox: Sandbox,
}

impl Meta {
    async fn start() -> Self {
        let fixture = sandbox_fixture();
        let waba = &fixture.wabas[0];
        let (number, token) = (waba.phone_numbers[0].id.clone(), sandbox_token(&waba.id));
        let sandbox = Sandbox::bind(fixture, "127.0.0.1:0").expect("the sandbox binds").spawn();
        Self { base_url: sandbox.base_url.clone(), client: reqwest::Client::new(), number, token, _sandbox: sandbox }
    }

    async fn command(&self, path: &str, body: &str) -> (u16, Value) {
        let request = self.client.post(format!("{}{path}", self.base_url)).header("Content-Type", "application/json").body(body.to_owned());
        let response = request.send().await.expect("the sandbox answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    async fn enforce(&self, on: bool) {
        let (status, answer) = self.command("/_sandbox/throughput", &json!({ "enforce": on }).to_string()).await;
        assert_eq!((status, answer), (200, json!({ "enforce": on })));
    }

    /// Sends `count` texts from `number` at once; each answer's status and Graph error code.
    async fn burst(&self, number: &str, count: usize) -> Vec<(u16, Option<i64>)> {
        let sends = (0..count).map(|n| async move {
            let message = json!({ "messaging_product": "whatsapp", "to": format!("4477009{n:05}"), "type": "text", "text": { "body": "Hello" } });
            let response = self
                .client
                .post(format!("{}/v23.0/{number}/messages", self.base_url))
                .bearer_auth(&self.token)
                .json(&message)
                .send()
                .await
                .expect("the sandbox answers");
            let status = response.status().as_u16();
            let answer: Value = response.json().await.unwrap_or_default();
            (status, answer["error"]["code"].as_i64())
        });
        futures_util::future::join_all(sends).await
    }

    /// `GET /_sandbox/rates` for one number.
    async fn rates_of(&self, number: &str) -> Value {
        let response = self.client.get(format!("{}/_sandbox/rates", self.base_url)).send().await.expect("the sandbox answers");
        assert_eq!(response.status().as_u16(), 200);
        let rates: Value = response.json().await.expect("rates are JSON");
        rates[number].clone()
    }
}

/// Waits for the next wall-clock second to begin, so a burst starts at
/// the front of one (it may still reach into the next).
async fn start_of_a_second() {
    let into = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().subsec_millis();
    tokio::time::sleep(Duration::from_millis(u64::from(1_000 - into) + 5)).await;
}

/// Each counted second as (accepted, refused).
fn seconds(rates: &Value) -> Vec<(u64, u64)> {
    let seconds = rates["seconds"].as_array().expect("the number's seconds");
    seconds.iter().map(|s| (s["accepted"].as_u64().unwrap_or_default(), s["refused"].as_u64().unwrap_or_default())).collect()
}

fn tally(answers: &[(u16, Option<i64>)]) -> (usize, usize, usize) {
    let accepted = answers.iter().filter(|a| a.0 == 200).count();
    let throttled = answers.iter().filter(|a| **a == (400, Some(130_429))).count();
    (accepted, throttled, answers.len() - accepted - throttled)
}

#[tokio::test]
async fn a_standard_number_is_refused_with_130429_beyond_80_messages_in_any_one_second() {
    // Arrange
    let meta = Meta::start().await;
    meta.enforce(true).await;
    start_of_a_second().await;

    // Act
    let answers = meta.burst(&meta.number, 200).await;

    // Assert
    let (accepted, throttled, other) = tally(&answers);
    assert_eq!(other, 0, "every send is accepted or refused for throughput: {answers:?}");
    let rates = meta.rates_of(&meta.number).await;
    assert_eq!(rates["messages_per_second"], 80);
    let seconds = seconds(&rates);
    for &(in_second, refused) in &seconds {
        assert!(in_second <= 80, "at most 80 in one second: {seconds:?}");
        assert!(refused == 0 || in_second == 80, "refusals only once the second is full: {seconds:?}");
    }
    assert_eq!(seconds.iter().map(|s| s.0).sum::<u64>(), accepted as u64);
    assert_eq!(seconds.iter().map(|s| s.1).sum::<u64>(), throttled as u64);
    assert!(throttled > 0, "200 sends within {} second(s) go beyond 80 a second", seconds.len());
    assert_eq!(rates["max_accepted"], 80);
}

#[tokio::test]
async fn with_enforcement_switched_off_every_send_is_accepted_and_still_counted() {
    // Arrange
    let meta = Meta::start().await;
    meta.enforce(true).await;
    meta.enforce(false).await;

    // Act
    let answers = meta.burst(&meta.number, 150).await;

    // Assert
    assert_eq!(tally(&answers), (150, 0, 0), "{answers:?}");
    let seconds = seconds(&meta.rates_of(&meta.number).await);
    assert_eq!(seconds.iter().map(|s| s.0).sum::<u64>(), 150);
    assert_eq!(seconds.iter().map(|s| s.1).sum::<u64>(), 0);
}

#[tokio::test]
async fn a_coexistence_number_is_held_to_20_messages_a_second() {
    // Arrange
    let meta = Meta::start().await;
    let (status, _) = meta.command(&format!("/_sandbox/numbers/{}", meta.number), r#"{"throughput": "COEXISTENCE"}"#).await;
    assert_eq!(status, 204);
    meta.enforce(true).await;
    start_of_a_second().await;

    // Act
    let answers = meta.burst(&meta.number, 60).await;

    // Assert
    let (accepted, throttled, other) = tally(&answers);
    assert_eq!(other, 0, "{answers:?}");
    let rates = meta.rates_of(&meta.number).await;
    assert_eq!(rates["messages_per_second"], 20);
    let seconds = seconds(&rates);
    assert!(seconds.iter().all(|s| s.0 <= 20), "at most 20 in one second: {seconds:?}");
    assert_eq!((seconds.iter().map(|s| s.0).sum::<u64>(), seconds.iter().map(|s| s.1).sum::<u64>()), (accepted as u64, throttled as u64));
    assert!(throttled > 0, "60 sends within {} second(s) go beyond 20 a second", seconds.len());
}

#[tokio::test]
async fn a_throughput_command_the_sandbox_cannot_read_is_refused_in_json() {
    // Arrange
    let meta = Meta::start().await;

    // Act
    let answers = [
        meta.command("/_sandbox/throughput", "").await,
        meta.command("/_sandbox/throughput", "{not json").await,
        meta.command("/_sandbox/throughput", r#"{"enforce": "yes"}"#).await,
        meta.command("/_sandbox/throughput", r#"{"enforce": true, "rate": 5}"#).await,
    ];

    // Assert
    for (status, answer) in answers {
        assert_eq!(status, 400);
        assert!(answer["error"].as_str().is_some_and(|e| e.contains("enforce")), "{answer}");
    }
    let answers = meta.burst(&meta.number, 90).await;
    assert_eq!(tally(&answers).0, 90, "enforcement stays off");
}
