//! Output formats, written as results arrive.
//!
//! `--format auto` is `table` when standard output is a terminal and `jsonl` when
//! it is piped: readable by people, and line by line by `jq`, `grep` or `while
//! read`. The official CLI's docs name `auto` without defining it; this is the
//! common convention. It is resolved while the command line is parsed
//! ([`OutputFormat::auto`](crate::cli::OutputFormat::auto)).
//!
//! Lists are written page by page: [`ItemWriter::page`] prints a page's
//! permissions right away (and flushes), so a long listing shows its first rows
//! while later pages are still being fetched, and memory holds one page. `jsonl`
//! writes a permission per line, `table` rows, `json` and `pretty` an array whose
//! elements are written as they come, `yaml` a sequence, `raw` each page object on
//! its own line (the only format that keeps `has_more` and the cursors).
//!
//! The table has **fixed column widths** rather than widths measured on the data:
//! a streamed table cannot know the widest id of pages not yet fetched, and
//! aligning each page on its own would shift the columns between pages. The ids
//! have known shapes (`cp_` and 24 characters, `proj_` and 24 characters), so the
//! widths fit every id the API hands out; a longer id is printed whole (never cut,
//! it must stay copyable) and only pushes the rest of its own row to the right.
//! Times are RFC 3339 UTC.
//!
//! ```
//! use permissions_cli::output::{Format, ItemWriter};
//! use permissions_api::permissions_types::{CheckpointPermission, PermissionList};
//!
//! let page = PermissionList::new(
//!     vec![CheckpointPermission::new(
//!         "cp_zc4Q7MP6XxulcVzj4MZdwsAB",
//!         "proj_abGMw1llN8IrBb6SvvY5A1iH",
//!         1721764867,
//!     )],
//!     false,
//! );
//! let mut writer = ItemWriter::new(Vec::new(), Format::Table);
//! writer.page(&page)?;
//! let text = String::from_utf8(writer.finish()?).unwrap();
//! assert_eq!(
//!     text,
//!     "ID                           PROJECT_ID                     CREATED_AT\n\
//!      cp_zc4Q7MP6XxulcVzj4MZdwsAB  proj_abGMw1llN8IrBb6SvvY5A1iH  2024-07-23T20:01:07Z\n"
//! );
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, Write};
use std::marker::PhantomData;

use clap::ValueEnum;
use permissions_api::Page;
use permissions_api::permissions_types::{CheckpointPermission, DeletedPermission, Project};
use serde::Serialize;

/// Width of the permission id column: `cp_` and 24 characters.
pub const ID_WIDTH: usize = 27;
/// Width of the project id column: `proj_` and 24 characters.
pub const PROJECT_ID_WIDTH: usize = 29;
/// Width of the project name column; a longer name is printed whole.
pub const NAME_WIDTH: usize = 24;

/// An item of a listing, as a table shows it.
pub trait Row: Serialize {
    /// Each column's header and width (the last column's width is not used).
    const COLUMNS: &'static [(&'static str, usize)];

    /// The row's cells, one per column.
    fn cells(&self) -> Vec<String>;
}

impl Row for CheckpointPermission {
    const COLUMNS: &'static [(&'static str, usize)] = &[
        ("ID", ID_WIDTH),
        ("PROJECT_ID", PROJECT_ID_WIDTH),
        ("CREATED_AT", 0),
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            cell(&self.id),
            cell(&self.project_id),
            format_timestamp(self.created_at),
        ]
    }
}

impl Row for Project {
    const COLUMNS: &'static [(&'static str, usize)] = &[
        ("ID", PROJECT_ID_WIDTH),
        ("NAME", NAME_WIDTH),
        ("STATUS", 0),
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            cell(&self.id),
            self.name.as_deref().map_or_else(|| "-".to_owned(), cell),
            self.status
                .as_ref()
                .map_or_else(|| "-".to_owned(), |s| cell(s.as_str())),
        ]
    }
}

/// How results are printed (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One compact JSON document; a listing is one array of permissions.
    Json,
    /// One compact JSON object per line; a listing prints one permission per line.
    Jsonl,
    /// One indented JSON document.
    Pretty,
    /// Aligned columns of fixed widths.
    Table,
    /// Each response body, as the server's JSON object, one per line.
    Raw,
    /// One YAML document; a listing is a sequence of permissions.
    Yaml,
}

/// A GJSON path applied to each JSON value before it is printed (`--transform`,
/// as in the official CLI).
///
/// ```
/// use permissions_cli::output::Transform;
///
/// let value = serde_json::json!({"id": "cp_1", "project_id": "proj_a"});
/// assert_eq!(Transform::new("project_id").apply(&value)?, "proj_a");
/// assert_eq!(Transform::new("missing").apply(&value)?, serde_json::Value::Null);
/// let page = serde_json::json!({"data": [{"id": "cp_1"}, {"id": "cp_2"}]});
/// assert_eq!(Transform::new("data.#.id").apply(&page)?, serde_json::json!(["cp_1", "cp_2"]));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transform(String);

impl Transform {
    /// The transform of `path` (GJSON syntax).
    pub fn new(path: impl Into<String>) -> Self {
        Self(path.into())
    }

    /// `value` as JSON, through the path: what the path selects, or `null` when it
    /// selects nothing.
    pub fn apply<T: Serialize + ?Sized>(&self, value: &T) -> io::Result<serde_json::Value> {
        let json = serde_json::to_string(value)?;
        let selected = gjson::get(&json, &self.0);
        if !selected.exists() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_str(selected.json()).map_err(io::Error::other)
    }
}

/// A value to print, as it is or through a [`Transform`].
enum Shaped<'a, T: ?Sized> {
    Plain(&'a T),
    Transformed(serde_json::Value),
}

impl<T: Serialize + ?Sized> Serialize for Shaped<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Plain(value) => value.serialize(serializer),
            Self::Transformed(value) => value.serialize(serializer),
        }
    }
}

fn shaped<'a, T: Serialize + ?Sized>(
    value: &'a T,
    transform: Option<&Transform>,
) -> io::Result<Shaped<'a, T>> {
    Ok(match transform {
        Some(transform) => Shaped::Transformed(transform.apply(value)?),
        None => Shaped::Plain(value),
    })
}

/// Writes the items of a listing (permissions, projects) as their pages arrive,
/// in a resolved format.
#[derive(Debug)]
pub struct ItemWriter<W: Write, T: Row = CheckpointPermission> {
    out: W,
    format: Format,
    transform: Option<Transform>,
    items: u64,
    started: bool,
    rows: PhantomData<fn(&T)>,
}

impl<W: Write, T: Row> ItemWriter<W, T> {
    /// A writer of `format` into `out`.
    pub fn new(out: W, format: Format) -> Self {
        Self {
            out,
            format,
            transform: None,
            items: 0,
            started: false,
            rows: PhantomData,
        }
    }

    /// This writer, printing each value through `transform`.
    #[must_use]
    pub fn with_transform(mut self, transform: Option<Transform>) -> Self {
        self.transform = transform;
        self
    }

    /// How many items were written.
    pub fn items(&self) -> u64 {
        self.items
    }

    /// Writes the items of `page` (with `raw`, the page itself) and flushes.
    pub fn page<P: Page<Item = T> + Serialize>(&mut self, page: &P) -> io::Result<()> {
        match self.format {
            Format::Raw => {
                write_json_line(&mut self.out, &shaped(page, self.transform.as_ref())?)?;
            }
            Format::Table => {
                if !self.started {
                    writeln!(self.out, "{}", table_header::<T>())?;
                }
                for item in page.items() {
                    writeln!(self.out, "{}", table_row::<T>(&item.cells()))?;
                }
            }
            _ => {
                for item in page.items() {
                    self.item(item)?;
                }
            }
        }
        if matches!(self.format, Format::Raw | Format::Table) {
            self.items += page.items().len() as u64;
        }
        self.started = true;
        self.out.flush()
    }

    /// One item of a listing (not called for `table` and `raw`, which
    /// [`page`](Self::page) writes itself).
    fn item(&mut self, item: &T) -> io::Result<()> {
        let first = self.items == 0;
        let item = &shaped(item, self.transform.as_ref())?;
        match self.format {
            Format::Jsonl | Format::Table | Format::Raw => {
                write_json_line(&mut self.out, item)?;
            }
            Format::Json => {
                self.out.write_all(if first { b"[" } else { b",\n" })?;
                serde_json::to_writer(&mut self.out, item)?;
            }
            Format::Pretty => {
                self.out.write_all(if first { b"[\n" } else { b",\n" })?;
                let text = serde_json::to_string_pretty(item)?;
                for (i, line) in text.lines().enumerate() {
                    if i > 0 {
                        self.out.write_all(b"\n")?;
                    }
                    write!(self.out, "  {line}")?;
                }
            }
            Format::Yaml => {
                let text = serde_norway::to_string(&[item]).map_err(io::Error::other)?;
                self.out.write_all(text.as_bytes())?;
            }
        }
        self.items += 1;
        Ok(())
    }

    /// Closes the document (`]` of a JSON array, `[]` of an empty one) and returns
    /// the output.
    pub fn finish(mut self) -> io::Result<W> {
        match self.format {
            Format::Json if self.items == 0 => self.out.write_all(b"[]\n")?,
            Format::Json => self.out.write_all(b"]\n")?,
            Format::Pretty if self.items == 0 => self.out.write_all(b"[]\n")?,
            Format::Pretty => self.out.write_all(b"\n]\n")?,
            Format::Yaml if self.items == 0 => self.out.write_all(b"[]\n")?,
            Format::Table if !self.started => {
                writeln!(self.out, "{}", table_header::<T>())?;
            }
            _ => {}
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes one page as a document: `json`, `jsonl`, `raw` compact on one line,
/// `pretty` indented, `yaml`; `table` prints its items.
pub fn write_page<W: Write, P>(
    out: W,
    format: Format,
    transform: Option<&Transform>,
    page: &P,
) -> io::Result<W>
where
    P: Page + Serialize,
    P::Item: Row,
{
    match format {
        Format::Table | Format::Jsonl => {
            let mut writer =
                ItemWriter::<W, P::Item>::new(out, format).with_transform(transform.cloned());
            writer.page(page)?;
            writer.finish()
        }
        other => write_document(out, other, transform, page),
    }
}

/// Writes the answer of a delete; `table` prints `ID  DELETED`.
pub fn write_deleted<W: Write>(
    mut out: W,
    format: Format,
    transform: Option<&Transform>,
    deleted: &DeletedPermission,
) -> io::Result<W> {
    if format == Format::Table {
        writeln!(out, "{:<ID_WIDTH$}  DELETED", "ID")?;
        writeln!(out, "{:<ID_WIDTH$}  {}", cell(&deleted.id), deleted.deleted)?;
        out.flush()?;
        return Ok(out);
    }
    write_document(out, format, transform, deleted)
}

/// Writes one value: compact JSON on one line (`json`, `jsonl`, `raw`, `auto`),
/// indented JSON (`pretty`, `table`) or YAML.
pub fn write_document<W: Write, T: Serialize + ?Sized>(
    mut out: W,
    format: Format,
    transform: Option<&Transform>,
    value: &T,
) -> io::Result<W> {
    let value = &shaped(value, transform)?;
    match format {
        Format::Pretty | Format::Table => {
            serde_json::to_writer_pretty(&mut out, value)?;
            out.write_all(b"\n")?;
        }
        Format::Yaml => {
            let text = serde_norway::to_string(value).map_err(io::Error::other)?;
            out.write_all(text.as_bytes())?;
        }
        Format::Json | Format::Jsonl | Format::Raw => {
            write_json_line(&mut out, value)?;
        }
    }
    out.flush()?;
    Ok(out)
}

fn write_json_line<W: Write, T: Serialize + ?Sized>(out: &mut W, value: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

fn table_header<T: Row>() -> String {
    let names: Vec<String> = T::COLUMNS
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    table_row::<T>(&names)
}

/// The cells of a row, each padded to its column's width but the last, two
/// spaces apart.
fn table_row<T: Row>(cells: &[String]) -> String {
    let mut row = String::new();
    for (i, (text, (_, width))) in cells.iter().zip(T::COLUMNS).enumerate() {
        if i + 1 == T::COLUMNS.len() {
            row.push_str(text);
        } else {
            row.push_str(&format!("{text:<width$}  "));
        }
    }
    row
}

/// A table cell: control characters from the server are escaped so that they
/// cannot move the cursor or break the row.
fn cell(text: &str) -> String {
    if text.chars().any(char::is_control) {
        text.chars()
            .flat_map(|c| {
                if c.is_control() {
                    c.escape_default().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect()
    } else {
        text.to_owned()
    }
}

/// Unix seconds as an RFC 3339 UTC time (`2024-07-23T20:01:07Z`); the number
/// itself when it is out of the years 0 to 9999.
pub fn format_timestamp(seconds: i64) -> String {
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    if !(MIN..=MAX).contains(&seconds) {
        return seconds.to_string();
    }
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use permissions_api::permissions_types::PermissionList;

    fn permission(n: u32) -> CheckpointPermission {
        CheckpointPermission::new(
            format!("cp_{n:024}"),
            format!("proj_{n:024}"),
            1_700_000_000 + i64::from(n),
        )
    }

    fn pages(format: Format, pages: &[Vec<u32>]) -> String {
        let mut writer = ItemWriter::<_, CheckpointPermission>::new(Vec::new(), format);
        for (i, ids) in pages.iter().enumerate() {
            let data = ids.iter().copied().map(permission).collect();
            writer
                .page(&PermissionList::new(data, i + 1 < pages.len()))
                .unwrap();
        }
        assert_eq!(
            writer.items(),
            pages.iter().map(|p| p.len() as u64).sum::<u64>()
        );
        String::from_utf8(writer.finish().unwrap()).unwrap()
    }

    #[test]
    fn json_across_pages_is_one_valid_array() {
        for format in [Format::Json, Format::Pretty] {
            let text = pages(format, &[vec![1, 2], vec![], vec![3]]);
            let value: Vec<CheckpointPermission> = serde_json::from_str(&text).unwrap();
            assert_eq!(value, vec![permission(1), permission(2), permission(3)]);
            let empty: Vec<CheckpointPermission> =
                serde_json::from_str(&pages(format, &[vec![]])).unwrap();
            assert!(empty.is_empty());
        }
    }

    #[test]
    fn yaml_across_pages_is_one_sequence() {
        let text = pages(Format::Yaml, &[vec![1], vec![2, 3]]);
        let value: Vec<CheckpointPermission> = serde_norway::from_str(&text).unwrap();
        assert_eq!(value.len(), 3);
        assert_eq!(pages(Format::Yaml, &[vec![]]), "[]\n");
    }

    #[test]
    fn jsonl_is_one_permission_per_line_and_raw_one_page_per_line() {
        let text = pages(Format::Jsonl, &[vec![1, 2], vec![3]]);
        assert_eq!(text.lines().count(), 3);
        let text = pages(Format::Raw, &[vec![1, 2], vec![3]]);
        let lines: Vec<PermissionList> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].has_more && !lines[1].has_more);
    }

    #[test]
    fn table_columns_line_up_across_pages_and_long_ids_are_kept_whole() {
        let mut long = permission(9);
        long.project_id = "proj_with_a_much_longer_id_than_usual_0123456789".into();
        long.id = "cp_bad\nid".into();
        let mut writer = ItemWriter::<_, CheckpointPermission>::new(Vec::new(), Format::Table);
        writer
            .page(&PermissionList::new(vec![permission(1)], true))
            .unwrap();
        writer
            .page(&PermissionList::new(vec![permission(2), long], false))
            .unwrap();
        let text = String::from_utf8(writer.finish().unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        let column = |line: &str| line.find("proj_").or_else(|| line.find("PROJECT_ID"));
        assert_eq!(column(lines[0]), column(lines[1]));
        assert_eq!(column(lines[1]), column(lines[2]));
        assert!(lines[3].contains("proj_with_a_much_longer_id_than_usual_0123456789"));
        assert!(lines[3].starts_with("cp_bad\\nid"));
    }

    #[test]
    fn projects_have_a_table_of_their_own() {
        use permissions_api::permissions_types::ProjectList;
        let mut unnamed = Project::new("proj_b", None, 1).archived(2);
        unnamed.status = None;
        let page = ProjectList::new(
            vec![
                Project::new("proj_a", Some("Research"), 1),
                Project::new("proj_c", Some("A name longer than its column"), 1).archived(3),
                unnamed,
            ],
            false,
        );
        let text =
            String::from_utf8(write_page(Vec::new(), Format::Table, None, &page).unwrap()).unwrap();
        assert_eq!(
            text,
            "ID                             NAME                      STATUS\n\
             proj_a                         Research                  active\n\
             proj_c                         A name longer than its column  archived\n\
             proj_b                         -                         -\n"
        );
        let jsonl =
            String::from_utf8(write_page(Vec::new(), Format::Jsonl, None, &page).unwrap()).unwrap();
        let first: Project = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
        assert_eq!(first, page.data[0]);
    }

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(1_721_764_867), "2024-07-23T20:01:07Z");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_timestamp(i64::MAX), i64::MAX.to_string());
        assert_eq!(format_timestamp(i64::MIN), i64::MIN.to_string());
    }

    #[test]
    fn documents() {
        let deleted = DeletedPermission::new("cp_1");
        let text =
            |f| String::from_utf8(write_deleted(Vec::new(), f, None, &deleted).unwrap()).unwrap();
        assert_eq!(
            text(Format::Json),
            "{\"id\":\"cp_1\",\"object\":\"checkpoint.permission\",\"deleted\":true}\n"
        );
        assert!(text(Format::Pretty).contains("\n  \"deleted\": true\n"));
        assert!(text(Format::Yaml).contains("deleted: true"));
        assert!(text(Format::Table).ends_with("cp_1                         true\n"));
        let page = PermissionList::new(vec![permission(1)], true);
        let text =
            String::from_utf8(write_page(Vec::new(), Format::Json, None, &page).unwrap()).unwrap();
        let back: PermissionList = serde_json::from_str(&text).unwrap();
        assert_eq!(back, page);
    }
}
