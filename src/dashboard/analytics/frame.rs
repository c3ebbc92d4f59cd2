//! The frame both analytics pages share: the range forms, the region the script refreshes and
//! the polite announcement of a new total. The script and stylesheet are the analytics' own
//! files, linked from the page (the CSP allows no inline script or style).

use maud::{html, Markup};

use super::range::{RangeQuery, SPANS};
use crate::dashboard::layout;
use crate::dashboard::session::Signed;

pub struct Frame<'a> {
    pub title: &'a str,
    /// What comes under the heading (a link back to the code).
    pub intro: Markup,
    /// The page's own path, which the range forms ask again.
    pub path: &'a str,
    pub range: &'a RangeQuery,
    pub live_url: &'a str,
    /// The moving parts, as the live fragment has them now.
    pub live: Markup,
}

pub fn page(signed: &Signed, frame: Frame) -> Markup {
    let body = html! {
        link rel="stylesheet" href="/assets/analytics.css";
        script src="/assets/analytics.js" defer {}
        h1 { (frame.title) }
        (frame.intro)
        (range_forms(frame.path, frame.range))
        p.visually-hidden #live-announcement aria-live="polite" {}
        div #analytics-live data-fragment-url=(frame.live_url) { (frame.live) }
    };
    layout::page(frame.title, Some(signed), body)
}

fn range_forms(path: &str, range: &RangeQuery) -> Markup {
    let span = range.span().unwrap_or(30);
    let custom = range.custom();
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    html! {
        div.range-forms {
            form #span-form method="get" action=(path) {
                label for="days" { "Days shown" }
                div.inline {
                    select #days name="days" {
                        @for days in SPANS {
                            option value=(days) selected[!custom && span == days] { "Last " (days) " days" }
                        }
                    }
                    button #show-span type="submit" { "Show" }
                }
            }
            form #dates-form method="get" action=(path) {
                div.inline {
                    div {
                        label for="from" { "From" }
                        input #from type="date" name="from" value=(text(&range.from)) required;
                    }
                    div {
                        label for="to" { "To" }
                        input #to type="date" name="to" value=(text(&range.to)) required;
                    }
                    button #show-dates type="submit" { "Show" }
                }
            }
        }
    }
}
