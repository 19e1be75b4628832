//! Which page links a pagination bar shows: the first and last pages and
//! a few around the current one, so the bar stays the same size however
//! many pages there are.

/// Pages shown on each side of the current one.
const AROUND: i64 = 2;

/// The bar's entries in order: a page number, or None for the gap between
/// two runs of pages.
pub fn page_links(page: i64, pages: i64) -> Vec<Option<i64>> {
    let mut links = Vec::new();
    let mut last = 0;
    for p in 1..=pages {
        let near = (page - AROUND..=page + AROUND).contains(&p);
        if p == 1 || p == pages || near {
            if p > last + 1 {
                links.push(None);
            }
            links.push(Some(p));
            last = p;
        } else if p > page + AROUND {
            // Jump straight to the last page rather than walk every page.
            if pages > last + 1 {
                links.push(None);
            }
            links.push(Some(pages));
            break;
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::page_links;

    #[test]
    fn few_pages_are_all_shown() {
        assert_eq!(page_links(1, 1), vec![Some(1)]);
        assert_eq!(page_links(2, 5), vec![Some(1), Some(2), Some(3), Some(4), Some(5)]);
    }

    #[test]
    fn many_pages_show_the_ends_and_the_neighbourhood_with_gaps() {
        assert_eq!(page_links(320, 640), vec![Some(1), None, Some(318), Some(319), Some(320), Some(321), Some(322), None, Some(640)]);
        assert_eq!(page_links(1, 640), vec![Some(1), Some(2), Some(3), None, Some(640)]);
        assert_eq!(page_links(640, 640), vec![Some(1), None, Some(638), Some(639), Some(640)]);
        assert_eq!(page_links(4, 640), vec![Some(1), Some(2), Some(3), Some(4), Some(5), Some(6), None, Some(640)]);
    }

    #[test]
    fn the_bar_has_the_same_size_whatever_the_number_of_pages() {
        assert_eq!(page_links(500, 1_000_000).len(), page_links(500, 2_000).len());
    }
}
