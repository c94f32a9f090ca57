//! What a poll of an export answers: the progress text, how long to wait,
//! the manifest of a finished one, and the names of its files. Pure.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::model::{ExportManifest, ExportState, ExportType, ManifestExtension, ManifestFile};
use crate::fhir::FHIR_R4_SPEC;

/// `X-Progress` (and the 202 body's `progress`): where a pending or running
/// export stands. Never 100% before it is done.
pub fn progress_text(state: ExportState, attempts: i32, done: i64, total: Option<i64>) -> String {
    match (state, total) {
        (ExportState::Pending, _) if attempts > 0 => format!("queued to be tried again (attempt {} failed)", attempts),
        (ExportState::Pending, _) => "queued".to_owned(),
        (_, None) => "starting".to_owned(),
        (_, Some(total)) => {
            let percent = if total <= 0 { 0 } else { (done.saturating_mul(100) / total).clamp(0, 99) };
            format!("{percent}% ({done} of {total} resources)")
        }
    }
}

/// `Retry-After` in seconds: soon for an export just started, less often
/// for one that runs long.
pub fn retry_after(created_at: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    if (now - created_at).num_seconds() < 10 { 1 } else { 5 }
}

/// A file's name in its URL: `<Type>-<part>.ndjson`.
pub fn file_name(resource_type: &str, part: i32) -> String {
    format!("{resource_type}-{part}.ndjson")
}

/// The type and part a file name names, if it is one.
pub fn parse_file_name(name: &str) -> Option<(ExportType, i32)> {
    let stem = name.strip_suffix(".ndjson")?;
    let (kind, part) = stem.rsplit_once('-')?;
    if part.starts_with('0') || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part: i32 = part.parse().ok().filter(|p| *p >= 1)?;
    Some((ExportType::parse(kind)?, part))
}

/// One file as the manifest lists it: (type, part, resources).
pub struct Listed {
    pub resource_type: ExportType,
    pub part: i32,
    pub count: i64,
}

/// The Bulk Data manifest of a finished export, with absolute URLs under
/// `public_url`.
pub fn manifest(
    public_url: &str,
    export_id: Uuid,
    request: &str,
    transaction_time: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    files: impl IntoIterator<Item = Listed>,
) -> ExportManifest {
    let output = files
        .into_iter()
        .map(|file| ManifestFile {
            resource_type: file.resource_type,
            url: format!(
                "{public_url}/v1/exports/{export_id}/files/{}",
                file_name(file.resource_type.as_str(), file.part)
            ),
            count: file.count,
        })
        .collect();
    ExportManifest {
        transaction_time,
        request: request.to_owned(),
        requires_access_token: true,
        output,
        error: Vec::new(),
        extension: ManifestExtension { described_by: FHIR_R4_SPEC.to_owned(), expires_at },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn progress_reads_as_a_bounded_percentage() {
        assert_eq!(progress_text(ExportState::Pending, 0, 0, None), "queued");
        assert_eq!(progress_text(ExportState::Pending, 1, 0, None), "queued to be tried again (attempt 1 failed)");
        assert_eq!(progress_text(ExportState::Running, 1, 0, None), "starting");
        assert_eq!(progress_text(ExportState::Running, 1, 250, Some(1000)), "25% (250 of 1000 resources)");
        assert_eq!(progress_text(ExportState::Running, 1, 1000, Some(1000)), "99% (1000 of 1000 resources)");
        assert_eq!(progress_text(ExportState::Running, 1, 0, Some(0)), "0% (0 of 0 resources)");
    }

    #[test]
    fn waits_longer_for_a_long_export() {
        let start = Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).single().unwrap_or_default();
        assert_eq!(retry_after(start, start + chrono::Duration::seconds(3)), 1);
        assert_eq!(retry_after(start, start + chrono::Duration::minutes(3)), 5);
    }

    #[test]
    fn file_names_round_trip_and_refuse_anything_else() {
        assert_eq!(file_name("Observation", 12), "Observation-12.ndjson");
        assert_eq!(parse_file_name("Observation-12.ndjson"), Some((ExportType::Observation, 12)));
        assert_eq!(parse_file_name("QuestionnaireResponse-1.ndjson"), Some((ExportType::QuestionnaireResponse, 1)));
        for bad in [
            "Observation-0.ndjson",
            "Observation-01.ndjson",
            "Observation-1.json",
            "Encounter-1.ndjson",
            "-1.ndjson",
            "Observation-+1.ndjson",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_manifest_has_the_specs_shape() {
        let at = Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).single().unwrap_or_default();
        let id = Uuid::nil();
        let files = [Listed { resource_type: ExportType::Patient, part: 1, count: 3 }];
        let manifest = manifest("https://a.example", id, "https://a.example/v1/exports", at, at, files);
        let json = serde_json::to_value(&manifest).unwrap_or_default();
        assert_eq!(json["transactionTime"], "2026-12-04T09:00:00Z");
        assert_eq!(json["requiresAccessToken"], true);
        assert_eq!(json["error"], serde_json::json!([]));
        assert_eq!(json["output"][0]["type"], "Patient");
        assert_eq!(json["output"][0]["count"], 3);
        assert_eq!(json["output"][0]["url"], format!("https://a.example/v1/exports/{id}/files/Patient-1.ndjson"));
        assert_eq!(json["extension"]["describedBy"], "https://hl7.org/fhir/R4/");
    }
}
