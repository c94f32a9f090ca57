//! The progress chart: one subscale's scores over time as SVG, drawn with
//! plotters, with a `<title>` and `<desc>` for screen readers.

use chrono::{DateTime, Duration, Utc};
use plotters::prelude::*;
use quick_xml::escape::escape;

use super::model::SubscaleProgress;
use super::stats::{self, ChangeCategory, ChangeNorms};

const SIZE: (u32, u32) = (800, 420);
const LINE: RGBColor = RGBColor(31, 78, 140);
const IMPROVED: RGBColor = RGBColor(22, 128, 61);
const DETERIORATED: RGBColor = RGBColor(185, 28, 28);
const CUTOFF: RGBColor = RGBColor(190, 110, 0);
/// Band shades, lightest first, cycled when there are more bands.
const BAND_SHADES: [RGBColor; 3] = [RGBColor(226, 236, 246), RGBColor(240, 240, 240), RGBColor(250, 236, 222)];

/// How each administration after the baseline compares with it.
fn reliable_marks(subscale: &SubscaleProgress) -> Vec<Option<ChangeCategory>> {
    let Some(norms) = &subscale.reliable_change.norms else { return vec![None; subscale.series.len()] };
    let change_norms = ChangeNorms { sd: norms.sd, reliability: norms.reliability };
    let baseline = subscale.baseline.score;
    subscale
        .series
        .iter()
        .enumerate()
        .map(|(i, point)| {
            (i > 0)
                .then(|| stats::reliable_change(baseline, point.score, change_norms, subscale.direction, None).category)
                .filter(|category| *category != ChangeCategory::NoReliableChange)
        })
        .collect()
}

/// The sentence a screen reader says for the chart.
fn description(subscale: &SubscaleProgress, marks: &[Option<ChangeCategory>]) -> String {
    let day = |at: DateTime<Utc>| at.format("%Y-%m-%d").to_string();
    let mut text = format!(
        "{} administrations from {} to {}. Baseline {:.2}, latest {:.2}, change {:+.2}.",
        subscale.series.len(),
        day(subscale.baseline.completed_at),
        day(subscale.latest.completed_at),
        subscale.baseline.score,
        subscale.latest.score,
        subscale.change
    );
    match (&subscale.reliable_change.category, &subscale.reliable_change.reason) {
        (Some(category), _) => {
            let category = serde_json::to_value(category).ok().and_then(|v| v.as_str().map(str::to_owned));
            text.push_str(&format!(
                " Reliable change index {:.2}: {}.",
                subscale.reliable_change.rci.unwrap_or_default(),
                category.unwrap_or_default().replace('_', " ")
            ));
        }
        (None, Some(reason)) => text.push_str(&format!(" No reliable change index: {reason}.")),
        (None, None) => {}
    }
    let improved = marks.iter().filter(|m| matches!(m, Some(ChangeCategory::Improved))).count();
    let worse = marks.iter().filter(|m| matches!(m, Some(ChangeCategory::Deteriorated))).count();
    if improved + worse > 0 {
        text.push_str(&format!(
            " Marked: {improved} administrations reliably improved on baseline, {worse} reliably deteriorated."
        ));
    }
    if !subscale.bands.is_empty() {
        let bands: Vec<String> =
            subscale.bands.iter().map(|b| format!("{} {:.2} to {:.2}", b.label, b.min, b.max)).collect();
        text.push_str(&format!(" Shaded bands: {}.", bands.join("; ")));
    }
    text
}

/// Renders the chart for one subscale of `instrument_title`.
pub fn render(instrument_title: &str, subscale: &SubscaleProgress) -> anyhow::Result<String> {
    let title = format!("{instrument_title}: {} over time", subscale.title);
    let marks = reliable_marks(subscale);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let first = subscale.baseline.completed_at;
        let last = subscale.latest.completed_at;
        // A little room either side; a single point gets a week each way.
        let pad = ((last - first) / 20).max(Duration::days(7));
        let (x0, x1) = (first - pad, last + pad);
        let (y0, y1) = y_range(subscale);
        let mut chart = ChartBuilder::on(&root)
            .caption(&title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_error)?;
        for (i, band) in subscale.bands.iter().enumerate() {
            let shade = BAND_SHADES[i % BAND_SHADES.len()];
            chart
                .draw_series(std::iter::once(Rectangle::new([(x0, band.min), (x1, band.max)], shade.filled())))
                .map_err(draw_error)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    band.label.clone(),
                    (x0 + (x1 - x0) / 100, band.max),
                    ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90)),
                )))
                .map_err(draw_error)?;
        }
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(7)
            .light_line_style(WHITE.mix(0.0))
            .x_label_formatter(&|at: &DateTime<Utc>| at.format("%Y-%m-%d").to_string())
            .y_desc("score")
            .draw()
            .map_err(draw_error)?;
        let points: Vec<(DateTime<Utc>, f64)> = subscale.series.iter().map(|p| (p.completed_at, p.score)).collect();
        chart
            .draw_series(LineSeries::new(points.iter().copied(), LINE.stroke_width(2)))
            .map_err(draw_error)?
            .label("score")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], LINE.stroke_width(2)));
        chart.draw_series(points.iter().map(|point| Circle::new(*point, 3, LINE.filled()))).map_err(draw_error)?;
        for (category, color, label) in [
            (ChangeCategory::Improved, IMPROVED, "reliably improved on baseline"),
            (ChangeCategory::Deteriorated, DETERIORATED, "reliably deteriorated from baseline"),
        ] {
            let marked: Vec<(DateTime<Utc>, f64)> =
                points.iter().zip(&marks).filter(|(_, mark)| **mark == Some(category)).map(|(p, _)| *p).collect();
            if marked.is_empty() {
                continue;
            }
            chart
                .draw_series(marked.into_iter().map(|point| TriangleMarker::new(point, 7, color.filled())))
                .map_err(draw_error)?
                .label(label)
                .legend(move |(x, y)| TriangleMarker::new((x + 8, y), 6, color.filled()));
        }
        if let Some(cutoff) = &subscale.reliable_change.cutoff {
            chart
                .draw_series(LineSeries::new([(x0, cutoff.value), (x1, cutoff.value)], CUTOFF.stroke_width(2)))
                .map_err(draw_error)?
                .label("clinical cut-off")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], CUTOFF.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()
            .map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    Ok(accessible(svg, &title, &description(subscale, &marks)))
}

/// The y range: the bands' span and every score, with a margin.
fn y_range(subscale: &SubscaleProgress) -> (f64, f64) {
    let values = subscale.series.iter().map(|p| p.score).chain(subscale.bands.iter().flat_map(|b| [b.min, b.max]));
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let margin = ((high - low) * 0.05).max(0.5);
    // Headroom above the data keeps the legend off the points.
    (low - margin, high + margin + (high - low) * 0.25)
}

/// Puts a title and description first in the SVG and points the image role
/// at them.
fn accessible(svg: String, title: &str, description: &str) -> String {
    // plotters writes the `<svg ...>` opening tag first; extend it in place.
    let Some(open_end) = svg.find('>') else { return svg };
    let (open, rest) = svg.split_at(open_end);
    format!(
        "{open} role=\"img\" aria-labelledby=\"chart-title chart-desc\">\n<title id=\"chart-title\">{}</title>\n\
         <desc id=\"chart-desc\">{}</desc>{}",
        escape(title),
        escape(description),
        &rest[1..]
    )
}

fn draw_error<E: std::error::Error + Send + Sync + 'static>(err: DrawingAreaErrorKind<E>) -> anyhow::Error {
    anyhow::anyhow!("drawing the chart failed: {err}")
}
