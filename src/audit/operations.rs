//! Which operations the trail records, and as what. One table, read by the
//! recording middleware and written into the OpenAPI document
//! (`x-attune-audit` on each operation), so integrators see what is audited
//! and a probe test can check every listed operation leaves one entry a call.
//!
//! Recorded: every operation that reads or changes a client's data, every
//! change of a credential (API client secrets, webhook endpoints and their
//! signing secrets), and every change to the practice's own catalogue. Not
//! recorded: reading the catalogue (instruments, exercises, norms), which
//! holds no client data; health and the token endpoint.

use serde::{Deserialize, Serialize};

/// What an access did, in the trail's words (IHE BALP's RESTful
/// interactions, plus export and erase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Read,
    Search,
    Update,
    Delete,
    Export,
    Erase,
}

impl Action {
    pub const ALL: [Action; 7] =
        [Action::Create, Action::Read, Action::Search, Action::Update, Action::Delete, Action::Export, Action::Erase];

    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Search => "search",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Export => "export",
            Action::Erase => "erase",
        }
    }

    pub fn parse(value: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|action| action.as_str() == value)
    }

    /// Whether the action only looks: such entries are written by the
    /// trail's batch, not inside a write's transaction.
    pub const fn is_read(self) -> bool {
        matches!(self, Action::Read | Action::Search | Action::Export)
    }
}

/// What the `{id}` in an operation's path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathId {
    /// The resource the entry is about.
    Resource,
    /// The client the entry is about (`/v1/clients/{id}/...`).
    Client,
}

/// How one operation is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audited {
    pub operation: &'static str,
    pub action: Action,
    pub resource_type: &'static str,
    pub path_id: PathId,
}

/// The recording of an operation, by its OpenAPI `operationId`; `None` for
/// operations the trail leaves out (see the module's comment).
pub fn audited(operation: &str) -> Option<Audited> {
    AUDITED.iter().find(|audited| audited.operation == operation).copied()
}

const fn audited_as(operation: &'static str, action: Action, resource_type: &'static str, path_id: PathId) -> Audited {
    Audited { operation, action, resource_type, path_id }
}

use Action::{Create, Delete, Erase, Export, Read, Search, Update};
use PathId::{Client, Resource};

/// Every operation the trail records.
pub const AUDITED: &[Audited] = &[
    audited_as("list_clients", Search, "client", Resource),
    audited_as("create_client", Create, "client", Resource),
    audited_as("get_client", Read, "client", Resource),
    audited_as("update_client", Update, "client", Resource),
    audited_as("archive_client", Delete, "client", Resource),
    audited_as("get_client_progress", Read, "progress", Client),
    audited_as("get_client_progress_chart", Read, "progress", Client),
    audited_as("list_client_recommendations", Read, "recommendation", Client),
    audited_as("list_assessments", Search, "assessment", Resource),
    audited_as("create_assessment", Create, "assessment", Resource),
    audited_as("get_assessment", Read, "assessment", Resource),
    audited_as("get_assessment_fhir", Export, "assessment", Resource),
    audited_as("submit_assessment_responses", Update, "assessment", Resource),
    audited_as("cancel_assessment", Update, "assessment", Resource),
    audited_as("list_homework", Search, "homework", Resource),
    audited_as("create_homework", Create, "homework", Resource),
    audited_as("get_homework", Read, "homework", Resource),
    audited_as("update_homework", Update, "homework", Resource),
    audited_as("list_homework_logs", Search, "homework", Resource),
    audited_as("create_homework_log", Create, "homework", Resource),
    audited_as("get_homework_fhir", Export, "homework", Resource),
    audited_as("list_relationships", Search, "relationship", Resource),
    audited_as("create_relationship", Create, "relationship", Resource),
    audited_as("get_relationship", Read, "relationship", Resource),
    audited_as("delete_relationship", Delete, "relationship", Resource),
    audited_as("get_relationship_profile", Read, "relationship", Resource),
    audited_as("list_client_links", Search, "client_link", Resource),
    audited_as("create_client_link", Create, "client_link", Resource),
    audited_as("get_client_link", Read, "client_link", Resource),
    audited_as("revoke_client_link", Delete, "client_link", Resource),
    audited_as("list_events", Search, "event", Resource),
    audited_as("list_audit_events", Search, "audit_event", Resource),
    audited_as("get_audit_event", Read, "audit_event", Resource),
    audited_as("verify_audit_events", Read, "audit_chain", Resource),
    // The practice's own catalogue: not client data, but changes to what
    // clients are measured with.
    audited_as("register_instrument", Create, "instrument", Resource),
    audited_as("set_local_norms", Update, "instrument", Resource),
    audited_as("delete_local_norms", Delete, "instrument", Resource),
    audited_as("register_exercise", Create, "exercise", Resource),
    // A client's whole record, and the practice's bulk export.
    audited_as("get_client_record", Export, "client", Resource),
    audited_as("start_export", Create, "export", Resource),
    audited_as("get_export", Read, "export", Resource),
    audited_as("get_export_file", Export, "export", Resource),
    audited_as("delete_export", Delete, "export", Resource),
    // Erasure and retention (the erasure itself is the job's, below).
    audited_as("request_client_erasure", Create, "erasure", Client),
    audited_as("get_client_erasure", Read, "erasure", Client),
    audited_as("cancel_client_erasure", Delete, "erasure", Client),
    audited_as("set_retention_policy", Update, "retention_policy", Resource),
    audited_as("preview_retention", Search, "client", Resource),
    // Credentials.
    audited_as("create_api_client", Create, "api_client", Resource),
    audited_as("rotate_api_client_secret", Update, "api_client", Resource),
    audited_as("revoke_api_client", Delete, "api_client", Resource),
    audited_as("create_webhook_endpoint", Create, "webhook_endpoint", Resource),
    audited_as("update_webhook_endpoint", Update, "webhook_endpoint", Resource),
    audited_as("delete_webhook_endpoint", Delete, "webhook_endpoint", Resource),
    audited_as("rotate_webhook_secret", Update, "webhook_endpoint", Resource),
    audited_as("test_webhook_endpoint", Update, "webhook_endpoint", Resource),
    audited_as("redeliver_webhook_events", Export, "webhook_endpoint", Resource),
];

/// A client saving a draft through a link's page (outside the API, so not
/// in the document).
pub const PAGE_SAVE_DRAFT: Audited = audited_as("client_page_save_draft", Update, "assessment", Resource);
/// A client submitting an assessment through a link's page.
pub const PAGE_SUBMIT_ASSESSMENT: Audited = audited_as("client_page_submit_assessment", Update, "assessment", Resource);
/// A client logging homework through a link's page.
pub const PAGE_LOG_HOMEWORK: Audited = audited_as("client_page_log_homework", Create, "homework", Resource);

/// The erasure job executing a due erasure (answered `200` in the trail:
/// no request, so no status of its own).
pub const JOB_ERASE_CLIENT: Audited = audited_as("erasure_job_erase_client", Erase, "client", Resource);
/// The erasure job dissolving a relationship left with one member.
pub const JOB_DISSOLVE_RELATIONSHIP: Audited =
    audited_as("erasure_job_dissolve_relationship", Delete, "relationship", Resource);
/// The erasure job scheduling an erasure the retention policy calls for.
pub const JOB_SCHEDULE_ERASURE: Audited = audited_as("erasure_job_schedule", Create, "erasure", Client);
/// The erasure job cancelling a retention erasure for a client back in care.
pub const JOB_CANCEL_ERASURE: Audited = audited_as("erasure_job_cancel", Delete, "erasure", Client);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operation_is_listed_once_and_the_catalogue_is_not() {
        for (i, entry) in AUDITED.iter().enumerate() {
            assert_eq!(audited(entry.operation), Some(*entry));
            assert!(!AUDITED[..i].iter().any(|e| e.operation == entry.operation), "{} twice", entry.operation);
        }
        assert!(audited("get_instrument").is_none());
        assert!(audited("create_token").is_none());
    }

    #[test]
    fn actions_spell_as_the_trail_stores_them() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
            assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
        }
        assert!(Action::Export.is_read() && !Action::Update.is_read());
    }
}
