//! The FHIR resources of a practice (a bulk export) or of one client (its
//! record's Bundle), read a page at a time and handed to a [`Sink`] one
//! resource at a time. The mapping is the per-resource mappers'; this file
//! only pages and joins what they need.

use std::collections::HashMap;

use diesel_async::AsyncPgConnection;
use futures_util::TryStreamExt;
use serde_json::Value;
use uuid::Uuid;

use super::job::NdjsonFiles;
use super::model::ExportType;
use super::record::Out;
use super::store::{self, Slice};
use super::{ExportError, fhir};
use crate::assessments::model::Assessment;
use crate::audit::{self, model::AuditEvent};
use crate::clients::model::Client;
use crate::homework::model::{Homework, HomeworkLog};
use crate::instruments::definition::InstrumentDefinition;
use crate::practices::PracticeId;

/// Rows per page: what a walker holds at once.
pub const PAGE: i64 = 200;

/// Where resources go: the entries of a record's Bundle, or a bulk
/// export's NDJSON files.
pub enum Sink<'s, 'w> {
    Bundle(&'s mut Out),
    Files(&'s mut NdjsonFiles<'w>),
}

impl Sink<'_, '_> {
    pub async fn put(&mut self, kind: ExportType, resource: &Value) -> Result<(), ExportError> {
        match self {
            Sink::Bundle(out) => out.bundle_entry(&fhir::entry(resource)).await,
            Sink::Files(files) => files.put(kind, resource).await,
        }
    }

    /// How an `Observation` names its `QuestionnaireResponse`: by the
    /// entry's `fullUrl` inside a Bundle, by type and id in a file where
    /// each resource stands alone.
    fn response_reference(&self, id: Uuid) -> String {
        match self {
            Sink::Bundle(_) => format!("urn:uuid:{id}"),
            Sink::Files(_) => format!("QuestionnaireResponse/{id}"),
        }
    }
}

/// Instrument definitions and exercise titles met so far. Bounded by the
/// definitions a practice can use (the built-in ones and its own), not by
/// its clients or their history.
#[derive(Default)]
pub struct Catalog {
    instruments: HashMap<Uuid, InstrumentDefinition>,
    exercises: HashMap<Uuid, String>,
}

impl Catalog {
    async fn load_instruments(
        &mut self,
        conn: &mut AsyncPgConnection,
        practice: PracticeId,
        ids: impl Iterator<Item = Uuid>,
    ) -> Result<(), ExportError> {
        let mut missing: Vec<Uuid> = ids.filter(|id| !self.instruments.contains_key(id)).collect();
        missing.sort();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        for row in store::instruments_by_id(conn, practice, &missing).await? {
            let definition = serde_json::from_value(row.definition).map_err(ExportError::data)?;
            self.instruments.insert(row.id, definition);
        }
        Ok(())
    }

    async fn load_exercises(
        &mut self,
        conn: &mut AsyncPgConnection,
        practice: PracticeId,
        ids: impl Iterator<Item = Uuid>,
    ) -> Result<(), ExportError> {
        let mut missing: Vec<Uuid> = ids.filter(|id| !self.exercises.contains_key(id)).collect();
        missing.sort();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        for (id, title) in store::exercise_titles(conn, practice, &missing).await? {
            self.exercises.insert(id, title);
        }
        Ok(())
    }
}

fn full(rows: usize) -> bool {
    i64::try_from(rows).unwrap_or(i64::MAX) >= PAGE
}

/// Every client as a `Patient`.
pub async fn patients(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    slice: Slice,
    sink: &mut Sink<'_, '_>,
) -> Result<(), ExportError> {
    let mut after = None;
    loop {
        let rows = store::clients_page(conn, practice, slice, after, PAGE).await?;
        let more = full(rows.len());
        after = rows.last().map(|row| row.id);
        for row in rows {
            let client = Client::try_from(row).map_err(ExportError::data)?;
            sink.put(ExportType::Patient, &crate::clients::fhir::patient(&client)).await?;
        }
        if !more {
            return Ok(());
        }
    }
}

/// Every completed assessment as a `QuestionnaireResponse` and its
/// `Observation`s (whichever of the two `responses` and `observations` ask for).
pub async fn assessments(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    slice: Slice,
    (responses, observations): (bool, bool),
    catalog: &mut Catalog,
    sink: &mut Sink<'_, '_>,
) -> Result<(), ExportError> {
    let mut after = None;
    loop {
        let rows = store::assessments_page(conn, practice, slice, true, after, PAGE).await?;
        let more = full(rows.len());
        after = rows.last().map(|(row, _)| row.id);
        catalog.load_instruments(conn, practice, rows.iter().map(|(row, _)| row.instrument_id)).await?;
        for (row, external_id) in rows {
            let assessment = Assessment::try_from(row).map_err(ExportError::data)?;
            let definition = catalog
                .instruments
                .get(&assessment.instrument_id)
                .ok_or_else(|| ExportError::data("an assessment's instrument is missing"))?;
            let reference = sink.response_reference(assessment.id);
            let Some((response, derived)) =
                crate::assessments::fhir::resources(&assessment, definition, external_id.as_deref(), &reference)
            else {
                continue;
            };
            if responses {
                sink.put(ExportType::QuestionnaireResponse, &response).await?;
            }
            if observations {
                for observation in &derived {
                    sink.put(ExportType::Observation, observation).await?;
                }
            }
        }
        if !more {
            return Ok(());
        }
    }
}

/// All of an assignment's logs, oldest first. One assignment's history is
/// held at once: its `Task` carries every log as an output.
async fn all_logs(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    homework_id: Uuid,
) -> Result<Vec<HomeworkLog>, ExportError> {
    let mut logs = Vec::new();
    let mut after = None;
    loop {
        let rows = store::logs_page(conn, practice, homework_id, after, PAGE * 5).await?;
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= PAGE * 5;
        after = rows.last().map(|row| (row.occurred_at, row.id));
        logs.extend(rows.into_iter().map(HomeworkLog::from));
        if !more {
            return Ok(logs);
        }
    }
}

/// Every homework assignment as a `Task`, its logs as outputs.
pub async fn tasks(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    slice: Slice,
    catalog: &mut Catalog,
    sink: &mut Sink<'_, '_>,
) -> Result<(), ExportError> {
    let mut after = None;
    loop {
        let rows = store::homework_page(conn, practice, slice, after, PAGE).await?;
        let more = full(rows.len());
        after = rows.last().map(|(row, _)| row.id);
        catalog.load_exercises(conn, practice, rows.iter().map(|(row, _)| row.exercise_id)).await?;
        for (row, external_id) in rows {
            let homework = Homework::try_from(row).map_err(ExportError::data)?;
            let logs = all_logs(conn, practice, homework.id).await?;
            let title =
                catalog.exercises.get(&homework.exercise_id).cloned().unwrap_or_else(|| homework.exercise_key.clone());
            let task = crate::homework::fhir::task(&homework, &title, external_id.as_deref(), &logs);
            sink.put(ExportType::Task, &task).await?;
        }
        if !more {
            return Ok(());
        }
    }
}

/// Every audit entry of the practice as an `AuditEvent`.
pub async fn audit_events(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    since: Option<chrono::DateTime<chrono::Utc>>,
    sink: &mut Sink<'_, '_>,
) -> Result<(), ExportError> {
    let mut after = None;
    loop {
        let rows = audit::store::export_page(conn, practice, since, after, PAGE).await?;
        let more = full(rows.len());
        after = rows.last().map(|row| row.fields.id);
        for row in rows {
            let event = AuditEvent::try_from(row).map_err(ExportError::data)?;
            sink.put(ExportType::AuditEvent, &audit::fhir::audit_event(&event)).await?;
        }
        if !more {
            return Ok(());
        }
    }
}

/// The audit entries about one client as `AuditEvent`s.
pub async fn client_audit_events(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client: Uuid,
    sink: &mut Sink<'_, '_>,
) -> Result<(), ExportError> {
    let mut rows = audit::store::about_client_stream(conn, practice, client).await?;
    while let Some(row) = rows.try_next().await? {
        let event = AuditEvent::try_from(row).map_err(ExportError::data)?;
        sink.put(ExportType::AuditEvent, &audit::fhir::audit_event(&event)).await?;
    }
    Ok(())
}

/// Every instrument the practice can administer as a `Questionnaire`.
pub async fn questionnaires(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    since: Option<chrono::DateTime<chrono::Utc>>,
    sink: &mut Sink<'_, '_>,
) -> Result<(), ExportError> {
    let mut after = None;
    loop {
        let rows = store::instruments_page(conn, practice, since, after, PAGE).await?;
        let more = full(rows.len());
        after = rows.last().map(|row| row.id);
        for row in rows {
            let definition: InstrumentDefinition = serde_json::from_value(row.definition).map_err(ExportError::data)?;
            let questionnaire = crate::instruments::fhir::questionnaire(row.id, row.version, &definition);
            sink.put(ExportType::Questionnaire, &questionnaire).await?;
        }
        if !more {
            return Ok(());
        }
    }
}
