//! The SQLite writer: one thread with one connection, which runs the writes
//! queued while it was busy in one transaction and commits them together.
//!
//! SQLite has one writer at a time, and each commit appends every page it
//! touched to the WAL. Sends that arrive together touch the same pages (the
//! pool's row, its members, the last page of the send log and of its
//! indexes), so committing them together writes those pages once, takes the
//! file locks once, and wakes this thread once. Each job runs in a savepoint
//! of its own: a job that fails is rolled back alone, and its caller hears of
//! it; the others commit. A caller hears its answer only after the commit.
//! The connection keeps its page cache, since no other connection of this
//! process writes between its batches as often as it does.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection as _};
use diesel::r2d2::ManageConnection as _;
use tokio::sync::oneshot;

use super::{
    BUSY_TIMEOUT_MS, ConnectionManager, DatabaseUrl, DbConnection, DbError, Nested, SQLITE_WRITER, commit, open_transactions, rollback, savepoint,
};

/// Jobs committed together at most.
const MAX_BATCH: usize = 64;

/// What the thread needs to know of a job: run it in the open transaction,
/// then, once the transaction ended, answer its caller.
trait Job: Send {
    /// Runs the work in a savepoint of its own, keeping its result.
    fn run(&mut self, conn: &mut DbConnection);
    /// Answers the caller: its result if the batch committed.
    fn answer(self: Box<Self>, committed: Result<(), &diesel::result::Error>);
}

struct Task<T, E, F> {
    work: Option<F>,
    result: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> Job for Task<T, E, F>
where
    T: Send,
    E: From<DbError> + Send,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send,
{
    fn run(&mut self, conn: &mut DbConnection) {
        let Some(work) = self.work.take() else { return };
        self.result = Some(savepoint(conn, work).map_err(|failed| match failed {
            Nested::Work(error) => error,
            Nested::Savepoint(error) => DbError::Unavailable(error.into()).into(),
        }));
    }

    fn answer(self: Box<Self>, committed: Result<(), &diesel::result::Error>) {
        let answer = match (committed, self.result) {
            (_, Some(Err(error))) => Err(error),
            (Ok(()), Some(Ok(value))) => Ok(value),
            (Err(error), Some(Ok(_))) => Err(DbError::Unavailable(anyhow::anyhow!("the batch did not commit: {error}")).into()),
            // The batch's transaction could not begin (the database is locked or gone).
            (Err(error), None) => Err(DbError::Unavailable(anyhow::anyhow!("the batch could not begin: {error}")).into()),
            // The job panicked; its savepoint was rolled back.
            (Ok(()), None) => Err(DbError::Internal(anyhow::anyhow!("a queued write did not finish")).into()),
        };
        // The caller may have gone (its client disconnected); nothing to do then.
        let _ = self.reply.send(answer);
    }
}

/// The handle every request shares; the thread ends when the last is dropped.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Opens the writer's own connection and starts its thread.
    pub fn start(url: &DatabaseUrl) -> anyhow::Result<Self> {
        Self::start_with_quiet(url, QUIET)
    }

    fn start_with_quiet(url: &DatabaseUrl, quiet: Duration) -> anyhow::Result<Self> {
        let manager = ConnectionManager::new(url.clone());
        let conn = manager.connect()?;
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new().name("sqlite-writer".into()).spawn(move || serve(manager, conn, queue, quiet))?;
        Ok(Self { jobs })
    }

    /// Runs `work` in the next batch and answers once that batch committed.
    /// `work` may open transactions of its own: they become savepoints.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let task = Task { work: Some(work), result: None, reply };
        self.jobs.send(Box::new(task)).map_err(|_| E::from(DbError::Unavailable(anyhow::anyhow!("the SQLite writer has stopped"))))?;
        answer.await.map_err(|_| E::from(DbError::Internal(anyhow::anyhow!("a queued write was dropped"))))?
    }
}

/// How long the writer waits, after its last batch, before emptying the WAL.
const QUIET: Duration = Duration::from_millis(250);

/// How long emptying the WAL waits for a reader of an older snapshot
/// before it gives up until the next quiet spell: queued writes wait on it.
const CHECKPOINT_PATIENCE_MS: u32 = 100;

/// The writer's loop. Once writes have stopped for `quiet`, it empties the
/// WAL (a truncating checkpoint): SQLite's own checkpoints copy the pages
/// back but leave the last thousand frames in the WAL, and every read
/// afterwards looks its pages up there, which costs the pool listing half
/// its speed in the seconds after a burst of writes.
fn serve(manager: ConnectionManager, mut conn: DbConnection, queue: mpsc::Receiver<Box<dyn Job>>, quiet: Duration) {
    let conn = &mut conn;
    let mut written = false;
    loop {
        let first = if written {
            match queue.recv_timeout(quiet) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    empty_the_wal(conn);
                    written = false;
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        written = true;
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = run_batch(conn, &mut batch);
        for job in batch {
            job.answer(committed.as_ref().map(|_| ()));
        }
        // A connection left inside a transaction (a failed rollback) is replaced.
        if open_transactions(conn).is_some()
            && let Ok(fresh) = manager.connect()
        {
            *conn = fresh;
        }
    }
}

/// A truncating checkpoint, waiting at most [`CHECKPOINT_PATIENCE_MS`] for
/// readers; one that cannot finish now is tried at the next quiet spell.
fn empty_the_wal(conn: &mut DbConnection) {
    let DbConnection::Sqlite(lite) = conn else { return };
    let _writer = SQLITE_WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = lite.batch_execute(&format!("PRAGMA busy_timeout = {CHECKPOINT_PATIENCE_MS}"));
    if let Err(error) = lite.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::debug!(%error, "the WAL stays until the next quiet spell");
    }
    let _ = lite.batch_execute(&format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"));
}

/// One transaction around the batch, a savepoint around each job.
fn run_batch(conn: &mut DbConnection, batch: &mut [Box<dyn Job>]) -> Result<(), diesel::result::Error> {
    let DbConnection::Sqlite(lite) = conn else {
        return Err(diesel::result::Error::QueryBuilderError("the writer runs on SQLite only".into()));
    };
    // Writers of this process queue on the same lock as write_transaction.
    let _writer = SQLITE_WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    AnsiTransactionManager::begin_transaction_sql(lite, "BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        if catch_unwind(AssertUnwindSafe(|| job.run(conn))).is_err() {
            // A job that panicked left its savepoints open: they are rolled
            // back, and its caller hears that it did not run.
            while matches!(open_transactions(conn), Some(depth) if depth > 1) {
                rollback(conn)?;
            }
        }
    }
    commit(conn).inspect_err(|_| {
        let _ = rollback(conn);
    })
}

#[cfg(test)]
mod tests {
    use diesel::RunQueryDsl as _;
    use diesel::connection::SimpleConnection as _;

    use super::*;
    use crate::db::write_transaction;

    /// The jobs' own error: the writer's, a query's, or a refusal.
    #[derive(Debug, thiserror::Error)]
    enum TestError {
        #[error(transparent)]
        Db(#[from] DbError),
        #[error(transparent)]
        Sql(#[from] diesel::result::Error),
        #[error("{0}")]
        Refused(String),
    }

    fn write<T: Send + 'static>(
        writer: &Writer,
        work: impl FnOnce(&mut DbConnection) -> Result<T, TestError> + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T, TestError>> {
        writer.write(work)
    }

    fn insert(conn: &mut DbConnection, x: i64) -> Result<(), TestError> {
        diesel::sql_query(format!("INSERT INTO t (x) VALUES ({x})")).execute(conn)?;
        Ok(())
    }

    fn stored(url: &DatabaseUrl) -> Vec<i64> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            x: i64,
        }
        let mut conn = ConnectionManager::new(url.clone()).connect().unwrap();
        diesel::sql_query("SELECT x FROM t ORDER BY x").load::<Row>(&mut conn).unwrap().into_iter().map(|r| r.x).collect()
    }

    /// A writer on a new file with a table `t`, held busy by a first job
    /// until the returned sender is dropped, so that what is queued meanwhile
    /// runs as one batch.
    async fn held_writer(dir: &tempfile::TempDir) -> (Writer, DatabaseUrl, std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let url = DatabaseUrl::parse(&dir.path().join("w.sqlite3").to_string_lossy());
        let writer = Writer::start(&url).unwrap();
        write(&writer, |conn| conn.batch_execute("CREATE TABLE t (x INTEGER NOT NULL)").map_err(TestError::Sql)).await.unwrap();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let busy = writer.clone();
        let first = tokio::spawn(async move {
            write(&busy, move |_| {
                let _ = held.recv();
                Ok(())
            })
            .await
            .unwrap()
        });
        // The first job is running once the writer no longer answers at once.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        (writer, url, release, first)
    }

    #[tokio::test]
    async fn a_failing_job_is_rolled_back_alone_and_the_rest_of_its_batch_commits() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, url, release, first) = held_writer(&dir).await;
        let jobs: Vec<_> = (1..=5)
            .map(|x| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    write(&writer, move |conn| {
                        insert(conn, x)?;
                        // Its own write transaction is a savepoint in the batch.
                        write_transaction(conn, |conn| insert(conn, x * 10))?;
                        if x == 3 { Err(TestError::Refused("three fails".into())) } else { Ok(x) }
                    })
                    .await
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        drop(release);
        first.await.unwrap();
        let mut answers = Vec::new();
        for job in jobs {
            answers.push(job.await.unwrap());
        }

        assert!(matches!(&answers[2], Err(TestError::Refused(m)) if m == "three fails"));
        assert_eq!(answers.iter().filter_map(|a| a.as_ref().ok().copied()).collect::<Vec<_>>(), vec![1, 2, 4, 5]);
        assert_eq!(stored(&url), vec![1, 2, 4, 5, 10, 20, 40, 50]);
    }

    #[tokio::test]
    async fn a_job_that_panics_is_rolled_back_its_caller_hears_an_error_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, url, release, first) = held_writer(&dir).await;
        let before = {
            let writer = writer.clone();
            tokio::spawn(async move { write(&writer, |conn| insert(conn, 1)).await })
        };
        let panics = {
            let writer = writer.clone();
            tokio::spawn(async move {
                write(&writer, |conn| {
                    insert(conn, 2)?;
                    write_transaction(conn, |conn| -> Result<(), TestError> {
                        insert(conn, 20)?;
                        panic!("a bug in a job")
                    })?;
                    Ok(())
                })
                .await
            })
        };
        let after = {
            let writer = writer.clone();
            tokio::spawn(async move { write(&writer, |conn| insert(conn, 3)).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        drop(release);
        first.await.unwrap();

        assert!(before.await.unwrap().is_ok());
        assert!(panics.await.unwrap().is_err());
        assert!(after.await.unwrap().is_ok());
        assert_eq!(stored(&url), vec![1, 3]);
        // The next batch runs on a connection outside any transaction.
        write(&writer, |conn| insert(conn, 4)).await.unwrap();
        assert_eq!(stored(&url), vec![1, 3, 4]);
    }

    #[tokio::test]
    async fn an_answer_comes_after_the_commit_so_other_connections_see_the_write() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, url, release, first) = held_writer(&dir).await;
        drop(release);
        first.await.unwrap();
        for x in 1..=3 {
            write(&writer, move |conn| insert(conn, x)).await.unwrap();
            assert_eq!(stored(&url).last(), Some(&x));
        }
    }

    #[tokio::test]
    async fn once_writes_stop_the_wal_is_emptied_and_what_was_written_stays() {
        // Arrange: a writer that empties the WAL after 50 ms without writes,
        // and a reader that keeps its connection open, as the pool does.
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::parse(&dir.path().join("w.sqlite3").to_string_lossy());
        let wal = dir.path().join("w.sqlite3-wal");
        let writer = Writer::start_with_quiet(&url, Duration::from_millis(50)).unwrap();
        let _reader = ConnectionManager::new(url.clone()).connect().unwrap();
        write(&writer, |conn| conn.batch_execute("CREATE TABLE t (x INTEGER NOT NULL)").map_err(TestError::Sql)).await.unwrap();

        // Act: a burst of writes, each a commit of its own.
        for x in 1..=50 {
            write(&writer, move |conn| insert(conn, x)).await.unwrap();
        }
        let during = std::fs::metadata(&wal).unwrap().len();
        tokio::time::sleep(Duration::from_millis(500)).await;

        // Assert
        assert!(during > 0, "the burst went to the WAL");
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0, "the quiet writer emptied it");
        assert_eq!(stored(&url), (1..=50).collect::<Vec<_>>());
        write(&writer, move |conn| insert(conn, 51)).await.unwrap();
        assert_eq!(stored(&url).last(), Some(&51), "and writes on after it");
    }

    #[tokio::test]
    async fn a_batch_that_cannot_begin_answers_unavailable_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, url, release, first) = held_writer(&dir).await;
        drop(release);
        first.await.unwrap();
        // Another process holds SQLite's write lock past busy_timeout.
        let mut other = ConnectionManager::new(url.clone()).connect().unwrap();
        other.batch_execute("BEGIN IMMEDIATE").unwrap();

        let answer = write(&writer, |conn| insert(conn, 1)).await;

        assert!(matches!(answer, Err(TestError::Db(DbError::Unavailable(_)))), "{:?}", answer.err());
        other.batch_execute("ROLLBACK").unwrap();
        write(&writer, |conn| insert(conn, 2)).await.unwrap();
        assert_eq!(stored(&url), vec![2]);
    }
}
