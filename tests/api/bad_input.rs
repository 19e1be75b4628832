//! Bad input of every kind gets a clear 4xx, stores nothing, and is
//! never a 500.

use crate::helpers::{LISTING, PASSWORD, TestApp, attrs, session_cookie, spawn_app, status, texts};

async fn acme_admin() -> TestApp {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    app
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let app = acme_admin().await;
    let token = app.csrf_token().await;
    let body = format!("csrf_token={token}&name={}", "a".repeat(17 * 1024));
    let before = app.snapshot().await;

    let response = app.post_body(LISTING, "application/x-www-form-urlencoded", body).await;

    assert_eq!(status(&response), 413);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn an_oversized_chunked_body_without_a_declared_length_is_refused_with_413() {
    // Arrange: a signed-in session's cookie and token, sent by hand in
    // chunks so that no Content-Length announces the size.
    let app = spawn_app().await;
    let login = app.post_form("/login", &[("email", "admin@acme.example"), ("password", PASSWORD)]).await;
    let cookie = session_cookie(&login).expect("sign-in sets the cookie");
    let token = app.csrf_token().await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let body = format!("csrf_token={token}&name={}", "a".repeat(17 * 1024));
    let mut request = format!(
        "POST {LISTING} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\nCookie: wabapool_session={cookie}\r\nConnection: close\r\n\r\n"
    );
    for chunk in body.as_bytes().chunks(1024) {
        request.push_str(&format!("{:x}\r\n{}\r\n", chunk.len(), std::str::from_utf8(chunk).unwrap()));
    }
    request.push_str("0\r\n\r\n");
    let before = app.snapshot().await;

    // Act
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(host).expect("connect");
        stream.write_all(request.as_bytes()).expect("request written");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap();

    // Assert
    assert!(answer.starts_with("HTTP/1.1 413"), "{}", answer.lines().next().unwrap_or_default());
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_field_longer_than_accepted_is_refused_with_400() {
    let app = acme_admin().await;
    let before = app.snapshot().await;
    let long = "a".repeat(3 * 1024);

    let response = app.post_form(LISTING, &[("name", &long)]).await;

    assert_eq!(status(&response), 400);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_json_body_is_refused_with_415() {
    let app = acme_admin().await;
    let token = app.csrf_token().await;
    let uk = app.number_id("+44 7700 900101").await;
    let before = app.snapshot().await;

    let response = app.post_body(LISTING, "application/json", format!(r#"{{"csrf_token":"{token}","name":"Json","phone_number_ids":[{uk}]}}"#)).await;

    assert_eq!(status(&response), 415);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_multipart_body_is_refused_with_415() {
    let app = acme_admin().await;
    let token = app.csrf_token().await;
    let uk = app.number_id("+44 7700 900101").await;
    let body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nMultipart\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"phone_number_ids\"\r\n\r\n{uk}\r\n--XyZ--\r\n"
    );
    let before = app.snapshot().await;

    let response = app.post_body(LISTING, "multipart/form-data; boundary=XyZ", body).await;

    assert_eq!(status(&response), 415);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_post_without_a_csrf_token_is_refused_with_403() {
    let app = acme_admin().await;
    let uk = app.number_id("+44 7700 900101").await.to_string();
    let before = app.snapshot().await;

    let response = app.post_raw(LISTING, &[("name", "No Token"), ("phone_number_ids", &uk)]).await;

    assert_eq!(status(&response), 403);
    assert!(response.text().await.unwrap().contains("This form is out of date or was not sent from wabapool."));
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_post_with_a_forged_csrf_token_is_refused_with_403() {
    let app = acme_admin().await;
    let uk = app.number_id("+44 7700 900101").await.to_string();
    let real = app.csrf_token().await;
    let forged: String = real.chars().rev().collect();
    let before = app.snapshot().await;

    for token in [forged.as_str(), "x", "", &format!("{real}x")] {
        let response = app.post_raw(LISTING, &[("csrf_token", token), ("name", "Forged"), ("phone_number_ids", &uk)]).await;

        assert_eq!(status(&response), 403, "token {token:?}");
    }
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn another_sessions_csrf_token_is_refused() {
    let app = acme_admin().await;
    let other = app.new_client_logged_in("super@acme.example").await;
    let theirs = other.csrf_token().await;
    let uk = app.number_id("+44 7700 900101").await.to_string();
    let before = app.snapshot().await;

    let response = app.post_raw(LISTING, &[("csrf_token", theirs.as_str()), ("name", "Borrowed"), ("phone_number_ids", &uk)]).await;

    assert_eq!(status(&response), 403);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn the_htmx_csrf_header_works_instead_of_the_field() {
    let app = acme_admin().await;
    let token = app.csrf_token().await;
    let uk = app.number_id("+44 7700 900101").await.to_string();
    let body = serde_urlencoded::to_string([("name", "Header Token"), ("phone_number_ids", uk.as_str())]).unwrap();

    let response = app
        .client
        .post(app.url(LISTING))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-CSRF-Token", token)
        .header("HX-Request", "true")
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(status(&response), 200);
    assert_eq!(response.headers()["hx-redirect"], LISTING);
    let id = app.pool_id("Header Token").await;
    assert_eq!(app.pool_numbers(id).await, vec!["+44 7700 900101"]);
}

#[tokio::test]
async fn a_forged_htmx_csrf_header_is_refused_even_with_a_good_field() {
    let app = acme_admin().await;
    let token = app.csrf_token().await;
    let uk = app.number_id("+44 7700 900101").await.to_string();
    let body = serde_urlencoded::to_string([("csrf_token", token.as_str()), ("name", "Header Forged"), ("phone_number_ids", uk.as_str())]).unwrap();
    let before = app.snapshot().await;

    let response = app
        .client
        .post(app.url(LISTING))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-CSRF-Token", "forged")
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(status(&response), 403);
    assert_eq!(app.snapshot().await, before);
}

async fn assert_number_choice_refused(values: &[&str], message: &str) {
    // Arrange
    let app = acme_admin().await;
    let before = app.snapshot().await;
    let mut pairs = vec![("name", "Odd Choice")];
    pairs.extend(values.iter().map(|v| ("phone_number_ids", *v)));

    // Act
    let response = app.post_form(LISTING, &pairs).await;

    // Assert
    assert_eq!(status(&response), 422, "{values:?}");
    let page = response.text().await.unwrap();
    assert_eq!(texts(&page, "#numbers .field-error"), vec![message], "{values:?}");
    assert_eq!(attrs(&page, "input#name", "value"), vec!["Odd Choice"]);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_non_numeric_number_id_is_refused() {
    assert_number_choice_refused(&["abc"], "The number choice \"abc\" is not valid; reload the page and choose again.").await;
}

#[tokio::test]
async fn a_negative_number_id_is_refused() {
    assert_number_choice_refused(&["-3"], "The number choice \"-3\" is not valid; reload the page and choose again.").await;
}

#[tokio::test]
async fn a_huge_number_id_is_refused() {
    assert_number_choice_refused(
        &["99999999999999999999999"],
        "The number choice \"99999999999999999999999\" is not valid; reload the page and choose again.",
    )
    .await;
}

#[tokio::test]
async fn a_repeated_number_id_is_refused() {
    let app = spawn_app().await;
    let uk = app.number_id("+44 7700 900101").await.to_string();
    drop(app);

    assert_number_choice_refused(&[&uk, &uk], "A number was chosen twice; reload the page and choose again.").await;
}

#[tokio::test]
async fn an_unknown_number_id_is_not_found() {
    let app = acme_admin().await;
    let before = app.snapshot().await;

    let response = app.post_form(LISTING, &[("name", "Ghost"), ("phone_number_ids", "987654")]).await;

    assert_eq!(status(&response), 404);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_non_numeric_pool_id_in_the_address_is_not_found() {
    let app = acme_admin().await;
    let before = app.snapshot().await;

    for path in [format!("{LISTING}/abc"), format!("{LISTING}/abc/edit"), format!("{LISTING}/-1/edit"), format!("{LISTING}/1.5/deactivate")] {
        assert_eq!(status(&app.get(&path).await), 404, "GET {path}");
    }
    for path in [format!("{LISTING}/abc"), format!("{LISTING}/abc/deactivate"), format!("{LISTING}/99999999999999999999/activate")] {
        assert_eq!(status(&app.post_form(&path, &[("name", "x")]).await), 404, "POST {path}");
    }
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_create_without_any_field_is_refused_with_each_message() {
    let app = acme_admin().await;
    let before = app.snapshot().await;

    let response = app.post_form(LISTING, &[]).await;

    assert_eq!(status(&response), 422);
    let page = response.text().await.unwrap();
    assert_eq!(texts(&page, "#name-error"), vec!["Enter a pool name."]);
    assert_eq!(texts(&page, "#numbers .field-error"), vec!["Choose at least one number."]);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn an_update_without_any_field_is_refused() {
    let app = acme_admin().await;
    let id = app.pool_id("Acme Support").await;
    let before = app.snapshot().await;

    let response = app.post_form(&format!("{LISTING}/{id}"), &[]).await;

    assert_eq!(status(&response), 422);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_body_that_is_not_url_encoded_is_refused_with_400() {
    let app = acme_admin().await;
    let before = app.snapshot().await;

    let response = app.post_body(LISTING, "application/x-www-form-urlencoded", vec![0xff, 0xfe, b'=', 0x80]).await;

    assert!(matches!(status(&response), 400 | 403), "got {}", status(&response));
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_script_looking_pool_name_is_stored_as_typed_and_always_rendered_escaped() {
    // Arrange
    let app = acme_admin().await;
    let name = "<script>alert(1)</script>";

    // Act
    let id = app.add_pool(None, name, &["+44 7700 900101"]).await;

    // Assert
    assert_eq!(app.pool_state(id).await.name, name);
    for path in [LISTING.to_owned(), format!("{LISTING}/{id}"), format!("{LISTING}/{id}/edit"), format!("{LISTING}/{id}/deactivate")] {
        let page = app.get_html(&path).await;
        assert!(!page.contains(name), "GET {path} rendered the name raw");
        assert!(page.contains("&#60;script&#62;") || page.contains("&lt;script&gt;"), "GET {path} shows the name escaped");
        assert!(
            texts(&page, "main").iter().any(|t| t.contains(name)) || attrs(&page, "input#name", "value") == vec![name],
            "GET {path} shows the name as text"
        );
        assert!(texts(&page, "script").iter().all(|s| !s.contains("alert")), "GET {path}");
    }
}

#[tokio::test]
async fn a_script_looking_name_in_a_refused_form_is_echoed_escaped() {
    let app = acme_admin().await;
    let name = "\"><script>alert(1)</script>";

    let response = app.post_form(LISTING, &[("name", name)]).await;

    assert_eq!(status(&response), 422);
    let page = response.text().await.unwrap();
    assert!(!page.contains("<script>alert(1)"));
    assert_eq!(attrs(&page, "input#name", "value"), vec![name]);
}

#[tokio::test]
async fn a_script_looking_search_is_echoed_escaped() {
    let app = acme_admin().await;

    let response = app.client.get(app.url(LISTING)).query(&[("q", "\"><script>alert(1)</script>")]).send().await.unwrap();

    assert_eq!(status(&response), 200);
    let page = response.text().await.unwrap();
    assert!(!page.contains("<script>alert(1)"));
    assert_eq!(attrs(&page, "input#filter-q", "value"), vec!["\"><script>alert(1)</script>"]);
}

#[tokio::test]
async fn listing_query_values_that_make_no_sense_are_a_bad_request() {
    let app = acme_admin().await;

    for query in ["status=bogus", "sort=colour", "page=0", "page=-1", "page=abc", "page=99999999999", "q=%07bell", "page=1&page=2"] {
        let response = app.get(&format!("{LISTING}?{query}")).await;

        assert_eq!(status(&response), 400, "?{query}");
    }
}

#[tokio::test]
async fn unknown_query_parameters_are_ignored() {
    let app = acme_admin().await;

    let response = app.get(&format!("{LISTING}?utm_source=mail&sort=name")).await;

    assert_eq!(status(&response), 200);
    assert!(response.text().await.unwrap().contains("Acme Support"));
}

#[tokio::test]
async fn a_non_numeric_enterprise_filter_is_not_found() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;

    for path in [format!("{LISTING}?enterprise_id=abc"), format!("{LISTING}/new?enterprise_id=abc"), format!("{LISTING}/new?enterprise_id=-1")] {
        assert_eq!(status(&app.get(&path).await), 404, "GET {path}");
    }
}

#[tokio::test]
async fn no_bad_input_is_ever_answered_with_a_server_error() {
    // Arrange
    let app = acme_admin().await;
    let id = app.pool_id("Acme Support").await;
    let token = app.csrf_token().await;
    let bodies: Vec<String> = vec![
        String::new(),
        "=".to_owned(),
        "&&&".to_owned(),
        "%".to_owned(),
        "%zz".to_owned(),
        format!("csrf_token={token}&name=%00&phone_number_ids=%00"),
        format!("csrf_token={token}&name=x&phone_number_ids=1e3"),
        format!("csrf_token={token}&name=x&phone_number_ids=0"),
        format!("csrf_token={token}&name=x&phone_number_ids=9223372036854775807"),
        format!("csrf_token={token}&name=x&phone_number_ids=%20%201%20"),
        format!("csrf_token={token}&name=x&version=abc&phone_number_ids=1"),
        format!("csrf_token={token}&name=x&version=-9223372036854775808&phone_number_ids=1"),
        format!("csrf_token={token}&name=x&version=9223372036854775807&phone_number_ids=1"),
        format!("csrf_token={token}&enterprise_id=abc&name=x&phone_number_ids=1"),
        format!("csrf_token={token}&enterprise_id=9223372036854775807&name=x&phone_number_ids=1"),
        format!("csrf_token={token}&{}", (0..70).map(|i| format!("f{i}=1")).collect::<Vec<_>>().join("&")),
        format!("csrf_token={token}&{}", (0..12).map(|i| format!("phone_number_ids={i}")).collect::<Vec<_>>().join("&")),
    ];
    let paths = [LISTING.to_owned(), format!("{LISTING}/{id}"), format!("{LISTING}/{id}/deactivate"), format!("{LISTING}/{id}/activate")];
    let before = app.snapshot().await;

    for path in &paths {
        for body in &bodies {
            // Act
            let response = app.post_body(path, "application/x-www-form-urlencoded", body.clone()).await;

            // Assert
            let code = status(&response);
            assert!((300..500).contains(&code), "POST {path} {body:?} got {code}");
        }
    }
    let after = app.snapshot().await;
    assert_eq!(after.lines().nth(1), before.lines().nth(1), "no member changed");
}
