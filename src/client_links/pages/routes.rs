//! The client pages under `/l`: the landing that exchanges a link's token
//! for a cookie, the list, one form per assessment and per homework
//! assignment, and the thank-you page. They call the same domain and store
//! functions as the API (`complete_open_assessment`, `record_log`), so a
//! page submission is validated, scored and stored exactly as an API one.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use diesel_async::AsyncPgConnection;
use serde_json::Value;
use uuid::Uuid;

use super::forms;
use super::text::PageText;
use super::views::{
    AssessmentPage, EarlierLog, ErrorLink, FieldView, HomeworkPage, ItemView, ListEntry, ListPage, MessagePage,
    OptionView,
};
use super::visit::{self, Refusal, Visit};
use crate::assessments::routes::complete_open_assessment;
use crate::audit;
use crate::audit::note::{Note, Origin};
use crate::audit::operations::{Audited, PAGE_LOG_HOMEWORK, PAGE_SAVE_DRAFT, PAGE_SUBMIT_ASSESSMENT};
use crate::client_links::coverage::{self, Coverage, Item, Standing};
use crate::client_links::model::LinkState;
use crate::client_links::store::{self, LinkRow, StandingRow, Submitted};
use crate::events::Outbox;
use crate::exercises::definition::{ExerciseDefinition, LogFieldKind};
use crate::homework::routes::{exercise_definition, record_log};
use futures_util::future::try_join;

use crate::db::worker::WorkerConnection;
use crate::http::ApiError;
use crate::http::body::Body;
use crate::http::pagination::PageRequest;
use crate::i18n::Language;
use crate::instruments::definition::InstrumentDefinition;
use crate::instruments::scoring::Answer;
use crate::instruments::store::InstrumentRow;
use crate::practices::PracticeId;
use crate::state::AppState;

const STYLESHEET: &str = include_str!("../../../templates/client_pages/style.css");

/// No script at all, styles and images from the service alone, forms posted
/// only to it, never framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(visit::PATH)
            .wrap(
                DefaultHeaders::new()
                    .add((header::REFERRER_POLICY, "no-referrer"))
                    .add((header::CACHE_CONTROL, "no-store"))
                    .add(("X-Robots-Tag", "noindex, nofollow"))
                    .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::X_FRAME_OPTIONS, "DENY")),
            )
            .route("", web::get().to(to_list))
            .route("/", web::get().to(list))
            .route("/static/style.css", web::get().to(stylesheet))
            .route("/thanks", web::get().to(thanks))
            .route("/assessments/{id}", web::get().to(assessment_form))
            .route("/assessments/{id}", web::post().to(assessment_post))
            .route("/homework/{id}", web::get().to(homework_form))
            .route("/homework/{id}", web::post().to(homework_post))
            .route("/{token}", web::get().to(arrive)),
    );
}

fn render(status: StatusCode, language: Language, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(html) => HttpResponse::build(status)
            .content_type(ContentType::html())
            .insert_header((header::CONTENT_LANGUAGE, language.as_str()))
            .body(html),
        Err(err) => {
            tracing::error!(error = %err, "rendering a client page");
            HttpResponse::InternalServerError().finish()
        }
    }
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}

fn message(
    status: StatusCode,
    language: Language,
    title: &str,
    paragraphs: &[&str],
    back_to: Option<&str>,
) -> HttpResponse {
    let page = MessagePage {
        text: PageText::of(language),
        title: title.to_owned(),
        paragraphs: paragraphs.iter().map(|p| (*p).to_owned()).collect(),
        back_to: back_to.map(str::to_owned),
        refresh_to: None,
    };
    render(status, language, &page)
}

/// The one answer for a link that does not work, whatever the reason.
fn closed(language: Language) -> HttpResponse {
    let text = PageText::of(language);
    message(StatusCode::NOT_FOUND, language, text.closed_title, &[text.closed_body], None)
}

fn refusal(req: &HttpRequest, refusal: Refusal) -> HttpResponse {
    let language = Language::from_request(req);
    let text = PageText::of(language);
    match refusal {
        Refusal::Closed => closed(language),
        Refusal::TooMany(seconds) => {
            let mut response =
                message(StatusCode::TOO_MANY_REQUESTS, language, text.too_many_title, &[text.too_many_body], None);
            if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Refusal::Trouble(err) => trouble(language, &err),
    }
}

fn trouble(language: Language, err: &ApiError) -> HttpResponse {
    use actix_web::ResponseError;
    let status = err.status_code();
    if status.is_server_error() {
        tracing::error!(error = %err, "a client page failed");
    }
    let status = if status.is_server_error() { status } else { StatusCode::INTERNAL_SERVER_ERROR };
    let text = PageText::of(language);
    message(status, language, text.trouble_title, &[text.trouble_body], None)
}

/// A form refused for coming from elsewhere or without its page's token.
fn refused(language: Language) -> HttpResponse {
    let text = PageText::of(language);
    message(StatusCode::FORBIDDEN, language, text.refused_title, &[text.refused_body], Some("/l/"))
}

/// The visit behind the request's cookie.
async fn from_cookie(state: &AppState, req: &HttpRequest) -> Result<Visit, Refusal> {
    let Some(token) = visit::cookie_token(req) else { return Err(Refusal::Closed) };
    visit::open(state, req, &token).await
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLESHEET)
}

async fn to_list() -> HttpResponse {
    see_other("/l/")
}

/// The link's own URL: exchanges the token for a cookie and sends the
/// browser on to a URL without it. Opening a link changes nothing but when
/// it was first opened and last used: mail scanners open links first.
async fn arrive(state: web::Data<AppState>, req: HttpRequest, token: web::Path<String>) -> HttpResponse {
    let visit = match visit::open(&state, &req, &token).await {
        Ok(visit) => visit,
        Err(err) => return refusal(&req, err),
    };
    match state.pool.get().await {
        Ok(conn) => {
            if let Err(err) = store::use_link(&conn, visit.practice, visit.link.id).await {
                return trouble(visit.language, &err.into());
            }
        }
        Err(err) => return trouble(visit.language, &err.into()),
    }
    let cookie = visit::token_cookie(&state, &token, &visit.link);
    // A browser sent here by another site would not send a SameSite=Strict
    // cookie on the redirect; a refresh from this page is same-site, so it
    // does.
    let from_elsewhere =
        matches!(req.headers().get("sec-fetch-site").map(|v| v.to_str()), Some(Ok("cross-site" | "same-site")));
    let mut response = if from_elsewhere {
        let text = PageText::of(visit.language);
        let page = MessagePage {
            text,
            title: text.list_title.to_owned(),
            paragraphs: Vec::new(),
            back_to: None,
            refresh_to: Some("/l/".to_owned()),
        };
        render(StatusCode::OK, visit.language, &page)
    } else {
        see_other("/l/")
    };
    if let Err(err) = response.add_cookie(&cookie) {
        tracing::error!(error = %err, "setting the link cookie");
        return HttpResponse::InternalServerError().finish();
    }
    response
}

/// What the link covers now, read in one place for the list and the checks.
struct Covered {
    assessments: Vec<Item>,
    homework: Vec<Item>,
    active_homework: Vec<Uuid>,
}

async fn covered(conn: &mut AsyncPgConnection, practice: PracticeId, link: &LinkRow) -> Result<Covered, ApiError> {
    let now = store::standing(conn, practice, link.id, link.client_id).await?;
    Ok(Covered::of(link, &now))
}

/// An assessment's instrument, as a form shows and scores it.
type FormInstrument = (InstrumentRow, InstrumentDefinition);

/// The instrument of an assessment this link may show now (read with
/// [`store::assessment_form`]): the client's, still open, and covered. The
/// same rule as [`coverage::assessments`], read from the one row instead of
/// the client's whole list.
fn open_form(
    visit: &Visit,
    id: Uuid,
    form: Option<(Uuid, String, InstrumentRow)>,
) -> Result<Option<FormInstrument>, ApiError> {
    let Some((client_id, status, instrument)) = form else { return Ok(None) };
    let link = &visit.link;
    let covered = link.all_open_assessments || link.assessment_ids.contains(&id);
    if client_id != link.client_id || status != "assigned" || !covered {
        return Ok(None);
    }
    let definition = serde_json::from_value(instrument.definition.clone()).map_err(ApiError::internal)?;
    Ok(Some((instrument, definition)))
}

/// The worker's own connection, for a page's point reads.
fn worker_db(req: &HttpRequest) -> Result<WorkerConnection, ApiError> {
    req.app_data::<WorkerConnection>()
        .cloned()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the worker's connection is not configured")))
}

impl Covered {
    fn of(link: &LinkRow, now: &StandingRow) -> Covered {
        let coverage = Coverage {
            all_open_assessments: link.all_open_assessments,
            assessment_ids: &link.assessment_ids,
            all_active_homework: link.all_active_homework,
            homework_ids: &link.homework_ids,
        };
        let standing = Standing {
            open_assessments: &now.open_assessments,
            active_homework: &now.active_homework,
            submitted_assessments: &now.submitted_assessments,
            logged_homework: &now.logged_homework,
        };
        Covered {
            assessments: coverage::assessments(&coverage, &standing),
            homework: coverage::homework(&coverage, &standing),
            active_homework: now.active_homework.clone(),
        }
    }

    fn all_done(&self) -> bool {
        coverage::nothing_open(&self.assessments, &self.homework)
    }

    /// An assignment the link covers can be logged while it is active, even
    /// after a first log through the link.
    fn loggable_homework(&self, id: Uuid) -> bool {
        self.homework.iter().any(|item| item.id == id) && self.active_homework.contains(&id)
    }
}

async fn exercise_of(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    homework_id: Uuid,
) -> Result<(crate::homework::store::HomeworkRow, ExerciseDefinition), ApiError> {
    let row = crate::homework::store::find_homework(conn, practice, homework_id)
        .await?
        .ok_or(ApiError::NotFound("homework"))?;
    let definition = exercise_definition(conn, practice, row.exercise_id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("an assignment's exercise is missing")))?;
    Ok((row, definition))
}

async fn list(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let visit = match from_cookie(&state, &req).await {
        Ok(visit) => visit,
        Err(err) => return refusal(&req, err),
    };
    match list_page(&state, &visit).await {
        Ok(page) => render(StatusCode::OK, visit.language, &page),
        Err(err) => trouble(visit.language, &err),
    }
}

async fn list_page(state: &AppState, visit: &Visit) -> Result<ListPage, ApiError> {
    let mut conn = state.pool.get().await?;
    let covered = covered(&mut conn, visit.practice, &visit.link).await?;
    let mut assessments = Vec::new();
    for item in &covered.assessments {
        let Some((_, _, instrument)) = store::assessment_form(&conn, visit.practice, item.id).await? else {
            return Err(ApiError::NotFound("assessment"));
        };
        let definition: InstrumentDefinition =
            serde_json::from_value(instrument.definition).map_err(ApiError::internal)?;
        let lang = other_language(definition.speaks(visit.language));
        let definition = definition.localized(visit.language);
        assessments.push(ListEntry {
            title: definition.title,
            lang,
            href: format!("/l/assessments/{}", item.id),
            open: item.open,
        });
    }
    let mut homework = Vec::new();
    for item in &covered.homework {
        let (_, definition) = exercise_of(&mut conn, visit.practice, item.id).await?;
        let lang = other_language(definition.speaks(visit.language));
        let definition = definition.localized(visit.language);
        homework.push(ListEntry {
            title: definition.title,
            lang,
            href: format!("/l/homework/{}", item.id),
            open: item.open,
        });
    }
    Ok(ListPage {
        text: PageText::of(visit.language),
        title: PageText::of(visit.language).list_title.to_owned(),
        assessments,
        homework,
    })
}

/// The `lang` of text a definition shows in its own language on a page in
/// another: its own (English), or nothing when it speaks the page's.
fn other_language(speaks_page_language: bool) -> String {
    if speaks_page_language { String::new() } else { Language::DEFAULT.as_str().to_owned() }
}

#[derive(serde::Deserialize)]
struct ThanksQuery {
    sent: Option<String>,
    lang: Option<String>,
    done: Option<u8>,
}

/// Shown after a submission; it holds nothing of the client's, so it needs
/// no working link (the last submission finishes it).
async fn thanks(req: HttpRequest, query: web::Query<ThanksQuery>) -> HttpResponse {
    let language = query.lang.as_deref().and_then(Language::parse).unwrap_or_else(|| Language::from_request(&req));
    let text = PageText::of(language);
    let first = if query.sent.as_deref() == Some("log") { text.thanks_log } else { text.thanks_sent };
    if query.done == Some(1) {
        message(StatusCode::OK, language, text.thanks_title, &[first, text.thanks_all_done], None)
    } else {
        message(StatusCode::OK, language, text.thanks_title, &[first], Some("/l/"))
    }
}

fn thanks_location(sent: &str, language: Language, finished: bool) -> String {
    format!("/l/thanks?sent={sent}&lang={}{}", language.as_str(), if finished { "&done=1" } else { "" })
}

// ---- assessments ----

#[derive(serde::Deserialize)]
struct FormQuery {
    saved: Option<u8>,
}

async fn assessment_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    query: web::Query<FormQuery>,
) -> HttpResponse {
    let visit = match from_cookie(&state, &req).await {
        Ok(visit) => visit,
        Err(err) => return refusal(&req, err),
    };
    let id = id.into_inner();
    // The form and its draft, pipelined on the worker's connection.
    let loaded = async {
        let practice = visit.practice;
        let (form, draft) = worker_db(&req)?
            .run(async |conn| {
                try_join(store::assessment_form(conn, practice, id), store::find_draft(conn, practice, id)).await
            })
            .await?;
        Ok::<_, ApiError>(open_form(&visit, id, form)?.map(|(_, definition)| (definition, draft)))
    }
    .await;
    match loaded {
        Ok(Some((definition, draft))) => {
            let typed = draft_values(draft.as_ref());
            let text = PageText::of(visit.language);
            let status = (query.saved == Some(1)).then(|| text.saved_status.to_owned());
            let page = assessment_page(&visit, id, &definition, &typed, &HashMap::new(), status);
            render(StatusCode::OK, visit.language, &page)
        }
        Ok(None) => closed(visit.language),
        Err(err) => trouble(visit.language, &err),
    }
}

/// A draft's answers as the form's values.
fn draft_values(draft: Option<&Value>) -> HashMap<String, String> {
    let answers: Vec<Answer> = draft.and_then(|d| serde_json::from_value(d.clone()).ok()).unwrap_or_default();
    answers.into_iter().map(|a| (a.item_id, a.value.to_string())).collect()
}

fn assessment_page(
    visit: &Visit,
    id: Uuid,
    definition: &InstrumentDefinition,
    typed: &HashMap<String, String>,
    errors: &HashMap<String, String>,
    status: Option<String>,
) -> AssessmentPage {
    let text = PageText::of(visit.language);
    let path = format!("/l/assessments/{id}");
    let untranslated = !definition.speaks(visit.language);
    let content_lang = other_language(!untranslated);
    let definition = &definition.localized(visit.language);
    let scale = &definition.scale;
    let items: Vec<ItemView> = definition
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let dom_id = format!("item-{}", item.id);
            let options = (scale.min..=scale.max)
                .map(|value| {
                    let label = scale.labels.iter().find(|l| l.value == value).map(|l| l.label.as_str());
                    OptionView {
                        lang: if label.is_some() { content_lang.clone() } else { String::new() },
                        dom_id: format!("{dom_id}-{value}"),
                        value: value.to_string(),
                        label: label.map_or_else(|| value.to_string(), |l| format!("{value} · {l}")),
                        checked: typed.get(&item.id).is_some_and(|v| *v == value.to_string()),
                    }
                })
                .collect();
            ItemView {
                number: i + 1,
                control: forms::item_control(&item.id),
                text: item.text.clone(),
                error: errors.get(&item.id).cloned(),
                options,
                dom_id,
            }
        })
        .collect();
    let error_links: Vec<ErrorLink> = items
        .iter()
        .filter_map(|item| {
            item.error.as_ref().map(|message| ErrorLink {
                target: item.options.first().map_or_else(|| item.dom_id.clone(), |o| o.dom_id.clone()),
                label: PageText::fill(text.question_label, &[("n", &item.number.to_string())]),
                message: message.clone(),
            })
        })
        .collect();
    let title = if error_links.is_empty() {
        definition.title.clone()
    } else {
        format!("{}{}", text.error_title_prefix, definition.title)
    };
    AssessmentPage {
        text,
        title,
        // The description is for the clinician; the client reads the instructions.
        instructions: definition.instructions.iter().cloned().collect(),
        untranslated,
        content_lang,
        csrf: visit.csrf_token(&path),
        path,
        items,
        errors: error_links,
        status,
    }
}

/// What every form post must pass before it is read: this site, a working
/// link, and the page's own CSRF token. Refusals come back as the page to show.
async fn admit_form(
    state: &AppState,
    req: &HttpRequest,
    path: &str,
    body: &[u8],
) -> Result<(Visit, HashMap<String, String>), HttpResponse> {
    if visit::cross_site(state, req) {
        return Err(refused(Language::from_request(req)));
    }
    let visit = from_cookie(state, req).await.map_err(|err| refusal(req, err))?;
    match forms::pairs(body) {
        Some(form) if form.get("csrf").is_some_and(|sent| visit.csrf_matches(path, sent)) => Ok((visit, form)),
        _ => Err(refused(visit.language)),
    }
}

async fn assessment_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    Body(body): Body,
) -> HttpResponse {
    let id = id.into_inner();
    let path = format!("/l/assessments/{id}");
    let (visit, form) = match admit_form(&state, &req, &path, &body).await {
        Ok(admitted) => admitted,
        Err(page) => return page,
    };
    // Shared with the submission's transaction, which must own what it uses.
    let instrument = match load_open_assessment(&req, &visit, id).await {
        Ok(Some(instrument)) => Arc::new(instrument),
        Ok(None) => return closed(visit.language),
        Err(err) => return trouble(visit.language, &err),
    };
    let definition = &instrument.1;
    let (answers, typed) = forms::answers(definition, &form);
    let answers: Arc<[Answer]> = answers.into();
    if form.get("action").map(String::as_str) == Some("save") {
        return match save_draft(&state, &req, &visit, id, &answers).await {
            Ok(()) => see_other(&format!("{path}?saved=1")),
            Err(err) => trouble(visit.language, &err),
        };
    }
    match submit_answers(&state, &req, &visit, id, Arc::clone(&answers), Arc::clone(&instrument)).await {
        Ok(finished) => see_other(&thanks_location("assessment", visit.language, finished)),
        Err(ApiError::Validation(errors)) => {
            let text = PageText::of(visit.language);
            let marked = forms::item_errors(definition, &answers, &errors, text);
            let page = assessment_page(&visit, id, definition, &typed, &marked, None);
            render(StatusCode::UNPROCESSABLE_ENTITY, visit.language, &page)
        }
        // Completed or cancelled meanwhile (another tab, the practice).
        Err(ApiError::Conflict { .. }) => see_other("/l/"),
        Err(ApiError::NotFound(_)) => closed(visit.language),
        Err(err) => trouble(visit.language, &err),
    }
}

async fn load_open_assessment(req: &HttpRequest, visit: &Visit, id: Uuid) -> Result<Option<FormInstrument>, ApiError> {
    let practice = visit.practice;
    let form = worker_db(req)?.run(async |conn| store::assessment_form(conn, practice, id).await).await?;
    open_form(visit, id, form)
}

/// Who and where a page's audit entry names.
fn origin(state: &AppState, req: &HttpRequest) -> Origin {
    let source = crate::rate_limits::source_address(req, state.settings.trusted_proxy_hops).map(|ip| ip.to_string());
    Origin { request_id: crate::http::request_id::current(), source }
}

async fn save_draft(
    state: &AppState,
    req: &HttpRequest,
    visit: &Visit,
    id: Uuid,
    answers: &[Answer],
) -> Result<(), ApiError> {
    let principal = visit.principal();
    let entry = Note::for_page(PAGE_SAVE_DRAFT, &principal, id, origin(state, req));
    entry.concerns(visit.link.client_id);
    let (practice, link_id, expires_at) = (visit.practice, visit.link.id, visit.link.expires_at);
    let kept: Vec<&Answer> = answers.iter().filter(|a| a.value != i64::MIN).collect();
    let draft = serde_json::to_value(kept).map_err(ApiError::internal)?;
    crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            store::save_draft(conn, practice, id, link_id, &draft, expires_at).await?;
            store::use_link(conn, practice, link_id).await?;
            audit::record(conn, &entry, StatusCode::SEE_OTHER).await?;
            Ok(())
        })
    })
    .await
}

/// Locks the link, checks it still works, and runs `submit` with it (which
/// answers what it made and the events it publishes); then records what was
/// submitted, finishes the link if nothing is left, and records the
/// submission in the audit trail as `operation` with the page's answer
/// (303), its events with it. Returns whether it finished.
async fn through_link<F>(
    state: &AppState,
    req: &HttpRequest,
    visit: &Visit,
    operation: Audited,
    submit: F,
) -> Result<bool, ApiError>
where
    F: for<'r> FnOnce(
            &'r mut AsyncPgConnection,
            crate::auth::Principal,
        ) -> futures_util::future::BoxFuture<'r, Result<(Submitted, Outbox), ApiError>>
        + Send
        + 'static,
{
    let principal = visit.principal();
    let (practice, link_id, client_id) = (visit.practice, visit.link.id, visit.link.client_id);
    let origin = origin(state, req);
    crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            // The submission's own record says when the link was last used.
            let link = store::lock_link(conn, practice, link_id).await?.ok_or(ApiError::NotFound("client link"))?;
            if coverage::state(link.revoked_at, link.finished_at, link.expires_at, Utc::now()) != LinkState::Active {
                return Err(ApiError::NotFound("client link"));
            }
            let entry_principal = principal.clone();
            let (submitted, events) = submit(conn, principal).await?;
            let now = store::record_submission(conn, practice, &link, submitted).await?;
            let finished = Covered::of(&link, &now).all_done();
            if finished {
                store::finish_link(conn, practice, link_id).await?;
            }
            // The thing the client worked on: the assessment, or the assignment logged.
            let resource_id = match submitted {
                Submitted::Assessment(id) | Submitted::HomeworkLog { assignment: id, .. } => id,
            };
            let entry = Note::for_page(operation, &entry_principal, resource_id, origin);
            entry.concerns(client_id);
            audit::record_with(conn, &entry, StatusCode::SEE_OTHER, events).await?;
            Ok(finished)
        })
    })
    .await
}

async fn submit_answers(
    state: &AppState,
    req: &HttpRequest,
    visit: &Visit,
    id: Uuid,
    answers: Arc<[Answer]>,
    instrument: Arc<FormInstrument>,
) -> Result<bool, ApiError> {
    through_link(state, req, visit, PAGE_SUBMIT_ASSESSMENT, move |conn, principal| {
        Box::pin(async move {
            let mut events = Outbox::new(principal.practice_id);
            complete_open_assessment(conn, &principal, id, &answers, None, Some(&instrument), &mut events).await?;
            Ok((Submitted::Assessment(id), events))
        })
    })
    .await
}

// ---- homework ----

async fn homework_form(state: web::Data<AppState>, req: HttpRequest, id: web::Path<Uuid>) -> HttpResponse {
    let visit = match from_cookie(&state, &req).await {
        Ok(visit) => visit,
        Err(err) => return refusal(&req, err),
    };
    let id = id.into_inner();
    match load_homework(&state, &visit, id).await {
        Ok(Some(loaded)) => {
            let today = Utc::now().date_naive().to_string();
            let typed = HashMap::from([("date".to_owned(), today)]);
            let page = homework_page(&visit, id, &loaded, &typed, &HashMap::new());
            render(StatusCode::OK, visit.language, &page)
        }
        Ok(None) => closed(visit.language),
        Err(err) => trouble(visit.language, &err),
    }
}

struct LoadedHomework {
    row: crate::homework::store::HomeworkRow,
    definition: ExerciseDefinition,
    earlier: Vec<EarlierLog>,
}

/// The assignment, its exercise and the client's latest logs of it, when
/// the link covers it and it can be logged.
async fn load_homework(state: &AppState, visit: &Visit, id: Uuid) -> Result<Option<LoadedHomework>, ApiError> {
    let mut conn = state.pool.get().await?;
    if !covered(&mut conn, visit.practice, &visit.link).await?.loggable_homework(id) {
        return Ok(None);
    }
    let (row, definition) = exercise_of(&mut conn, visit.practice, id).await?;
    let page = PageRequest::new(Some(200), None)?;
    let logs = crate::homework::store::list_logs(&mut conn, visit.practice, id, None, None, page).await?;
    let text = PageText::of(visit.language);
    let earlier = logs
        .iter()
        .rev()
        .take(10)
        .map(|log| EarlierLog {
            date: log.occurred_at.date_naive().to_string(),
            done: if log.done { text.yes } else { text.no }.to_owned(),
        })
        .collect();
    Ok(Some(LoadedHomework { row, definition, earlier }))
}

fn homework_page(
    visit: &Visit,
    id: Uuid,
    loaded: &LoadedHomework,
    typed: &HashMap<String, String>,
    errors: &HashMap<String, String>,
) -> HomeworkPage {
    let text = PageText::of(visit.language);
    let path = format!("/l/homework/{id}");
    let value = |control: &str| typed.get(control).cloned().unwrap_or_default();
    let untranslated = !loaded.definition.speaks(visit.language);
    let content_lang = other_language(!untranslated);
    let shown = loaded.definition.localized(visit.language);
    let fields: Vec<FieldView> = shown
        .log_fields
        .iter()
        .map(|field| {
            let control = forms::field_control(&field.key);
            let dom_id = format!("field-{}", field.key);
            let current = value(&control);
            let radio = |choices: Vec<(String, String)>, lang: &str| -> Vec<OptionView> {
                choices
                    .into_iter()
                    .enumerate()
                    .map(|(i, (value, label))| OptionView {
                        lang: lang.to_owned(),
                        dom_id: format!("{dom_id}-{i}"),
                        checked: current == value,
                        value,
                        label,
                    })
                    .collect()
            };
            let (kind, min, max, options, hint) = match &field.kind {
                // The label states the range; min and max bound the control.
                LogFieldKind::Integer { min, max } => ("number", *min, *max, Vec::new(), None),
                LogFieldKind::Minutes { max } => {
                    ("number", 0, i64::from(*max), Vec::new(), Some(text.minutes_unit.to_owned()))
                }
                LogFieldKind::Text { max_length } => (
                    "textarea",
                    0,
                    i64::from(*max_length),
                    Vec::new(),
                    Some(PageText::fill(text.characters_at_most, &[("max", &max_length.to_string())])),
                ),
                LogFieldKind::Boolean => (
                    "radio",
                    0,
                    0,
                    radio(vec![("yes".to_owned(), text.yes.to_owned()), ("no".to_owned(), text.no.to_owned())], ""),
                    None,
                ),
                LogFieldKind::Choice { .. } => {
                    ("radio", 0, 0, radio(loaded.definition.option_labels(visit.language, field), &content_lang), None)
                }
            };
            let error = errors.get(&control).cloned();
            let described_by =
                [hint.as_ref().map(|_| format!("{dom_id}-hint")), error.as_ref().map(|_| format!("{dom_id}-error"))]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
            FieldView {
                dom_id,
                control,
                label: field.label.clone(),
                required: field.required,
                kind,
                min,
                max,
                value: current.clone(),
                options,
                hint,
                described_by: (!described_by.is_empty()).then_some(described_by),
                error,
            }
        })
        .collect();
    let mut error_links = Vec::new();
    let mut link_to = |target: String, label: &str, control: &str| {
        if let Some(message) = errors.get(control) {
            error_links.push(ErrorLink { target, label: label.to_owned(), message: message.clone() });
        }
    };
    link_to("date".to_owned(), text.log_date, "date");
    link_to("done-yes".to_owned(), text.did_it_legend, "done");
    for field in &fields {
        let target = field.options.first().map_or_else(|| field.dom_id.clone(), |o| o.dom_id.clone());
        link_to(target, &field.label, &field.control);
    }
    link_to("reflection".to_owned(), text.reflection_label, "reflection");
    let title = if error_links.is_empty() {
        shown.title.clone()
    } else {
        format!("{}{}", text.error_title_prefix, shown.title)
    };
    HomeworkPage {
        text,
        title,
        summary: shown.summary.clone(),
        instructions: shown.instructions.clone(),
        untranslated,
        content_lang,
        csrf: visit.csrf_token(&path),
        path,
        date_value: value("date"),
        date_min: loaded.row.starts_on.to_string(),
        // The browser's today can be UTC's tomorrow east of Greenwich; a
        // date of today or later is logged as now.
        date_max: (Utc::now() + chrono::Duration::days(1)).date_naive().to_string(),
        date_error: errors.get("date").cloned(),
        done_value: value("done"),
        done_error: errors.get("done").cloned(),
        fields,
        reflection: value("reflection"),
        reflection_error: errors.get("reflection").cloned(),
        earlier: loaded.earlier.iter().map(|l| EarlierLog { date: l.date.clone(), done: l.done.clone() }).collect(),
        errors: error_links,
        status: None,
    }
}

async fn homework_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    Body(body): Body,
) -> HttpResponse {
    let id = id.into_inner();
    let path = format!("/l/homework/{id}");
    let (visit, form) = match admit_form(&state, &req, &path, &body).await {
        Ok(admitted) => admitted,
        Err(page) => return page,
    };
    let loaded = match load_homework(&state, &visit, id).await {
        Ok(Some(loaded)) => loaded,
        Ok(None) => return closed(visit.language),
        Err(err) => return trouble(visit.language, &err),
    };
    let text = PageText::of(visit.language);
    let fields = &loaded.definition.log_fields;
    let show_errors = |typed: &HashMap<String, String>, errors: &[crate::http::FieldError]| {
        let words = forms::log_errors(fields, errors, loaded.row.starts_on, text);
        let page = homework_page(&visit, id, &loaded, typed, &words);
        render(StatusCode::UNPROCESSABLE_ENTITY, visit.language, &page)
    };
    let read = match forms::log(fields, &form, Utc::now()) {
        Ok(read) => read,
        Err(error) => {
            let typed: HashMap<String, String> =
                form.iter().filter(|(k, _)| k.as_str() != "csrf").map(|(k, v)| (k.clone(), v.clone())).collect();
            return show_errors(&typed, &[error]);
        }
    };
    let input = read.input;
    let result = through_link(&state, &req, &visit, PAGE_LOG_HOMEWORK, move |conn, principal| {
        Box::pin(async move {
            let mut events = Outbox::new(principal.practice_id);
            let (log, _) = record_log(conn, &principal, id, &input, &mut events).await?;
            Ok((Submitted::HomeworkLog { log: log.id, assignment: id }, events))
        })
    })
    .await;
    match result {
        Ok(finished) => see_other(&thanks_location("log", visit.language, finished)),
        Err(ApiError::Validation(errors)) => show_errors(&read.typed, &errors),
        Err(ApiError::Conflict { .. }) => see_other("/l/"),
        Err(ApiError::NotFound(_)) => closed(visit.language),
        Err(err) => trouble(visit.language, &err),
    }
}
