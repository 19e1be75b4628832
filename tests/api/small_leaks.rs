//! Smaller leaks closed: the answer for an email in use says nothing of
//! which tenant holds it; blank and one-character passwords are refused;
//! pool names refuse invisible format characters and are unique under
//! their NFKC, lowercased key, so two names that look alike cannot both exist.

use diesel::prelude::*;
use wabapool::db::schema::{pending_upgrades, pools, users};

use crate::helpers::{LISTING, TestApp, attrs, spawn_app, status, texts};

impl TestApp {
    async fn add_user_answer(&self, email: &str, password: &str) -> (u16, String) {
        let response = self.post_form("/settings/users", &[("email", email), ("role", "agent"), ("password", password)]).await;
        (status(&response), response.text().await.unwrap())
    }

    async fn user_count(&self) -> i64 {
        self.with_db(|c| users::table.count().get_result(c).unwrap()).await
    }

    async fn add_named_acme_pool(&self, name: &str) -> (u16, String) {
        let uk = self.number_id("+44 7700 900101").await.to_string();
        let response = self.post_form(LISTING, &[("name", name), ("phone_number_ids", &uk)]).await;
        (status(&response), response.text().await.unwrap())
    }
}

// ------------------------------------------------------------------ emails

#[tokio::test]
async fn an_email_used_in_another_tenant_gets_the_same_answer_as_one_used_here_and_names_no_tenant() {
    // Arrange
    let app = spawn_app().await;
    app.login("super@acme.example").await;
    let before = app.user_count().await;

    // Act
    let (here_status, here) = app.add_user_answer("agent@acme.example", "a calm spring morning").await;
    let (there_status, there) = app.add_user_answer("admin@globex.example", "a calm spring morning").await;

    // Assert
    assert_eq!((here_status, there_status), (422, 422));
    let here_error = texts(&here, "#new-email-error");
    assert_eq!(here_error, texts(&there, "#new-email-error"), "one answer for both");
    assert_eq!(here_error, vec!["That email cannot be used; choose another."]);
    assert!(!there.contains("exists") && !there.contains("Globex"), "the answer says nothing of who holds the email");
    assert_eq!(app.user_count().await, before);
}

// --------------------------------------------------------------- passwords

#[tokio::test]
async fn passwords_that_are_blank_or_one_character_repeated_are_refused_beside_the_field() {
    // Arrange
    let app = spawn_app().await;
    app.login("super@acme.example").await;
    let before = app.user_count().await;

    for password in ["            ", " \t \u{a0}  \u{3000}      ", "aaaaaaaaaaaa", "ééééééééééééééé", "111111111111111111"] {
        // Act
        let (code, page) = app.add_user_answer("new.agent@acme.example", password).await;

        // Assert
        assert_eq!(code, 422, "{password:?}");
        assert_eq!(texts(&page, "#new-password-error"), vec!["The password cannot be only spaces or one character repeated."], "{password:?}");
    }
    assert_eq!(app.user_count().await, before);
}

// -------------------------------------------------------------- pool names

#[tokio::test]
async fn a_pool_name_that_only_looks_like_a_taken_one_is_refused() {
    // Arrange: Acme Retail already has "Acme Support".
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let before = app.snapshot().await;

    for lookalike in [
        "\u{ff21}\u{ff43}\u{ff4d}\u{ff45} Support",
        "ACME SUPPORT",
        "\u{ff41}cme support",
        "\u{ff21}\u{ff23}\u{ff2d}\u{ff25} \u{ff33}\u{ff35}\u{ff30}\u{ff30}\u{ff2f}\u{ff32}\u{ff34}",
        "Acme  Support",
        "Acme\u{3000}Support",
    ] {
        // Act
        let (code, page) = app.add_named_acme_pool(lookalike).await;

        // Assert
        assert_eq!(code, 422, "{lookalike:?}");
        let shown = lookalike.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(texts(&page, "#name-error"), vec![format!("Acme Retail already has a pool named \u{201c}{shown}\u{201d}.")]);
        assert_eq!(attrs(&page, "input#name", "value"), vec![lookalike], "the typed name is kept");
    }
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_pool_name_with_invisible_format_characters_is_refused() {
    // Arrange
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let before = app.snapshot().await;

    for name in ["Acme\u{200b}Support", "\u{202e}troppuS emcA", "\u{feff}Acme Support", "Acme Support\u{e0041}\u{e007f}", "Acme\u{2060}Rush"] {
        // Act
        let (code, page) = app.add_named_acme_pool(name).await;

        // Assert
        assert_eq!(code, 422, "{name:?}");
        assert_eq!(
            texts(&page, "#name-error"),
            vec!["Pool name cannot contain invisible formatting characters such as zero-width spaces or direction marks."],
            "{name:?}"
        );
    }
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_name_stored_before_the_upgrade_is_rekeyed_once_and_then_guards_its_lookalikes() {
    // Arrange: a pool written with the old key (lowercase only), and the
    // upgrade step pending as the migration leaves it.
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let rush = app.add_pool(None, "\u{ff32}\u{ff55}\u{ff53}\u{ff48} Hour", &["+44 7700 900101"]).await;
    app.with_db(move |c| {
        diesel::update(pools::table.find(rush)).set(pools::name_key.eq("\u{ff52}\u{ff55}\u{ff53}\u{ff48} hour")).execute(c).unwrap();
        diesel::insert_into(pending_upgrades::table).values(pending_upgrades::name.eq("pool_name_keys")).execute(c).unwrap();
    })
    .await;

    // Act
    let rekeyed = app.with_db(|c| wabapool::services::pools::rekey_names_if_pending(c).unwrap()).await;
    let again = app.with_db(|c| wabapool::services::pools::rekey_names_if_pending(c).unwrap()).await;

    // Assert
    assert_eq!((rekeyed, again), (1, 0), "once");
    let key: String = app.with_db(move |c| pools::table.find(rush).select(pools::name_key).first(c).unwrap()).await;
    assert_eq!(key, "rush hour");
    let (code, page) = app.add_named_acme_pool("Rush Hour").await;
    assert_eq!(code, 422);
    assert_eq!(texts(&page, "#name-error"), vec!["Acme Retail already has a pool named \u{201c}Rush Hour\u{201d}."]);
}
