//! Client link queries, practice first. Reads of the client's open
//! assessments and active assignments live here too: they decide what a link
//! shows.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::prepared::{Prepared, Statement};
use crate::db::schema::{assessments, client_link_submissions, client_links, homework};
use crate::http::pagination::PageRequest;
use crate::practices::PracticeId;

/// The query behind [`StandingRow`], with the practice as `$1`, the client
/// as `$2` and the link as `$3`.
macro_rules! standing_select {
    () => {
        "SELECT \
           ARRAY(SELECT id FROM assessments WHERE practice_id = $1 AND client_id = $2 AND status = 'assigned' \
                 ORDER BY id) AS open_assessments, \
           ARRAY(SELECT id FROM homework WHERE practice_id = $1 AND client_id = $2 AND status = 'active' ORDER BY id) \
             AS active_homework, \
           ARRAY(SELECT item_id FROM client_link_submissions WHERE practice_id = $1 AND link_id = $3 \
                 AND resource_type = 'assessment' ORDER BY submitted_at, resource_id) AS submitted_assessments, \
           ARRAY(SELECT DISTINCT item_id FROM client_link_submissions WHERE practice_id = $1 AND link_id = $3 \
                 AND resource_type = 'homework_log') AS logged_homework"
    };
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = client_links)]
pub struct LinkRow {
    pub id: Uuid,
    pub client_id: Uuid,
    pub token_digest: Vec<u8>,
    pub all_open_assessments: bool,
    pub assessment_ids: Vec<Uuid>,
    pub all_active_homework: bool,
    pub homework_ids: Vec<Uuid>,
    pub language: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub first_opened_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub version: i32,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = client_link_submissions)]
pub struct SubmissionRow {
    pub link_id: Uuid,
    pub resource_type: String,
    pub resource_id: Uuid,
    pub item_id: Uuid,
    pub submitted_at: DateTime<Utc>,
}

pub struct NewLink<'a> {
    pub id: Uuid,
    pub client_id: Uuid,
    pub token_digest: &'a [u8],
    pub all_open_assessments: bool,
    pub assessment_ids: &'a [Uuid],
    pub all_active_homework: bool,
    pub homework_ids: &'a [Uuid],
    pub language: Option<&'a str>,
    pub created_by: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// The database's clock, for a nullable time column.
fn database_now() -> diesel::expression::SqlLiteral<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>> {
    diesel::dsl::sql("now()")
}

pub async fn insert_link(conn: &mut AsyncPgConnection, practice: PracticeId, new: NewLink<'_>) -> QueryResult<LinkRow> {
    diesel::insert_into(client_links::table)
        .values((
            client_links::practice_id.eq(practice.0),
            client_links::id.eq(new.id),
            client_links::client_id.eq(new.client_id),
            client_links::token_digest.eq(new.token_digest),
            client_links::all_open_assessments.eq(new.all_open_assessments),
            client_links::assessment_ids.eq(new.assessment_ids),
            client_links::all_active_homework.eq(new.all_active_homework),
            client_links::homework_ids.eq(new.homework_ids),
            client_links::language.eq(new.language),
            client_links::created_by.eq(new.created_by),
            client_links::expires_at.eq(new.expires_at),
        ))
        .returning(LinkRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn find_link(conn: &AsyncPgConnection, practice: PracticeId, id: Uuid) -> QueryResult<Option<LinkRow>> {
    client_links::table
        .filter(client_links::practice_id.eq(practice.0))
        .filter(client_links::id.eq(id))
        .select(LinkRow::as_select())
        .first(&mut { conn })
        .await
        .optional()
}

/// Notes a use of the link: the first opening, and the latest use. (A
/// submission's own record tells when it used the link.)
pub async fn use_link(conn: &AsyncPgConnection, practice: PracticeId, id: Uuid) -> QueryResult<()> {
    Prepared::<UseLink, 2>::new([practice.0, id]).execute(&mut { conn }).await?;
    Ok(())
}

struct UseLink;
impl Statement for UseLink {
    const SQL: &'static str = "UPDATE client_links \
        SET first_opened_at = coalesce(first_opened_at, now()), last_used_at = now() \
        WHERE practice_id = $1 AND id = $2";
}

/// The link, locked until the transaction ends: submissions through one link
/// are ordered, so the one that finishes it is unambiguous.
pub async fn lock_link(conn: &mut AsyncPgConnection, practice: PracticeId, id: Uuid) -> QueryResult<Option<LinkRow>> {
    client_links::table
        .filter(client_links::practice_id.eq(practice.0))
        .filter(client_links::id.eq(id))
        .select(LinkRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn list_links(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
    page: PageRequest,
) -> QueryResult<Vec<LinkRow>> {
    let mut query = client_links::table
        .filter(client_links::practice_id.eq(practice.0))
        .filter(client_links::client_id.eq(client_id))
        .select(LinkRow::as_select())
        .order(client_links::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = page.after {
        query = query.filter(client_links::id.gt(after));
    }
    query.load(conn).await
}

/// Revokes the link now; `None` if there is no such link, or it was revoked
/// already (and keeps its time).
pub async fn revoke_link(conn: &mut AsyncPgConnection, practice: PracticeId, id: Uuid) -> QueryResult<Option<LinkRow>> {
    diesel::update(client_links::table)
        .filter(client_links::practice_id.eq(practice.0))
        .filter(client_links::id.eq(id))
        .filter(client_links::revoked_at.is_null())
        .set((client_links::revoked_at.eq(database_now()), client_links::version.eq(client_links::version + 1)))
        .returning(LinkRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// What a submission through a link made.
#[derive(Debug, Clone, Copy)]
pub enum Submitted {
    Assessment(Uuid),
    HomeworkLog { log: Uuid, assignment: Uuid },
}

/// Records what a submission through the link made (dropping an
/// assessment's draft) and reads the link's standing after it, in one
/// statement; run it in the submission's transaction, after the change.
pub async fn record_submission(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    link: &LinkRow,
    submitted: Submitted,
) -> QueryResult<StandingRow> {
    let (practice, client, link) = (practice.0, link.client_id, link.id);
    let mut standing: StandingRow = match submitted {
        Submitted::Assessment(id) => {
            Prepared::<AssessmentSubmitted, 4>::new([practice, client, link, id]).get_result(&mut { conn }).await?
        }
        Submitted::HomeworkLog { log, assignment } => {
            Prepared::<HomeworkLogged, 5>::new([practice, client, link, log, assignment])
                .get_result(&mut { conn })
                .await?
        }
    };
    // A statement reads the rows as they were when it began, so the standing
    // it reads lacks the submission it records.
    match submitted {
        Submitted::Assessment(id) => standing.submitted_assessments.push(id),
        Submitted::HomeworkLog { assignment, .. } if !standing.logged_homework.contains(&assignment) => {
            standing.logged_homework.push(assignment);
        }
        Submitted::HomeworkLog { .. } => {}
    }
    Ok(standing)
}

struct AssessmentSubmitted;
impl Statement for AssessmentSubmitted {
    const SQL: &'static str = concat!(
        "WITH recorded AS (INSERT INTO client_link_submissions (practice_id, link_id, resource_type, resource_id, item_id) \
           VALUES ($1, $3, 'assessment', $4, $4)), \
         dropped AS (DELETE FROM assessment_drafts WHERE practice_id = $1 AND assessment_id = $4) ",
        standing_select!()
    );
}

struct HomeworkLogged;
impl Statement for HomeworkLogged {
    const SQL: &'static str = concat!(
        "WITH recorded AS (INSERT INTO client_link_submissions (practice_id, link_id, resource_type, resource_id, item_id) \
           VALUES ($1, $3, 'homework_log', $4, $5)) ",
        standing_select!()
    );
}

/// What was submitted through each link, oldest first.
pub async fn submissions(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    link_ids: &[Uuid],
) -> QueryResult<Vec<SubmissionRow>> {
    client_link_submissions::table
        .filter(client_link_submissions::practice_id.eq(practice.0))
        .filter(client_link_submissions::link_id.eq_any(link_ids))
        .order((client_link_submissions::submitted_at, client_link_submissions::resource_id))
        .select(SubmissionRow::as_select())
        .load(conn)
        .await
}

/// The client's assessments still assigned, oldest first.
pub async fn open_assessments(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
) -> QueryResult<Vec<Uuid>> {
    assessments::table
        .filter(assessments::practice_id.eq(practice.0))
        .filter(assessments::client_id.eq(client_id))
        .filter(assessments::status.eq("assigned"))
        .order(assessments::id.asc())
        .select(assessments::id)
        .load(conn)
        .await
}

/// The client's active homework assignments, oldest first.
pub async fn active_homework(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
) -> QueryResult<Vec<Uuid>> {
    homework::table
        .filter(homework::practice_id.eq(practice.0))
        .filter(homework::client_id.eq(client_id))
        .filter(homework::status.eq("active"))
        .order(homework::id.asc())
        .select(homework::id)
        .load(conn)
        .await
}

/// Saves (or replaces) the draft answers of an assessment, kept until `expires_at`.
pub async fn save_draft(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    assessment_id: Uuid,
    link_id: Uuid,
    answers: &serde_json::Value,
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    use crate::db::schema::assessment_drafts as drafts;
    diesel::insert_into(drafts::table)
        .values((
            drafts::practice_id.eq(practice.0),
            drafts::assessment_id.eq(assessment_id),
            drafts::link_id.eq(link_id),
            drafts::answers.eq(answers),
            drafts::expires_at.eq(expires_at),
        ))
        .on_conflict((drafts::practice_id, drafts::assessment_id))
        .do_update()
        .set((
            drafts::link_id.eq(link_id),
            drafts::answers.eq(answers),
            drafts::updated_at.eq(diesel::dsl::now),
            drafts::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The draft answers of an assessment, while they are kept.
pub async fn find_draft(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    assessment_id: Uuid,
) -> QueryResult<Option<serde_json::Value>> {
    use crate::db::schema::assessment_drafts as drafts;
    drafts::table
        .filter(drafts::practice_id.eq(practice.0))
        .filter(drafts::assessment_id.eq(assessment_id))
        .filter(drafts::expires_at.gt(diesel::dsl::now))
        .select(drafts::answers)
        .first(&mut { conn })
        .await
        .optional()
}

/// Deletes drafts past their keeping time, across practices (a periodic job,
/// led by one instance); returns how many.
pub async fn purge_expired_drafts(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    use crate::db::schema::assessment_drafts as drafts;
    diesel::delete(drafts::table).filter(drafts::expires_at.le(diesel::dsl::now)).execute(conn).await
}

/// What decides a link's list, read in one round trip: the client's open
/// assessments and active assignments, and what the link already took.
#[derive(Debug, QueryableByName)]
pub struct StandingRow {
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Uuid>)]
    pub open_assessments: Vec<Uuid>,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Uuid>)]
    pub active_homework: Vec<Uuid>,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Uuid>)]
    pub submitted_assessments: Vec<Uuid>,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Uuid>)]
    pub logged_homework: Vec<Uuid>,
}

pub async fn standing(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    link_id: Uuid,
    client_id: Uuid,
) -> QueryResult<StandingRow> {
    Prepared::<Standing, 3>::new([practice.0, client_id, link_id]).get_result(&mut { conn }).await
}

struct Standing;
impl Statement for Standing {
    const SQL: &'static str = standing_select!();
}

/// An assessment with its instrument, in one read: what a form needs to
/// check that it may be shown, to show it, and (instruments never change
/// once used) to score it without reading the instrument again.
pub async fn assessment_form(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    assessment_id: Uuid,
) -> QueryResult<Option<(Uuid, String, crate::instruments::store::InstrumentRow)>> {
    use crate::db::schema::instruments;
    use crate::instruments::store::InstrumentRow;
    assessments::table
        .inner_join(instruments::table)
        .filter(assessments::practice_id.eq(practice.0))
        .filter(assessments::id.eq(assessment_id))
        .select((assessments::client_id, assessments::status, InstrumentRow::as_select()))
        .first(&mut { conn })
        .await
        .optional()
}

/// Finishes the link: its last item was submitted.
pub async fn finish_link(conn: &mut AsyncPgConnection, practice: PracticeId, id: Uuid) -> QueryResult<()> {
    diesel::update(client_links::table)
        .filter(client_links::practice_id.eq(practice.0))
        .filter(client_links::id.eq(id))
        .set((client_links::finished_at.eq(database_now()), client_links::version.eq(client_links::version + 1)))
        .execute(conn)
        .await?;
    Ok(())
}
