//! Liveness and readiness probes.

use actix_web::{HttpResponse, get, web};

use super::AppState;

/// 200 while the process is up.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ok")
}

/// 200 while the database answers, 503 otherwise.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ready = state.run(|conn| crate::db::ping(conn).map_err(|e| crate::error::AppError::Unavailable(e.into()))).await;
    match ready {
        Ok(()) => HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ready"),
        Err(_) => HttpResponse::ServiceUnavailable().content_type("text/plain; charset=utf-8").body("database unavailable"),
    }
}

/// Prometheus metrics in the text exposition format.
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.db.state();
    let text = state.metrics.render((pool.connections, pool.idle_connections, state.db.max_size()));
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(text)
}
