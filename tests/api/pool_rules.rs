//! The pool rules over HTTP: R3 (three activated numbers), R4 (1–10
//! numbers), R5 (membership), R6 (one pool per number), R7 (names),
//! R8 (deactivate), R9 (no lost updates), R10 (audit), R11 (all or nothing).

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use wabapool::db::schema::{pool_members, pools};

use crate::helpers::{LISTING, RETAIL_BANKING, TestApp, attrs, spawn_app, status, texts};

const GLOBEX_BLOCKED: &str = "Globex Health has 2 activated WhatsApp numbers; a WABA Pool needs at least 3.";

/// The pairs of a pool form: name and the numbers' ids.
fn pool_form<'a>(name: &'a str, ids: &'a [String]) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![("name", name)];
    pairs.extend(ids.iter().map(|id| ("phone_number_ids", id.as_str())));
    pairs
}

/// Posts the edit form of a pool at the version its edit page shows.
async fn edit_pool(app: &TestApp, id: i64, name: &str, displays: &[&str]) -> reqwest::Response {
    let version = app.edit_version(id).await;
    let ids = app.number_ids(displays).await;
    let mut pairs = pool_form(name, &ids);
    pairs.push(("version", &version));
    app.post_form(&format!("{LISTING}/{id}"), &pairs).await
}

/// The messages shown beside the numbers field.
fn numbers_errors(page: &str) -> Vec<String> {
    texts(page, "#numbers .field-error")
}

// ------------------------------------------------------------------ R3

#[tokio::test]
async fn the_add_page_says_up_front_when_the_enterprise_has_too_few_activated_numbers() {
    let app = spawn_app().await;
    app.login("admin@globex.example").await;

    let response = app.get(&format!("{LISTING}/new")).await;

    assert_eq!(status(&response), 200);
    let page = response.text().await.unwrap();
    assert!(texts(&page, "#needs-numbers p").contains(&GLOBEX_BLOCKED.to_owned()), "{page}");
    assert!(texts(&page, "form#pool-form").is_empty(), "no form that cannot succeed");
    assert!(attrs(&page, "input[name=phone_number_ids]", "value").is_empty());
}

#[tokio::test]
async fn the_add_page_for_an_aggregator_names_the_chosen_enterprise_with_too_few_numbers() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let globex = app.enterprise_id("Globex Health").await;

    let page = app.get_html(&format!("{LISTING}/new?enterprise_id={globex}")).await;

    assert!(texts(&page, "#needs-numbers p").contains(&GLOBEX_BLOCKED.to_owned()));
    assert!(texts(&page, "form#pool-form").is_empty());
}

#[tokio::test]
async fn adding_a_pool_is_refused_while_the_enterprise_has_fewer_than_three_activated_numbers() {
    let app = spawn_app().await;
    app.login("admin@globex.example").await;
    let ids = app.number_ids(&["+1 555-020-0201", "+1 555-020-0202"]).await;
    let before = app.snapshot().await;

    let response = app.post_form(LISTING, &pool_form("Globex Care", &ids)).await;

    assert_eq!(status(&response), 422);
    let page = response.text().await.unwrap();
    assert!(texts(&page, "#form-errors li").contains(&GLOBEX_BLOCKED.to_owned()), "{page}");
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn reactivating_a_pool_is_refused_when_the_enterprise_dropped_below_three_activated_numbers() {
    // Arrange: Umbrella's pool is deactivated, then its spare number is deactivated.
    let app = spawn_app().await;
    app.login("admin@umbrella.example").await;
    let id = app.pool_id("Umbrella Orders").await;
    assert_eq!(status(&app.post_form(&format!("{LISTING}/{id}/deactivate"), &[]).await), 303);
    app.set_number_status("+1 555-050-0603", "deactivated").await;
    let before = app.snapshot().await;

    // Act
    let response = app.post_form(&format!("{LISTING}/{id}/activate"), &[]).await;

    // Assert
    assert_eq!(status(&response), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("Umbrella Foods has 2 activated WhatsApp numbers; a WABA Pool needs at least 3."), "{page}");
    assert!(!app.pool_state(id).await.active);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn reactivating_a_pool_with_a_deactivated_member_is_refused() {
    // Arrange: Acme's pool is deactivated, then one member is deactivated;
    // Acme still has four activated numbers.
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    assert_eq!(status(&app.post_form(&format!("{LISTING}/{id}/deactivate"), &[]).await), 303);
    app.set_number_status("+1 555-010-0102", "deactivated").await;
    let before = app.snapshot().await;

    // Act
    let response = app.post_form(&format!("{LISTING}/{id}/activate"), &[]).await;

    // Assert
    assert_eq!(status(&response), 422);
    assert!(response.text().await.unwrap().contains("+1 555-010-0102 is deactivated"));
    assert!(!app.pool_state(id).await.active);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn changing_a_pools_numbers_is_refused_when_the_enterprise_dropped_below_three() {
    let app = spawn_app().await;
    app.login("admin@umbrella.example").await;
    let id = app.pool_id("Umbrella Orders").await;
    app.set_number_status("+1 555-050-0603", "deactivated").await;
    let before = app.snapshot().await;

    let response = edit_pool(&app, id, "Umbrella Orders", &["+1 555-050-0601"]).await;

    assert_eq!(status(&response), 422);
    let page = response.text().await.unwrap();
    assert!(numbers_errors(&page).contains(&"Umbrella Foods has 2 activated WhatsApp numbers; a WABA Pool needs at least 3.".to_owned()));
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn renaming_a_pool_is_allowed_when_the_enterprise_dropped_below_three() {
    let app = spawn_app().await;
    app.login("admin@umbrella.example").await;
    let id = app.pool_id("Umbrella Orders").await;
    app.set_number_status("+1 555-050-0603", "deactivated").await;

    let response = edit_pool(&app, id, "Umbrella Deliveries", &["+1 555-050-0601", "+1 555-050-0602"]).await;

    assert_eq!(status(&response), 303);
    assert_eq!(app.pool_state(id).await.name, "Umbrella Deliveries");
    assert_eq!(app.pool_numbers(id).await, vec!["+1 555-050-0601", "+1 555-050-0602"]);
}

#[tokio::test]
async fn the_edit_page_says_why_numbers_cannot_change_but_still_offers_the_name() {
    let app = spawn_app().await;
    app.login("admin@umbrella.example").await;
    let id = app.pool_id("Umbrella Orders").await;
    app.set_number_status("+1 555-050-0603", "deactivated").await;

    let page = app.get_html(&format!("{LISTING}/{id}/edit")).await;

    assert_eq!(attrs(&page, "form#pool-form input#name", "value"), vec!["Umbrella Orders"]);
    let notice = texts(&page, "#numbers-blocked");
    assert_eq!(notice.len(), 1);
    assert!(notice[0].starts_with("Umbrella Foods has 2 activated WhatsApp numbers; a WABA Pool needs at least 3."));
}

// ------------------------------------------------------------------ R4

#[tokio::test]
async fn a_pool_of_ten_numbers_is_added() {
    let app = spawn_app().await;
    app.login("admin@initech.example").await;

    let id = app.add_pool(None, "Retail Ten", &RETAIL_BANKING[..10]).await;

    assert_eq!(app.pool_numbers(id).await, RETAIL_BANKING[..10].to_vec());
}

#[tokio::test]
async fn a_pool_of_eleven_numbers_is_refused() {
    let app = spawn_app().await;
    app.login("admin@initech.example").await;
    let ids = app.number_ids(&RETAIL_BANKING).await;
    let before = app.snapshot().await;

    let response = app.post_form(LISTING, &pool_form("Retail Eleven", &ids)).await;

    assert_eq!(status(&response), 422);
    let page = response.text().await.unwrap();
    assert_eq!(numbers_errors(&page), vec!["A WABA Pool holds at most 10 numbers; 11 were chosen."]);
    assert_eq!(attrs(&page, "input[name=name]", "value"), vec!["Retail Eleven"]);
    assert_eq!(attrs(&page, "input[name=phone_number_ids][checked]", "value").len(), 11, "the choice is kept");
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_pool_without_numbers_is_refused() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let before = app.snapshot().await;

    let response = app.post_form(LISTING, &[("name", "Empty")]).await;

    assert_eq!(status(&response), 422);
    let page = response.text().await.unwrap();
    assert_eq!(numbers_errors(&page), vec!["Choose at least one number."]);
    assert_eq!(attrs(&page, "input[name=name]", "value"), vec!["Empty"]);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn editing_a_pool_past_ten_numbers_is_refused() {
    let app = spawn_app().await;
    app.login("admin@initech.example").await;
    let id = app.add_pool(None, "Retail Ten", &RETAIL_BANKING[..10]).await;
    let before = app.snapshot().await;

    let response = edit_pool(&app, id, "Retail Ten", &RETAIL_BANKING).await;

    assert_eq!(status(&response), 422);
    assert_eq!(numbers_errors(&response.text().await.unwrap()), vec!["A WABA Pool holds at most 10 numbers; 11 were chosen."]);
    assert_eq!(app.pool_numbers(id).await.len(), 10);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn editing_a_pool_down_to_no_numbers_is_refused() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    let before = app.snapshot().await;

    let response = edit_pool(&app, id, "Acme Support", &[]).await;

    assert_eq!(status(&response), 422);
    assert_eq!(numbers_errors(&response.text().await.unwrap()), vec!["Choose at least one number."]);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn the_schema_itself_refuses_an_eleventh_member() {
    // Arrange: a full pool of ten.
    let app = spawn_app().await;
    app.login("admin@initech.example").await;
    let id = app.add_pool(None, "Retail Ten", &RETAIL_BANKING[..10]).await;
    let eleventh = app.number_id(RETAIL_BANKING[10]).await;

    // Act: write around the service, with a slot outside 1..10.
    let result = app
        .with_db(move |c| {
            let (waba, enterprise) = pools::table.find(id).select((pools::waba_id, pools::enterprise_id)).first::<(i64, i64)>(c).unwrap();
            diesel::insert_into(pool_members::table)
                .values((
                    pool_members::pool_id.eq(id),
                    pool_members::number_id.eq(eleventh),
                    pool_members::waba_id.eq(waba),
                    pool_members::enterprise_id.eq(enterprise),
                    pool_members::slot.eq(11),
                    pool_members::added_at.eq(chrono::Utc::now().naive_utc()),
                ))
                .execute(c)
        })
        .await;

    // Assert
    assert!(matches!(result, Err(Error::DatabaseError(DatabaseErrorKind::CheckViolation | DatabaseErrorKind::Unknown, _))), "{result:?}");
    assert_eq!(app.pool_numbers(id).await.len(), 10);
}

// ------------------------------------------------------------------ R5

#[tokio::test]
async fn numbers_from_two_wabas_cannot_share_a_pool() {
    let app = spawn_app().await;
    app.login("admin@initech.example").await;
    let ids = app.number_ids(&["+1 555-030-0301", "+1 555-030-0401"]).await;
    let before = app.snapshot().await;

    let response = app.post_form(LISTING, &pool_form("Mixed", &ids)).await;

    assert_eq!(status(&response), 422);
    assert_eq!(
        numbers_errors(&response.text().await.unwrap()),
        vec!["All numbers of a pool must belong to one WABA, so templates approved there work on every number."]
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_pool_cannot_be_edited_to_take_a_number_of_another_waba() {
    let app = spawn_app().await;
    app.login("admin@initech.example").await;
    let id = app.add_pool(None, "Retail", &["+1 555-030-0301"]).await;
    let before = app.snapshot().await;

    let response = edit_pool(&app, id, "Retail", &["+1 555-030-0301", "+1 555-030-0401"]).await;

    assert_eq!(status(&response), 422);
    assert!(numbers_errors(&response.text().await.unwrap())[0].contains("must belong to one WABA"));
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_pending_number_cannot_join_a_pool() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let pending = app.number_id("+1 555-010-0103").await.to_string();
    let before = app.snapshot().await;

    let response = app.post_form(LISTING, &[("name", "Pending"), ("phone_number_ids", &pending)]).await;

    assert_eq!(status(&response), 422);
    assert_eq!(numbers_errors(&response.text().await.unwrap()), vec!["+1 555-010-0103 is pending; only activated numbers can join a pool."]);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_deactivated_number_cannot_join_a_pool() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    app.set_number_status("+44 7700 900101", "deactivated").await;
    let uk = app.number_id("+44 7700 900101").await.to_string();
    let before = app.snapshot().await;

    let response = app.post_form(LISTING, &[("name", "Gone"), ("phone_number_ids", &uk)]).await;

    assert_eq!(status(&response), 422);
    assert_eq!(numbers_errors(&response.text().await.unwrap()), vec!["+44 7700 900101 is deactivated; only activated numbers can join a pool."]);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn the_add_page_offers_only_activated_numbers_in_no_pool() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;

    let page = app.get_html(&format!("{LISTING}/new")).await;

    assert_eq!(texts(&page, ".number-display"), vec!["+44 7700 900101", "+65 8100 0101", "+91 98100 00101"]);
    assert_eq!(texts(&page, "[data-selection-counter]"), vec!["0 of 10 selected"]);
}

#[tokio::test]
async fn the_edit_page_offers_the_pools_own_numbers_checked_and_the_free_ones() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    let members = app.number_ids(&["+1 555-010-0101", "+1 555-010-0102"]).await;

    let page = app.get_html(&format!("{LISTING}/{id}/edit")).await;

    assert_eq!(attrs(&page, "input[name=name]", "value"), vec!["Acme Support"]);
    assert_eq!(attrs(&page, "input[name=phone_number_ids][checked]", "value"), members);
    assert_eq!(attrs(&page, "input[name=phone_number_ids]", "value").len(), 5);
    assert_eq!(texts(&page, "[data-selection-counter]"), vec!["2 of 10 selected"]);
}

// ------------------------------------------------------------------ R6

#[tokio::test]
async fn a_number_already_in_a_pool_cannot_join_another_and_the_message_names_the_pool() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let taken = app.number_id("+1 555-010-0101").await.to_string();
    let before = app.snapshot().await;

    let response = app.post_form(LISTING, &[("name", "Second Home"), ("phone_number_ids", &taken)]).await;

    assert_eq!(status(&response), 422);
    assert_eq!(numbers_errors(&response.text().await.unwrap()), vec!["+1 555-010-0101 is already in the pool \"Acme Support\"."]);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_number_of_an_inactive_pool_still_cannot_join_another() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    assert_eq!(status(&app.post_form(&format!("{LISTING}/{id}/deactivate"), &[]).await), 303);
    let taken = app.number_id("+1 555-010-0102").await.to_string();
    let before = app.snapshot().await;

    let response = app.post_form(LISTING, &[("name", "Second Home"), ("phone_number_ids", &taken)]).await;

    assert_eq!(status(&response), 422);
    assert!(numbers_errors(&response.text().await.unwrap())[0].contains("already in the pool \"Acme Support\""));
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_pool_cannot_be_edited_to_take_another_pools_number() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let asia = app.add_pool(None, "Acme Asia", &["+65 8100 0101"]).await;
    let before = app.snapshot().await;

    let response = edit_pool(&app, asia, "Acme Asia", &["+65 8100 0101", "+1 555-010-0101"]).await;

    assert_eq!(status(&response), 422);
    assert_eq!(numbers_errors(&response.text().await.unwrap()), vec!["+1 555-010-0101 is already in the pool \"Acme Support\"."]);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn the_database_refuses_a_second_membership_for_one_number() {
    // Arrange: a second Acme pool on the same WABA, so only the unique
    // index on the number can refuse the row.
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let asia = app.add_pool(None, "Acme Asia", &["+65 8100 0101"]).await;
    let taken = app.number_id("+1 555-010-0101").await;

    // Act: write around the service.
    let result = app
        .with_db(move |c| {
            let (waba, enterprise) = pools::table.find(asia).select((pools::waba_id, pools::enterprise_id)).first::<(i64, i64)>(c).unwrap();
            diesel::insert_into(pool_members::table)
                .values((
                    pool_members::pool_id.eq(asia),
                    pool_members::number_id.eq(taken),
                    pool_members::waba_id.eq(waba),
                    pool_members::enterprise_id.eq(enterprise),
                    pool_members::slot.eq(2),
                    pool_members::added_at.eq(chrono::Utc::now().naive_utc()),
                ))
                .execute(c)
        })
        .await;

    // Assert
    assert!(matches!(result, Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _))), "{result:?}");
    assert_eq!(app.pool_numbers(asia).await, vec!["+65 8100 0101"]);
}

#[tokio::test]
async fn the_database_refuses_a_member_of_another_enterprise() {
    // Arrange: Umbrella's spare number, written straight into Acme's pool.
    let app = spawn_app().await;
    let acme_pool = app.pool_id("Acme Support").await;
    let foreign = app.number_id("+1 555-050-0603").await;

    // Act
    let result = app
        .with_db(move |c| {
            let (waba, enterprise) = pools::table.find(acme_pool).select((pools::waba_id, pools::enterprise_id)).first::<(i64, i64)>(c).unwrap();
            diesel::insert_into(pool_members::table)
                .values((
                    pool_members::pool_id.eq(acme_pool),
                    pool_members::number_id.eq(foreign),
                    pool_members::waba_id.eq(waba),
                    pool_members::enterprise_id.eq(enterprise),
                    pool_members::slot.eq(3),
                    pool_members::added_at.eq(chrono::Utc::now().naive_utc()),
                ))
                .execute(c)
        })
        .await;

    // Assert
    assert!(matches!(result, Err(Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation | DatabaseErrorKind::Unknown, _))), "{result:?}");
    assert_eq!(app.pool_numbers(acme_pool).await.len(), 2);
}

// ------------------------------------------------------------------ R7

/// Posts a new Acme pool with a valid number and the given name; returns
/// the status and page.
async fn add_acme_pool_named(app: &TestApp, name: &str) -> (u16, String) {
    let uk = app.number_id("+44 7700 900101").await.to_string();
    let response = app.post_form(LISTING, &[("name", name), ("phone_number_ids", &uk)]).await;
    (status(&response), response.text().await.unwrap())
}

async fn assert_name_refused(name: &str, message: &str) {
    // Arrange
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let before = app.snapshot().await;

    // Act
    let (status, page) = add_acme_pool_named(&app, name).await;

    // Assert
    assert_eq!(status, 422, "{name:?}");
    assert_eq!(texts(&page, "#name-error"), vec![message], "{name:?}");
    assert_eq!(attrs(&page, "input#name", "value"), vec![name], "the typed name is kept");
    assert_eq!(attrs(&page, "input#name", "aria-invalid"), vec!["true"]);
    let uk = app.number_id("+44 7700 900101").await.to_string();
    assert_eq!(attrs(&page, "input[name=phone_number_ids][checked]", "value"), vec![uk], "the chosen number is kept");
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_blank_pool_name_is_refused() {
    assert_name_refused("   ", "Enter a pool name.").await;
}

#[tokio::test]
async fn a_pool_name_of_sixty_five_characters_is_refused() {
    assert_name_refused(&"a".repeat(65), "Pool name must be at most 64 characters (this one has 65).").await;
}

#[tokio::test]
async fn a_pool_name_with_control_characters_is_refused() {
    for name in ["Acme\tTabs", "Acme\nLines"] {
        assert_name_refused(name, "Pool name cannot contain control characters such as tabs or line breaks.").await;
    }
}

#[tokio::test]
async fn a_pool_name_taken_in_the_enterprise_is_refused_whatever_its_case() {
    assert_name_refused("ACME support", "Acme Retail already has a pool named \u{201c}ACME support\u{201d}.").await;
}

#[tokio::test]
async fn a_pool_name_of_sixty_four_characters_is_trimmed_and_kept() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let name = "é".repeat(64);

    let (status, _) = add_acme_pool_named(&app, &format!("  {name}  ")).await;

    assert_eq!(status, 303);
    let id = app.pool_id(&name).await;
    assert_eq!(app.pool_state(id).await.name, name);
}

#[tokio::test]
async fn the_same_pool_name_may_be_used_by_another_enterprise() {
    let app = spawn_app().await;
    app.login("admin@umbrella.example").await;
    let spare = app.number_id("+1 555-050-0603").await.to_string();

    let response = app.post_form(LISTING, &[("name", "Acme Support"), ("phone_number_ids", &spare)]).await;

    assert_eq!(status(&response), 303);
    let count = app.with_db(|c| pools::table.filter(pools::name.eq("Acme Support")).count().get_result::<i64>(c).unwrap()).await;
    assert_eq!(count, 2);
}

#[tokio::test]
async fn renaming_a_pool_to_another_pools_name_is_refused() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let asia = app.add_pool(None, "Acme Asia", &["+65 8100 0101"]).await;
    let before = app.snapshot().await;

    let response = edit_pool(&app, asia, "acme SUPPORT", &["+65 8100 0101"]).await;

    assert_eq!(status(&response), 422);
    let page = response.text().await.unwrap();
    assert_eq!(texts(&page, "#name-error"), vec!["Acme Retail already has a pool named \u{201c}acme SUPPORT\u{201d}."]);
    assert_eq!(attrs(&page, "input#name", "value"), vec!["acme SUPPORT"]);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_pool_may_keep_its_own_name_in_another_case() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;

    let response = edit_pool(&app, id, "ACME SUPPORT", &["+1 555-010-0101", "+1 555-010-0102"]).await;

    assert_eq!(status(&response), 303);
    assert_eq!(app.pool_state(id).await.name, "ACME SUPPORT");
}

// ------------------------------------------------------------------ R8

#[tokio::test]
async fn deactivating_a_pool_keeps_it_listed_with_an_activate_switch() {
    // Arrange
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;

    // Act
    let response = app.post_form(&format!("{LISTING}/{id}/deactivate"), &[]).await;

    // Assert
    assert_eq!(status(&response), 303);
    assert_eq!(response.headers()["location"], LISTING);
    assert!(!app.pool_state(id).await.active);
    assert_eq!(app.pool_numbers(id).await.len(), 2, "an inactive pool keeps its numbers");
    let listing = app.get_html(LISTING).await;
    assert_eq!(texts(&listing, "tbody td[data-label='Pool name']"), vec!["Acme Support"]);
    assert_eq!(attrs(&listing, "button[aria-label='Activate Acme Support']", "aria-checked"), vec!["false"]);
    assert!(texts(&listing, ".flash").iter().any(|f| f.contains("was deactivated")));
    // Its health reads as inactive, not as numbers in rotation.
    let health = texts(&listing, "tbody td[data-label='Health'] .badge");
    assert_eq!(health, vec!["Inactive"]);
    let page = app.get_html(&format!("{LISTING}/{id}")).await;
    let subtitle = texts(&page, ".page-subtitle").join(" ");
    assert!(subtitle.contains("sends nothing until it is activated") && !subtitle.contains("in rotation"), "{subtitle}");
}

#[tokio::test]
async fn the_deactivate_confirmation_page_asks_and_changes_nothing() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    let before = app.snapshot().await;

    let response = app.get(&format!("{LISTING}/{id}/deactivate")).await;

    assert_eq!(status(&response), 200);
    let page = response.text().await.unwrap();
    assert_eq!(texts(&page, ".confirm-page h2"), vec!["Are you sure you want to deactivate it?"]);
    assert_eq!(texts(&page, ".confirm-page .dialog-actions a"), vec!["No"]);
    assert_eq!(attrs(&page, ".confirm-page .dialog-actions a", "href"), vec![LISTING], "No leads back without posting");
    assert_eq!(texts(&page, ".confirm-page button[type=submit]"), vec!["Yes"]);
    assert_eq!(attrs(&page, ".confirm-page form", "action"), vec![format!("{LISTING}/{id}/deactivate")]);
    assert!(app.pool_state(id).await.active);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn the_listing_switch_leads_to_the_confirmation_and_the_dialog_asks_the_question() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;

    let listing = app.get_html(LISTING).await;

    let switch_form = format!("form[action='{LISTING}/{id}/deactivate']");
    assert_eq!(attrs(&listing, &switch_form, "method"), vec!["get"], "without JavaScript the switch opens the confirmation page");
    assert_eq!(attrs(&listing, "button[aria-label='Deactivate Acme Support']", "aria-checked"), vec!["true"]);
    assert_eq!(texts(&listing, "dialog#confirm-deactivate h2"), vec!["Are you sure you want to deactivate it?"]);
    assert_eq!(texts(&listing, "dialog#confirm-deactivate button"), vec!["No", "Yes"]);
}

#[tokio::test]
async fn an_inactive_pool_can_be_activated_again() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    assert_eq!(status(&app.post_form(&format!("{LISTING}/{id}/deactivate"), &[]).await), 303);

    let response = app.post_form(&format!("{LISTING}/{id}/activate"), &[]).await;

    assert_eq!(status(&response), 303);
    assert!(app.pool_state(id).await.active);
    let listing = app.get_html(LISTING).await;
    assert_eq!(attrs(&listing, "button[aria-label='Deactivate Acme Support']", "aria-checked"), vec!["true"]);
    assert!(texts(&listing, ".flash").iter().any(|f| f.contains("was activated")));
}

#[tokio::test]
async fn the_confirmation_page_of_an_inactive_pool_offers_no_yes() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    assert_eq!(status(&app.post_form(&format!("{LISTING}/{id}/deactivate"), &[]).await), 303);

    let page = app.get_html(&format!("{LISTING}/{id}/deactivate")).await;

    assert!(page.contains("This pool is already inactive."));
    assert!(texts(&page, ".confirm-page button[type=submit]").is_empty());
}

// ------------------------------------------------------------------ R9

#[tokio::test]
async fn a_stale_edit_is_refused_with_the_current_state_and_overwrites_nothing() {
    // Arrange: two admins load the edit page; the other saves first.
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let other = app.new_client_logged_in("super@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    let stale = app.edit_version(id).await;
    let response = edit_pool(&other, id, "Acme Care", &["+1 555-010-0101", "+1 555-010-0102", "+44 7700 900101"]).await;
    assert_eq!(status(&response), 303);
    let before = app.snapshot().await;
    let ids = app.number_ids(&["+1 555-010-0101"]).await;

    // Act
    let response = app.post_form(&format!("{LISTING}/{id}"), &[("name", "Acme Mine"), ("phone_number_ids", &ids[0]), ("version", &stale)]).await;

    // Assert
    assert_eq!(status(&response), 409);
    let page = response.text().await.unwrap();
    assert_eq!(texts(&page, "#form-errors h2"), vec!["This pool changed meanwhile"]);
    let said = texts(&page, "#form-errors p").join(" ");
    assert!(said.starts_with("super@acme.example changed it at "), "who changed it, and when: {said}");
    assert_eq!(texts(&page, ".conflict-table td[data-label=Now]"), vec!["Acme Care", "+1 555-010-0101, +1 555-010-0102, +44 7700 900101"]);
    assert_eq!(texts(&page, ".conflict-table td[data-label='Your change']"), vec!["Acme Mine", "+1 555-010-0101"]);
    assert_eq!(attrs(&page, "input#name", "value"), vec!["Acme Care"], "the current name is shown");
    assert_eq!(attrs(&page, "input[name=phone_number_ids][checked]", "value").len(), 3, "the current numbers are shown");
    let current = app.pool_state(id).await;
    assert_eq!(attrs(&page, "input[name=version]", "value"), vec![current.version.to_string()]);
    assert_eq!(current.name, "Acme Care");
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn an_edit_at_the_current_version_is_saved_and_moves_the_version_on() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    let version = app.pool_state(id).await.version;

    let response = edit_pool(&app, id, "Acme Care", &["+1 555-010-0102", "+44 7700 900101"]).await;

    assert_eq!(status(&response), 303);
    assert_eq!(response.headers()["location"], LISTING);
    let after = app.pool_state(id).await;
    assert_eq!(after.name, "Acme Care");
    assert_eq!(after.version, version + 1);
    assert_eq!(app.pool_numbers(id).await, vec!["+44 7700 900101", "+1 555-010-0102"]);
    let listing = app.get_html(LISTING).await;
    assert!(texts(&listing, ".flash").iter().any(|f| f.contains("Acme Care") && f.contains("was updated")));
}

#[tokio::test]
async fn an_edit_without_a_version_is_refused() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    let ids = app.number_ids(&["+1 555-010-0101"]).await;
    let before = app.snapshot().await;

    let response = app.post_form(&format!("{LISTING}/{id}"), &[("name", "No Version"), ("phone_number_ids", &ids[0])]).await;

    assert_eq!(status(&response), 422);
    assert!(response.text().await.unwrap().contains("This form is missing its version"));
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_deactivation_in_between_makes_an_open_edit_stale() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    let stale = app.edit_version(id).await;
    assert_eq!(status(&app.post_form(&format!("{LISTING}/{id}/deactivate"), &[]).await), 303);
    let ids = app.number_ids(&["+1 555-010-0101", "+1 555-010-0102"]).await;
    let before = app.snapshot().await;

    let response = app
        .post_form(
            &format!("{LISTING}/{id}"),
            &[("name", "Renamed"), ("phone_number_ids", &ids[0]), ("phone_number_ids", &ids[1]), ("version", &stale)],
        )
        .await;

    assert_eq!(status(&response), 409);
    assert_eq!(app.snapshot().await, before);
}

// ------------------------------------------------------------------ R10

#[tokio::test]
async fn adding_a_pool_is_audited_with_who_which_enterprise_and_what() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let acme = app.enterprise_id("Acme Retail").await;

    let id = app.add_pool(None, "Acme Asia", &["+65 8100 0101", "+91 98100 00101"]).await;

    let entries = app.audit_entries("pool.create").await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry.actor_email.as_deref(), Some("admin@acme.example"));
    assert_eq!(entry.enterprise_id, Some(acme));
    assert_eq!(entry.subject_type, "pool");
    assert_eq!(entry.subject_id, Some(id.to_string()));
    assert_eq!(entry.before, None);
    let after = entry.after.as_ref().expect("after state");
    assert_eq!(after["name"], "Acme Asia");
    assert_eq!(after["active"], true);
    assert_eq!(after["numbers"], serde_json::json!(["+65 8100 0101", "+91 98100 00101"]));
}

#[tokio::test]
async fn editing_a_pool_is_audited_with_before_and_after() {
    let app = spawn_app().await;
    app.login("super@northwind.example").await;
    let acme = app.enterprise_id("Acme Retail").await;
    let id = app.pool_id("Acme Support").await;

    let response = edit_pool(&app, id, "Acme Care", &["+1 555-010-0101", "+44 7700 900101"]).await;

    assert_eq!(status(&response), 303);
    let entries = app.audit_entries("pool.update").await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry.actor_email.as_deref(), Some("super@northwind.example"));
    assert_eq!(entry.enterprise_id, Some(acme));
    assert_eq!(entry.subject_id, Some(id.to_string()));
    let before = entry.before.as_ref().expect("before state");
    let after = entry.after.as_ref().expect("after state");
    assert_eq!(before["name"], "Acme Support");
    assert_eq!(before["numbers"], serde_json::json!(["+1 555-010-0101", "+1 555-010-0102"]));
    assert_eq!(after["name"], "Acme Care");
    assert_eq!(after["numbers"], serde_json::json!(["+1 555-010-0101", "+44 7700 900101"]));
    assert_eq!(after["version"], before["version"].as_i64().unwrap() + 1);
}

#[tokio::test]
async fn deactivating_and_activating_a_pool_are_audited() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let acme = app.enterprise_id("Acme Retail").await;
    let id = app.pool_id("Acme Support").await;

    assert_eq!(status(&app.post_form(&format!("{LISTING}/{id}/deactivate"), &[]).await), 303);
    assert_eq!(status(&app.post_form(&format!("{LISTING}/{id}/activate"), &[]).await), 303);

    for (action, was, is) in [("pool.deactivate", true, false), ("pool.activate", false, true)] {
        let entries = app.audit_entries(action).await;
        assert_eq!(entries.len(), 1, "{action}");
        let entry = &entries[0];
        assert_eq!(entry.action, action);
        assert_eq!(entry.actor_email.as_deref(), Some("admin@acme.example"));
        assert_eq!(entry.enterprise_id, Some(acme));
        assert_eq!(entry.subject_id, Some(id.to_string()));
        assert_eq!(entry.before.as_ref().unwrap()["active"], was, "{action}");
        assert_eq!(entry.after.as_ref().unwrap()["active"], is, "{action}");
    }
}

#[tokio::test]
async fn a_refused_change_writes_no_audit_entry() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;

    let (status, _) = add_acme_pool_named(&app, "Acme Support").await;

    assert_eq!(status, 422);
    assert!(app.audit_entries("pool.create").await.is_empty());
}

// ------------------------------------------------------------------ R11

#[tokio::test]
async fn every_refused_pool_request_leaves_the_database_exactly_as_it_was() {
    // Arrange
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    let version = app.pool_state(id).await.version.to_string();
    let stale = (app.pool_state(id).await.version - 1).to_string();
    let one = app.number_id("+1 555-010-0101").await.to_string();
    let uk = app.number_id("+44 7700 900101").await.to_string();
    let pending = app.number_id("+1 555-010-0103").await.to_string();
    let foreign = app.number_id("+1 555-050-0603").await.to_string();
    let umbrella = app.pool_id("Umbrella Orders").await;
    let create = LISTING.to_owned();
    let update = format!("{LISTING}/{id}");
    let attempts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (create.clone(), vec![("name", ""), ("phone_number_ids", &uk)]),
        (create.clone(), vec![("name", "Acme Support"), ("phone_number_ids", &uk)]),
        (create.clone(), vec![("name", "Both"), ("phone_number_ids", &uk), ("phone_number_ids", &one)]),
        (create.clone(), vec![("name", "Pending"), ("phone_number_ids", &uk), ("phone_number_ids", &pending)]),
        (create.clone(), vec![("name", "Foreign"), ("phone_number_ids", &uk), ("phone_number_ids", &foreign)]),
        (create.clone(), vec![("name", "Twice"), ("phone_number_ids", &uk), ("phone_number_ids", &uk)]),
        (update.clone(), vec![("name", "Stale"), ("phone_number_ids", &one), ("version", &stale)]),
        (update.clone(), vec![("name", "Pending"), ("phone_number_ids", &one), ("phone_number_ids", &pending), ("version", &version)]),
        (update.clone(), vec![("name", "Foreign"), ("phone_number_ids", &one), ("phone_number_ids", &foreign), ("version", &version)]),
        (update.clone(), vec![("name", "\u{7}"), ("phone_number_ids", &one), ("version", &version)]),
        (format!("{LISTING}/{umbrella}/deactivate"), vec![]),
    ];
    let before = app.snapshot().await;

    for (path, pairs) in attempts {
        // Act
        let response = app.post_form(&path, &pairs).await;

        // Assert
        let code = status(&response);
        assert!(matches!(code, 404 | 409 | 422), "POST {path} {pairs:?} got {code}");
        assert_eq!(app.snapshot().await, before, "POST {path} {pairs:?} changed the database");
    }
}
