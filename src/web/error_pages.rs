//! The 403 and 404 pages of a signed-in user, inside the portal's layout:
//! header, menu and sign-out stay, so a wrong link is not a dead end. The
//! handlers answer with [`AppError`] as everywhere; this middleware draws
//! the page again around the same words when a session is signed in.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{FromRequest as _, web};
use askama::Template;

use super::layout::{Chrome, Nav};
use super::session::{CurrentUser, set_flash};
use super::{AppState, render};
use crate::error::AppError;

#[derive(Template)]
#[template(path = "error_in_portal.html")]
struct PortalErrorPage<'a> {
    chrome: Chrome,
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl PortalErrorPage<'_> {
    /// Where "Back to wabapool" leads: the user's own landing page.
    fn home(&self) -> &'static str {
        if self.chrome.manages_channels { "/channels/whatsapp/pools" } else { "/settings/password" }
    }
}

/// Redraws a portal 403 or 404 inside the layout for a signed-in user.
pub async fn in_layout(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let res = next.call(req).await?;
    let status = res.status();
    let redrawn = matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND) && !res.request().path().starts_with("/api/");
    let error = res.response().error().and_then(|e| e.as_error::<AppError>()).filter(|e| matches!(e, AppError::NotFound | AppError::Forbidden));
    let (Some(error), true) = (error, redrawn) else { return Ok(res.map_into_left_body()) };
    let (title, message) = error.title_and_message();
    let request = res.request().clone();
    let Ok(user) = CurrentUser::extract(&request).await else { return Ok(res.map_into_left_body()) };
    let demo = request.app_data::<web::Data<AppState>>().is_some_and(|state| state.demo);
    let mut chrome = Chrome::new(&user, Nav::None, demo);
    // A flash waiting for the next page is kept for it, not spent on an error.
    if let Some(flash) = chrome.flash.take() {
        set_flash(&user.session, flash.kind, flash.message);
    }
    let page = PortalErrorPage { chrome, status: status.as_u16(), title, message: &message };
    match render(status, &page) {
        Ok(drawn) => Ok(res.into_response(drawn).map_into_right_body()),
        Err(_) => Ok(res.map_into_left_body()),
    }
}
