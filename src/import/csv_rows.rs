//! The rows of an import file: CSV in, one create request (or the reason there is none) per row,
//! each with the line it starts on. Pure over any reader, unit-tested here.
//!
//! Columns are `displayId, url, type` and an optional `name`, in that order; or in any order when
//! the first row is a header naming them (it is recognised by a `displayId` column), which may
//! also name a `templateId` column.

use std::collections::VecDeque;
use std::io::Read;

use csv::{ByteRecord, Reader, ReaderBuilder, Trim};

use crate::model::qr_input::QrInput;
use crate::model::QrType;

/// The columns, as a header may name them (case-insensitive): the CSV names first, then the API's.
const DISPLAY_ID: &[&str] = &["displayId", "display_id"];
const URL: &[&str] = &["url", "qrRedirectUrl"];
const TYPE: &[&str] = &["type", "qrType"];
const NAME: &[&str] = &["name"];
const TEMPLATE: &[&str] = &["templateId", "template_id"];

/// One row of the file.
#[derive(Debug)]
pub struct Row {
    /// The line the row starts on (1-based, as an editor counts).
    pub line: u64,
    /// What the row asks for, or why it cannot be read.
    pub input: Result<QrInput, String>,
}

/// Where each column is.
#[derive(Debug, Clone, Copy)]
struct Columns {
    display_id: usize,
    url: usize,
    qr_type: usize,
    name: Option<usize>,
    /// The design template (header only; an empty field: the default).
    template_id: Option<usize>,
    /// Fields a row must have: the header's count; None without a header (3, or 4 with a name).
    width: Option<usize>,
}

const POSITIONAL: Columns = Columns {
    display_id: 0,
    url: 1,
    qr_type: 2,
    name: Some(3),
    template_id: None,
    width: None,
};

/// The input, noting where each line's content starts. The CSV reader's own line count skips
/// blank lines and CRLF endings, and a record's byte offset is that of the line ends before it;
/// the first content byte at or after that offset is the record's, and its line is noted here.
struct LineStarts<R> {
    inner: R,
    /// Offset of the next byte read.
    offset: u64,
    /// Line of the next byte read (1-based).
    line: u64,
    at_line_start: bool,
    /// Whether the input has ended.
    eof: bool,
    /// (offset, line) of the first content byte of each line read but not yet passed by a record.
    starts: VecDeque<(u64, u64)>,
}

impl<R> LineStarts<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            line: 1,
            at_line_start: true,
            eof: false,
            starts: VecDeque::new(),
        }
    }

    /// The line of a record whose bytes start at `offset`; offsets must not decrease.
    fn line_of(&mut self, offset: u64) -> u64 {
        while self.starts.front().is_some_and(|(at, _)| *at < offset) {
            self.starts.pop_front();
        }
        self.starts.front().map_or(self.line, |(_, line)| *line)
    }
}

impl<R: Read> Read for LineStarts<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.eof |= n == 0 && !buf.is_empty();
        for (i, byte) in buf[..n].iter().enumerate() {
            match byte {
                b'\n' => {
                    self.line += 1;
                    self.at_line_start = true;
                }
                b'\r' => {}
                _ if self.at_line_start => {
                    self.starts.push_back((self.offset + i as u64, self.line));
                    self.at_line_start = false;
                }
                _ => {}
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// The rows of a CSV file, in order.
pub struct CsvRows<R: Read> {
    reader: Reader<LineStarts<R>>,
    columns: Columns,
    record: ByteRecord,
    /// The first row when it was data, not a header: read before the others.
    first: Option<ByteRecord>,
}

impl<R: Read> CsvRows<R> {
    /// Reads the header, if the file starts with one. Err: a header that cannot be used (an
    /// unknown or repeated column, a missing one) or an unreadable file: nothing can be imported.
    pub fn new(input: R) -> Result<Self, String> {
        let mut reader = ReaderBuilder::new()
            .has_headers(false)
            // Rows of the wrong width are reported by line here, not refused by the reader.
            .flexible(true)
            // Spreadsheets and hand-written files put spaces after commas.
            .trim(Trim::All)
            .from_reader(LineStarts::new(input));
        let mut first = ByteRecord::new();
        let read = reader
            .read_byte_record(&mut first)
            .map_err(|e| format!("cannot read the file: {e}"))?;
        let (columns, first) = if read && is_header(&first) {
            (header_columns(&first)?, None)
        } else {
            (POSITIONAL, read.then_some(first))
        };
        Ok(Self {
            reader,
            columns,
            record: ByteRecord::new(),
            first,
        })
    }

    /// The create request a record asks for, or why it cannot be read.
    fn input(&self, record: &ByteRecord, spans_lines: bool) -> Result<QrInput, String> {
        // First: a quote left open swallows the following rows, whatever the column count.
        if spans_lines {
            // A quote never closed takes everything to the end of the file into its field.
            let input = self.reader.get_ref();
            let to_the_end = input.eof && self.reader.position().byte() == input.offset;
            return Err(if to_the_end {
                "a quoted field is not closed: the rest of the file was read as part of this row"
                    .into()
            } else {
                "a quoted field spans several lines; a code takes one line".into()
            });
        }
        let columns = self.columns;
        match columns.width {
            Some(width) if record.len() != width => {
                return Err(format!(
                    "expected {width} columns as the header names, found {}",
                    record.len()
                ))
            }
            None if !(3..=4).contains(&record.len()) => {
                return Err(format!(
                    "expected 3 columns (displayId, url, type) or 4 (and name), found {}",
                    record.len()
                ))
            }
            _ => {}
        }
        let field = |index: usize, what: &str| -> Result<String, String> {
            let bytes = record.get(index).unwrap_or_default();
            String::from_utf8(bytes.to_vec())
                .map_err(|_| format!("the {what} column is not valid UTF-8"))
        };
        let qr_type = field(columns.qr_type, "type")?;
        if let Some(t) = QrType::parse(&qr_type).filter(|t| !t.is_redirect()) {
            return Err(format!(
                "qrType {} needs settings, which a CSV row cannot carry: import WEB or \
                 SHORT_LINK codes (create the others through the API)",
                t.as_str()
            ));
        }
        Ok(QrInput {
            display_id: Some(field(columns.display_id, "displayId")?),
            qr_redirect_url: Some(field(columns.url, "url")?),
            qr_type: Some(qr_type),
            name: match columns.name {
                Some(index) if index < record.len() => Some(field(index, "name")?),
                _ => None,
            },
            template_id: match columns.template_id {
                Some(index) => Some(field(index, "templateId")?).filter(|t| !t.is_empty()),
                None => None,
            },
            ..QrInput::default()
        })
    }
}

impl<R: Read> Iterator for CsvRows<R> {
    /// Err: the file could not be read on (an I/O error): the rows after it are unknown.
    type Item = Result<Row, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = match self.first.take() {
            Some(first) => first,
            None => match self.reader.read_byte_record(&mut self.record) {
                Ok(true) => std::mem::take(&mut self.record),
                Ok(false) => return None,
                Err(e) => return Some(Err(format!("cannot read the file: {e}"))),
            },
        };
        let offset = record.position().map_or(0, |p| p.byte());
        let line = self.reader.get_mut().line_of(offset);
        // A line break inside a field means a quoted field ran over a line end (or to the end of
        // the file, if it was never closed): legal CSV, but never a code.
        let spans_lines = record
            .iter()
            .any(|field| field.contains(&b'\n') || field.contains(&b'\r'));
        let input = self.input(&record, spans_lines);
        self.record = record;
        Some(Ok(Row { line, input }))
    }
}

fn named(field: &[u8], names: &[&str]) -> bool {
    names
        .iter()
        .any(|name| field.eq_ignore_ascii_case(name.as_bytes()))
}

/// A first row naming a displayId column is a header: a first code whose displayId is literally
/// "displayId" is far less likely than a header.
fn is_header(record: &ByteRecord) -> bool {
    record.iter().any(|field| named(field, DISPLAY_ID))
}

fn header_columns(record: &ByteRecord) -> Result<Columns, String> {
    let mut found: [Option<usize>; 5] = [None; 5];
    for (index, field) in record.iter().enumerate() {
        let Some(column) = [DISPLAY_ID, URL, TYPE, NAME, TEMPLATE]
            .iter()
            .position(|names| named(field, names))
        else {
            return Err(format!(
                "line 1: unknown column {:?} in the header; the columns are displayId, url, type \
                 and optionally name and templateId",
                String::from_utf8_lossy(field)
            ));
        };
        if found[column].replace(index).is_some() {
            return Err(format!(
                "line 1: the header names column {:?} twice",
                String::from_utf8_lossy(field)
            ));
        }
    }
    let required = |column: usize, name: &str| {
        found[column].ok_or_else(|| format!("line 1: the header has no {name} column"))
    };
    Ok(Columns {
        display_id: required(0, "displayId")?,
        url: required(1, "url")?,
        qr_type: required(2, "type")?,
        name: found[3],
        template_id: found[4],
        width: Some(record.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row as (line, displayId/url/type/name joined by '|') or (line, "! reason").
    fn rows(text: &str) -> Vec<(u64, String)> {
        CsvRows::new(text.as_bytes())
            .unwrap()
            .map(|row| {
                let row = row.unwrap();
                let shown = match row.input {
                    Ok(input) => format!(
                        "{}|{}|{}|{}",
                        input.display_id.unwrap(),
                        input.qr_redirect_url.unwrap(),
                        input.qr_type.unwrap(),
                        input.name.unwrap_or_default()
                    ),
                    Err(reason) => format!("! {reason}"),
                };
                (row.line, shown)
            })
            .collect()
    }

    #[test]
    fn columns_are_positional_without_a_header() {
        assert_eq!(
            rows("a,https://a.example,WEB\nb , https://b.example ,SHORT_LINK, Bee\n"),
            [
                (1, "a|https://a.example|WEB|".to_string()),
                (2, "b|https://b.example|SHORT_LINK|Bee".to_string())
            ]
        );
    }

    #[test]
    fn a_header_names_the_columns_in_any_order() {
        assert_eq!(
            rows("Name,type,URL,displayId\r\n\"Spring, 2026\",WEB,https://a.example,a\r\n"),
            [(2, "a|https://a.example|WEB|Spring, 2026".to_string())]
        );
        assert_eq!(
            rows("\u{feff}displayId,url,type\na,https://a.example,WEB\n"),
            [(2, "a|https://a.example|WEB|".to_string())],
            "a byte order mark is not part of the first column's name"
        );
    }

    #[test]
    fn a_header_may_name_a_template() {
        let inputs: Vec<Option<String>> =
            CsvRows::new("displayId,url,type,templateId\na,https://a.example,WEB,navy\nb,https://b.example,WEB,\n".as_bytes())
                .unwrap()
                .map(|row| row.unwrap().input.unwrap().template_id)
                .collect();
        assert_eq!(inputs, [Some("navy".to_string()), None]);
    }

    #[test]
    fn an_unusable_header_stops_the_import() {
        for (text, expected) in [
            ("displayId,target,type\n", "unknown column \"target\""),
            ("displayId,url\n", "no type column"),
            ("displayId,url,type,url\n", "names column \"url\" twice"),
        ] {
            let err = CsvRows::new(text.as_bytes()).err().unwrap();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn malformed_rows_are_reported_by_line() {
        let text = "displayId,url,type\n\
                    a,https://a.example,WEB\n\
                    b,https://b.example\n\
                    \n\
                    c,https://c.example,WEB,extra\n\
                    d,\"https://d.example\nx\",WEB\n\
                    e,https://e.example,WEB\n\
                    f,\"https://f.example,WEB\n\
                    g,https://g.example,WEB\n";
        let got = rows(text);
        let lines: Vec<u64> = got.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [2, 3, 5, 6, 8, 9]);
        assert!(got[1].1.contains("expected 3 columns"), "{got:?}");
        assert!(got[2].1.contains("found 4"), "{got:?}");
        assert!(got[3].1.contains("spans several lines"), "{got:?}");
        assert_eq!(got[4].1, "e|https://e.example|WEB|");
        assert!(got[5].1.contains("not closed"), "{got:?}");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_reported_by_line() {
        let got = rows("a,https://a.example,WEB\nb,https://b.example/\u{0}\u{0},WEB\n");
        assert_eq!(got.len(), 2);
        let mut bad = b"a,https://a.example,WEB\nb,https://b.example/".to_vec();
        bad.extend_from_slice(&[0xff, 0xfe]);
        bad.extend_from_slice(b",WEB\nc,https://c.example,WEB\n");
        let got: Vec<_> = CsvRows::new(bad.as_slice())
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].line, 2);
        assert!(got[1].input.as_ref().unwrap_err().contains("url column"));
        assert!(got[2].input.is_ok());
    }
}
