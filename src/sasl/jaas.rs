//! JAAS login configuration files in the syntax Java's `ConfigFile` reads, as
//! ZooKeeper's server is given one (`-Djava.security.auth.login.config=FILE`):
//!
//! ```text
//! Server {
//!     org.apache.zookeeper.server.auth.DigestLoginModule required
//!     user_bob="bobsecret"
//!     user_alice="alicesecret";
//! };
//! ```
//!
//! Sections (`name { entry; ... };`), each entry a login module class, a control flag
//! (`required`, `requisite`, `sufficient`, `optional`, any case) and `key=value` options,
//! values quoted or bare; `//` and `/* */` comments. Java's `${property}` expansion in
//! values is not done (the text is kept as written). Pure: text in, sections or an
//! error naming the line out.

/// A parsed file: its sections in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JaasConfig {
    pub sections: Vec<Section>,
}

/// One application's entries (`Server { ... };`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub modules: Vec<LoginModule>,
}

/// One login module entry.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginModule {
    pub class: String,
    /// The control flag, lower case.
    pub flag: String,
    /// The options in file order.
    pub options: Vec<(String, String)>,
    /// The line the entry starts on.
    pub line: usize,
}

/// Options hold passwords: Debug shows their keys only.
impl std::fmt::Debug for LoginModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.options.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("LoginModule")
            .field("class", &self.class)
            .field("flag", &self.flag)
            .field("option_keys", &keys)
            .field("line", &self.line)
            .finish()
    }
}

/// Bad syntax, at a line (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct JaasError {
    pub line: usize,
    pub message: String,
}

impl JaasConfig {
    /// The section named `name` (case-sensitive, as Java looks it up).
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Quoted(String),
    Punct(char),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("'{w}'"),
            Tok::Quoted(q) => format!("\"{q}\""),
            Tok::Punct(c) => format!("'{c}'"),
        }
    }
}

/// Splits the text into tokens with their line numbers.
fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, JaasError> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let start = line;
                chars.next();
                let mut prev = ' ';
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                    }
                    if prev == '*' && c == '/' {
                        closed = true;
                        break;
                    }
                    prev = c;
                }
                if !closed {
                    return Err(JaasError {
                        line: start,
                        message: "comment /* is never closed".into(),
                    });
                }
            }
            '{' | '}' | ';' | '=' => out.push((Tok::Punct(c), line)),
            '"' => {
                let start = line;
                let mut s = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        // Java's StreamTokenizer escapes.
                        '\\' => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('r') => s.push('\r'),
                            Some(other) => s.push(other),
                            None => break,
                        },
                        '\n' => {
                            // StreamTokenizer ends a quoted string at the line's end.
                            break;
                        }
                        c => s.push(c),
                    }
                }
                if !closed {
                    return Err(JaasError {
                        line: start,
                        message: "quoted string is not closed on its line".into(),
                    });
                }
                out.push((Tok::Quoted(s), start));
            }
            c => {
                let mut w = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, '{' | '}' | ';' | '=' | '"') {
                        break;
                    }
                    w.push(n);
                    chars.next();
                }
                out.push((Tok::Word(w), line));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
    last_line: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(t, _)| t)
    }

    fn line(&self) -> usize {
        self.toks.get(self.at).map_or(self.last_line, |(_, l)| *l)
    }

    fn err(&self, what: &str) -> JaasError {
        let found = self
            .peek()
            .map_or_else(|| "the end of the file".to_owned(), Tok::describe);
        JaasError {
            line: self.line(),
            message: format!("expected {what}, found {found}"),
        }
    }

    fn punct(&mut self, c: char) -> Result<(), JaasError> {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.err(&format!("'{c}'")))
        }
    }

    /// A word or a quoted string.
    fn value(&mut self, what: &str) -> Result<String, JaasError> {
        match self.peek() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => {
                let w = w.clone();
                self.at += 1;
                Ok(w)
            }
            _ => Err(self.err(what)),
        }
    }

    fn word(&mut self, what: &str) -> Result<String, JaasError> {
        match self.peek() {
            Some(Tok::Word(w)) => {
                let w = w.clone();
                self.at += 1;
                Ok(w)
            }
            _ => Err(self.err(what)),
        }
    }
}

/// Parses a JAAS configuration file's text.
pub fn parse(text: &str) -> Result<JaasConfig, JaasError> {
    let toks = tokenize(text)?;
    let last_line = text.lines().count().max(1);
    let mut p = Parser {
        toks,
        at: 0,
        last_line,
    };
    let mut cfg = JaasConfig::default();
    while p.peek().is_some() {
        let line = p.line();
        let name = p.value("a section name")?;
        if cfg.section(&name).is_some() {
            // Java's ConfigFile refuses a second entry for the same name.
            return Err(JaasError {
                line,
                message: format!("section {name} is given twice"),
            });
        }
        p.punct('{')?;
        let mut modules = Vec::new();
        while p.peek() != Some(&Tok::Punct('}')) {
            let line = p.line();
            let class = p.word("a login module class name or '}'")?;
            let flag = p.word("a control flag (required, requisite, sufficient, optional)")?;
            let flag = flag.to_ascii_lowercase();
            if !matches!(
                flag.as_str(),
                "required" | "requisite" | "sufficient" | "optional"
            ) {
                return Err(JaasError {
                    line,
                    message: format!(
                        "invalid control flag {flag} (expected required, requisite, sufficient \
                         or optional)"
                    ),
                });
            }
            let mut options = Vec::new();
            while p.peek() != Some(&Tok::Punct(';')) {
                let key = p.word("an option name or ';'")?;
                p.punct('=')?;
                let value = p.value("an option value")?;
                options.push((key, value));
            }
            p.punct(';')?;
            modules.push(LoginModule {
                class,
                flag,
                options,
                line,
            });
        }
        p.punct('}')?;
        p.punct(';')?;
        cfg.sections.push(Section { name, modules });
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zookeeper_server_section_with_comments_and_quoting() {
        let text = "// ZooKeeper's server side\n\
                    Server {\n\
                    \x20   org.apache.zookeeper.server.auth.DigestLoginModule Required\n\
                    \x20   user_super=\"adminsecret\" /* the admin */\n\
                    \x20   user_bob=\"bob \\\"the\\\" secret\"\n\
                    \x20   debug=true;\n\
                    };\n\
                    Client { org.apache.zookeeper.server.auth.DigestLoginModule optional \
                    username=\"bob\" password=\"x\"; };\n";
        let cfg = parse(text).expect("parses");
        assert_eq!(cfg.sections.len(), 2);
        let s = cfg.section("Server").expect("Server");
        assert_eq!(s.modules.len(), 1);
        let m = &s.modules[0];
        assert_eq!(
            m.class,
            "org.apache.zookeeper.server.auth.DigestLoginModule"
        );
        assert_eq!(m.flag, "required");
        assert_eq!(m.line, 3);
        assert_eq!(
            m.options,
            vec![
                ("user_super".to_owned(), "adminsecret".to_owned()),
                ("user_bob".to_owned(), "bob \"the\" secret".to_owned()),
                ("debug".to_owned(), "true".to_owned()),
            ]
        );
        assert!(cfg.section("server").is_none());
        assert!(!format!("{m:?}").contains("adminsecret"));
    }

    #[test]
    fn empty_file_has_no_sections() {
        assert_eq!(parse("").expect("empty"), JaasConfig::default());
        assert_eq!(
            parse("\n// nothing\n").expect("comments"),
            JaasConfig::default()
        );
    }

    #[test]
    fn bad_syntax_names_the_line() {
        for (text, line, needle) in [
            (
                "Server {\n  a.B required user_x=\"y\"\n};\n",
                3,
                "expected an option name or ';'",
            ),
            (
                "Server {\n  a.B mandatory;\n};",
                2,
                "invalid control flag mandatory",
            ),
            ("Server\n  a.B required;\n};", 2, "expected '{'"),
            (
                "Server {\n  a.B required user_x=;\n};",
                2,
                "expected an option value",
            ),
            ("Server {\n  a.B required user_x=\"y;\n};", 2, "not closed"),
            (
                "Server {\n  a.B required;\n}",
                3,
                "expected ';', found the end",
            ),
            (
                "S { a.B required; };\nS { a.B required; };",
                2,
                "given twice",
            ),
            ("/* open\nServer {};", 1, "never closed"),
            ("Server { a.B required x y; };", 1, "expected '='"),
        ] {
            let e = parse(text).expect_err(text);
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.to_string().contains(needle), "{text:?}: {e}");
        }
    }
}
