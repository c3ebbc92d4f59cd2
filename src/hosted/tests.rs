//! Every type end to end: realistic settings in, the page a user would see out.
