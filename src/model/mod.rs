//! The domain records shared by every role, and the pure rules that validate them.

pub mod access;
pub mod qr;
pub mod qr_input;
pub mod route;
pub mod scan;
pub mod team;
pub mod validate;

pub use access::{Credential, Member, Role};
pub use qr::{Qr, QrType};
pub use route::RouteRecord;
pub use scan::{RawScan, ScanEvent};
pub use team::{Org, Team};
