//! `attune bootstrap`: the first practice and its first credentials.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Serialize;
use uuid::Uuid;

use crate::api_clients::store::insert_api_client;
use crate::auth::{Scope, secret};
use crate::practices::store::create_practice;

#[derive(Debug, Serialize)]
pub struct BootstrapOutput {
    pub practice_id: Uuid,
    pub client_id: Uuid,
    pub client_secret: String,
}

/// Creates a practice and an API client holding every scope, in one
/// transaction; the secret is returned once and stored hashed.
pub async fn bootstrap(database_url: &str, practice_name: &str, client_name: &str) -> anyhow::Result<BootstrapOutput> {
    let client_secret = secret::generate();
    let hash = secret::hash(&client_secret);
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    let (practice_id, client_id) = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let practice = create_practice(conn, practice_name).await?;
            let client = insert_api_client(conn, practice, client_name, &Scope::ALL, &hash).await?;
            Ok((practice.0, client.id))
        })
        .await?;
    Ok(BootstrapOutput { practice_id, client_id, client_secret })
}
