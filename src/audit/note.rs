//! What a request's audit entry will say, filled in as the request goes: the
//! trail's middleware opens it with the operation, the path's id, the
//! request id and the source address; the `Auth` extractor adds who is
//! calling; the handler adds the client the request concerns (or, for a
//! search, its filters and how many it found). A write records it inside
//! its own transaction ([`crate::audit::record`]); anything else is
//! recorded by the middleware once the answer is known.

use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::operations::{Action, Audited, PathId};
use crate::auth::Principal;
use crate::http::ApiError;
use crate::http::problem::without_nul;
use crate::practices::PracticeId;

/// What a search filter's value is recorded as when the value itself would
/// identify a person.
pub const WITHHELD: &str = "(withheld)";

/// One entry of the trail, as appended.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub practice_id: PracticeId,
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub api_client: String,
    pub actor: Option<String>,
    pub action: Action,
    pub operation: &'static str,
    pub resource_type: &'static str,
    pub resource_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub outcome: u16,
    pub request_id: Option<String>,
    pub source: Option<String>,
    pub query: Option<serde_json::Value>,
    pub result_count: Option<i32>,
}

#[derive(Debug)]
struct Draft {
    audited: Audited,
    occurred_at: DateTime<Utc>,
    principal: Option<Principal>,
    resource_id: Option<Uuid>,
    client_id: Option<Uuid>,
    request_id: Option<String>,
    source: Option<String>,
    query: Option<serde_json::Value>,
    result_count: Option<i32>,
    /// Set when a write recorded the entry in its transaction.
    recorded: bool,
}

/// A request's audit entry in the making. Cheap to clone; a handler that is
/// not audited gets one that records nothing.
#[derive(Debug, Clone, Default)]
pub struct Note(Option<Arc<Mutex<Draft>>>);

/// Where the request came from, for the entry.
pub struct Origin {
    pub request_id: Option<String>,
    pub source: Option<String>,
}

impl Draft {
    /// What the path's `{id}` names, unless the handler said already.
    fn name_path_id(&mut self, path_id: Option<Uuid>) {
        let Some(id) = path_id else { return };
        match self.audited.path_id {
            PathId::Client => {
                self.client_id.get_or_insert(id);
            }
            PathId::Resource => {
                self.resource_id.get_or_insert(id);
                if self.audited.resource_type == "client" {
                    self.client_id.get_or_insert(id);
                }
            }
        }
    }
}

impl Note {
    /// The note of an audited operation; `path_id` is its path's `{id}`.
    pub fn open(audited: Audited, path_id: Option<Uuid>, origin: Origin) -> Self {
        let mut draft = Draft {
            audited,
            occurred_at: Utc::now(),
            principal: None,
            resource_id: None,
            client_id: None,
            request_id: origin.request_id,
            source: origin.source,
            query: None,
            result_count: None,
            recorded: false,
        };
        draft.name_path_id(path_id);
        Self(Some(Arc::new(Mutex::new(draft))))
    }

    /// A note for a request outside the API's operations (a client's form
    /// page), with who acts already known.
    pub fn for_page(audited: Audited, principal: &Principal, resource_id: Uuid, origin: Origin) -> Self {
        let note = Self::open(audited, Some(resource_id), origin);
        note.identify(principal, None);
        note
    }

    /// A note for work no request asked for (a background job acting for
    /// whoever asked for it earlier), about `resource_id`.
    pub fn detached(audited: Audited, principal: &Principal, resource_id: Uuid) -> Self {
        Self::for_page(audited, principal, resource_id, Origin { request_id: None, source: None })
    }

    /// The request's note (one that records nothing when the operation is
    /// not audited).
    pub fn of(req: &HttpRequest) -> Self {
        req.extensions().get::<Note>().cloned().unwrap_or_default()
    }

    fn draft(&self) -> Option<MutexGuard<'_, Draft>> {
        // A poisoned lock still holds a usable draft: nothing here panics
        // while holding it, and losing the entry would be worse.
        self.0.as_ref().map(|draft| draft.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Who is calling, and the id in the routed path (the `Auth` extractor,
    /// once the token checks out).
    pub fn identify(&self, principal: &Principal, path_id: Option<Uuid>) {
        if let Some(mut draft) = self.draft() {
            draft.principal = Some(principal.clone());
            draft.name_path_id(path_id);
        }
    }

    /// The client the request concerns.
    pub fn concerns(&self, client_id: Uuid) {
        if let Some(mut draft) = self.draft() {
            draft.client_id = Some(client_id);
        }
    }

    /// The resource the request made or touched (a create's new id).
    pub fn resource(&self, id: Uuid) {
        if let Some(mut draft) = self.draft() {
            draft.resource_id = Some(id);
        }
    }

    /// A search's filters, from its query string (never its results;
    /// paging parameters are not filters). A `client_id` filter names the
    /// client the search concerns.
    pub fn filters(&self, query_string: &str) {
        let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(query_string) else { return };
        // A caller's query string may carry a NUL, which no text column
        // takes: the entry keeps it as U+FFFD, as error bodies do.
        let filters: serde_json::Map<String, serde_json::Value> = pairs
            .into_iter()
            .filter(|(name, _)| name != "cursor" && name != "limit")
            .map(|(name, value)| {
                // The integrator's own id for a person identifies them
                // outside this service, and the trail outlives an erasure:
                // keep that it was searched by, not what.
                let value = if name == "external_id" { WITHHELD.to_owned() } else { without_nul(&value) };
                (without_nul(&name), serde_json::Value::String(value))
            })
            .collect();
        if let Some(mut draft) = self.draft() {
            if let Some(client) =
                filters.get("client_id").and_then(|v| v.as_str()).and_then(|v| Uuid::parse_str(v).ok())
            {
                draft.client_id = Some(client);
            }
            draft.query = (!filters.is_empty()).then_some(serde_json::Value::Object(filters));
        }
    }

    /// A detail of what a write did that is no clinical content (a legal
    /// hold placed, say), kept in the entry's `query`.
    pub fn detail(&self, name: &str, value: serde_json::Value) {
        if let Some(mut draft) = self.draft() {
            let query = draft.query.get_or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let Some(members) = query.as_object_mut() {
                members.insert(name.to_owned(), value);
            }
        }
    }

    /// How many a search found (its answer's page).
    pub fn found(&self, count: usize) {
        if let Some(mut draft) = self.draft() {
            draft.result_count = Some(i32::try_from(count).unwrap_or(i32::MAX));
        }
    }

    /// Marks the entry as written by a write's transaction.
    pub(super) fn mark_recorded(&self) {
        if let Some(mut draft) = self.draft() {
            draft.recorded = true;
        }
    }

    /// The operation's recording, when it is audited.
    pub fn audited(&self) -> Option<Audited> {
        self.draft().map(|draft| draft.audited)
    }

    /// Whether the caller is known.
    pub fn identified(&self) -> bool {
        self.draft().is_some_and(|draft| draft.principal.is_some())
    }

    /// Whether a write's transaction recorded the entry already.
    pub fn recorded(&self) -> bool {
        self.draft().is_some_and(|draft| draft.recorded)
    }

    /// The entry with `outcome`, once the caller is known (an unknown caller
    /// belongs to no practice's trail).
    pub fn entry(&self, outcome: u16) -> Option<Entry> {
        let draft = self.draft()?;
        let principal = draft.principal.as_ref()?;
        Some(Entry {
            practice_id: principal.practice_id,
            id: Uuid::now_v7(),
            occurred_at: draft.occurred_at,
            // An external issuer's token may name anything.
            api_client: without_nul(&principal.subject),
            actor: principal.actor.as_deref().map(without_nul),
            action: draft.audited.action,
            operation: draft.audited.operation,
            resource_type: draft.audited.resource_type,
            resource_id: draft.resource_id,
            client_id: draft.client_id,
            outcome,
            request_id: draft.request_id.clone(),
            source: draft.source.clone(),
            query: draft.query.clone(),
            result_count: draft.result_count,
        })
    }
}

/// Handlers that are not behind `Auth` (the link routes take a `Principal`)
/// take the note itself.
impl FromRequest for Note {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Note::of(req)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::operations::audited;

    fn principal() -> Principal {
        Principal {
            practice_id: PracticeId(Uuid::from_u128(1)),
            subject: "api-client".to_owned(),
            actor: Some("clinician-7".to_owned()),
            scopes: Vec::new(),
        }
    }

    fn origin() -> Origin {
        Origin { request_id: Some("req-1".to_owned()), source: Some("10.0.0.9".to_owned()) }
    }

    #[test]
    fn a_client_path_names_the_client_and_a_resource_path_the_resource() {
        let id = Uuid::from_u128(9);
        let client = Note::open(audited("get_client").unwrap(), Some(id), origin());
        client.identify(&principal(), None);
        let entry = client.entry(200).unwrap();
        assert_eq!((entry.resource_id, entry.client_id), (Some(id), Some(id)));

        let progress = Note::open(audited("get_client_progress").unwrap(), Some(id), origin());
        progress.identify(&principal(), None);
        let entry = progress.entry(200).unwrap();
        assert_eq!((entry.resource_id, entry.client_id), (None, Some(id)));

        let assessment = Note::open(audited("get_assessment").unwrap(), Some(id), origin());
        assessment.identify(&principal(), None);
        assessment.concerns(Uuid::from_u128(3));
        let entry = assessment.entry(404).unwrap();
        assert_eq!((entry.resource_id, entry.client_id, entry.outcome), (Some(id), Some(Uuid::from_u128(3)), 404));
        assert_eq!((entry.api_client.as_str(), entry.actor.as_deref()), ("api-client", Some("clinician-7")));
        assert_eq!(entry.source.as_deref(), Some("10.0.0.9"));
    }

    #[test]
    fn no_caller_no_entry_and_an_unaudited_note_records_nothing() {
        let note = Note::open(audited("list_clients").unwrap(), None, origin());
        assert!(note.entry(401).is_none(), "an unknown caller belongs to no practice's trail");
        let nothing = Note::default();
        nothing.identify(&principal(), None);
        nothing.concerns(Uuid::nil());
        assert!(nothing.entry(200).is_none() && nothing.audited().is_none() && !nothing.recorded());
    }

    #[test]
    fn a_search_keeps_its_filters_not_its_paging_and_a_client_filter_names_the_client() {
        let client = Uuid::from_u128(42);
        let note = Note::open(audited("list_assessments").unwrap(), None, origin());
        note.identify(&principal(), None);
        note.filters(&format!("status=completed&client_id={client}&limit=10&cursor=AZrd"));
        note.found(3);
        let entry = note.entry(200).unwrap();
        assert_eq!(entry.query, Some(serde_json::json!({"status": "completed", "client_id": client.to_string()})));
        assert_eq!((entry.result_count, entry.client_id), (Some(3), Some(client)));
        note.filters("limit=5");
        assert_eq!(note.entry(200).unwrap().query, None, "paging alone is no filter");
        note.filters("external_id=ehr-881");
        assert_eq!(note.entry(200).unwrap().query, Some(serde_json::json!({"external_id": WITHHELD})));
        note.filters("status=a%00b");
        assert_eq!(note.entry(200).unwrap().query, Some(serde_json::json!({"status": "a\u{FFFD}b"})));
    }

    #[test]
    fn the_routed_id_fills_what_the_handler_left_open() {
        let id = Uuid::from_u128(5);
        let note = Note::open(audited("get_client").unwrap(), None, origin());
        note.identify(&principal(), Some(id));
        let entry = note.entry(200).unwrap();
        assert_eq!((entry.resource_id, entry.client_id), (Some(id), Some(id)));
        let created = Note::open(audited("create_client").unwrap(), None, origin());
        created.identify(&principal(), None);
        created.resource(id);
        assert_eq!(created.entry(201).unwrap().resource_id, Some(id));
    }
}
