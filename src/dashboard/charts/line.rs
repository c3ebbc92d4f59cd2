//! A line chart: the points joined in order (today's 5-minute buckets), a dot on each non-zero
//! one carrying its tooltip.

use maud::{html, Markup};

use super::axis::y_of;
use super::{Chart, LEFT, RIGHT, WIDTH};

/// Labels under the line: of a day's 288 buckets, every 6 hours.
const LABEL_ROOM: usize = 4;

pub fn line_chart(chart: &Chart) -> Markup {
    let last = chart.points.len().saturating_sub(1).max(1);
    let x_of = |i: usize| LEFT + (WIDTH - LEFT - RIGHT) * i as f64 / last as f64;
    let ticks = chart.ticks();
    let top = ticks.last().copied().unwrap_or(1);
    let path: Vec<String> = chart
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x_of(i), y_of(p.value, top)))
        .collect();
    let line = html! {
        polyline.line points=(path.join(" ")) {}
        g.dots {
            @for (i, point) in chart.points.iter().enumerate().filter(|(_, p)| p.value > 0) {
                circle cx=(x_of(i)) cy=(y_of(point.value, top)) r="3" { title { (point.tip) } }
            }
        }
    };
    chart.framed(&ticks, line, LABEL_ROOM, x_of)
}
