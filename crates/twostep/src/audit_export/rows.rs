//! How exported rows are written: JSON Lines (one object per row, the
//! fields of the login-history endpoint) or CSV per RFC 4180 (a header row,
//! CRLF line ends, fields with a comma, a quote or a line break quoted and
//! their quotes doubled, an absent value as an empty field).

use std::io::{self, Write};

use clap::ValueEnum;
use twostep_projections::HistoryEntry;
use uuid::Uuid;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// JSON Lines: one JSON object per line.
    Jsonl,
    /// CSV (RFC 4180) with a header row.
    Csv,
}

/// The columns, in order: the fields of a login-history entry.
pub const COLUMNS: [&str; 16] = [
    "position",
    "event_id",
    "event_type",
    "at",
    "user_id",
    "login",
    "step",
    "outcome",
    "reason",
    "challenge_id",
    "code_id",
    "channel",
    "destination",
    "client_ip",
    "user_agent",
    "correlation_id",
];

/// Writes rows in one format.
pub struct RowWriter<W: Write> {
    out: W,
    format: Format,
}

impl<W: Write> RowWriter<W> {
    /// Starts the output (the CSV header row).
    pub fn start(mut out: W, format: Format) -> io::Result<RowWriter<W>> {
        if format == Format::Csv {
            write_csv_record(&mut out, COLUMNS.iter().map(|c| (*c).to_owned()))?;
        }
        Ok(RowWriter { out, format })
    }

    /// Writes one row.
    pub fn write(&mut self, entry: &HistoryEntry) -> io::Result<()> {
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, entry)?;
                self.out.write_all(b"\n")
            }
            Format::Csv => write_csv_record(&mut self.out, fields(entry).into_iter()),
        }
    }

    /// Flushes and hands back the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The row's values in [`COLUMNS`] order (empty for none).
fn fields(e: &HistoryEntry) -> [String; 16] {
    let id = |id: Option<Uuid>| id.map(|id| id.to_string()).unwrap_or_default();
    let text = |text: &Option<String>| text.clone().unwrap_or_default();
    [
        e.position.to_string(),
        e.event_id.to_string(),
        e.event_type.clone(),
        e.at.rfc3339(),
        id(e.user_id),
        text(&e.login),
        e.step.clone(),
        e.outcome.clone(),
        text(&e.reason),
        id(e.challenge_id),
        id(e.code_id),
        text(&e.channel),
        text(&e.destination),
        text(&e.client_ip),
        text(&e.user_agent),
        id(e.correlation_id),
    ]
}

fn write_csv_record(out: &mut impl Write, fields: impl Iterator<Item = String>) -> io::Result<()> {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(csv_field(&field).as_bytes())?;
    }
    out.write_all(b"\r\n")
}

/// A field as RFC 4180 writes it.
fn csv_field(field: &str) -> std::borrow::Cow<'_, str> {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\"")).into()
    } else {
        field.into()
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn plain_fields_stay_as_they_are() {
        assert_eq!(csv_field("curl/8.5"), "curl/8.5");
        assert_eq!(csv_field(""), "");
    }

    #[test]
    fn commas_quotes_and_line_breaks_are_quoted_with_quotes_doubled() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("one\r\ntwo"), "\"one\r\ntwo\"");
        assert_eq!(csv_field("one\ntwo"), "\"one\ntwo\"");
    }
}
