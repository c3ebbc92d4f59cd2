//! The domain records shared by every role, and the pure rules that validate them.

pub mod access;
pub mod domain;
pub mod password;
pub mod qr;
pub mod qr_input;
pub mod redirect;
pub mod route;
pub mod scan;
pub mod team;
pub mod template;
pub mod text;
pub mod validate;
pub mod version;

pub use access::{Binding, Credential, Member, Role, Scope};
pub use domain::{DomainName, PlatformHosts};
pub use qr::{Qr, QrType};
pub use route::{display_id_of, route_key, RouteRecord};
pub use scan::{RawScan, ScanEvent};
pub use team::{DomainSettings, Org, Plan, Team};
pub use version::{etag, IfMatch, Versioned, FIRST_VERSION};
