//! Comparing two read-model files table by table: a live one and one just
//! rebuilt from the log (`twostep projections rebuild --verify`). Rows are
//! compared whole, both ways, so a changed row shows as one row only in
//! each file.

use std::fmt::Write as _;
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::ProjectionError;
use crate::projectors::Projector;

/// A row found in one file and not in the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The table (`checkpoints` for a projector's position).
    pub table: String,
    /// `true`: only in the live file; `false`: only in the rebuilt one.
    pub only_in_live: bool,
    /// The row, as `column=value` pairs (blobs in hex, `NULL` for none).
    pub row: String,
}

/// Every row that differs between the tables of the named projectors (all
/// when `names` is empty) in the `live` and `rebuilt` files, checkpoints
/// included. Opens both read-only.
pub fn compare_files(
    live: &Path,
    rebuilt: &Path,
    names: &[&str],
) -> Result<Vec<Difference>, ProjectionError> {
    let chosen = chosen(names)?;
    let conn = Connection::open_with_flags(
        live,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.execute(
        "ATTACH DATABASE ?1 AS rebuilt",
        [rebuilt.to_string_lossy().as_ref()],
    )?;
    let mut differences = Vec::new();
    for projector in &chosen {
        for table in projector.tables() {
            let columns = columns(&conn, table)?;
            let list = columns.join(", ");
            for (only_in_live, first, second) in
                [(true, "main", "rebuilt"), (false, "rebuilt", "main")]
            {
                let sql = format!(
                    "SELECT {list} FROM {first}.{table} EXCEPT SELECT {list} FROM {second}.{table} ORDER BY 1"
                );
                collect(&conn, &sql, table, &columns, only_in_live, &mut differences)?;
            }
        }
    }
    let names: Vec<String> = chosen.iter().map(|p| format!("'{}'", p.name())).collect();
    let columns = ["projector".to_owned(), "position".to_owned()];
    for (only_in_live, first, second) in [(true, "main", "rebuilt"), (false, "rebuilt", "main")] {
        let sql = format!(
            "SELECT projector, position FROM {first}.checkpoints WHERE projector IN ({list})
             EXCEPT SELECT projector, position FROM {second}.checkpoints ORDER BY 1",
            list = names.join(", ")
        );
        collect(
            &conn,
            &sql,
            "checkpoints",
            &columns,
            only_in_live,
            &mut differences,
        )?;
    }
    Ok(differences)
}

fn chosen(names: &[&str]) -> Result<Vec<Projector>, ProjectionError> {
    if names.is_empty() {
        return Ok(Projector::ALL.to_vec());
    }
    names
        .iter()
        .map(|name| {
            Projector::named(name)
                .ok_or_else(|| ProjectionError::UnknownProjector((*name).to_owned()))
        })
        .collect()
}

/// The columns of `table`, in order (as in the live file).
fn columns(conn: &Connection, table: &str) -> Result<Vec<String>, ProjectionError> {
    let mut stmt = conn.prepare(&format!("PRAGMA main.table_info({table})"))?;
    let names = stmt
        .query_map([], |row| row.get::<_, String>(1))?
        .collect::<Result<Vec<_>, _>>()?;
    if names.is_empty() {
        return Err(ProjectionError::Corrupt(format!(
            "the live read models have no table {table}"
        )));
    }
    Ok(names)
}

fn collect(
    conn: &Connection,
    sql: &str,
    table: &str,
    columns: &[String],
    only_in_live: bool,
    into: &mut Vec<Difference>,
) -> Result<(), ProjectionError> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let mut text = String::new();
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            let _ = write!(text, "{column}=");
            match row.get_ref(i)? {
                ValueRef::Null => text.push_str("NULL"),
                ValueRef::Integer(v) => {
                    let _ = write!(text, "{v}");
                }
                ValueRef::Real(v) => {
                    let _ = write!(text, "{v}");
                }
                ValueRef::Text(v) => {
                    let _ = write!(text, "{:?}", String::from_utf8_lossy(v));
                }
                ValueRef::Blob(v) => {
                    text.push_str("x'");
                    for byte in v {
                        let _ = write!(text, "{byte:02x}");
                    }
                    text.push('\'');
                }
            }
        }
        into.push(Difference {
            table: table.to_owned(),
            only_in_live,
            row: text,
        });
    }
    Ok(())
}
