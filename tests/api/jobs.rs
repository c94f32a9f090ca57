//! The shared background runner: a led job runs on one instance at a time.

use std::time::Duration;

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;

use crate::helpers::TestApp;

/// Holds the job's lock for a moment, as real work would.
fn slow_work(conn: &mut AsyncPgConnection) -> BoxFuture<'_, anyhow::Result<u64>> {
    Box::pin(async move {
        diesel::sql_query("SELECT pg_sleep(0.3)").execute(conn).await?;
        Ok(1)
    })
}

#[tokio::test]
async fn a_led_job_runs_on_one_instance_at_a_time_and_again_once_the_lock_is_free() {
    let app = TestApp::spawn().await;
    // Two instances: two pools on the same database.
    let first = attune::db::build_pool(&app.db_url, 2, Duration::from_secs(2)).unwrap();
    let second = attune::db::build_pool(&app.db_url, 2, Duration::from_secs(2)).unwrap();
    let (a, b) = tokio::join!(
        attune::jobs::run_led("test job", &first, slow_work),
        attune::jobs::run_led("test job", &second, slow_work)
    );
    let mut done = [a.unwrap(), b.unwrap()];
    done.sort();
    assert_eq!(done, [None, Some(1)], "exactly one instance did the work");
    // The lock went with the transaction: the next tick runs again.
    assert_eq!(attune::jobs::run_led("test job", &second, slow_work).await.unwrap(), Some(1));
    // Another job's lock is another lock.
    let (a, b) = tokio::join!(
        attune::jobs::run_led("test job", &first, slow_work),
        attune::jobs::run_led("other job", &second, slow_work)
    );
    assert_eq!((a.unwrap(), b.unwrap()), (Some(1), Some(1)));
}
