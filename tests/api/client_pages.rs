//! The pages a client link opens, over HTTP as a browser would use them
//! (the browser tests in scripts/check-pages drive a real one). Each
//! security rule of the pages is checked on its own.

use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};

use crate::client_links::{LinkSetup, issue, link_setup};

/// A visitor holding a link's cookie.
pub struct Visitor {
    cookie: String,
}

fn assert_page_headers(headers: &HeaderMap) {
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-robots-tag"], "noindex, nofollow");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let csp = headers["content-security-policy"].to_str().unwrap();
    for rule in ["default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "style-src 'self'"] {
        assert!(csp.contains(rule), "{csp} lacks {rule}");
    }
    assert!(!csp.contains("script-src"), "no script is allowed at all: {csp}");
}

/// Opens the link's URL as a browser would, and keeps the cookie.
pub async fn arrive(s: &LinkSetup, url: &str) -> Visitor {
    let response = s.app.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/l/");
    assert_page_headers(response.headers());
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let token = url.rsplit('/').next().unwrap();
    assert!(set_cookie.starts_with(&format!("attune_link={token}")), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/l"] {
        assert!(set_cookie.contains(attribute), "{set_cookie} lacks {attribute}");
    }
    // Served over http here, so not Secure (a public https URL makes it so).
    assert!(!set_cookie.contains("Secure"));
    Visitor { cookie: format!("attune_link={token}") }
}

impl Visitor {
    pub async fn get(&self, s: &LinkSetup, path: &str) -> reqwest::Response {
        s.app.http.get(s.app.url(path)).header("cookie", &self.cookie).send().await.unwrap()
    }

    pub async fn post(&self, s: &LinkSetup, path: &str, form: &[(String, String)]) -> reqwest::Response {
        s.app
            .http
            .post(s.app.url(path))
            .header("cookie", &self.cookie)
            .header("sec-fetch-site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

/// Text as the template engine escapes it.
fn html_escape(text: &str) -> String {
    text.replace('&', "&#38;").replace('<', "&#60;").replace('>', "&#62;").replace('"', "&#34;").replace('\'', "&#39;")
}

/// The hidden CSRF token of the form on a page.
pub fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub fn answers_form(csrf: &str, action: &str, answers: &[(&str, i64)]) -> Vec<(String, String)> {
    let mut form = vec![("csrf".to_owned(), csrf.to_owned()), ("action".to_owned(), action.to_owned())];
    form.extend(answers.iter().map(|(item, value)| (format!("item.{item}"), value.to_string())));
    form
}

/// The anxious answer set of tests/api/assessments.rs, as radio values.
pub const ANXIOUS: [(&str, i64); 12] = [
    ("ax1", 6),
    ("ax2", 5),
    ("ax3", 2),
    ("ax4", 6),
    ("ax5", 3),
    ("ax6", 5),
    ("av1", 2),
    ("av2", 3),
    ("av3", 6),
    ("av4", 1),
    ("av5", 5),
    ("av6", 2),
];

#[tokio::test]
async fn a_client_saves_a_draft_comes_back_and_submits_answers_scored_as_the_api_scores_them() {
    let s = link_setup().await;
    let issued =
        issue(&s, json!({"client_id": s.client_id, "assessment_ids": [s.assessment_id], "language": "es"})).await;
    let visitor = arrive(&s, issued["url"].as_str().unwrap()).await;

    let list = visitor.get(&s, "/l/").await;
    assert_eq!(list.status(), 200);
    assert_page_headers(list.headers());
    assert_eq!(list.headers()["content-language"], "es");
    let html = list.text().await.unwrap();
    assert!(html.contains("<html lang=\"es\">"));
    assert!(html.contains(&format!("href=\"/l/assessments/{}\"", s.assessment_id)), "{html}");

    let path = format!("/l/assessments/{}", s.assessment_id);
    let form_html = visitor.get(&s, &path).await.text().await.unwrap();
    assert!(form_html.contains("<fieldset") && form_html.contains("<legend>1. "), "items are fieldsets with legends");
    // The link asked for Spanish, and the built-in instrument has it.
    let catalog: Value =
        serde_json::from_str(include_str!("../../catalog/instruments/attachment_lean_short_form.json")).unwrap();
    let spanish = &catalog["translations"]["es"];
    let first_item = html_escape(spanish["items"]["ax1"].as_str().unwrap());
    assert!(form_html.contains(&format!("<legend>1. {first_item}</legend>")), "{form_html}");
    assert!(form_html.contains(&html_escape(spanish["scale_labels"][0]["label"].as_str().unwrap())));
    assert!(!form_html.contains("solo está disponible en su idioma original"), "it is translated");
    assert!(form_html.contains("name=\"item.ax1\""));
    let csrf = csrf_of(&form_html);

    // Half the items, then "finish later": kept, not scored.
    let saved = visitor.post(&s, &path, &answers_form(&csrf, "save", &ANXIOUS[..6])).await;
    assert_eq!(saved.status(), 303);
    assert_eq!(saved.headers()["location"].to_str().unwrap(), format!("{path}?saved=1"));
    let assessment: Value =
        s.app.get(&format!("/v1/assessments/{}", s.assessment_id), &s.token).await.json().await.unwrap();
    assert_eq!(assessment["status"], "assigned");
    let again = visitor.get(&s, &format!("{path}?saved=1")).await.text().await.unwrap();
    assert!(again.contains("role=\"status\""), "the save is announced");
    assert!(again.contains("id=\"item-ax1-6\" name=\"item.ax1\" value=\"6\" checked"), "the draft's answers are kept");
    assert!(!again.contains("name=\"item.av1\" value=\"2\" checked"));

    let submitted = visitor.post(&s, &path, &answers_form(&csrf, "submit", &ANXIOUS)).await;
    assert_eq!(submitted.status(), 303);
    let thanks = submitted.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(thanks, "/l/thanks?sent=assessment&lang=es&done=1");
    assert!(visitor.get(&s, &thanks).await.text().await.unwrap().contains("Gracias"));

    // The same stored result as POST /v1/assessments/{id}/responses: worked in tests/api/assessments.rs.
    let assessment: Value =
        s.app.get(&format!("/v1/assessments/{}", s.assessment_id), &s.token).await.json().await.unwrap();
    assert_eq!(assessment["status"], "completed");
    let scores = &assessment["scores"];
    let anxiety = scores.as_array().unwrap().iter().find(|s| s["key"] == "anxiety").unwrap();
    let avoidance = scores.as_array().unwrap().iter().find(|s| s["key"] == "avoidance").unwrap();
    assert!((anxiety["score"].as_f64().unwrap() - 5.5).abs() < 1e-9, "{assessment}");
    assert!((avoidance["score"].as_f64().unwrap() - 13.0 / 6.0).abs() < 1e-4);
    assert_eq!(assessment["classification"]["label"], "anxious");
    assert_eq!(s.app.count("SELECT count(*) FROM assessment_drafts").await, 0, "the draft goes with the submission");

    let link: Value = s
        .app
        .get(&format!("/v1/client-links/{}", issued["id"].as_str().unwrap()), &s.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(link["state"], "finished", "its only item was submitted");
    assert_eq!(link["submissions"][0]["kind"], "assessment");
    assert_eq!(link["submissions"][0]["resource_id"], s.assessment_id.as_str());
    assert!(link["first_opened_at"].is_string() && link["last_used_at"].is_string());
    let actor = format!("client_link:{}", issued["id"].as_str().unwrap());
    let audited = s
        .app
        .count(&format!(
            "SELECT count(*) FROM audit_events WHERE operation = 'client_page_submit_assessment' AND actor = '{actor}'"
        ))
        .await;
    assert_eq!(audited, 1);
    let completed = format!(
        "SELECT count(*) FROM events WHERE type = 'assessment.completed' AND data->>'assessment_id' = '{}'",
        s.assessment_id
    );
    assert_eq!(s.app.count(&completed).await, 1, "the submission publishes its event, as the API's does");
    // Finished: the link now answers as any link that does not work.
    assert_eq!(s.app.http.get(issued["url"].as_str().unwrap()).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn a_refused_answer_set_is_shown_back_with_the_items_at_fault_and_nothing_lost() {
    let s = link_setup().await;
    let issued = issue(&s, json!({"client_id": s.client_id, "all_open_assessments": true})).await;
    let visitor = arrive(&s, issued["url"].as_str().unwrap()).await;
    let path = format!("/l/assessments/{}", s.assessment_id);
    let csrf = csrf_of(&visitor.get(&s, &path).await.text().await.unwrap());
    // Every anxiety item, no avoidance item: the avoidance subscale cannot be scored.
    let response = visitor.post(&s, &path, &answers_form(&csrf, "submit", &ANXIOUS[..6])).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("role=\"alert\""), "an error summary: {html}");
    assert!(html.contains("href=\"#item-av1-1\""), "the summary links to the item");
    assert!(html.contains("id=\"item-av1-error\">Please choose an answer."), "{html}");
    assert!(html.contains("aria-describedby=\"item-av1-error\""));
    assert!(!html.contains("id=\"item-ax1-error\""), "answered items are not marked");
    assert!(html.contains("name=\"item.ax4\" value=\"6\" checked"), "what was chosen is kept");
    let assessment: Value =
        s.app.get(&format!("/v1/assessments/{}", s.assessment_id), &s.token).await.json().await.unwrap();
    assert_eq!(assessment["status"], "assigned");
}

#[tokio::test]
async fn homework_logged_through_the_form_is_the_apis_log() {
    let s = link_setup().await;
    let issued = issue(&s, json!({"client_id": s.client_id, "homework_ids": [s.homework_id]})).await;
    let visitor = arrive(&s, issued["url"].as_str().unwrap()).await;
    let path = format!("/l/homework/{}", s.homework_id);
    let html = visitor.get(&s, &path).await.text().await.unwrap();
    for control in [
        "<textarea id=\"field-what_i_asked\" name=\"field.what_i_asked\" rows=\"3\" maxlength=\"300\"",
        "type=\"number\" inputmode=\"numeric\" id=\"field-discomfort_before\" name=\"field.discomfort_before\" min=\"0\" max=\"10\"",
        "name=\"field.let_them_do_it_their_way\" value=\"yes\"",
        "name=\"reflection\"",
    ] {
        assert!(html.contains(control), "missing {control}");
    }
    assert!(html.contains("Nothing recorded yet."));
    let csrf = csrf_of(&html);
    let date = (chrono::Utc::now() - chrono::Duration::days(1)).date_naive().to_string();
    let form = |before: &str| {
        vec![
            ("csrf".to_owned(), csrf.clone()),
            ("date".to_owned(), date.clone()),
            ("done".to_owned(), "yes".to_owned()),
            ("field.what_i_asked".to_owned(), "A lift to work".to_owned()),
            ("field.discomfort_before".to_owned(), before.to_owned()),
            ("field.discomfort_after".to_owned(), "3".to_owned()),
            ("field.let_them_do_it_their_way".to_owned(), "yes".to_owned()),
            ("reflection".to_owned(), "Easier than I thought".to_owned()),
        ]
    };
    let refused = visitor.post(&s, &path, &form("11")).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("Please enter a whole number from 0 to 10."), "{html}");
    assert!(html.contains(">Easier than I thought</textarea>"), "the reflection is kept");

    let logged = visitor.post(&s, &path, &form("7")).await;
    assert_eq!(logged.status(), 303);
    assert_eq!(logged.headers()["location"], "/l/thanks?sent=log&lang=en&done=1");
    let logs: Value = s.app.get(&format!("/v1/homework/{}/logs", s.homework_id), &s.token).await.json().await.unwrap();
    let log = &logs["data"][0];
    assert_eq!(log["done"], true);
    assert_eq!(
        log["fields"],
        json!({"what_i_asked": "A lift to work", "discomfort_before": 7, "discomfort_after": 3, "let_them_do_it_their_way": true})
    );
    assert_eq!(log["reflection"], "Easier than I thought");
    assert_eq!(log["occurred_at"].as_str().unwrap(), format!("{date}T12:00:00Z"));
    let link: Value = s
        .app
        .get(&format!("/v1/client-links/{}", issued["id"].as_str().unwrap()), &s.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(link["submissions"][0]["kind"], "homework_log");
    assert_eq!(link["submissions"][0]["item_id"], s.homework_id.as_str());
    let logged = format!(
        "SELECT count(*) FROM events WHERE type = 'homework.logged' AND data->>'log_id' = '{}'",
        log["id"].as_str().unwrap()
    );
    assert_eq!(s.app.count(&logged).await, 1, "the log publishes its event, as the API's does");
}

#[tokio::test]
async fn unknown_expired_revoked_and_finished_links_get_one_and_the_same_page() {
    let s = link_setup().await;
    let expired = issue(&s, json!({"client_id": s.client_id, "all_open_assessments": true})).await;
    s.app
        .count(&format!(
            "WITH u AS (UPDATE client_links SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' \
             WHERE id = '{}' RETURNING 1) SELECT count(*) FROM u",
            expired["id"].as_str().unwrap()
        ))
        .await;
    let revoked = issue(&s, json!({"client_id": s.client_id, "all_open_assessments": true})).await;
    let revoke = s
        .app
        .http
        .delete(s.app.url(&format!("/v1/client-links/{}", revoked["id"].as_str().unwrap())))
        .bearer_auth(&s.token);
    assert_eq!(revoke.send().await.unwrap().status(), 204);
    let valid = revoked["url"].as_str().unwrap();
    let unknown = format!("{}{}", &valid[..valid.len() - 3], if valid.ends_with("AAA") { "BBB" } else { "AAA" });
    let mut bodies = Vec::new();
    for url in [expired["url"].as_str().unwrap(), valid, unknown.as_str(), &s.app.url("/l/not-a-token")] {
        let response = s.app.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 404, "{url}");
        assert_page_headers(response.headers());
        assert!(response.headers().get(SET_COOKIE).is_none(), "no cookie for a link that does not work");
        bodies.push(response.text().await.unwrap());
    }
    assert!(bodies[0].contains("Please contact your practice for a new link."));
    assert!(bodies.iter().all(|b| *b == bodies[0]), "the four answers differ");
    // A cookie of a revoked link opens nothing either.
    let token = valid.rsplit('/').next().unwrap();
    let page = s.app.http.get(s.app.url("/l/")).header("cookie", format!("attune_link={token}")).send().await.unwrap();
    assert_eq!(page.status(), 404);
}

#[tokio::test]
async fn form_posts_need_their_pages_token_and_this_site() {
    let s = link_setup().await;
    let issued =
        issue(&s, json!({"client_id": s.client_id, "all_open_assessments": true, "all_active_homework": true})).await;
    let visitor = arrive(&s, issued["url"].as_str().unwrap()).await;
    let path = format!("/l/assessments/{}", s.assessment_id);
    let csrf = csrf_of(&visitor.get(&s, &path).await.text().await.unwrap());
    let homework_csrf =
        csrf_of(&visitor.get(&s, &format!("/l/homework/{}", s.homework_id)).await.text().await.unwrap());
    assert_ne!(csrf, homework_csrf, "each page has its own token");
    let post = |csrf: String, site: Option<&'static str>, origin: Option<&'static str>| {
        let mut request = s
            .app
            .http
            .post(s.app.url(&path))
            .header("cookie", &visitor.cookie)
            .form(&answers_form(&csrf, "submit", &ANXIOUS));
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    for (label, response) in [
        ("no token", post(String::new(), Some("same-origin"), None).await.unwrap()),
        ("another page's token", post(homework_csrf.clone(), Some("same-origin"), None).await.unwrap()),
        ("a made-up token", post("ab".repeat(32), Some("same-origin"), None).await.unwrap()),
        ("cross-site", post(csrf.clone(), Some("cross-site"), None).await.unwrap()),
        ("same-site but another origin", post(csrf.clone(), Some("same-site"), None).await.unwrap()),
        ("another origin", post(csrf.clone(), None, Some("https://evil.example")).await.unwrap()),
    ] {
        assert_eq!(response.status(), 403, "{label}");
    }
    let assessment: Value =
        s.app.get(&format!("/v1/assessments/{}", s.assessment_id), &s.token).await.json().await.unwrap();
    assert_eq!(assessment["status"], "assigned", "a refused post changed something");
    // The same form from this site goes through.
    assert_eq!(post(csrf, Some("same-origin"), None).await.unwrap().status(), 303);
}

#[tokio::test]
async fn a_link_opened_from_another_site_lands_through_a_same_site_refresh() {
    let s = link_setup().await;
    let issued = issue(&s, json!({"client_id": s.client_id, "all_open_assessments": true})).await;
    let url = issued["url"].as_str().unwrap();
    let response = s.app.http.get(url).header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()[SET_COOKIE].to_str().unwrap().contains("SameSite=Strict"));
    let html = response.text().await.unwrap();
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"0; url=/l/\">"));
    let token = url.rsplit('/').next().unwrap();
    assert!(!html.contains(token), "the page does not repeat the token");
}

#[tokio::test]
async fn guessing_tokens_from_one_address_is_answered_429_while_a_real_link_still_opens() {
    let s = crate::client_links::link_setup_with(|args| {
        args.limits.link_failure_burst = std::num::NonZeroU32::new(3).unwrap()
    })
    .await;
    let issued = issue(&s, json!({"client_id": s.client_id, "all_open_assessments": true})).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let guess = s.app.url(&format!("/l/atl_{}{i}", "A".repeat(85)));
        statuses.push(s.app.http.get(guess).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [404, 404, 404, 429, 429]);
    let limited = s.app.http.get(s.app.url("/l/atl_guess")).send().await.unwrap();
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(s.app.http.get(issued["url"].as_str().unwrap()).send().await.unwrap().status(), 303);
}

#[tokio::test]
async fn another_practices_assessment_is_no_page_of_this_link() {
    let s = link_setup().await;
    let issued = issue(&s, json!({"client_id": s.client_id, "all_open_assessments": true})).await;
    let visitor = arrive(&s, issued["url"].as_str().unwrap()).await;
    // Practice B's own open assessment, named through practice A's link.
    let token_b = s.app.token_b().await;
    let client_b = s.app.create_client(&token_b, json!({"display_name": "B."})).await;
    let instrument = crate::assessments::instrument_id(&s.app, &token_b, "attachment_lean_short_form").await;
    let theirs: Value = s
        .app
        .post_json("/v1/assessments", &token_b, &json!({"client_id": client_b["id"], "instrument_id": instrument}))
        .await
        .json()
        .await
        .unwrap();
    let page = visitor.get(&s, &format!("/l/assessments/{}", theirs["id"].as_str().unwrap())).await;
    assert_eq!(page.status(), 404);
    let homework = visitor.get(&s, &format!("/l/homework/{}", s.homework_id)).await;
    assert_eq!(homework.status(), 404, "the link covers assessments only");
}

#[tokio::test]
async fn access_logs_name_the_route_template_never_the_token_or_what_the_client_wrote() {
    let s = link_setup().await;
    let issued = issue(&s, json!({"client_id": s.client_id, "all_active_homework": true})).await;
    // The service binary itself, logging at INFO to a file, on the same database.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log_path = std::env::temp_dir().join(format!("attune-pages-log-{port}.txt"));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut service = std::process::Command::new(env!("CARGO_BIN_EXE_attune"))
        .arg("serve")
        .env("DATABASE_URL", &s.app.db_url)
        .env("ATTUNE_BIND", format!("127.0.0.1:{port}"))
        .env("ATTUNE_JWT_SECRET", crate::helpers::JWT_SECRET)
        .env("ATTUNE_SKIP_MIGRATIONS", "true")
        .env("ATTUNE_WORKERS", "1")
        .env("RUST_LOG", "info")
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if s.app.http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let token = issued["url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let opened = s.app.http.get(format!("{base}/l/{token}")).send().await.unwrap();
    assert_eq!(opened.status(), 303);
    let cookie = format!("attune_link={token}");
    let path = format!("/l/homework/{}", s.homework_id);
    let html =
        s.app.http.get(format!("{base}{path}")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let reflection = "words-only-the-practice-reads";
    let form = [
        ("csrf", csrf_of(&html)),
        ("date", chrono::Utc::now().date_naive().to_string()),
        ("done", "yes".to_owned()),
        ("field.discomfort_before", "6".to_owned()),
        ("field.discomfort_after", "2".to_owned()),
        ("field.what_i_asked", "asked-for-a-lift".to_owned()),
        ("reflection", reflection.to_owned()),
    ];
    let posted = s
        .app
        .http
        .post(format!("{base}{path}"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 303);
    // SIGTERM: the service drains and flushes its log.
    let _ = std::process::Command::new("kill").arg(service.id().to_string()).status();
    let _ = service.wait();
    let written = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(written.contains("/l/{token}"), "the landing is logged by its route template: {written}");
    assert!(written.contains("/l/homework/{id}"));
    for secret in [token.as_str(), reflection, "asked-for-a-lift"] {
        assert!(!written.contains(secret), "the log holds {secret}");
    }
}

#[tokio::test]
async fn a_questionnaire_without_the_links_language_says_so_and_marks_its_own() {
    let s = link_setup().await;
    let own: Value = s
        .app
        .post_json("/v1/instruments", &s.token, &crate::instruments::custom_definition("own_form"))
        .await
        .json()
        .await
        .unwrap();
    let assessment: Value = s
        .app
        .post_json("/v1/assessments", &s.token, &json!({"client_id": s.client_id, "instrument_id": own["id"]}))
        .await
        .json()
        .await
        .unwrap();
    let issued = issue(&s, json!({"client_id": s.client_id, "all_open_assessments": true, "language": "es"})).await;
    let visitor = arrive(&s, issued["url"].as_str().unwrap()).await;
    let html =
        visitor.get(&s, &format!("/l/assessments/{}", assessment["id"].as_str().unwrap())).await.text().await.unwrap();
    assert!(html.contains("<html lang=\"es\">"));
    assert!(html.contains("Este cuestionario solo está disponible en su idioma original."));
    assert!(html.contains("<legend lang=\"en\">1. "), "its English is marked as English: {html}");
    assert!(html.contains("Enviar mis respuestas"), "the page's own words stay Spanish");
    // The built-in one is Spanish throughout, with nothing marked.
    let builtin = visitor.get(&s, &format!("/l/assessments/{}", s.assessment_id)).await.text().await.unwrap();
    assert!(!builtin.contains("lang=\"en\""));
}
