//! The checkers' text forms (`queue.txt`, `eph.txt`): one line split on whitespace,
//! with field accessors whose errors name the line.

/// One non-empty line's fields.
pub struct Line<'a> {
    pub fields: Vec<&'a str>,
    number: usize,
    text: &'a str,
}

impl<'a> Line<'a> {
    /// The non-empty lines of `text`, numbered from 1.
    pub fn all(text: &'a str) -> impl Iterator<Item = Line<'a>> {
        text.lines().enumerate().filter_map(|(i, l)| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            (!fields.is_empty()).then_some(Line {
                fields,
                number: i + 1,
                text: l,
            })
        })
    }

    /// The first field: the line's kind.
    pub fn kind(&self) -> &'a str {
        self.fields[0]
    }

    pub fn word(&self, j: usize) -> Option<&'a str> {
        self.fields.get(j).copied()
    }

    pub fn bad(&self, why: &str) -> String {
        format!("line {}: {why}: {:?}", self.number, self.text)
    }

    pub fn num(&self, j: usize) -> Result<u64, String> {
        self.word(j)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| self.bad("not a number"))
    }

    /// A number, or `-` for none.
    pub fn opt(&self, j: usize) -> Result<Option<u64>, String> {
        if self.word(j) == Some("-") {
            Ok(None)
        } else {
            self.num(j).map(Some)
        }
    }
}
