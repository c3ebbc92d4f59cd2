//! The frame of every page: the head with the dashboard's own stylesheet and script, and the
//! header with the member's team, their account and sign-out.

use maud::{html, Markup, DOCTYPE};

use super::csrf;
use super::session::Signed;

pub fn page(title: &str, signed: Option<&Signed>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · qredge" }
                link rel="icon" href="/assets/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/assets/dashboard.css";
                script src="/assets/live.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/codes" { "qredge" }
                    @if let Some(signed) = signed {
                        nav aria-label="Main" {
                            a href="/codes" { "Codes" }
                            a #nav-analytics href="/analytics" { "Analytics" }
                            a href="/team" { "Team" }
                        }
                        span.muted { (signed.caller.team.name) }
                        a href="/account/password" { (signed.caller.member.email) }
                        form method="post" action="/sign-out" {
                            (csrf::hidden(&signed.csrf))
                            button.secondary #sign-out type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}
