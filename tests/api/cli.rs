//! The `wabapool` binary's commands (DESIGN.md §7), run as a user would.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_wabapool");

fn wabapool(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .current_dir(dir)
        .env("WABAPOOL_DATA_DIR", dir.join("data"))
        .env_remove("DATABASE_URL")
        .env_remove("WABAPOOL_META_GRAPH_URL")
        .env("WABAPOOL_LOG", "info");
    command
}

/// `wabapool bench-data` into a new SQLite file in `dir`, of the given shape
/// (aggregators, enterprises, numbers and pools per enterprise), with `extra` flags.
fn bench_data(dir: &std::path::Path, shape: [&str; 4], extra: &[&str]) -> (String, std::process::Output) {
    let database = dir.join("bench.sqlite3").to_string_lossy().into_owned();
    let [aggregators, enterprises, numbers, pools] = shape;
    let mut args = vec![
        "bench-data",
        "--database-url",
        &database,
        "--aggregators",
        aggregators,
        "--enterprises",
        enterprises,
        "--numbers-per-enterprise",
        numbers,
        "--pools-per-enterprise",
        pools,
    ];
    args.extend_from_slice(extra);
    let out = wabapool(dir, &args).output().unwrap();
    (database, out)
}

#[test]
fn migrate_then_bootstrap_tenants_and_a_user_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = wabapool(dir.path(), args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    assert!(run(&["migrate"]).contains("migrations applied"));
    run(&["org", "create-aggregator", "Eastwind"]);
    run(&["org", "create-enterprise", "Contoso", "--aggregator", "Eastwind"]);
    let mut child = wabapool(dir.path(), &["user", "create", "--email", "Owner@Contoso.example", "--role", "super_admin", "--enterprise", "Contoso"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a long enough password\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let duplicate = wabapool(dir.path(), &["org", "create-enterprise", "Contoso"]).output().unwrap();
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));
    let unknown_role = wabapool(dir.path(), &["user", "create", "--email", "x@contoso.example", "--role", "root", "--enterprise", "Contoso"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!unknown_role.status.success());
}

/// Reads lines from a child's stream until one matches or time runs out.
fn wait_for_line(reader: &mut impl std::io::BufRead, deadline: Instant, wanted: impl Fn(&str) -> bool) -> Option<String> {
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if wanted(&line) {
            return Some(line.clone());
        }
    }
    None
}

#[test]
fn demo_prints_its_url_serves_the_demo_data_and_logs_json_with_request_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = wabapool(dir.path(), &["demo", "--bind", "127.0.0.1:0"])
        .env("WABAPOOL_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let listening = wait_for_line(&mut stdout, deadline, |l| l.contains("listening on http://"));
    let Some(listening) = listening else {
        let _ = child.kill();
        panic!("demo did not print its URL");
    };
    let url = listening.trim().rsplit(' ').next().unwrap().to_owned();

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let login_page = runtime.block_on(async { reqwest::get(format!("{url}/login")).await.unwrap() });
    let request_id = login_page.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = runtime.block_on(login_page.text()).unwrap();
    assert!(body.contains("Demo data"));

    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let line = wait_for_line(&mut stderr, Instant::now() + Duration::from_secs(10), |l| l.contains(&request_id));
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("a log line carries the request id");
    let json: serde_json::Value = serde_json::from_str(&line).expect("log lines are JSON");
    assert_eq!(json["span"]["request_id"], request_id.as_str());
    assert!(stderr.lines().map_while(Result::ok).all(|l| serde_json::from_str::<serde_json::Value>(&l).is_ok()));
}

#[test]
fn keys_rotate_reseals_every_token_under_the_new_key_and_old_ones_stay_readable_until_then() {
    use base64::Engine as _;
    use diesel::prelude::*;
    use wabapool::db::schema::waba_links;
    use wabapool::security::secrets::{Sealed, SecretKeys};

    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("rotate.sqlite3");
    let database = database.to_string_lossy().into_owned();
    let (old, new) = ([7u8; 32], [9u8; 32]);
    let encode = |k: &[u8]| base64::engine::general_purpose::STANDARD.encode(k);
    let pool = wabapool::db::connect_pool(&wabapool::db::DatabaseUrl::parse(&database), 1).unwrap();
    {
        let mut conn = pool.get().unwrap();
        wabapool::db::run_migrations(&mut conn).unwrap();
        wabapool::demo::load(&mut conn, &secrecy::SecretString::from("wabapool-demo"), &SecretKeys::new(&old, &[]).unwrap()).unwrap();
    }

    let out = wabapool(dir.path(), &["keys", "rotate", "--database-url", &database])
        .env("WABAPOOL_ENCRYPTION_KEY", encode(&new))
        .env("WABAPOOL_PREVIOUS_ENCRYPTION_KEYS", encode(&old))
        .output()
        .unwrap();

    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("6 tokens re-sealed"));
    let sealed: Vec<(Option<Vec<u8>>, Option<String>)> =
        waba_links::table.select((waba_links::access_token_ciphertext, waba_links::access_token_key_id)).load(&mut pool.get().unwrap()).unwrap();
    let new_only = SecretKeys::new(&new, &[]).unwrap();
    for (ciphertext, key_id) in sealed {
        let sealed = Sealed { ciphertext: ciphertext.unwrap(), key_id: key_id.unwrap() };
        assert_eq!(sealed.key_id, new_only.current_key_id());
        assert!(new_only.open(&sealed).is_ok());
    }
    let again = wabapool(dir.path(), &["keys", "rotate", "--database-url", &database]).env("WABAPOOL_ENCRYPTION_KEY", encode(&new)).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 tokens re-sealed"));
}

#[test]
fn bench_data_fills_an_empty_database_with_the_shape_asked_for_and_refuses_a_full_one() {
    use diesel::prelude::*;
    use wabapool::db::schema::{numbers, pool_members, pools};

    let dir = tempfile::tempdir().unwrap();

    let (database, out) = bench_data(dir.path(), ["3", "12", "8", "2"], &[]);

    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pool = wabapool::db::connect_pool(&wabapool::db::DatabaseUrl::parse(&database), 1).unwrap();
    let conn = &mut pool.get().unwrap();
    assert_eq!(numbers::table.count().get_result::<i64>(conn).unwrap(), 96);
    assert_eq!(pools::table.count().get_result::<i64>(conn).unwrap(), 24);
    assert_eq!(pool_members::table.count().get_result::<i64>(conn).unwrap(), 72);
    let (_, again) = bench_data(dir.path(), ["3", "12", "8", "2"], &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("empty database"));
}

#[test]
fn bench_data_writes_the_sandbox_fixture_its_links_open_to_and_prints_an_api_key_that_authenticates() {
    use base64::Engine as _;
    use diesel::prelude::*;
    use secrecy::ExposeSecret as _;
    use std::collections::{BTreeMap, BTreeSet};
    use wabapool::db::schema::{numbers, waba_links, wabas};
    use wabapool::security::secrets::{Sealed, SecretKeys};

    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("sandbox.json");
    let fixture_arg = fixture.to_string_lossy().into_owned();

    let (database, out) = bench_data(dir.path(), ["2", "4", "6", "2"], &["--sandbox-fixture", &fixture_arg, "--api-key"]);

    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let sandbox = wabapool::meta::sandbox::Fixture::from_file(&fixture).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&fixture).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let pool = wabapool::db::connect_pool(&wabapool::db::DatabaseUrl::parse(&database), 1).unwrap();
    let conn = &mut pool.get().unwrap();
    // Every stored number, by its WABA, is in the fixture under that WABA.
    let stored: Vec<(String, String, Option<String>)> = numbers::table
        .inner_join(wabas::table)
        .select((wabas::meta_waba_id, numbers::phone_number_id, numbers::throughput_level))
        .load(conn)
        .unwrap();
    let mut stored_by_waba: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (waba, number, _) in &stored {
        stored_by_waba.entry(waba.clone()).or_default().insert(number.clone());
    }
    let fixture_by_waba: BTreeMap<String, BTreeSet<String>> =
        sandbox.wabas.iter().map(|w| (w.id.clone(), w.phone_numbers.iter().map(|n| n.id.clone()).collect())).collect();
    assert_eq!(stored_by_waba.len(), 4);
    assert_eq!(fixture_by_waba, stored_by_waba);
    // Each link opens, with the data directory's key, to the token the sandbox accepts.
    let key = std::fs::read_to_string(dir.path().join("data").join("encryption.key")).unwrap();
    let keys = SecretKeys::new(&base64::engine::general_purpose::STANDARD.decode(key.trim()).unwrap(), &[]).unwrap();
    let links: Vec<(String, Option<Vec<u8>>, Option<String>)> = waba_links::table
        .inner_join(wabas::table)
        .select((wabas::meta_waba_id, waba_links::access_token_ciphertext, waba_links::access_token_key_id))
        .load(conn)
        .unwrap();
    assert_eq!(links.len(), 4);
    for (waba, ciphertext, key_id) in links {
        let token = keys.open(&Sealed { ciphertext: ciphertext.unwrap(), key_id: key_id.unwrap() }).unwrap();
        let expected = &sandbox.wabas.iter().find(|w| w.id == waba).unwrap().access_token;
        assert_eq!(token.expose_secret(), expected);
        assert!(!stdout.contains(expected.as_str()), "a token was printed");
    }
    // The printed key acts for the first enterprise, whose numbers are at HIGH throughput.
    let api_key = stdout.split_whitespace().find(|w| w.starts_with("wbp_")).expect("an API key is printed");
    let authenticated = wabapool::services::api_keys::authenticate(conn, api_key).unwrap().expect("the printed key authenticates");
    let first_waba = sandbox.wabas[0].id.clone();
    assert!(stored.iter().all(|(waba, _, level)| (level.as_deref() == Some("HIGH")) == (*waba == first_waba)));
    let first_enterprise: i64 = waba_links::table
        .inner_join(wabas::table)
        .filter(wabas::meta_waba_id.eq(&first_waba))
        .select(waba_links::enterprise_id)
        .get_result(conn)
        .unwrap();
    assert_eq!(authenticated.enterprise_id, first_enterprise);
}

#[test]
fn bench_data_gives_the_send_pool_ten_numbers_when_the_enterprise_has_twenty_and_each_number_one_pool() {
    use diesel::prelude::*;
    use wabapool::db::schema::{pool_members, pools};

    let dir = tempfile::tempdir().unwrap();

    let (database, out) = bench_data(dir.path(), ["1", "3", "20", "5"], &["--api-key"]);

    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let send_pool: i64 =
        stdout.lines().find_map(|l| l.strip_prefix("send through pool ")?.split_whitespace().next()?.parse().ok()).expect("the send pool is printed");
    let pool = wabapool::db::connect_pool(&wabapool::db::DatabaseUrl::parse(&database), 1).unwrap();
    let conn = &mut pool.get().unwrap();
    let members: Vec<(i64, i64, i64)> =
        pool_members::table.select((pool_members::pool_id, pool_members::number_id, pool_members::enterprise_id)).load(conn).unwrap();
    assert_eq!(members.iter().filter(|(p, _, _)| *p == send_pool).count(), 10);
    let mut numbers: Vec<i64> = members.iter().map(|(_, n, _)| *n).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), members.len(), "a number is in two pools");
    // The first enterprise's other pools still have members, and numbers stay free for Add Pool.
    let send_enterprise = members.iter().find(|(p, _, _)| *p == send_pool).unwrap().2;
    let others: Vec<i64> = pools::table.filter(pools::enterprise_id.eq(send_enterprise)).select(pools::id).load(conn).unwrap();
    assert_eq!(others.len(), 5);
    assert!(others.iter().all(|p| members.iter().any(|(m, _, _)| m == p)));
    assert!(members.iter().filter(|(_, _, e)| *e == send_enterprise).count() < 20);
    // The other enterprises keep three members a pool.
    assert_eq!(members.iter().filter(|(_, _, e)| *e != send_enterprise).count(), 2 * 5 * 3);
}

/// Starts `wabapool demo` in `dir` and returns it with the URL it printed.
fn start_demo(dir: &std::path::Path) -> (std::process::Child, String) {
    let mut child = wabapool(dir, &["demo", "--bind", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let Some(listening) = wait_for_line(&mut stdout, Instant::now() + Duration::from_secs(60), |l| l.contains("listening on http://")) else {
        let _ = child.kill();
        panic!("demo did not print its URL");
    };
    // The rest of its output is drained so that the child never blocks on it.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, listening.trim().rsplit(' ').next().unwrap().to_owned())
}

#[test]
fn demo_restarted_on_its_database_keeps_its_keys_so_sends_still_go_out_and_people_stay_signed_in() {
    // Arrange: a demo run with an API key and a signed-in browser.
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (mut first, url) = start_demo(dir.path());
    let database = dir.path().join("data").join("wabapool.sqlite3");
    let pool = wabapool::db::connect_pool(&wabapool::db::DatabaseUrl::parse(&database.to_string_lossy()), 1).unwrap();
    let (key, pool_id) = {
        let conn = &mut pool.get().unwrap();
        let key = crate::helpers::acme_api_key(conn, "restart");
        use diesel::prelude::*;
        use wabapool::db::schema::pools;
        let pool_id: i64 = pools::table.filter(pools::name.eq("Acme Support")).select(pools::id).first(conn).unwrap();
        (key, pool_id)
    };
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap();
    let send = |url: &str, to: &str| {
        let body = serde_json::json!({ "to": to, "type": "template", "template": { "name": "order_update", "language": { "code": "en" } } });
        let request = reqwest::Client::new().post(format!("{url}/api/v1/pools/{pool_id}/messages")).bearer_auth(&key).json(&body);
        runtime.block_on(async { request.send().await.unwrap().status().as_u16() })
    };
    runtime.block_on(async {
        let page = browser.get(format!("{url}/login")).send().await.unwrap().text().await.unwrap();
        let token = crate::helpers::csrf_of(&page);
        let form = [("csrf_token", token.as_str()), ("email", "admin@acme.example"), ("password", "wabapool-demo")];
        assert_eq!(browser.post(format!("{url}/login")).form(&form).send().await.unwrap().status().as_u16(), 303);
    });
    // Two sends, so each member of the pool has sent once.
    for to in ["447700900701", "447700900702"] {
        assert_eq!(send(&url, to), 201, "the first run sends");
    }
    let _ = first.kill();
    let _ = first.wait();

    // Act
    let (mut second, url) = start_demo(dir.path());
    let sent = ["447700900703", "447700900704"].map(|to| send(&url, to));
    let pools_page = runtime.block_on(async { browser.get(format!("{url}/channels/whatsapp/pools")).send().await.unwrap().status().as_u16() });
    let _ = second.kill();
    let _ = second.wait();

    // Assert
    assert_eq!(sent, [201, 201], "the restarted demo opens the tokens it sealed before, and its sandbox's wamids are new");
    assert_eq!(pools_page, 200, "the session made before the restart still reads pages");
    let key_files = ["session.key", "encryption.key"].map(|f| dir.path().join("data").join(f));
    assert!(key_files.iter().all(|f| f.exists()), "the demo keeps its keys in the data directory");
}
