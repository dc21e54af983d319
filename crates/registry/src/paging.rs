//! marker/pageSize paging as AWS does it: an opaque base64 marker that names the last item of
//! the previous page, so deleting while paging neither skips nor repeats an item.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use iotmock_model::{IotError, IotResult};

/// What a List call asked for.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub marker: Option<String>,
    pub page_size: Option<i64>,
    /// `None` means the operation's own default order.
    pub ascending: Option<bool>,
}

/// One page and, when more remain, the marker of the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

pub const DEFAULT_PAGE_SIZE: usize = 25;
pub const MAX_PAGE_SIZE: i64 = 250;

/// Sorts `items` by their key, in the requested direction, and cuts the page after `marker`.
pub fn paginate<T>(
    mut items: Vec<(String, T)>,
    req: &PageRequest,
    default_ascending: bool,
    size_field: &str,
) -> IotResult<Page<T>> {
    let size = page_size(req.page_size, size_field)?;
    let ascending = req.ascending.unwrap_or(default_ascending);
    items.sort_by(|a, b| a.0.cmp(&b.0));
    if !ascending {
        items.reverse();
    }
    if let Some(marker) = req.marker.as_deref().filter(|m| !m.is_empty()) {
        let after = decode_marker(marker)?;
        items.retain(|(k, _)| if ascending { *k > after } else { *k < after });
    }
    let more = items.len() > size;
    items.truncate(size);
    let next = match items.last() {
        Some((k, _)) if more => Some(STANDARD.encode(k.as_bytes())),
        _ => None,
    };
    Ok(Page {
        items: items.into_iter().map(|(_, v)| v).collect(),
        next,
    })
}

fn page_size(size: Option<i64>, field: &str) -> IotResult<usize> {
    match size {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n as usize),
        Some(n) => Err(IotError::invalid(format!(
            "1 validation error detected: Value '{n}' at '{field}' failed to satisfy constraint: \
             Member must have value between 1 and {MAX_PAGE_SIZE}"
        ))),
    }
}

fn decode_marker(marker: &str) -> IotResult<String> {
    STANDARD
        .decode(marker)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| IotError::invalid(format!("The marker '{marker}' is not valid")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<(String, usize)> {
        (0..n).map(|i| (format!("{i:03}"), i)).collect()
    }

    fn walk(n: usize, size: i64, ascending: Option<bool>) -> Vec<usize> {
        let mut req = PageRequest {
            page_size: Some(size),
            ascending,
            ..Default::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = paginate(keys(n), &req, true, "pageSize").expect("page");
            seen.extend(page.items);
            match page.next {
                Some(m) => req.marker = Some(m),
                None => return seen,
            }
        }
    }

    #[test]
    fn pages_cover_every_item_once_in_order() {
        assert_eq!(walk(7, 3, None), (0..7).collect::<Vec<_>>());
        assert_eq!(walk(7, 3, Some(false)), (0..7).rev().collect::<Vec<_>>());
        assert_eq!(walk(6, 3, None), (0..6).collect::<Vec<_>>());
        assert_eq!(walk(0, 3, None), Vec::<usize>::new());
    }

    #[test]
    fn bad_sizes_and_markers_are_invalid_requests() {
        let bad = |req: PageRequest| paginate(keys(3), &req, true, "pageSize").unwrap_err();
        assert!(
            bad(PageRequest {
                page_size: Some(0),
                ..Default::default()
            })
            .message
            .contains("between 1 and 250")
        );
        assert!(
            bad(PageRequest {
                page_size: Some(251),
                ..Default::default()
            })
            .message
            .contains("pageSize")
        );
        assert!(
            bad(PageRequest {
                marker: Some("!!".into()),
                ..Default::default()
            })
            .message
            .contains("marker")
        );
    }

    proptest::proptest! {
        #[test]
        fn any_page_size_visits_everything(n in 0usize..60, size in 1i64..20, asc: bool) {
            let mut want: Vec<usize> = (0..n).collect();
            if !asc { want.reverse(); }
            proptest::prop_assert_eq!(walk(n, size, Some(asc)), want);
        }
    }
}
