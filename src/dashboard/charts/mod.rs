//! Charts drawn on the server as inline SVG: no script library, nothing for the CSP to allow.
//! Each chart is an `<svg role="img">` named by its `<title>` and described by its `<desc>` (what
//! a screen reader says: the span, the sum and the busiest point), with a `<title>` on every bar
//! or point for a pointer's tooltip. Colours come from the stylesheet (classes), never from a
//! style attribute, which the CSP refuses.

mod axis;
mod bars;
mod line;

use maud::{html, Markup};

pub use bars::bar_chart;
pub use line::line_chart;

/// One value of a chart: its axis label (shown under the axis when there is room) and the
/// words its tooltip says.
pub struct Point {
    pub label: String,
    pub tip: String,
    pub value: u64,
}

/// What every chart has: an id (for its title and description), a title and the points.
pub struct Chart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    /// The unit the description counts in ("scans").
    pub unit: &'a str,
    pub points: &'a [Point],
}

impl Chart<'_> {
    pub fn total(&self) -> u64 {
        self.points.iter().map(|p| p.value).sum()
    }

    /// The value axis's round ticks, from zero to at least the highest point.
    fn ticks(&self) -> Vec<u64> {
        axis::ticks(self.points.iter().map(|p| p.value).max().unwrap_or(0))
    }

    /// The svg every chart is: its title and description, the value axis of `ticks`, `marks`
    /// (the bars or the line) and, at `x_of`, the labels that fit `room`.
    fn framed(
        &self,
        ticks: &[u64],
        marks: Markup,
        room: usize,
        x_of: impl Fn(usize) -> f64,
    ) -> Markup {
        html! {
            svg.chart #(self.id) role="img" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) }
                aria-labelledby={ (self.id) "-title " (self.id) "-desc" } data-total=(self.total()) {
                title #{ (self.id) "-title" } { (self.title) }
                desc #{ (self.id) "-desc" } { (self.description()) }
                (axis::value_axis(ticks))
                (marks)
                (axis::label_axis(self.points, room, x_of))
            }
        }
    }

    /// The text alternative: the sum, and the busiest point (the first of equals).
    fn description(&self) -> String {
        let total = self.total();
        let busiest = self.points.iter().rev().max_by_key(|p| p.value);
        match busiest {
            Some(point) if total > 0 => format!(
                "{total} {} in all over {} points; the most, {}, at {}.",
                self.unit,
                self.points.len(),
                point.value,
                point.label
            ),
            _ => format!("No {} over {} points.", self.unit, self.points.len()),
        }
    }
}

/// The drawing area inside the view box, in view box units.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 28.0;
