//! CSV in and out, with the `csv` crate in one configuration for every file the service reads
//! (postings for the bulk loader, administrative units, the bundled holidays) and every table it
//! writes.
//!
//! Reading is RFC 4180 and strict: comma-separated, a leading UTF-8 byte-order mark ignored, one
//! record a line (a quoted field may not span lines: every problem is reported by line), and a
//! field that holds a quote must be quoted as a whole with its quotes doubled. The crate itself
//! reads `ab"c` or `"ab"c` as text; here they are problems, because such a line comes from a
//! program that wrote the file wrongly, and guessing what it meant would load the wrong value.

use std::io::Write;

use csv::StringRecord;

/// One record of a file, or the problem that kept it from being read.
pub type Line<'a> = Result<&'a StringRecord, &'static str>;

/// Reads `data` record by record, handing each (with its line number, from 1) to `each` until it
/// returns `false`. Blank lines are skipped.
pub fn read_lines<E>(
    data: &str,
    mut each: impl FnMut(u64, Line<'_>) -> Result<bool, E>,
) -> Result<(), E> {
    let data = data.strip_prefix('\u{feff}').unwrap_or(data);
    let offset = |p: &csv::Position| usize::try_from(p.byte()).unwrap_or(usize::MAX);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data.as_bytes());
    let mut record = StringRecord::new();
    loop {
        let read = reader.read_record(&mut record);
        let end = offset(reader.position());
        let (line, start) = match record.position() {
            Some(p) => (p.line(), offset(p)),
            None => (reader.position().line(), end),
        };
        // A record's position is where the reader stood when it began: before the line breaks
        // (and blank lines) that end the previous one.
        let raw = data.get(start..end.min(data.len())).unwrap_or_default();
        let text = raw.trim_start_matches(['\r', '\n']);
        let line = line + raw[..raw.len() - text.len()].matches('\n').count() as u64;
        let keep_on = match read {
            Ok(false) => return Ok(()),
            Ok(true) => match strict(text, &record) {
                Ok(()) => each(line, Ok(&record))?,
                Err(problem) => each(line, Err(problem))?,
            },
            Err(_) => each(line, Err("not readable as CSV"))?,
        };
        if !keep_on {
            return Ok(());
        }
    }
}

/// Checks a record's own text against what the reader made of it: quotes only around whole
/// fields, doubled inside them, and no line break inside a field.
fn strict(raw: &str, record: &StringRecord) -> Result<(), &'static str> {
    let raw = raw.trim_end_matches(['\r', '\n']);
    if !raw.contains('"') {
        return Ok(());
    }
    if raw.contains(['\r', '\n']) {
        return Err("an unterminated quote (a field may not span lines)");
    }
    let mut rest = raw;
    for (i, field) in record.iter().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix(',').ok_or("text after a closing quote")?;
        }
        match rest.strip_prefix('"') {
            Some(inner) => {
                let quoted = field.replace('"', "\"\"");
                rest = inner
                    .strip_prefix(quoted.as_str())
                    .and_then(|r| r.strip_prefix('"'))
                    .ok_or("text after a closing quote")?;
            }
            None if field.contains('"') => return Err("a quote inside an unquoted field"),
            None => {
                rest = rest
                    .strip_prefix(field)
                    .ok_or("a quote inside an unquoted field")?
            }
        }
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err("text after a closing quote")
    }
}

/// A CSV writer (RFC 4180: quotes only where a field needs them, CRLF line ends).
pub fn writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(data: &str) -> Vec<(u64, Result<Vec<String>, &'static str>)> {
        let mut out = Vec::new();
        let _: Result<(), ()> = read_lines(data, |line, record| {
            out.push((
                line,
                record.map(|r| r.iter().map(str::to_owned).collect::<Vec<_>>()),
            ));
            Ok(true)
        });
        out
    }

    #[test]
    fn quoted_fields_are_read_and_stray_quotes_refused() {
        let lines =
            read("\u{feff}a,b\r\n\"x, \"\"y\"\"\",z\n\nab\"c,d\n\"ab\"c,d\n\"ab\",\"\"\nlast");
        assert_eq!(
            lines,
            vec![
                (1, Ok(vec!["a".into(), "b".into()])),
                (2, Ok(vec!["x, \"y\"".into(), "z".into()])),
                (4, Err("a quote inside an unquoted field")),
                (5, Err("text after a closing quote")),
                (6, Ok(vec!["ab".into(), String::new()])),
                (7, Ok(vec!["last".into()])),
            ]
        );
    }

    #[test]
    fn a_quote_left_open_is_a_problem_of_its_line() {
        let lines = read("a,b\n\"c,d\ne,f\n");
        assert_eq!(lines[0], (1, Ok(vec!["a".into(), "b".into()])));
        assert_eq!(
            lines[1],
            (2, Err("an unterminated quote (a field may not span lines)"))
        );
    }

    #[test]
    fn written_fields_are_quoted_only_where_needed() {
        let mut w = writer(Vec::new());
        let _ = w.write_record(["Hộ tịch, \"khai sinh\"", "1.000110", ""]);
        let bytes = w.into_inner().unwrap_or_default();
        assert_eq!(
            String::from_utf8(bytes).unwrap_or_default(),
            "\"Hộ tịch, \"\"khai sinh\"\"\",1.000110,\r\n"
        );
    }
}
