//! The OpenAPI document of the JSON API, built by `utoipa` from the
//! handlers' `#[utoipa::path]` attributes and the bodies' types. The error
//! answers of each operation come from the problems it lists
//! ([`OPERATION_PROBLEMS`]), so their codes, statuses and sentences are
//! [`Problem`]'s own.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use actix_web::dev::ResourceDef;
use actix_web::{HttpResponse, get};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, OpenApi as Document, Ref, RefOr, ResponseBuilder, Schema};
use utoipa::{Modify, OpenApi};

use super::bodies::{
    AttemptAnswer, ErrorAnswer, ErrorDetail, EventAnswer, EventsPageAnswer, FailedSendAnswer, MemberAnswer, MessageAnswer, MessageRequest,
    RefusalWithRouting, RoutingAnswer, SentAnswer, StatusChangeAnswer,
};
use super::events::{EVENTS_PROBLEMS, MESSAGE_PROBLEMS};
use super::messages::{ROUTE_PROBLEMS, SEND_PROBLEMS};
use super::problem::Problem;

/// The security scheme of the API keys, as the handlers' attributes name it.
pub const API_KEY: &str = "api_key";

/// The problems each operation can answer, by method and path.
pub const OPERATION_PROBLEMS: &[(&str, &str, &[Problem])] = &[
    ("post", "/api/v1/pools/{id}/messages", SEND_PROBLEMS),
    ("get", "/api/v1/pools/{id}/route", ROUTE_PROBLEMS),
    ("get", "/api/v1/events", EVENTS_PROBLEMS),
    ("get", "/api/v1/messages/{id}", MESSAGE_PROBLEMS),
];

#[derive(OpenApi)]
#[openapi(
    info(title = "wabapool API", description = "Send WhatsApp messages through a pool of numbers; wabapool picks the number."),
    paths(super::messages::send, super::messages::route, super::events::events, super::events::message, serve),
    components(schemas(
        AttemptAnswer,
        ErrorAnswer,
        ErrorDetail,
        EventAnswer,
        EventsPageAnswer,
        FailedSendAnswer,
        MemberAnswer,
        MessageAnswer,
        MessageRequest,
        RefusalWithRouting,
        RoutingAnswer,
        SentAnswer,
        StatusChangeAnswer
    )),
    modifiers(&Problems)
)]
pub struct ApiDocument;

/// Adds the bearer scheme, the list of error codes and each operation's
/// error answers.
struct Problems;

impl Modify for Problems {
    fn modify(&self, document: &mut Document) {
        if let Some(components) = document.components.as_mut() {
            let scheme = Http::builder().scheme(HttpAuthScheme::Bearer).description(Some("An API key wbp_… created by a super admin")).build();
            components.add_security_scheme(API_KEY, SecurityScheme::Http(scheme));
            if let Some(RefOr::T(Schema::Object(detail))) = components.schemas.get_mut("ErrorDetail") {
                let codes = ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("A stable snake_case code; see each response for its meaning."))
                    .enum_values(Some(Problem::ALL.iter().map(|p| p.code())))
                    .build();
                detail.properties.insert("code".into(), RefOr::T(Schema::Object(codes)));
            }
        }
        for (method, path, problems) in OPERATION_PROBLEMS {
            let Some(item) = document.paths.paths.get_mut(*path) else { continue };
            let operation = match *method {
                "post" => item.post.as_mut(),
                _ => item.get.as_mut(),
            };
            let Some(operation) = operation else { continue };
            for (status, response) in error_responses(problems) {
                operation.responses.responses.insert(status, RefOr::T(response));
            }
        }
    }
}

/// One response per status the problems have: the codes and sentences in
/// its description, Retry-After where a problem asks to wait, and the body
/// that carries the routing where a problem includes it.
fn error_responses(problems: &[Problem]) -> BTreeMap<String, utoipa::openapi::Response> {
    let mut by_status: BTreeMap<u16, Vec<Problem>> = BTreeMap::new();
    for problem in problems {
        by_status.entry(problem.status().as_u16()).or_default().push(*problem);
    }
    by_status
        .into_iter()
        .map(|(status, problems)| {
            let description = problems.iter().map(|p| format!("`{}`: {}", p.code(), p.message())).collect::<Vec<_>>().join("\n\n");
            let with_routing = problems.iter().any(|p| matches!(p, Problem::NoEligibleNumber | Problem::SendATemplate));
            let body: RefOr<Schema> = if with_routing {
                OneOfBuilder::new().item(Ref::from_schema_name("ErrorAnswer")).item(Ref::from_schema_name("RefusalWithRouting")).into()
            } else {
                Ref::from_schema_name("ErrorAnswer").into()
            };
            let mut response =
                ResponseBuilder::new().description(description).content("application/json", ContentBuilder::new().schema(Some(body)).build());
            if problems.iter().any(|p| p.retry_after().is_some()) {
                let seconds = HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::Integer))
                    .description(Some("Seconds to wait before trying again"))
                    .build();
                response = response.header("Retry-After", seconds);
            }
            (status.to_string(), response.build())
        })
        .collect()
}

/// The document, built once.
pub static DOCUMENT: LazyLock<Document> = LazyLock::new(ApiDocument::openapi);

/// The routes of the document, each with the methods (upper case) it takes.
static ROUTES: LazyLock<Vec<(ResourceDef, Vec<String>)>> = LazyLock::new(|| {
    DOCUMENT
        .paths
        .paths
        .iter()
        .map(|(path, item)| {
            let methods = [("GET", item.get.is_some()), ("POST", item.post.is_some())];
            (ResourceDef::new(path.as_str()), methods.iter().filter(|(_, has)| *has).map(|(m, _)| (*m).to_owned()).collect())
        })
        .collect()
});

/// The methods (upper case) the API routes matching `path` take.
pub fn methods_of(path: &str) -> Vec<String> {
    ROUTES.iter().filter(|(route, _)| route.is_match(path)).flat_map(|(_, methods)| methods.clone()).collect()
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", responses((status = 200, description = "The OpenAPI document of this API")))]
#[get("/api/v1/openapi.json")]
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(&*DOCUMENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_an_operation_answers_is_documented_with_its_status() {
        for (method, path, problems) in OPERATION_PROBLEMS {
            let item = &DOCUMENT.paths.paths[*path];
            let operation = if *method == "post" { item.post.as_ref() } else { item.get.as_ref() }.unwrap();
            for problem in *problems {
                let Some(RefOr::T(response)) = operation.responses.responses.get(&problem.status().as_u16().to_string()) else {
                    panic!("{method} {path}: no {} response", problem.status());
                };
                assert!(response.description.contains(problem.code()), "{method} {path}: {} lacks {}", response.description, problem.code());
            }
        }
    }

    #[test]
    fn the_paths_with_an_id_take_it_as_an_integer_in_the_path() {
        let json = serde_json::to_value(&*DOCUMENT).unwrap();
        for path in ["/api/v1/pools/{id}/messages", "/api/v1/pools/{id}/route"] {
            let item = &json["paths"][path];
            let operation = item.as_object().unwrap().values().next().unwrap();
            let id = operation["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "id").unwrap();
            assert_eq!((id["in"].as_str(), id["schema"]["type"].as_str()), (Some("path"), Some("integer")), "{path}");
        }
    }
}
