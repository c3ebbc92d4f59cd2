//! A bar chart: one bar per point (the scans of a day), on a value axis from zero.

use maud::{html, Markup};

use super::axis::y_of;
use super::{Chart, LEFT, RIGHT, WIDTH};

/// Labels that fit under the bars side by side.
const LABEL_ROOM: usize = 7;

pub fn bar_chart(chart: &Chart) -> Markup {
    let n = chart.points.len().max(1);
    let slot = (WIDTH - LEFT - RIGHT) / n as f64;
    let x_of = |i: usize| LEFT + slot * (i as f64 + 0.5);
    let ticks = chart.ticks();
    let top = ticks.last().copied().unwrap_or(1);
    let floor = y_of(0, top);
    let bars = html! {
        g.bars {
            @for (i, point) in chart.points.iter().enumerate() {
                @let y = y_of(point.value, top);
                rect x=(x_of(i) - slot * 0.4) y=(y) width=(slot * 0.8) height=(floor - y) {
                    title { (point.tip) }
                }
            }
        }
    };
    chart.framed(&ticks, bars, LABEL_ROOM, x_of)
}
