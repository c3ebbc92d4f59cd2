//! The rows of an import file: CSV in, one create request (or the reason there is none) per row,
//! each with the line it starts on. Pure over any reader, unit-tested here.
//!
//! Columns are `displayId, url, type` and an optional `name`, in that order; or in any order when
//! the first row is a header naming them (it is recognised by a `displayId` column), which may
//! also name a `templateId` column and a `tags` column (tags separated by `;`).

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
const TAGS: &[&str] = &["tags"];
/// Separates the tags of a `tags` field (the comma separates the fields).
const TAG_SEPARATOR: char = ';';

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
    /// The code's tags (header only; an empty field: none).
    tags: Option<usize>,
    /// Fields a row must have: the header's count; None without a header (3, or 4 with a name).
    width: Option<usize>,
}

const POSITIONAL: Columns = Columns {
    display_id: 0,
    url: 1,
    qr_type: 2,
    name: Some(3),
    template_id: None,
    tags: None,
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
                Some(index) => Some(field(index, "templateId")?)
                    .filter(|t| !t.is_empty())
                    .map(Some),
                None => None,
            },
            tags: match columns.tags {
                Some(index) => Some(tags(&field(index, "tags")?)),
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

/// The tags of a `tags` field: `;`-separated, blanks left out (the API checks each tag).
fn tags(field: &str) -> Vec<String> {
    field
        .split(TAG_SEPARATOR)
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
        .collect()
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
    let mut found: [Option<usize>; 6] = [None; 6];
    for (index, field) in record.iter().enumerate() {
        let Some(column) = [DISPLAY_ID, URL, TYPE, NAME, TEMPLATE, TAGS]
            .iter()
            .position(|names| named(field, names))
        else {
            return Err(format!(
                "line 1: unknown column {:?} in the header; the columns are displayId, url, type \
                 and optionally name, templateId and tags",
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
        tags: found[5],
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
                .map(|row| row.unwrap().input.unwrap().template_id.flatten())
                .collect();
        assert_eq!(inputs, [Some("navy".to_string()), None]);
    }

    #[test]
    fn a_header_may_name_tags() {
        let text = "displayId,url,type,tags\na,https://a.example,WEB,Promo; spring\nb,https://b.example,WEB,\n";
        let tags: Vec<Option<Vec<String>>> = CsvRows::new(text.as_bytes())
            .unwrap()
            .map(|row| row.unwrap().input.unwrap().tags)
            .collect();
        assert_eq!(
            tags,
            [
                Some(vec!["Promo".to_string(), "spring".to_string()]),
                Some(vec![])
            ]
        );
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

/// Properties of the reader over generated files: it never panics, it reads back what the csv
/// crate writes (quoting, CRLF, a byte order mark, a header in any column order), and every row
/// is reported at the line it starts on.
#[cfg(test)]
mod properties {
    use super::*;
    use csv::{Terminator, WriterBuilder};
    use proptest::prelude::*;

    /// Any text a cell may hold in one line: no line break (a code takes one line), and no ASCII
    /// space around it (the reader trims that, as spreadsheets pad cells).
    fn cell() -> impl Strategy<Value = String> {
        any::<String>()
            .prop_map(|s| {
                let s = s.replace(['\n', '\r'], " ");
                s.trim_matches(|c: char| c.is_ascii_whitespace()).to_owned()
            })
            // A first row naming a displayId column is a header.
            .prop_filter("not a header's name", |s| !named(s.as_bytes(), DISPLAY_ID))
    }

    /// A type cell: any text but the types a CSV row cannot carry (they need settings).
    fn type_cell() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("WEB".to_owned()),
            Just("SHORT_LINK".to_owned()),
            cell()
        ]
        .prop_filter("a redirect type or none", |t| {
            QrType::parse(t).is_none_or(|t| t.is_redirect())
        })
    }

    #[derive(Debug, Clone)]
    struct Cells {
        display_id: String,
        url: String,
        qr_type: String,
        name: Option<String>,
        template_id: String,
    }

    fn cells() -> impl Strategy<Value = Cells> {
        (
            cell(),
            cell(),
            type_cell(),
            proptest::option::of(cell()),
            cell(),
        )
            .prop_map(|(display_id, url, qr_type, name, template_id)| Cells {
                display_id,
                url,
                qr_type,
                name,
                template_id,
            })
    }

    /// What a file of `rows` written by the csv crate looks like: with a byte order mark or not,
    /// CRLF or LF, positional (3 or 4 columns) or under a header with the columns in `order`.
    fn written(rows: &[Cells], bom: bool, crlf: bool, header: Option<&[usize]>) -> Vec<u8> {
        let terminator = if crlf {
            Terminator::CRLF
        } else {
            Terminator::Any(b'\n')
        };
        let mut writer = WriterBuilder::new()
            .flexible(true)
            .terminator(terminator)
            .from_writer(Vec::new());
        let names = ["displayId", "url", "type", "name", "templateId"];
        if let Some(order) = header {
            writer
                .write_record(order.iter().map(|&c| names[c]))
                .unwrap();
        }
        for row in rows {
            let all = [
                row.display_id.as_str(),
                &row.url,
                &row.qr_type,
                row.name.as_deref().unwrap_or_default(),
                &row.template_id,
            ];
            match header {
                Some(order) => writer.write_record(order.iter().map(|&c| all[c])),
                None if row.name.is_some() => writer.write_record(&all[..4]),
                None => writer.write_record(&all[..3]),
            }
            .unwrap();
        }
        let mut bytes = if bom { "\u{feff}".into() } else { Vec::new() };
        bytes.extend(writer.into_inner().unwrap());
        bytes
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn any_bytes_are_read_or_refused_without_a_panic(
            bytes in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..2048),
                // Bytes that CSV gives a meaning to, so that quoting and line ends are exercised.
                proptest::collection::vec(
                    proptest::sample::select(vec![b'a', b',', b'"', b'\n', b'\r', b' ', 0xEF, 0xBB, 0xBF, 0xFF]),
                    0..512,
                ),
            ]
        ) {
            let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64 + 1;
            if let Ok(rows) = CsvRows::new(bytes.as_slice()) {
                let mut last = 1;
                for row in rows {
                    let Ok(row) = row else { break };
                    prop_assert!(row.line >= last && row.line <= lines, "line {} of {}", row.line, lines);
                    last = row.line;
                }
            }
        }

        #[test]
        fn what_the_csv_crate_writes_reads_back_as_written(
            rows in proptest::collection::vec(cells(), 1..12),
            bom: bool,
            crlf: bool,
            header in proptest::option::of(Just(vec![0usize, 1, 2, 3, 4]).prop_shuffle()),
        ) {
            let file = written(&rows, bom, crlf, header.as_deref());
            let read: Vec<Row> = CsvRows::new(file.as_slice())
                .map_err(TestCaseError::fail)?
                .collect::<Result<_, _>>()
                .map_err(TestCaseError::fail)?;
            prop_assert_eq!(read.len(), rows.len());
            let first_line = if header.is_some() { 2 } else { 1 };
            for (n, (row, want)) in read.iter().zip(&rows).enumerate() {
                prop_assert_eq!(row.line, first_line + n as u64);
                let input = row.input.as_ref().map_err(|e| TestCaseError::fail(e.clone()))?;
                prop_assert_eq!(input.display_id.as_deref(), Some(want.display_id.as_str()));
                prop_assert_eq!(input.qr_redirect_url.as_deref(), Some(want.url.as_str()));
                prop_assert_eq!(input.qr_type.as_deref(), Some(want.qr_type.as_str()));
                let (name, template) = match header {
                    // Under a header every row has every column; an empty templateId is none.
                    Some(_) => (
                        Some(want.name.clone().unwrap_or_default()),
                        Some(want.template_id.clone()).filter(|t| !t.is_empty()),
                    ),
                    None => (want.name.clone(), None),
                };
                prop_assert_eq!(&input.name, &name);
                prop_assert_eq!(&input.template_id.clone().flatten(), &template);
            }
        }
    }

    /// A line of a generated file.
    #[derive(Debug, Clone)]
    enum Line {
        /// A row of these fields (3 or 4 make a code; a short ASCII value in each).
        Fields(Vec<String>),
        /// A row whose second field is quoted and holds this many line breaks.
        Multiline(usize),
        /// An empty line, which is no row.
        Blank,
    }

    fn line() -> impl Strategy<Value = Line> {
        let field = "[a-z0-9]{0,6}";
        prop_oneof![
            4 => proptest::collection::vec(field, 2..=5).prop_map(Line::Fields),
            1 => (1..3usize).prop_map(Line::Multiline),
            1 => Just(Line::Blank),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn each_row_is_reported_at_the_line_it_starts_on(
            lines in proptest::collection::vec(line(), 1..25),
            crlf: bool,
            unclosed: bool,
        ) {
            let end = if crlf { "\r\n" } else { "\n" };
            let (mut text, mut at) = (String::new(), 1u64);
            // (line, what the reader must say) for each row.
            let mut want: Vec<(u64, &str)> = Vec::new();
            for line in &lines {
                match line {
                    Line::Blank => {}
                    Line::Fields(fields) => {
                        text.push_str(&fields.join(","));
                        // 3 columns, or 4 with a name.
                        let verdict = if (3..=4).contains(&fields.len()) {
                            "ok"
                        } else {
                            "expected 3 columns"
                        };
                        want.push((at, verdict));
                    }
                    Line::Multiline(breaks) => {
                        text.push_str(&format!("a,\"x{}y\",WEB", end.repeat(*breaks)));
                        want.push((at, "spans several lines"));
                        at += *breaks as u64;
                    }
                }
                text.push_str(end);
                at += 1;
            }
            if unclosed {
                text.push_str("z,\"never closed,WEB");
                text.push_str(end);
                text.push_str("more,lines,WEB");
                want.push((at, "not closed"));
            }
            let got: Vec<Row> = CsvRows::new(text.as_bytes())
                .map_err(TestCaseError::fail)?
                .collect::<Result<_, _>>()
                .map_err(TestCaseError::fail)?;
            prop_assert_eq!(got.len(), want.len(), "{:?}", text);
            for (row, (line, verdict)) in got.iter().zip(&want) {
                prop_assert_eq!(row.line, *line, "{:?}", text);
                match &row.input {
                    Ok(_) => prop_assert_eq!(*verdict, "ok", "line {}", line),
                    Err(e) => prop_assert!(e.contains(verdict), "line {}: {} is not {:?}", line, e, verdict),
                }
            }
        }
    }
}
