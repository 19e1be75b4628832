//! The API reference page: the API's OpenAPI document, read for people.
//! It is drawn once at start-up from the document's JSON, so the portal
//! shows exactly what `/api/v1/openapi.json` says.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use serde_json::Value;

use super::layout::{Chrome, Nav};
use super::session::CurrentUser;
use super::{AppState, render};
use crate::error::AppError;

pub const API_REFERENCE: &str = "/channels/whatsapp/api-reference";

/// Every operation of the document.
pub struct ApiReference {
    pub operations: Vec<OperationView>,
}

pub struct OperationView {
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub parameters: Vec<ParameterView>,
    /// The example body, pretty-printed, for operations that take one.
    pub request_example: Option<String>,
    pub responses: Vec<ResponseView>,
    pub needs_key: bool,
}

pub struct ParameterView {
    pub name: String,
    pub place: String,
    pub required: bool,
    pub description: String,
}

pub struct ResponseView {
    pub status: String,
    /// One line per code and sentence.
    pub lines: Vec<String>,
    pub headers: Vec<String>,
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

impl ApiReference {
    /// Reads an OpenAPI 3 document.
    pub fn from_document(document: &Value) -> Self {
        let schemas = &document["components"]["schemas"];
        let mut operations = Vec::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                operations.push(OperationView::new(method, path, operation, schemas));
            }
        }
        Self { operations }
    }
}

impl OperationView {
    fn new(method: &str, path: &str, operation: &Value, schemas: &Value) -> Self {
        let parameters = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| ParameterView {
                name: text(&p["name"]),
                place: text(&p["in"]),
                required: p["required"] == true,
                description: text(&p["description"]),
            })
            .collect();
        let body = &operation["requestBody"]["content"]["application/json"]["schema"];
        let example = match body["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
            Some(name) => &schemas[name]["example"],
            None => &body["example"],
        };
        let request_example = (!example.is_null()).then(|| serde_json::to_string_pretty(example).unwrap_or_default());
        let responses = operation["responses"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(status, response)| ResponseView {
                status: status.clone(),
                lines: text(&response["description"]).split("\n\n").map(str::to_owned).collect(),
                headers: response["headers"].as_object().into_iter().flatten().map(|(name, _)| name.clone()).collect(),
            })
            .collect();
        let (summary, description) = (text(&operation["summary"]), text(&operation["description"]));
        let needs_key = operation["security"].as_array().is_some_and(|s| !s.is_empty());
        Self { method: method.to_uppercase(), path: path.to_owned(), summary, description, parameters, request_example, responses, needs_key }
    }
}

#[derive(Template)]
#[template(path = "api_reference/index.html")]
struct ReferencePage<'a> {
    chrome: Chrome,
    reference: &'a ApiReference,
}

#[get("/channels/whatsapp/api-reference")]
pub async fn page(state: web::Data<AppState>, reference: web::Data<ApiReference>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    render(StatusCode::OK, &ReferencePage { chrome: Chrome::new(&user, Nav::None, state.demo), reference: &reference })
}
