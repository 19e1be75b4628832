//! CSV exports: one line per row, cells quoted where they must be, and a
//! cell that a spreadsheet would run as a formula defused with a quote.

use actix_web::HttpResponse;

/// One cell as CSV writes it.
pub fn cell(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() };
    if guarded.contains([',', '"', '\n', '\r']) { format!("\"{}\"", guarded.replace('"', "\"\"")) } else { guarded }
}

/// A header line and a line per row, each ending in CRLF.
pub fn document<R>(header: &str, rows: impl IntoIterator<Item = R>, cells: impl Fn(R) -> Vec<String>) -> String {
    let mut out = format!("{header}\r\n");
    for row in rows {
        out.push_str(&cells(row).iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// The answer that downloads `body` as `filename`.
pub fn download(filename: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{filename}\"")))
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
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
    fn a_document_has_its_header_and_a_line_a_row() {
        let text = document("a,b", [("x", "y,z")], |(a, b)| vec![a.to_owned(), b.to_owned()]);
        assert_eq!(text, "a,b\r\nx,\"y,z\"\r\n");
    }
}
