//! The pages' templates (askama, checked at compile time) and the plain
//! values they show. Everything is escaped by the template engine.

use askama::Template;

use super::text::PageText;

/// A message page: thank-you, closed link, refused form, trouble.
#[derive(Template)]
#[template(path = "client_pages/message.html")]
pub struct MessagePage {
    pub text: &'static PageText,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub back_to: Option<String>,
    /// Where a same-site refresh takes the browser (the landing page).
    pub refresh_to: Option<String>,
}

pub struct ListEntry {
    pub title: String,
    /// The title's language when it is not the page's (else empty).
    pub lang: String,
    pub href: String,
    pub open: bool,
}

#[derive(Template)]
#[template(path = "client_pages/list.html")]
pub struct ListPage {
    pub text: &'static PageText,
    pub title: String,
    pub assessments: Vec<ListEntry>,
    pub homework: Vec<ListEntry>,
}

/// A link in the error summary to the control at fault.
pub struct ErrorLink {
    pub target: String,
    pub label: String,
    pub message: String,
}

pub struct OptionView {
    /// The label's language when it is not the page's (else empty).
    pub lang: String,
    pub dom_id: String,
    pub value: String,
    pub label: String,
    pub checked: bool,
}

pub struct ItemView {
    pub number: usize,
    pub dom_id: String,
    pub control: String,
    pub text: String,
    pub options: Vec<OptionView>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "client_pages/assessment.html")]
pub struct AssessmentPage {
    pub text: &'static PageText,
    pub title: String,
    pub instructions: Vec<String>,
    pub untranslated: bool,
    /// The instrument's language when it is not the page's (else empty).
    pub content_lang: String,
    pub path: String,
    pub csrf: String,
    pub items: Vec<ItemView>,
    pub errors: Vec<ErrorLink>,
    pub status: Option<String>,
}

pub struct FieldView {
    pub dom_id: String,
    pub control: String,
    pub label: String,
    pub required: bool,
    /// `number`, `textarea` or `radio`.
    pub kind: &'static str,
    pub min: i64,
    pub max: i64,
    pub value: String,
    pub options: Vec<OptionView>,
    pub hint: Option<String>,
    pub described_by: Option<String>,
    pub error: Option<String>,
}

pub struct EarlierLog {
    pub date: String,
    pub done: String,
}

#[derive(Template)]
#[template(path = "client_pages/homework.html")]
pub struct HomeworkPage {
    pub text: &'static PageText,
    pub title: String,
    pub summary: String,
    pub instructions: Vec<String>,
    pub untranslated: bool,
    /// The exercise's language when it is not the page's (else empty).
    pub content_lang: String,
    pub path: String,
    pub csrf: String,
    pub date_value: String,
    pub date_min: String,
    pub date_max: String,
    pub date_error: Option<String>,
    pub done_value: String,
    pub done_error: Option<String>,
    pub fields: Vec<FieldView>,
    pub reflection: String,
    pub reflection_error: Option<String>,
    pub earlier: Vec<EarlierLog>,
    pub errors: Vec<ErrorLink>,
    pub status: Option<String>,
}
