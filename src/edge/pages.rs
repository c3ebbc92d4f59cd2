//! The edge's fixed pages: small, static, and free of any user text.

pub const NOT_FOUND: &str = concat!(
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">",
    "<title>Code not found</title></head><body style=\"font-family:system-ui,sans-serif;",
    "max-width:32rem;margin:4rem auto;padding:0 1rem;text-align:center\">",
    "<h1>Code not found</h1><p>This QR code or link does not exist or is no longer active.</p>",
    "</body></html>\n"
);

pub const EXPIRED: &str = concat!(
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">",
    "<title>Code expired</title></head><body style=\"font-family:system-ui,sans-serif;",
    "max-width:32rem;margin:4rem auto;padding:0 1rem;text-align:center\">",
    "<h1>Code expired</h1><p>This QR code or link has expired.</p>",
    "</body></html>\n"
);
