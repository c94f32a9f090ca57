use diesel_async::SimpleAsyncConnection;

use crate::helpers::{admin_url, database_url, drop_test_database};

#[tokio::test]
async fn migrations_run_up_down_and_up_again() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    let name = format!("attune_mig_{}", uuid::Uuid::now_v7().simple());
    let mut admin = AsyncPgConnection::establish(&admin_url()).await.unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let url = database_url(&name);

    let applied = attune::db::run_migrations(&url).unwrap();
    assert!(!applied.is_empty());
    attune::db::revert_all_migrations(&url).unwrap();
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    // After down, no table of ours is left.
    let leftover = conn.batch_execute("SELECT 1 FROM clients").await;
    assert!(leftover.is_err(), "down.sql left the clients table behind");
    drop(conn);
    let reapplied = attune::db::run_migrations(&url).unwrap();
    assert_eq!(applied, reapplied);
    // And nothing is pending after that.
    assert!(attune::db::run_migrations(&url).unwrap().is_empty());
    drop_test_database(name);
}
