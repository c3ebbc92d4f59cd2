//! The axes every chart shares: a value axis with round ticks from zero, and a label axis
//! showing as many labels as fit.

use maud::{html, Markup};

use super::{Point, BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH};

/// Ticks of the value axis: 0 up to a round number at least `max`, in at most 4 steps.
pub fn ticks(max: u64) -> Vec<u64> {
    let step = [1, 2, 5]
        .iter()
        .flat_map(|m| (0..19).map(move |e| m * 10u64.pow(e)))
        .filter(|step| step.saturating_mul(4) >= max)
        .min()
        .unwrap_or(1);
    (0..=max.div_ceil(step).max(1)).map(|i| i * step).collect()
}

/// The y coordinate of `value` when the axis ends at `top`.
pub fn y_of(value: u64, top: u64) -> f64 {
    let plot = HEIGHT - TOP - BOTTOM;
    HEIGHT - BOTTOM - plot * value as f64 / top.max(1) as f64
}

pub fn value_axis(ticks: &[u64]) -> Markup {
    let top = ticks.last().copied().unwrap_or(1);
    html! {
        g.axis aria-hidden="true" {
            @for tick in ticks {
                @let y = y_of(*tick, top);
                line.grid x1=(LEFT) x2=(WIDTH - RIGHT) y1=(y) y2=(y) {}
                text x=(LEFT - 6.0) y=(y + 4.0) text-anchor="end" { (tick) }
            }
        }
    }
}

/// Labels under the plot at `x_of(index)`: every n-th, so that about `room` of them show.
pub fn label_axis(points: &[Point], room: usize, x_of: impl Fn(usize) -> f64) -> Markup {
    let every = points.len().div_ceil(room.max(1)).max(1);
    html! {
        g.axis aria-hidden="true" {
            line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(HEIGHT - BOTTOM) y2=(HEIGHT - BOTTOM) {}
            @for (i, point) in points.iter().enumerate().filter(|(i, _)| i % every == 0) {
                text x=(x_of(i)) y=(HEIGHT - BOTTOM + 18.0) text-anchor="middle" { (point.label) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ticks;

    #[test]
    fn ticks_are_round_and_reach_the_maximum() {
        assert_eq!(ticks(0), vec![0, 1]);
        assert_eq!(ticks(3), vec![0, 1, 2, 3]);
        assert_eq!(ticks(7), vec![0, 2, 4, 6, 8]);
        assert_eq!(ticks(180), vec![0, 50, 100, 150, 200]);
    }
}
