//! Liveness and readiness probes, and the metrics endpoint.

use actix_web::{HttpRequest, HttpResponse, get, web};

use super::AppState;
use crate::error::AppError;

/// 200 while the process is up.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ok")
}

/// 200 while a write to the database commits, 503 otherwise: a database
/// that still answers reads but cannot commit (a full disk, a read-only
/// file or server) cannot serve sends or sign-ins either. On SQLite the
/// probe's one-row write rides in the writer's next batch.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ready = state.write(|conn| crate::db::probe_write(conn).map_err(|e| AppError::Unavailable(e.into()))).await;
    match ready {
        Ok(()) => HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ready"),
        Err(error) => {
            tracing::warn!(error = ?error, "not ready: a write to the database could not be committed");
            HttpResponse::ServiceUnavailable().content_type("text/plain; charset=utf-8").body("database unavailable")
        }
    }
}

/// Prometheus metrics in the text exposition format, only to the client
/// addresses the `metrics_allow` setting names; anyone else finds nothing.
#[get("/metrics")]
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let client = super::client_ip(&req, &state.trusted_proxies).and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
    if !client.is_some_and(|ip| state.metrics_allow.iter().any(|net| net.contains(&ip))) {
        return Err(AppError::NotFound);
    }
    let pool = state.db.state();
    let text = state.metrics.render((pool.connections, pool.idle_connections, state.db.max_size()));
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(text))
}
