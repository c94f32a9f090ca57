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

/// The schema as the catalogue describes it: columns, constraints, indexes,
/// functions and triggers of ours, one sorted line each (so that two
/// schemas compare whatever order their parts were made in).
fn schema_of(
    conn: &mut diesel_async::async_connection_wrapper::AsyncConnectionWrapper<diesel_async::AsyncPgConnection>,
) -> String {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Schema {
        #[diesel(sql_type = diesel::sql_types::Text)]
        schema: String,
    }
    let row: Schema = diesel::sql_query(
        "SELECT coalesce(string_agg(line, E'\\n' ORDER BY line), '') AS schema FROM ( \
           SELECT format('column %s.%s %s not-null=%s default=%s', c.relname, a.attname, \
                         format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)) \
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
           WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm') \
             AND a.attnum > 0 AND NOT a.attisdropped \
           UNION ALL SELECT format('constraint %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) \
           FROM pg_constraint WHERE connamespace = 'public'::regnamespace \
           UNION ALL SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = 'public' \
           UNION ALL SELECT format('function %s %s', p.oid::regprocedure, pg_get_functiondef(p.oid)) \
           FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace \
           UNION ALL SELECT format('trigger %s', pg_get_triggerdef(t.oid)) FROM pg_trigger t \
           JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal \
         ) lines(line)",
    )
    .get_result(conn)
    .unwrap();
    row.schema
}

/// Each migration's down.sql undoes its up.sql exactly: applied one at a
/// time, then reverted one at a time, every revert gives back the schema
/// that was there before its migration.
#[tokio::test]
async fn each_migrations_down_gives_back_the_schema_before_its_up() {
    use diesel::Connection;
    use diesel_async::AsyncPgConnection;
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    use diesel_migrations::MigrationHarness;

    let name = format!("attune_mig_{}", uuid::Uuid::now_v7().simple());
    let mut admin = <AsyncPgConnection as diesel_async::AsyncConnection>::establish(&admin_url()).await.unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let url = database_url(&name);
    // The harness drives its own runtime: a thread of its own, as db::run_migrations does.
    let checked = std::thread::spawn(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url).unwrap();
        // The harness's own table is made by its first look, and stays.
        assert!(conn.has_pending_migration(attune::db::MIGRATIONS).unwrap());
        let mut before = vec![schema_of(&mut conn)];
        let mut names = Vec::new();
        while conn.has_pending_migration(attune::db::MIGRATIONS).unwrap() {
            names.push(conn.run_next_migration(attune::db::MIGRATIONS).unwrap().to_string());
            before.push(schema_of(&mut conn));
        }
        for (index, name) in names.iter().enumerate().rev() {
            conn.revert_last_migration(attune::db::MIGRATIONS).unwrap();
            let after = schema_of(&mut conn);
            let left: Vec<&str> = after.lines().filter(|l| !before[index].lines().any(|b| b == *l)).collect();
            let lost: Vec<&str> = before[index].lines().filter(|l| !after.lines().any(|a| a == *l)).collect();
            assert!(
                left.is_empty() && lost.is_empty(),
                "the down.sql of {name} does not undo its up.sql: left behind {left:#?}, not restored {lost:#?}"
            );
        }
        names.len()
    })
    .join();
    // Dropped whatever the outcome, then the outcome is told.
    drop_test_database(name);
    let checked = checked.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let directories = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).unwrap().count();
    assert_eq!(checked, directories, "every migration was checked");
}
