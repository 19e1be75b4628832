//! Channels → WhatsApp → WABA Pool: the listing, Add, Edit, the
//! deactivate confirmation and the detail page.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::csv;
use super::form::{FormPost, one_or_many};
use super::layout::{Chrome, Nav};
use super::session::{CurrentUser, FlashKind, SessionClaims, SignedInSession, set_flash};
use super::{AppState, htmx, ok, render};
use crate::db::DbConnection;
use crate::domain::{MAX_POOL_NUMBERS, PoolId};
use crate::error::{AppError, urlencode};
use crate::services::auth::SessionUser;
use crate::services::pools::CachedListing;
use crate::services::pools::{self as service, ListQuery, ListingCache, PoolDraft, PoolFormContext, PoolListing, PoolSummary};
use crate::services::{FieldErrors, ServiceError};

pub const LISTING: &str = "/channels/whatsapp/pools";

fn pool_id(raw: &str) -> Result<PoolId, AppError> {
    raw.parse().map_err(|_| AppError::NotFound)
}

// ---------------------------------------------------------------- listing

/// The listing page; public so that `benches/listing.rs` renders the real template.
#[derive(Template)]
#[template(path = "pools/index.html")]
pub struct PoolsIndex {
    pub chrome: Chrome,
    pub listing: Arc<CachedListing>,
    /// The listing's table as [`ListingTable`] drew it.
    pub table: Arc<str>,
}

impl PoolsIndex {
    /// The page, with the listing's table drawn once per cached listing.
    pub fn new(chrome: Chrome, listing: Arc<CachedListing>) -> Result<Self, askama::Error> {
        let is_aggregator = chrome.is_aggregator;
        let table = listing.drawn(|listing| ListingTable { listing, is_aggregator }.render().map(without_indentation))?;
        Ok(Self { chrome, listing, table })
    }

    fn filters_enterprise(&self, id: &i64) -> bool {
        self.listing.listing.enterprise_filter == Some(*id)
    }

    fn is_filtered(&self) -> bool {
        is_filtered(&self.listing.listing)
    }

    /// The CSV of every pool the listing's filters match.
    fn csv_href(&self) -> String {
        format!("{LISTING}.csv?{}", serde_urlencoded::to_string(filter_pairs(&self.listing.listing, None)).unwrap_or_default())
    }
}

fn is_filtered(listing: &PoolListing) -> bool {
    listing.enterprise_filter.is_some() || !listing.q.is_empty() || !listing.status.is_empty()
}

/// Collapses each run of whitespace that begins a line into one newline:
/// the template's indentation, which a browser renders as the one space it
/// becomes. A listing page of 50 pools is about a seventh smaller.
fn without_indentation(markup: String) -> String {
    let mut out = String::with_capacity(markup.len());
    let mut in_break = false;
    for c in markup.chars() {
        if in_break && matches!(c, ' ' | '\t' | '\n' | '\r') {
            continue;
        }
        in_break = c == '\n';
        out.push(c);
    }
    out
}

/// The listing's table, pagination and empty states: what depends on the
/// listing alone, with nothing of the session in it.
#[derive(Template)]
#[template(path = "pools/_listing.html")]
pub struct ListingTable<'a> {
    pub listing: &'a PoolListing,
    /// Whether the listing is an aggregator's, which adds the Enterprise
    /// column; the same for every user of one scope.
    pub is_aggregator: bool,
}

/// The listing's filters as query pairs, with `sort` in place of the
/// listing's own order when given.
fn filter_pairs(listing: &PoolListing, sort: Option<String>) -> Vec<(&'static str, String)> {
    let mut parts: Vec<(&str, String)> = Vec::new();
    if let Some(id) = listing.enterprise_filter {
        parts.push(("enterprise_id", id.to_string()));
    }
    let sort = sort.unwrap_or_else(|| listing.sort.clone());
    for (key, value) in [("q", listing.q.clone()), ("status", listing.status.clone()), ("sort", sort)] {
        if !value.is_empty() {
            parts.push((key, value));
        }
    }
    parts
}

impl ListingTable<'_> {
    fn query_without_page(&self) -> String {
        serde_urlencoded::to_string(filter_pairs(self.listing, None)).unwrap_or_default()
    }

    /// The address that sorts by `column`, the other way when it already does.
    fn sort_href(&self, column: &str) -> String {
        let sort =
            if self.listing.sort == column || (column == "name" && self.listing.sort.is_empty()) { format!("-{column}") } else { column.to_owned() };
        format!("{LISTING}?{}", serde_urlencoded::to_string(filter_pairs(self.listing, Some(sort))).unwrap_or_default())
    }

    /// `aria-sort` of a column's header.
    fn aria_sort(&self, column: &str) -> &'static str {
        let sort = if self.listing.sort.is_empty() { "name" } else { self.listing.sort.as_str() };
        match sort.strip_prefix('-') {
            Some(descending) if descending == column => "descending",
            None if sort == column => "ascending",
            _ => "none",
        }
    }

    fn page_href(&self, page: i64) -> String {
        let rest = self.query_without_page();
        if rest.is_empty() { format!("{LISTING}?page={page}") } else { format!("{LISTING}?{rest}&page={page}") }
    }

    fn is_filtered(&self) -> bool {
        is_filtered(self.listing)
    }

    fn page_links(&self) -> Vec<Option<i64>> {
        super::paging::page_links(self.listing.page, self.listing.pages)
    }

    fn is_current(&self, page: &i64) -> bool {
        *page == self.listing.page
    }

    fn link_href(&self, page: &i64) -> String {
        self.page_href(*page)
    }
}

/// The session's user and the listing, or None when the session has ended.
type ListingVisit = Option<(SessionUser, Arc<CachedListing>)>;

/// An unchanged listing for a user already seen needs one short read, the
/// two stamps. None when that is not enough: the listing is not kept, or
/// the session's last sight is due to be written (not on this worker).
fn quick_visit(conn: &mut DbConnection, claims: &SessionClaims, cache: &ListingCache, query: &ListQuery) -> Result<Option<ListingVisit>, AppError> {
    let stamps = service::listing_and_session_stamps(conn)?;
    match claims.load_without_writing(conn, stamps.session)? {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(user)) => Ok(service::cached_listing(cache, &user.actor, query, stamps.listing)?.map(|listing| Some((user, listing)))),
    }
}

/// The session's user and the listing in one database visit; the user is
/// checked first, so a disabled user or an ended session sees nothing.
fn full_visit(conn: &mut DbConnection, claims: &SessionClaims, cache: &ListingCache, query: &ListQuery) -> Result<ListingVisit, AppError> {
    let stamps = service::listing_and_session_stamps(conn)?;
    let Some(user) = claims.load_at(conn, stamps.session)? else { return Ok(None) };
    match service::list_pools_cached(conn, cache, &user.actor, query, stamps.listing) {
        Ok(listing) => Ok(Some((user, listing))),
        // A query string is the address, not a form: a value that makes no sense is a bad request.
        Err(ServiceError::Invalid(errors)) => Err(AppError::BadRequest(errors.all().iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join(" "))),
        Err(other) => Err(other.into()),
    }
}

/// The listing as CSV: every pool its filters match, in its order, read
/// and sent a chunk at a time.
#[get("/channels/whatsapp/pools.csv")]
pub async fn export(state: web::Data<AppState>, user: CurrentUser, query: web::Query<ListQuery>) -> Result<HttpResponse, AppError> {
    let (actor, query) = (user.actor.clone(), query.into_inner());
    let read = move |offset: i64| {
        let (state, actor, query) = (state.clone(), actor.clone(), query.clone());
        async move { state.run(move |conn| Ok(service::export_pools(conn, &actor, &query, offset)?)).await }
    };
    let first = read(0).await?;
    let header = "pool,enterprise,active,numbers,numbers_in_rotation,member_count";
    Ok(csv::stream("wabapool-pools.csv", header, service::EXPORT_CHUNK, first, read, pool_cells))
}

/// One pool's cells in the listing's CSV.
fn pool_cells(pool: PoolSummary) -> Vec<String> {
    let numbers = pool.members.iter().map(|m| m.display.as_str()).collect::<Vec<_>>().join("; ");
    let active = if pool.active { "yes" } else { "no" };
    vec![
        pool.name.clone(),
        pool.enterprise_name.clone(),
        active.into(),
        numbers,
        pool.in_rotation_count().to_string(),
        pool.members.len().to_string(),
    ]
}

#[get("/channels/whatsapp/pools")]
pub async fn index(state: web::Data<AppState>, signed_in: SignedInSession, query: web::Query<ListQuery>) -> Result<HttpResponse, AppError> {
    let (claims, query, cache) = (signed_in.claims(), query.into_inner(), state.listings.clone());
    // On SQLite the quick visit runs here, without a trip to the blocking pool.
    let visit = match state.try_quick(|conn| quick_visit(conn, &claims, &cache, &query))? {
        Some(visit) => visit,
        None => state.run(move |conn| full_visit(conn, &claims, &cache, &query)).await?,
    };
    let Some((user, listing)) = visit else { return Err(signed_in.sign_out()) };
    let user = signed_in.into_current_user(user);
    ok(&PoolsIndex::new(Chrome::new(&user, Nav::Pools, state.demo), listing)?)
}

// ------------------------------------------------------------- add / edit

/// The Add and Edit form. Its name and numbers are parsed by the domain
/// ([`PoolDraft`]) inside the use case, which checks tenancy first and then
/// reports every problem at once: nothing here is checked before that.
#[derive(serde::Deserialize, validator::Validate)]
pub struct PoolForm {
    #[serde(default)]
    name: String,
    #[serde(default, deserialize_with = "one_or_many")]
    phone_number_ids: Vec<String>,
    /// Aggregators only, when adding.
    enterprise_id: Option<String>,
    /// Editing only: the version the form was loaded at (R9).
    version: Option<String>,
}

impl PoolForm {
    fn draft(&self) -> PoolDraft {
        PoolDraft::parse(&self.name, &self.phone_number_ids)
    }
}

/// The part of the Add and Edit pages that htmx swaps: the form, or the
/// empty state that explains why no pool can be added yet.
pub struct PoolFormArea {
    pub csrf_token: String,
    pub ctx: PoolFormContext,
    /// None when adding.
    pub pool_id: Option<i64>,
    pub version: i64,
    pub name: String,
    pub selected: Vec<i64>,
    pub errors: FieldErrors,
    pub conflict: Option<Conflict>,
    pub is_aggregator: bool,
    /// The pool's saved name, when editing: the page's title.
    pub saved_name: Option<String>,
}

/// A stale edit: the pool as it is now beside the change that was sent,
/// and who changed the pool last, when.
pub struct Conflict {
    pub changed_by: String,
    pub changed_at: String,
    pub now_name: String,
    pub now_numbers: Vec<String>,
    pub sent_name: String,
    pub sent_numbers: Vec<String>,
}

impl Conflict {
    fn new(area: &PoolFormArea, sent: &PoolForm, last_change: Option<(Option<String>, chrono::NaiveDateTime)>) -> Self {
        let display = |ids: &[i64]| -> Vec<String> {
            let choices = area.ctx.groups.iter().flat_map(|g| &g.numbers);
            let mut shown: Vec<String> = choices.filter(|n| ids.contains(&n.id)).map(|n| n.display.clone()).collect();
            shown.sort();
            shown
        };
        let sent_ids: Vec<i64> = sent.phone_number_ids.iter().filter_map(|v| v.trim().parse().ok()).collect();
        let (changed_by, changed_at) = match last_change {
            Some((by, at)) => (by.unwrap_or_else(|| "wabapool itself".into()), at.format("%Y-%m-%d %H:%M UTC").to_string()),
            None => ("someone".into(), "a moment ago".into()),
        };
        Self {
            changed_by,
            changed_at,
            now_name: area.name.clone(),
            now_numbers: display(&area.selected),
            sent_name: sent.name.trim().to_owned(),
            sent_numbers: display(&sent_ids),
        }
    }
}

impl PoolFormArea {
    fn action(&self) -> String {
        match self.pool_id {
            Some(id) => format!("{LISTING}/{id}"),
            None => LISTING.to_owned(),
        }
    }

    fn is_selected(&self, id: &i64) -> bool {
        self.selected.contains(id)
    }

    fn selected_count(&self) -> usize {
        self.selected.len()
    }

    fn max_numbers(&self) -> usize {
        MAX_POOL_NUMBERS
    }

    fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }

    fn numbers_errors(&self) -> Vec<&str> {
        self.errors.all().iter().filter(|(f, _)| *f == "phone_number_ids").map(|(_, m)| m.as_str()).collect()
    }

    fn has_choices(&self) -> bool {
        self.ctx.groups.iter().any(|g| !g.numbers.is_empty())
    }

    /// Keeps what the user typed and chose beside the errors.
    fn keep_typed(&mut self, form: PoolForm, errors: FieldErrors) {
        self.name = form.name;
        self.selected = form.phone_number_ids.iter().filter_map(|v| v.trim().parse().ok()).collect();
        self.errors = errors;
    }

    fn field_anchor(&self, field: &str) -> &'static str {
        match field {
            "name" => "#name",
            "enterprise_id" => "#enterprise_id",
            _ => "#numbers",
        }
    }
}

#[derive(Template)]
#[template(path = "pools/form.html")]
struct PoolFormPage {
    chrome: Chrome,
    area: PoolFormArea,
    title: String,
}

impl PoolFormPage {
    fn is_enterprise_chosen(&self, id: &i64) -> bool {
        self.area.ctx.enterprise.as_ref().is_some_and(|e| e.id == *id)
    }
}

#[derive(Template)]
#[template(path = "pools/_form_area.html")]
struct PoolFormFragment {
    area: PoolFormArea,
}

/// Renders the form: the fragment for htmx, the whole page otherwise.
fn render_form(req: &HttpRequest, user: &CurrentUser, demo: bool, status: StatusCode, area: PoolFormArea) -> Result<HttpResponse, AppError> {
    if htmx::wants_fragment(req) {
        return render(status, &PoolFormFragment { area });
    }
    let title = match &area.saved_name {
        Some(name) => format!("Edit WABA Pool \u{201c}{name}\u{201d}"),
        None => "Add WABA Pool".to_owned(),
    };
    render(status, &PoolFormPage { chrome: Chrome::new(user, Nav::Pools, demo), area, title })
}

fn new_area(user: &CurrentUser, ctx: PoolFormContext) -> PoolFormArea {
    PoolFormArea {
        csrf_token: user.csrf_token(),
        ctx,
        pool_id: None,
        version: 0,
        name: String::new(),
        selected: Vec::new(),
        errors: FieldErrors::default(),
        conflict: None,
        is_aggregator: user.actor.scope.is_aggregator(),
        saved_name: None,
    }
}

#[derive(serde::Deserialize)]
pub struct NewQuery {
    enterprise_id: Option<String>,
}

#[get("/channels/whatsapp/pools/new")]
pub async fn new(req: HttpRequest, state: web::Data<AppState>, user: CurrentUser, query: web::Query<NewQuery>) -> Result<HttpResponse, AppError> {
    let actor = user.actor.clone();
    let enterprise = query.into_inner().enterprise_id;
    let ctx = state.run(move |conn| Ok(service::add_pool_context(conn, &actor, enterprise.as_deref())?)).await?;
    render_form(&req, &user, state.demo, StatusCode::OK, new_area(&user, ctx))
}

/// Back to the listing, with a flash saying what happened to the pool.
fn changed(req: &HttpRequest, user: &CurrentUser, pool_name: &str, what: &str) -> HttpResponse {
    set_flash(&user.session, FlashKind::Success, format!("WABA Pool \u{201c}{pool_name}\u{201d} was {what}."));
    htmx::see_other(req, LISTING)
}

#[post("/channels/whatsapp/pools")]
pub async fn create(req: HttpRequest, state: web::Data<AppState>, user: CurrentUser, form: FormPost) -> Result<HttpResponse, AppError> {
    let form = form.decode::<PoolForm>()?.input;
    let (actor, draft, chosen) = (user.actor.clone(), form.draft(), form.enterprise_id.clone());
    let errors = match state.write(move |conn| Ok(service::create_pool(conn, &actor, chosen.as_deref(), draft))).await? {
        Ok(created) => return Ok(changed(&req, &user, &created.name, "added")),
        Err(ServiceError::Invalid(errors)) => errors,
        Err(other) => return Err(other.into()),
    };
    let (actor, chosen) = (user.actor.clone(), form.enterprise_id.clone());
    let ctx = state.run(move |conn| Ok(service::add_pool_context(conn, &actor, chosen.as_deref())?)).await?;
    let mut area = new_area(&user, ctx);
    area.keep_typed(form, errors);
    render_form(&req, &user, state.demo, StatusCode::UNPROCESSABLE_ENTITY, area)
}

fn edit_area(user: &CurrentUser, loaded: service::EditPoolContext) -> PoolFormArea {
    let mut area = new_area(user, loaded.form);
    area.pool_id = Some(loaded.pool.id);
    area.version = loaded.pool.version;
    area.saved_name = Some(loaded.pool.name.clone());
    area.name = loaded.pool.name;
    area.selected = loaded.member_ids;
    area
}

#[get("/channels/whatsapp/pools/{id}/edit")]
pub async fn edit(req: HttpRequest, state: web::Data<AppState>, user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let id = pool_id(&path)?;
    let actor = user.actor.clone();
    let ctx = state.run(move |conn| Ok(service::edit_pool_context(conn, &actor, id)?)).await?;
    render_form(&req, &user, state.demo, StatusCode::OK, edit_area(&user, ctx))
}

#[post("/channels/whatsapp/pools/{id}")]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: FormPost,
) -> Result<HttpResponse, AppError> {
    let id = pool_id(&path)?;
    let form = form.decode::<PoolForm>()?.input;
    let (actor, draft, version) = (user.actor.clone(), form.draft(), form.version.clone());
    let (status, errors) = match state.write(move |conn| Ok(service::update_pool(conn, &actor, id, version.as_deref(), draft))).await? {
        Ok(updated) => return Ok(changed(&req, &user, &updated.name, "updated")),
        Err(ServiceError::Invalid(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, Some(errors)),
        Err(ServiceError::Stale) => (StatusCode::CONFLICT, None),
        Err(other) => return Err(other.into()),
    };
    let actor = user.actor.clone();
    let ctx = state.run(move |conn| Ok(service::edit_pool_context(conn, &actor, id)?)).await?;
    let last_change = ctx.last_change.clone();
    let mut area = edit_area(&user, ctx);
    match errors {
        // The user's input beside the errors, at the version they loaded.
        Some(errors) => area.keep_typed(form, errors),
        None => area.conflict = Some(Conflict::new(&area, &form, last_change)),
    }
    render_form(&req, &user, state.demo, status, area)
}

// ------------------------------------------------------------ the toggle

#[derive(Template)]
#[template(path = "pools/confirm_deactivate.html")]
struct ConfirmDeactivatePage {
    chrome: Chrome,
    pool: PoolSummary,
}

/// The confirmation page the switch leads to without JavaScript.
#[get("/channels/whatsapp/pools/{id}/deactivate")]
pub async fn confirm_deactivate(state: web::Data<AppState>, user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let id = pool_id(&path)?;
    let actor = user.actor.clone();
    let pool = state.run(move |conn| Ok(service::pool_detail(conn, &actor, id)?)).await?;
    ok(&ConfirmDeactivatePage { chrome: Chrome::new(&user, Nav::Pools, state.demo), pool })
}

#[post("/channels/whatsapp/pools/{id}/deactivate")]
pub async fn deactivate(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    _form: FormPost,
) -> Result<HttpResponse, AppError> {
    let id = pool_id(&path)?;
    let actor = user.actor.clone();
    let pool = state.write(move |conn| Ok(service::deactivate_pool(conn, &actor, id)?)).await?;
    set_flash(&user.session, FlashKind::Success, format!("WABA Pool \u{201c}{}\u{201d} was deactivated.", pool.name));
    Ok(htmx::see_other(&req, &back_to_listing(&req)))
}

#[post("/channels/whatsapp/pools/{id}/activate")]
pub async fn activate(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    _form: FormPost,
) -> Result<HttpResponse, AppError> {
    let id = pool_id(&path)?;
    let actor = user.actor.clone();
    let result = state.write(move |conn| Ok(service::activate_pool(conn, &actor, id))).await?;
    match result {
        Ok(pool) => {
            set_flash(&user.session, FlashKind::Success, format!("WABA Pool \u{201c}{}\u{201d} was activated.", pool.name));
            Ok(htmx::see_other(&req, &back_to_listing(&req)))
        }
        Err(ServiceError::Invalid(errors)) => {
            let message = errors.all().iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join(" ");
            Err(AppError::Unprocessable(format!("The pool was not activated. {message}")))
        }
        Err(other) => Err(other.into()),
    }
}

/// Back to the listing page the toggle was used on, when the Referer is ours.
fn back_to_listing(req: &HttpRequest) -> String {
    htmx::page_of(req).filter(|page| page == LISTING || page.starts_with(&format!("{LISTING}?"))).unwrap_or_else(|| LISTING.to_owned())
}

// ------------------------------------------------------------- detail

#[derive(Template)]
#[template(path = "pools/show.html")]
struct PoolDetailPage {
    chrome: Chrome,
    pool: PoolSummary,
    activity: service::PoolActivity,
    routing: crate::services::routing_settings::RoutingSettings,
}

impl PoolDetailPage {
    fn strategy(&self) -> &'static str {
        super::routing::strategy_label(&self.routing.pool.strategy)
    }
}

#[get("/channels/whatsapp/pools/{id}")]
pub async fn show(state: web::Data<AppState>, user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let id = pool_id(&path)?;
    let actor = user.actor.clone();
    let (pool, activity, routing) = state
        .run(move |conn| {
            let routing = crate::services::routing_settings::load(conn, &actor, id.get())?;
            Ok((service::pool_detail(conn, &actor, id)?, service::pool_activity(conn, &actor, id)?, routing))
        })
        .await?;
    ok(&PoolDetailPage { chrome: Chrome::new(&user, Nav::Pools, state.demo), pool, activity, routing })
}

/// Escapes a value for a query string (used by templates).
pub fn query_value(value: &str) -> String {
    urlencode(value)
}

#[cfg(test)]
mod tests {
    use super::without_indentation;

    #[test]
    fn indentation_becomes_one_newline_and_other_spaces_stay() {
        let markup = "<tr>\n      <td>Pool  A</td>\n\n    \n  <td> b </td>\n".to_owned();

        assert_eq!(without_indentation(markup), "<tr>\n<td>Pool  A</td>\n<td> b </td>\n");
    }
}
