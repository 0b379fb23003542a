//! Where each field of a spec sits in its YAML text.
//!
//! serde_yaml reports positions for syntax and type errors but not for the checks we
//! run afterwards (an end date before the start, a table that does not exist). This
//! module walks the same text with yaml-rust2's event parser and records, for every
//! value, its dotted path (`source_range.exclude[0]`) and its 1-based line and column.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

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
}

impl PathIndex {
    /// Index `text`. A text that does not parse gives an empty index: serde_yaml reports
    /// the syntax error itself, with its own position.
    pub fn build(text: &str) -> Self {
        let mut walker = Walker::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut walker, false).is_err() {
            return Self::default();
        }
        Self { positions: walker.positions }
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
    Map { path: String, key: Option<(String, Marker)> },
    Seq { path: String, next: usize },
}

#[derive(Default)]
struct Walker {
    stack: Vec<Frame>,
    positions: HashMap<String, Location>,
}

impl Walker {
    /// The path of the value that starts now and the marker of its key, if it is a
    /// mapping value; `None` when the event is itself a mapping key.
    fn value_path(&mut self) -> Option<(String, Option<Marker>)> {
        match self.stack.last_mut() {
            None => Some((String::new(), None)),
            Some(Frame::Map { key: None, .. }) => None,
            Some(Frame::Map { path, key }) => {
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
        self.stack.push(if seq { Frame::Seq { path, next: 0 } } else { Frame::Map { path, key: None } });
    }

    fn record(&mut self, path: &str, mark: Marker, block: bool) {
        let loc = Location { line: mark.line(), column: mark.col() + 1, block };
        self.positions.insert(path.to_string(), loc);
    }
}

impl MarkedEventReceiver for Walker {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, style, _, _) => match self.value_path() {
                None => {
                    if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                        *key = Some((text, mark));
                    }
                }
                Some((path, _)) => {
                    let block = matches!(style, TScalarStyle::Literal | TScalarStyle::Folded);
                    self.record(&path, mark, block);
                }
            },
            Event::MappingStart(..) => self.open(mark, false),
            Event::SequenceStart(..) => self.open(mark, true),
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
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
    }
}
