//! Overview, an aggregator's landing page: each enterprise's health at a
//! glance, every figure a link to the page that acts on it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use super::layout::{Chrome, Nav};
use super::session::CurrentUser;
use super::{AppState, render};
use crate::error::AppError;
use crate::services::overview::{self as service, Overview, OverviewQuery};

pub const OVERVIEW: &str = "/overview";

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    chrome: Chrome,
    overview: Overview,
    query: OverviewQuery,
}

impl OverviewPage {
    fn pools_href(&self, id: &i64) -> String {
        format!("/channels/whatsapp/pools?enterprise_id={id}")
    }

    fn numbers_href(&self, id: &i64) -> String {
        format!("/channels/whatsapp/numbers?enterprise_id={id}")
    }

    /// The address of this page with the other order.
    fn sort_href(&self, trouble: bool) -> String {
        self.href(trouble, None)
    }

    /// The address of another page in this order.
    fn page_href(&self, number: i64) -> String {
        self.href(self.query.by_trouble(), Some(number))
    }

    fn link_href(&self, number: &i64) -> String {
        self.page_href(*number)
    }

    fn is_current(&self, number: &i64) -> bool {
        *number == self.overview.page
    }

    fn href(&self, trouble: bool, number: Option<i64>) -> String {
        let mut parts = Vec::new();
        if self.query.attention_only() {
            parts.push("attention=1".to_owned());
        }
        if trouble {
            parts.push("sort=trouble".to_owned());
        }
        parts.extend(number.map(|p| format!("page={p}")));
        if parts.is_empty() { OVERVIEW.to_owned() } else { format!("{OVERVIEW}?{}", parts.join("&")) }
    }

    fn page_links(&self) -> Vec<Option<i64>> {
        super::paging::page_links(self.overview.page, self.overview.pages)
    }
}

/// The page's markup: what the handler answers, and what the overview
/// benchmark times beside the service.
pub fn draw(chrome: Chrome, overview: Overview, query: OverviewQuery) -> Result<String, askama::Error> {
    OverviewPage { chrome, overview, query }.render()
}

#[get("/overview")]
pub async fn page(state: web::Data<AppState>, user: CurrentUser, query: web::Query<OverviewQuery>) -> Result<HttpResponse, AppError> {
    let (actor, query) = (user.actor.clone(), query.into_inner());
    let asked = query.clone();
    let overview = state.run(move |conn| Ok(service::overview(conn, &actor, &asked)?)).await?;
    render(StatusCode::OK, &OverviewPage { chrome: Chrome::new(&user, Nav::Overview, state.demo), overview, query })
}
