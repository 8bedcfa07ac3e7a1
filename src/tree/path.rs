//! Znode path rules: `PathUtils.validatePath` of ZooKeeper 3.9, and parent/child
//! splitting as `PrepRequestProcessor` and `DataTree` do it.
//!
//! Owns only string checks; never looks at the tree. ZooKeeper checks UTF-16 code
//! units, so every character outside the Basic Multilingual Plane (a surrogate pair
//! in Java) is refused, exactly as ZooKeeper refuses it.

/// Why a path is not a valid znode path (ZooKeeper answers BADARGUMENTS for all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path length must be > 0")]
    Empty,
    #[error("path must start with / character")]
    NoLeadingSlash,
    #[error("path must not end with / character")]
    TrailingSlash,
    #[error("null character not allowed @{0}")]
    NullCharacter(usize),
    #[error("empty node name specified @{0}")]
    EmptyNodeName(usize),
    #[error("relative paths not allowed @{0}")]
    Relative(usize),
    #[error("invalid character @{0}")]
    InvalidCharacter(usize),
}

/// `PathUtils.validatePath(path)`. Positions in errors count UTF-16 units as Java does.
pub fn validate_path(path: &str) -> Result<(), PathError> {
    // Work on UTF-16 units: that is what Java's `char` is, and ZooKeeper's positions
    // and its surrogate range refer to them.
    let units: Vec<u16> = path.encode_utf16().collect();
    let first = match units.first() {
        None => return Err(PathError::Empty),
        Some(&c) => c,
    };
    if first != u16::from(b'/') {
        return Err(PathError::NoLeadingSlash);
    }
    if units.len() == 1 {
        return Ok(());
    }
    if units.last() == Some(&u16::from(b'/')) {
        return Err(PathError::TrailingSlash);
    }
    let slash = u16::from(b'/');
    let dot = u16::from(b'.');
    let at = |i: usize| units.get(i).copied();
    let mut last = slash;
    for (i, &c) in units.iter().enumerate().skip(1) {
        let ends_component = i + 1 == units.len() || at(i + 1) == Some(slash);
        if c == 0 {
            return Err(PathError::NullCharacter(i));
        } else if c == slash && last == slash {
            return Err(PathError::EmptyNodeName(i));
        } else if c == dot && last == dot {
            // i >= 2 here: the first unit is '/', so a '.' before this one is at i-1 >= 1.
            if i >= 2 && at(i - 2) == Some(slash) && ends_component {
                return Err(PathError::Relative(i));
            }
        } else if c == dot {
            if last == slash && ends_component {
                return Err(PathError::Relative(i));
            }
        } else if is_forbidden_unit(c) {
            return Err(PathError::InvalidCharacter(i));
        }
        last = c;
    }
    Ok(())
}

/// `PathUtils.validatePath(path, isSequential)`: a sequential create may end with '/'
/// because the sequence number is appended before the node is made.
pub fn validate_path_sequential(path: &str, is_sequential: bool) -> Result<(), PathError> {
    if is_sequential {
        validate_path(&format!("{path}1"))
    } else {
        validate_path(path)
    }
}

/// The UTF-16 units ZooKeeper refuses in node names: controls, C1 controls,
/// surrogates and the private use area, and the specials block.
fn is_forbidden_unit(c: u16) -> bool {
    (0x0001..=0x001f).contains(&c)
        || (0x007f..=0x009f).contains(&c)
        || (0xd800..=0xf8ff).contains(&c)
        || c >= 0xfff0
}

/// Splits at the last '/': `(parent, child)`. The parent of "/a" is "" (ZooKeeper's
/// own name for the root in this position); `None` when there is no '/'.
pub fn split_parent(path: &str) -> Option<(&str, &str)> {
    let i = path.rfind('/')?;
    Some((&path[..i], &path[i + 1..]))
}

/// The name watches and lookups use for a parent: ZooKeeper maps "" to "/".
pub fn parent_key(parent: &str) -> &str {
    if parent.is_empty() {
        "/"
    } else {
        parent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_paths() {
        for p in [
            "/", "/a", "/a/b", "/a.b", "/..a", "/a..", "/a/.b", "/é", "/a b", "/\u{a0}",
        ] {
            assert_eq!(validate_path(p), Ok(()), "{p:?}");
        }
    }

    #[test]
    fn invalid_paths_with_zookeeper_reasons() {
        assert_eq!(validate_path(""), Err(PathError::Empty));
        assert_eq!(validate_path("a"), Err(PathError::NoLeadingSlash));
        assert_eq!(validate_path("/a/"), Err(PathError::TrailingSlash));
        assert_eq!(validate_path("/a\0b"), Err(PathError::NullCharacter(2)));
        assert_eq!(validate_path("//a"), Err(PathError::EmptyNodeName(1)));
        assert_eq!(validate_path("/a//b"), Err(PathError::EmptyNodeName(3)));
        assert_eq!(validate_path("/."), Err(PathError::Relative(1)));
        assert_eq!(validate_path("/a/./b"), Err(PathError::Relative(3)));
        assert_eq!(validate_path("/.."), Err(PathError::Relative(2)));
        assert_eq!(validate_path("/a/../b"), Err(PathError::Relative(4)));
        assert_eq!(
            validate_path("/a\u{1}"),
            Err(PathError::InvalidCharacter(2))
        );
        assert_eq!(
            validate_path("/a\u{7f}"),
            Err(PathError::InvalidCharacter(2))
        );
        assert_eq!(
            validate_path("/a\u{9f}"),
            Err(PathError::InvalidCharacter(2))
        );
        assert_eq!(
            validate_path("/\u{e000}"),
            Err(PathError::InvalidCharacter(1))
        );
        assert_eq!(
            validate_path("/\u{f8ff}"),
            Err(PathError::InvalidCharacter(1))
        );
        assert_eq!(
            validate_path("/\u{fff0}"),
            Err(PathError::InvalidCharacter(1))
        );
        assert_eq!(
            validate_path("/\u{ffff}"),
            Err(PathError::InvalidCharacter(1))
        );
        // Outside the BMP: Java sees a high surrogate first.
        assert_eq!(
            validate_path("/\u{1F600}"),
            Err(PathError::InvalidCharacter(1))
        );
    }

    #[test]
    fn sequential_may_end_with_slash() {
        assert_eq!(validate_path_sequential("/a/", true), Ok(()));
        assert_eq!(
            validate_path_sequential("/a/", false),
            Err(PathError::TrailingSlash)
        );
        assert_eq!(validate_path_sequential("/", true), Ok(()));
    }

    #[test]
    fn parent_split() {
        assert_eq!(split_parent("/a"), Some(("", "a")));
        assert_eq!(split_parent("/a/b"), Some(("/a", "b")));
        assert_eq!(split_parent("a"), None);
        assert_eq!(parent_key(""), "/");
    }
}
