//! A hint to the CPU to start loading memory that counting a scan will touch a few scans later.
//! The embedded aggregator of a loaded edge counts scans of random codes, whose stats and rollups
//! are cold in the caches: each of the dozen loads of one scan would otherwise wait for memory in
//! turn.

/// Starts loading the cache line that holds `place`; does nothing where there is no such hint.
pub fn prefetch<T>(place: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it reads nothing back and never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(place.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = place;
}

/// Starts loading the lines of `item` (a struct larger than one line).
pub fn prefetch_lines<T>(item: &T) {
    prefetch_bytes((item as *const T).cast(), std::mem::size_of::<T>());
}

/// Starts loading the lines of `items`, the first `LINES_AT_MOST` of them.
pub fn prefetch_slice<T>(items: &[T]) {
    prefetch_bytes(
        items.as_ptr().cast(),
        std::mem::size_of_val(items).min(LINES_AT_MOST * LINE),
    );
}

const LINE: usize = 64;
/// More than this many lines at once would push out what the scans before need.
const LINES_AT_MOST: usize = 8;

/// The lines of the `len` bytes from `start`, wherever in its line `start` is.
fn prefetch_bytes(start: *const u8, len: usize) {
    let first_line = (start as usize) / LINE;
    let lines = (start as usize + len).div_ceil(LINE) - first_line;
    for line in 0..lines {
        prefetch(start.wrapping_add(line * LINE));
    }
}

/// Starts loading the last element of `items` (the one a scan in time order adds to).
pub fn prefetch_last<T>(items: &[T]) {
    prefetch(items.as_ptr().wrapping_add(items.len().saturating_sub(1)));
}
