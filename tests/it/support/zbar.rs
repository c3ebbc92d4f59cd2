//! Reading QR codes back from images with zbar (`zbarimg`, Debian's zbar-tools), an outside
//! decoder: what a phone's camera would read.

use std::io::Write;
use std::process::Command;

/// What zbar reads in a PNG image. A missing zbarimg fails the test: scripts/test.sh installs it.
pub fn decode(png: &[u8]) -> String {
    let mut file = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    file.write_all(png).unwrap();
    let output = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("zbarimg cannot run ({e}): install Debian's zbar-tools (scripts/test.sh does)")
        });
    assert!(
        output.status.success(),
        "zbarimg read no code (status {}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .trim_end()
        .to_owned()
}
