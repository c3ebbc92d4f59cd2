//! The parts of an analytics page that move with the scans: the headline counts, the two
//! charts, the breakdowns and the bots. Rendered whole into the page and, the same way, into
//! the live fragment `analytics.js` swaps in.

use chrono::DateTime;
use chrono_tz::Tz;
use maud::{html, Markup};

use super::figures::{Figures, Today};
use crate::aggregate::rollup::{day_date, BUCKET_MS};
use crate::aggregate::Dimension;
use crate::dashboard::charts::{bar_chart, line_chart, Chart, Point};

/// Everything that moves, with `extra` (a code's newest scans) after it. `data-total-scans`
/// is what the script announces when it changes.
pub fn live_figures(figures: &Figures, extra: Markup) -> Markup {
    html! {
        div.figures data-total-scans=(figures.totals.total) {
            (headline(figures))
            (daily_chart(figures))
            (today_chart(&figures.today, figures.zone))
            (breakdowns(&figures.breakdowns, figures.totals.total))
            (bots(figures.totals.bots))
            (extra)
        }
    }
}

fn headline(figures: &Figures) -> Markup {
    let totals = figures.totals;
    html! {
        h2 { "Scans" }
        dl.counts.counts-4 {
            div { dt { "Total" } dd #total-scans { (totals.total) } }
            div { dt { "Today" } dd #today-scans { (totals.today) } }
            div { dt { "Yesterday" } dd #yesterday-scans { (totals.yesterday) } }
            div { dt { "Unique visitors today" } dd #unique-visitors { (figures.visitors_today) } }
        }
    }
}

fn daily_chart(figures: &Figures) -> Markup {
    let points: Vec<Point> = figures
        .days
        .iter()
        .map(|day| {
            let date = day_date(day.day);
            Point {
                label: date.format("%b %-d").to_string(),
                tip: format!(
                    "{date}: {} scans, {} unique visitors",
                    day.scans, day.unique_visitors
                ),
                value: day.scans,
            }
        })
        .collect();
    let (first, last) = match (figures.days.first(), figures.days.last()) {
        (Some(first), Some(last)) => (day_date(first.day), day_date(last.day)),
        _ => return html! {},
    };
    let title = format!("Scans per day, {first} to {last}");
    html! {
        h2 { "Scans per day" }
        figure.card {
            (bar_chart(&Chart { id: "daily-chart", title: &title, unit: "scans", points: &points }))
        }
    }
}

fn today_chart(today: &Today, zone: Tz) -> Markup {
    let clock = |ms: i64| {
        DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .with_timezone(&zone)
            .format("%H:%M")
            .to_string()
    };
    let points: Vec<Point> = (today.start..=today.end)
        .step_by(BUCKET_MS as usize)
        .map(|start| {
            let scans = today
                .buckets
                .iter()
                .find(|(at, _)| (start..start + BUCKET_MS).contains(at))
                .map_or(0, |(_, scans)| *scans);
            Point {
                label: clock(start),
                tip: format!("{}: {scans} scans", clock(start)),
                value: scans,
            }
        })
        .collect();
    let title = "Today's scans per 5 minutes";
    html! {
        h2 { "Today, every 5 minutes" }
        figure.card {
            (line_chart(&Chart { id: "today-chart", title, unit: "scans", points: &points }))
        }
    }
}

fn dimension_title(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::Country => "Country",
        Dimension::City => "City",
        Dimension::Device => "Device",
        Dimension::Browser => "Browser",
        Dimension::Os => "Operating system",
        Dimension::Referrer => "Referrer",
    }
}

/// Each table's shares are of `total`, the scans of all values (a table lists the most scanned).
fn breakdowns(tables: &[(Dimension, Vec<(String, u64)>)], total: u64) -> Markup {
    html! {
        h2 { "Breakdowns" }
        p.muted { "All-time scans, the most scanned values first (bots apart)." }
        div.breakdowns {
            @for (dimension, values) in tables {
                (breakdown(*dimension, values, total))
            }
        }
    }
}

fn breakdown(dimension: Dimension, values: &[(String, u64)], total: u64) -> Markup {
    let sum = total.max(values.iter().map(|(_, n)| n).sum());
    let title = dimension_title(dimension);
    html! {
        table.breakdown #{ "breakdown-" (dimension.name()) } {
            caption { (title) }
            thead { tr { th scope="col" { (title) } th scope="col" { "Scans" } th scope="col" { "Share" } } }
            tbody {
                @for (value, scans) in values {
                    @let percent = scans * 100 / sum.max(1);
                    tr {
                        td { @if value.is_empty() { span.muted { "Unknown" } } @else { (value) } }
                        td { (scans) }
                        td.share {
                            svg.share-bar viewBox="0 0 100 8" aria-hidden="true" focusable="false" {
                                rect width=(percent) height="8" {}
                            }
                            " " (percent) "%"
                        }
                    }
                }
                @if values.is_empty() { tr { td colspan="3" { "No scans yet." } } }
            }
        }
    }
}

fn bots(count: u64) -> Markup {
    html! {
        h2 { "Bots and link previews" }
        p.card #bots {
            "Requests from crawlers and link-preview fetchers: "
            strong #bot-scans { (count) }
            ". They are answered, but kept out of every count above."
        }
    }
}
