//! Text laid out for a terminal: the one renderer of aligned columns, used by every
//! table the CLI prints (query results, the dry run's figures, gates and sample rows,
//! `status`, the plan's summary). Drawn by `comfy-table` without borders: each line
//! starts with a prefix, columns are left-aligned and two spaces apart, and trailing
//! spaces are trimmed.

use comfy_table::presets::NOTHING;

/// `rows` under `header` (no header line when it is empty) as aligned columns, one line
/// per row, each line starting with `prefix` (e.g. two spaces of indent, or `--   `).
/// A cell with a line break spans several lines. Nothing at all for no header and no rows.
pub fn columns(header: &[String], rows: &[Vec<String>], prefix: &str) -> String {
    if header.is_empty() && rows.is_empty() {
        return String::new();
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(NOTHING);
    if !header.is_empty() {
        table.set_header(header);
    }
    table.add_rows(rows);
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table.lines().map(|line| format!("{prefix}{}\n", line.trim_end())).collect()
}

/// Label–value pairs as two aligned columns, one line per pair, each line starting with
/// `prefix`: the key-value blocks of `status`, the dry run and the plan's summary.
pub fn pairs<L: ToString, V: ToString>(pairs: &[(L, V)], prefix: &str) -> String {
    let rows: Vec<Vec<String>> = pairs.iter().map(|(l, v)| vec![l.to_string(), v.to_string()]).collect();
    columns(&[], &rows, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn columns_are_left_aligned_two_spaces_apart_without_borders() {
        let header = strings(&["revenue_date", "merchant_id", "net"]);
        let rows = vec![strings(&["2024-12-01", "20", "1.50"]), strings(&["2024-12-02", "7", "NULL"])];
        assert_eq!(
            columns(&header, &rows, "  "),
            "  revenue_date  merchant_id  net\n  2024-12-01    20           1.50\n  2024-12-02    7            NULL\n"
        );
        assert_eq!(columns(&header, &[], ""), "revenue_date  merchant_id  net\n");
        assert_eq!(columns(&[], &[], "  "), "");
    }

    #[test]
    fn pairs_align_their_values() {
        let text = pairs(&[("rows", "10 written"), ("fingerprint", "sha256:ab")], "--   ");
        assert_eq!(text, "--   rows         10 written\n--   fingerprint  sha256:ab\n");
    }
}
