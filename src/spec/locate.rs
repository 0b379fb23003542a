//! Where each field of a spec sits in its YAML text.
//!
//! serde-saphyr reports positions for syntax and type errors but not for the checks we
//! run afterwards (an end date before the start, a table that does not exist). This
//! module walks the same text with the event parser that serde-saphyr itself uses and
//! re-exports (`granit_parser`), and records, for every value, its dotted path
//! (`source_range.exclude[0]`) and its 1-based line and column, and for every mapping
//! the span it covers (to name the mapping a serde error falls in).

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Marker, Parser, ScalarStyle, Span, SpannedEventReceiver};

/// A 1-based line and column in the spec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line, counting from 1.
    pub line: usize,
    /// Column, counting from 1.
    pub column: usize,
    /// True when the value is a `|` or `>` block scalar; line and column are then those
    /// of its first content character.
    pub block: bool,
}

/// Dotted field path → position of its value, e.g. `"target.keys[1]"` → 9:18.
#[derive(Debug, Clone, Default)]
pub struct PathIndex {
    positions: HashMap<String, Location>,
    /// Where each value itself starts (a container's own `[`, `{`, `-` or first key) → its path.
    starts: HashMap<(usize, usize), String>,
    /// Every mapping: its path, where its first key starts and where it ends, in text order.
    mappings: Vec<MappingSpan>,
}

/// The text a mapping covers, from its first key to the token after its last value.
#[derive(Debug, Clone)]
struct MappingSpan {
    path: String,
    start: (usize, usize),
    end: (usize, usize),
}

impl PathIndex {
    /// Index `text`. A text that does not parse gives an empty index: serde-saphyr reports
    /// the syntax error itself, with its own position.
    pub fn build(text: &str) -> Self {
        let mut walker = Walker::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut walker, false).is_err() {
            return Self::default();
        }
        Self { positions: walker.positions, starts: walker.starts, mappings: walker.mappings }
    }

    /// The innermost mapping that holds 1-based `line` and `column`: its dotted path
    /// (empty for the top level) and where it starts (its first key).
    pub fn mapping_at(&self, line: usize, column: usize) -> Option<(&str, (usize, usize))> {
        let at = (line, column);
        // Mappings are recorded in text order, so the last one that holds `at` is the innermost.
        self.mappings.iter().rev().find(|m| m.start <= at && at < m.end).map(|m| (m.path.as_str(), m.start))
    }

    /// The field whose value starts exactly at 1-based `line` and `column`, if any.
    pub fn field_at(&self, line: usize, column: usize) -> Option<&str> {
        self.starts.get(&(line, column)).map(String::as_str)
    }

    /// Position of the value at `path`, or of its nearest ancestor that is present
    /// (a missing field is reported where its parent mapping starts).
    pub fn find(&self, path: &str) -> Option<Location> {
        let mut path = path;
        loop {
            if let Some(loc) = self.positions.get(path) {
                return Some(*loc);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

enum Frame {
    /// A mapping: its path, the key waiting for its value, and the index of its span.
    Map {
        path: String,
        key: Option<(String, Marker)>,
        span: usize,
    },
    Seq {
        path: String,
        next: usize,
    },
}

#[derive(Default)]
struct Walker {
    stack: Vec<Frame>,
    positions: HashMap<String, Location>,
    starts: HashMap<(usize, usize), String>,
    mappings: Vec<MappingSpan>,
}

impl Walker {
    /// The path of the value that starts now and the marker of its key, if it is a
    /// mapping value; `None` when the event is itself a mapping key.
    fn value_path(&mut self) -> Option<(String, Option<Marker>)> {
        match self.stack.last_mut() {
            None => Some((String::new(), None)),
            Some(Frame::Map { key: None, .. }) => None,
            Some(Frame::Map { path, key, .. }) => {
                let (key, mark) = key.take().expect("matched Some");
                Some((if path.is_empty() { key } else { format!("{path}.{key}") }, Some(mark)))
            }
            Some(Frame::Seq { path, next }) => {
                *next += 1;
                Some((format!("{path}[{}]", *next - 1), None))
            }
        }
    }

    /// A mapping or sequence value is located at its key (`transform:`), because a block
    /// container's own start marker falls after its first key.
    fn open(&mut self, mark: Marker, seq: bool) {
        let (path, key_mark) = self.value_path().unwrap_or_default();
        self.record(&path, key_mark.unwrap_or(mark), false);
        self.starts.entry((mark.line(), mark.col() + 1)).or_insert_with(|| path.clone());
        if seq {
            self.stack.push(Frame::Seq { path, next: 0 });
        } else {
            let start = (mark.line(), mark.col() + 1);
            self.mappings.push(MappingSpan { path: path.clone(), start, end: (usize::MAX, 0) });
            self.stack.push(Frame::Map { path, key: None, span: self.mappings.len() - 1 });
        }
    }

    fn close(&mut self, mark: Marker) {
        if let Some(Frame::Map { span, .. }) = self.stack.pop() {
            self.mappings[span].end = (mark.line(), mark.col() + 1);
        }
    }

    fn record(&mut self, path: &str, mark: Marker, block: bool) {
        let loc = Location { line: mark.line(), column: mark.col() + 1, block };
        self.positions.insert(path.to_string(), loc);
    }
}

impl<'input> SpannedEventReceiver<'input> for Walker {
    fn on_event(&mut self, ev: Event<'input>, span: Span) {
        let mark = span.start;
        match ev {
            Event::Scalar(text, style, _, _) => match self.value_path() {
                None => {
                    if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                        *key = Some((text.into_owned(), mark));
                    }
                }
                Some((path, _)) => {
                    let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                    self.record(&path, mark, block);
                    self.starts.entry((mark.line(), mark.col() + 1)).or_insert(path);
                }
            },
            Event::MappingStart(..) => self.open(mark, false),
            Event::SequenceStart(..) => self.open(mark, true),
            Event::MappingEnd | Event::SequenceEnd => self.close(mark),
            Event::Alias(_) => {
                let _ = self.value_path();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values_and_falls_back_to_parent() {
        let text = "a: 1\nb:\n  c: [x, y]\n  d: |\n    text\n";
        let idx = PathIndex::build(text);
        assert_eq!(idx.find("a").map(|l| (l.line, l.column)), Some((1, 4)));
        assert_eq!(idx.find("b.c[1]").map(|l| (l.line, l.column)), Some((3, 10)));
        let block = idx.find("b.d").unwrap();
        assert!(block.block);
        // A block scalar is located at its first content line and column, not at `|`.
        assert_eq!((block.line, block.column), (5, 5));
        assert_eq!(idx.find("b.missing").map(|l| l.line), idx.find("b").map(|l| l.line));
        // A block mapping value is located at its key.
        assert_eq!(idx.find("b").map(|l| (l.line, l.column)), Some((2, 1)));
        assert_eq!(idx.find("b.c").map(|l| (l.line, l.column)), Some((3, 3)));
        // Mappings cover their keys: `c` and `d` sit in `b`, which starts at its first key.
        assert_eq!(idx.mapping_at(4, 3), Some(("b", (3, 3))));
        assert_eq!(idx.mapping_at(1, 1), Some(("", (1, 1))));
        assert_eq!(idx.field_at(3, 10), Some("b.c[1]"));
    }

    #[test]
    fn text_that_does_not_parse_gives_an_empty_index() {
        let idx = PathIndex::build("a: [1, 2\nb: {");
        assert!(idx.find("a").is_none());
        assert!(idx.mapping_at(1, 1).is_none());
    }
}
