//! The OpenAPI 3 document of the JSON API, built from `OPERATIONS` — the
//! one description of each API route, checked against the handlers' own
//! attributes by a test.

use actix_web::{HttpResponse, get};
use serde_json::{Value, json};

pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// Status codes and what they mean.
    pub responses: &'static [(&'static str, &'static str)],
    pub bearer: bool,
}

pub const OPERATIONS: &[Operation] = &[
    Operation {
        method: "post",
        path: "/api/v1/pools/{id}/messages",
        summary: "Send a Cloud API message object (plus optional department) through a pool; Idempotency-Key makes a retry return the first answer.",
        responses: &[
            ("201", "Sent: id, wamid, phone_number_id, display_phone_number, attempts"),
            ("401", "unauthorized: missing, unknown or revoked API key"),
            ("404", "pool_not_found"),
            ("409", "pool_inactive, or idempotency_in_progress (another request with this Idempotency-Key is being sent; Retry-After)"),
            ("413", "body_too_large"),
            ("415", "unsupported_media_type"),
            (
                "422",
                "invalid_message, unknown_department, send_a_template, recipient_rejected or idempotency_key_reused (the key was used for another message or pool)",
            ),
            ("500", "internal (logged with the request's X-Request-Id)"),
            (
                "503",
                "no_eligible_number (with each member's reason and Retry-After), number_cooling_down, waba_out_of_rotation, all_members_failed, meta_unreachable, database_unavailable, token_unreadable",
            ),
        ],
        bearer: true,
    },
    Operation {
        method: "get",
        path: "/api/v1/pools/{id}/route",
        summary: "The routing decision for a recipient, with each member's reason, without sending.",
        responses: &[
            ("200", "phone_number_id (null when none is eligible) and members"),
            ("401", "unauthorized"),
            ("404", "pool_not_found"),
            ("409", "pool_inactive"),
        ],
        bearer: true,
    },
    Operation { method: "get", path: "/api/v1/openapi.json", summary: "This document.", responses: &[("200", "OpenAPI 3 document")], bearer: false },
];

pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for op in OPERATIONS {
        let responses: serde_json::Map<String, Value> =
            op.responses.iter().map(|(code, what)| ((*code).to_owned(), json!({ "description": what }))).collect();
        let mut operation = json!({ "summary": op.summary, "responses": responses });
        if op.path.contains("{id}") {
            operation["parameters"] = json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }]);
        }
        if op.bearer {
            operation["security"] = json!([{ "apiKey": [] }]);
        }
        if op.method == "post" {
            operation["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["to"], "properties": {
                "to": { "type": "string", "description": "Recipient in E.164 digits" },
                "type": { "type": "string", "enum": ["text", "template", "image", "video", "audio", "document", "sticker", "interactive"] },
                "department": { "type": "string" }
            } } } } });
        }
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method] = operation;
    }
    json!({
        "openapi": "3.0.3",
        "info": { "title": "wabapool API", "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
        "components": { "securitySchemes": { "apiKey": { "type": "http", "scheme": "bearer", "description": "An API key wbp_… created by a super admin" } } }
    })
}

#[get("/api/v1/openapi.json")]
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(document())
}
