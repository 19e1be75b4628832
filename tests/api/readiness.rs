//! `/readyz` answers whether the database can commit a write, not only
//! whether it answers a read; `/healthz` answers while the process runs.

use diesel::connection::SimpleConnection as _;
use wabapool::db::DbConnection;

use crate::helpers::{TestApp, spawn_app, status};

/// Makes the app's commits fail until the returned sender is dropped.
/// SQLite: another connection holds the write lock, so the app's writes
/// wait out their busy timeout and fail while reads go on. PostgreSQL: a
/// deferred constraint trigger fails the probe's commit, as a full disk does.
async fn make_commits_fail(app: &TestApp) -> std::sync::mpsc::Sender<()> {
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (locked, is_locked) = std::sync::mpsc::channel();
    let pool = app.db.clone();
    std::thread::spawn(move || {
        let mut conn = pool.get().expect("connection");
        if matches!(&*conn, DbConnection::Sqlite(_)) {
            conn.batch_execute("BEGIN IMMEDIATE").expect("write lock taken");
            locked.send(()).unwrap();
            let _ = released.recv();
            conn.batch_execute("ROLLBACK").expect("write lock released");
        } else {
            conn.batch_execute(
                "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$;
                 CREATE CONSTRAINT TRIGGER commits_fail AFTER UPDATE ON readiness
                 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit();",
            )
            .expect("failing commits installed");
            locked.send(()).unwrap();
        }
    });
    tokio::task::spawn_blocking(move || is_locked.recv().expect("commits made to fail")).await.unwrap();
    release
}

#[tokio::test]
async fn readiness_fails_while_a_write_cannot_be_committed_and_liveness_still_answers() {
    let app = spawn_app().await;
    assert_eq!(status(&app.get("/readyz").await), 200);

    let failing = make_commits_fail(&app).await;
    let ready = app.get("/readyz").await;
    let live = app.get("/healthz").await;
    let page = app.get("/login").await;
    drop(failing);

    assert_eq!(status(&ready), 503);
    assert_eq!(status(&live), 200);
    assert_eq!(status(&page), 200, "pages that only read still answer");
}
