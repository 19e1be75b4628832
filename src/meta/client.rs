//! The Graph API client: every call has a timeout, answers are read as
//! documented, and tokens only ever travel in the Authorization header.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use super::error::GraphError;
use super::types::{ErrorEnvelope, MetaWaba, Page, PhoneNumberInfo, SendAnswer, WabaInfo};

/// Pages followed at most when listing numbers (100 a page).
const MAX_PAGES: usize = 50;
/// Meta's largest page.
const PAGE_LIMIT: u32 = 100;
/// Fields asked for on each number.
const NUMBER_FIELDS: &str = "id,display_phone_number,verified_name,status,quality_rating,code_verification_status,messaging_limit_tier,throughput";

#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base_url: String,
    version: String,
}

impl GraphClient {
    pub fn new(base_url: &str, version: &str, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wabapool/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, base_url: base_url.trim_end_matches('/').to_owned(), version: version.to_owned() })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}/{}", self.base_url, self.version, path)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)], token: &SecretString) -> Result<T, GraphError> {
        let response = self.http.get(self.url(path)).query(query).bearer_auth(token.expose_secret()).send().await.map_err(transport_error)?;
        read(response).await
    }

    /// `GET /{version}/{waba-id}`.
    pub async fn waba(&self, waba_id: &str, token: &SecretString) -> Result<WabaInfo, GraphError> {
        let query = [("fields", "id,name,currency,timezone_id,message_template_namespace,health_status".to_owned())];
        self.get(waba_id, &query, token).await
    }

    /// Every number of a WABA, following `paging.cursors.after` while `paging.next` is present.
    pub async fn phone_numbers(&self, waba_id: &str, token: &SecretString) -> Result<Vec<PhoneNumberInfo>, GraphError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("fields", NUMBER_FIELDS.to_owned()), ("limit", PAGE_LIMIT.to_string())];
            if let Some(cursor) = &after {
                query.push(("after", cursor.clone()));
            }
            let page: Page<PhoneNumberInfo> = self.get(&format!("{waba_id}/phone_numbers"), &query, token).await?;
            all.extend(page.data);
            let paging = page.paging.unwrap_or_default();
            match (paging.next, paging.cursors.and_then(|c| c.after)) {
                (Some(_), Some(cursor)) if Some(&cursor) != after.as_ref() => after = Some(cursor),
                _ => return Ok(all),
            }
        }
        Err(GraphError::InvalidResponse(format!("more than {MAX_PAGES} pages of numbers")))
    }
}

impl GraphClient {
    /// `POST /{version}/{phone_number_id}/messages`: sends a Cloud API message object.
    pub async fn send_message(&self, phone_number_id: &str, token: &SecretString, message: &serde_json::Value) -> Result<SendAnswer, GraphError> {
        let response = self
            .http
            .post(self.url(&format!("{phone_number_id}/messages")))
            .bearer_auth(token.expose_secret())
            .json(message)
            .send()
            .await
            .map_err(transport_error)?;
        let answer: SendAnswer = read(response).await?;
        if answer.messages.first().is_none_or(|m| m.id.is_empty()) {
            return Err(GraphError::InvalidResponse("Meta's answer carries no message id".into()));
        }
        Ok(answer)
    }

    /// A WABA and all its numbers: what linking and syncing store.
    pub async fn waba_with_numbers(&self, waba_id: &str, token: &SecretString) -> Result<MetaWaba, GraphError> {
        let info = self.waba(waba_id, token).await?;
        if info.id != waba_id {
            return Err(GraphError::InvalidResponse("Meta answered for another WABA".into()));
        }
        let numbers = self.phone_numbers(waba_id, token).await?;
        Ok(MetaWaba { info, numbers })
    }
}

fn transport_error(error: reqwest::Error) -> GraphError {
    if error.is_timeout() { GraphError::Timeout } else { GraphError::Unreachable }
}

async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, GraphError> {
    let status = response.status();
    let body = response.bytes().await.map_err(transport_error)?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| GraphError::InvalidResponse(e.to_string()));
    }
    match serde_json::from_slice::<ErrorEnvelope>(&body) {
        Ok(envelope) => Err(GraphError::Api {
            status: status.as_u16(),
            code: envelope.error.code,
            subcode: envelope.error.error_subcode,
            message: envelope.error.message,
        }),
        Err(_) => Err(GraphError::InvalidResponse(format!("HTTP {status} without Meta's error body"))),
    }
}
