//! CSV exports: one line per row, cells quoted where they must be, and a
//! cell that a spreadsheet would run as a formula defused with a quote.
//! An export is streamed: rows are read from the database a chunk at a
//! time and each chunk is sent before the next is read, so an export of a
//! tenant of any size holds one chunk in memory.

use std::future::Future;

use actix_web::HttpResponse;
use actix_web::web::Bytes;

use crate::error::AppError;

/// One cell as CSV writes it.
pub fn cell(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() };
    if guarded.contains([',', '"', '\n', '\r']) { format!("\"{}\"", guarded.replace('"', "\"\"")) } else { guarded }
}

/// One row's line, ending in CRLF.
fn line(cells: &[String]) -> String {
    let mut out = cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    out
}

fn headers(filename: &str) -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::Ok();
    builder
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{filename}\"")))
        .insert_header(("Cache-Control", "no-store"));
    builder
}

/// Where a streamed export stands: the chunk already read, if any, and
/// where the next one starts.
struct Export<R, F> {
    header: Option<&'static str>,
    ready: Option<Vec<R>>,
    offset: i64,
    chunk: i64,
    done: bool,
    read: F,
}

/// Downloads `filename`: `header`, then a line per row of `first` and of
/// each chunk `read(offset)` returns, until a chunk holds fewer than
/// `chunk` rows. `first` is read before answering, so a refused or bad
/// query gets its error page instead of a broken download.
pub fn stream<R, F, Fut>(filename: &str, header: &'static str, chunk: i64, first: Vec<R>, read: F, cells: fn(R) -> Vec<String>) -> HttpResponse
where
    R: 'static,
    F: FnMut(i64) -> Fut + 'static,
    Fut: Future<Output = Result<Vec<R>, AppError>> + 'static,
{
    let start = Export { header: Some(header), ready: Some(first), offset: 0, chunk, done: false, read };
    let body = futures_util::stream::unfold(start, move |mut export| async move {
        if export.done {
            return None;
        }
        let rows = match export.ready.take() {
            Some(rows) => rows,
            None => match (export.read)(export.offset).await {
                Ok(rows) => rows,
                Err(error) => {
                    // The answer has begun: all that is left is to cut it short.
                    tracing::error!(error = ?error, "a CSV export failed part way");
                    export.done = true;
                    return Some((Err(error), export));
                }
            },
        };
        export.done = (rows.len() as i64) < export.chunk;
        export.offset += rows.len() as i64;
        let mut text = export.header.take().map(|h| format!("{h}\r\n")).unwrap_or_default();
        for row in rows {
            text.push_str(&line(&cells(row)));
        }
        Some((Ok::<_, AppError>(Bytes::from(text)), export))
    });
    headers(filename).streaming(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(cell("+1 555-010-0101"), "'+1 555-010-0101");
    }

    #[test]
    fn a_line_joins_its_cells_and_ends_in_crlf() {
        assert_eq!(line(&["x".to_owned(), "y,z".to_owned()]), "x,\"y,z\"\r\n");
    }

    fn pair(n: i64) -> Vec<String> {
        vec![n.to_string(), format!("row {n}")]
    }

    #[actix_web::test]
    async fn a_stream_sends_every_chunk_once_and_stops_after_a_short_one() {
        let reads = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let seen = reads.clone();
        let read = move |offset: i64| {
            seen.borrow_mut().push(offset);
            async move { Ok((offset..(offset + 3).min(7)).collect::<Vec<i64>>()) }
        };

        let response = stream("t.csv", "n,name", 3, vec![0, 1, 2], read, pair);
        let body = actix_web::body::to_bytes(response.into_body()).await.map_err(|_| "body").unwrap();

        let text = String::from_utf8(body.to_vec()).unwrap();
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 8, "the header and seven rows");
        assert_eq!(lines[0], "n,name");
        assert_eq!(lines[7], "6,row 6");
        assert_eq!(*reads.borrow(), vec![3, 6], "the first chunk came with the call; the short third ended it");
    }

    #[actix_web::test]
    async fn an_empty_export_is_its_header() {
        let read = |_: i64| async { Ok(Vec::<i64>::new()) };

        let response = stream("t.csv", "n,name", 3, Vec::new(), read, pair);
        let body = actix_web::body::to_bytes(response.into_body()).await.map_err(|_| "body").unwrap();

        assert_eq!(&body[..], b"n,name\r\n");
    }
}
