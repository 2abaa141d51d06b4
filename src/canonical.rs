//! The canonical-format pass: turns hcl-rs output into the bytes `terraform fmt` produces.
//!
//! hcl-rs already indents and spaces like Terraform; what it does not do is align the `=` of
//! consecutive attribute lines. Terraform aligns a run of lines that each hold a whole
//! `key = value` (brackets balanced after the `=`); a line that opens a multi-line value, a
//! block header, a closing bracket or a blank line ends the run.

/// Formats one file.
pub fn format(source: &str) -> String {
    let indented = indent(source);
    let lines: Vec<&str> = indented.iter().map(String::as_str).collect();
    let cells: Vec<Option<usize>> = lines.iter().map(|l| assignment(l)).collect();
    let mut out = String::with_capacity(source.len() + source.len() / 8);
    let mut i = 0;
    while i < lines.len() {
        if cells[i].is_none() {
            push_line(&mut out, lines[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < lines.len() && cells[i].is_some() {
            i += 1;
        }
        let width = (start..i).map(|j| lead(lines[j], cells[j]).chars().count()).max().unwrap_or(0);
        for j in start..i {
            let key = lead(lines[j], cells[j]);
            let rest = lines[j][cells[j].expect("in a run")..].trim_start();
            let pad = width - key.chars().count() + 1;
            let line = format!("{key}{}{rest}", " ".repeat(pad));
            push_line(&mut out, &line);
        }
    }
    out
}

/// Re-indents every line the way Terraform does: a line with more openers than closers
/// opens one indentation level (however many brackets it opens); closers pop levels in the
/// same units; every other line keeps the current level.
fn indent(source: &str) -> Vec<String> {
    let mut levels: Vec<i32> = Vec::new();
    let mut out = Vec::new();
    for raw in source.trim_end_matches('\n').split('\n') {
        let line = raw.trim();
        if line.is_empty() {
            out.push(String::new());
            continue;
        }
        let net = net_brackets(line);
        if net > 0 {
            out.push(format!("{}{line}", "  ".repeat(levels.len())));
            levels.push(net);
            continue;
        }
        let mut closed = -net;
        while closed > 0 {
            let Some(top) = levels.last_mut() else { break };
            if closed >= *top {
                closed -= *top;
                levels.pop();
            } else {
                *top -= closed;
                closed = 0;
            }
        }
        out.push(format!("{}{line}", "  ".repeat(levels.len())));
    }
    out
}

/// Openers minus closers on one line, outside string literals.
fn net_brackets(line: &str) -> i32 {
    let bytes = line.as_bytes();
    let mut scanner = Scanner::default();
    let (mut net, mut i) = (0, 0);
    while i < bytes.len() {
        let (event, after) = scanner.step(bytes, i);
        match event {
            Event::Open => net += 1,
            Event::Close => net -= 1,
            Event::Comment => break,
            _ => {}
        }
        i = after;
    }
    net
}

fn push_line(out: &mut String, line: &str) {
    let line = line.trim_end();
    // An empty block is written `name {}`.
    match line.strip_suffix('}').map(str::trim_end) {
        Some(open) if open.ends_with('{') && assignment(line).is_none() && !open.trim_start().is_empty() => {
            out.push_str(open);
            out.push('}');
        }
        _ => out.push_str(line),
    }
    out.push('\n');
}

fn lead(line: &str, eq: Option<usize>) -> &str {
    line[..eq.expect("in a run")].trim_end()
}

/// Byte offset of the assignment `=` of a line that holds a whole attribute, if it does.
fn assignment(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut scanner = Scanner::default();
    let mut eq = None;
    let mut net = 0i32;
    let mut seen_token = false;
    let mut i = 0;
    while i < bytes.len() {
        let (event, after) = scanner.step(bytes, i);
        match event {
            Event::Open => net += 1,
            Event::Close => net -= 1,
            Event::Equals if eq.is_none() && seen_token && net == 0 => {
                eq = Some(i);
                net = 0;
            }
            Event::Comment => break,
            _ => {}
        }
        if !bytes[i].is_ascii_whitespace() {
            seen_token = true;
        }
        i = after;
    }
    match eq {
        Some(pos) if net == 0 => Some(pos),
        _ => None,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Event {
    Open,
    Close,
    Equals,
    Comment,
    Other,
}

/// Tracks whether the scan is inside a quoted string or a template interpolation in one.
#[derive(Default)]
struct Scanner {
    /// One entry per nesting level: true for a quoted string, false for an expression
    /// (an interpolation `${` inside a string).
    stack: Vec<bool>,
}

impl Scanner {
    fn in_string(&self) -> bool {
        self.stack.last() == Some(&true)
    }

    fn step(&mut self, b: &[u8], i: usize) -> (Event, usize) {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if self.in_string() {
            return match (c, next) {
                (b'\\', _) => (Event::Other, i + 2),
                (b'$' | b'%', Some(b'{')) => {
                    if i > 0 && b[i - 1] == c {
                        // `$${` and `%%{` are escapes, not interpolations.
                        (Event::Other, i + 2)
                    } else {
                        self.stack.push(false);
                        (Event::Open, i + 2)
                    }
                }
                (b'"', _) => {
                    self.stack.pop();
                    (Event::Other, i + 1)
                }
                _ => (Event::Other, i + 1),
            };
        }
        match c {
            b'"' => {
                self.stack.push(true);
                (Event::Other, i + 1)
            }
            b'{' | b'[' | b'(' => {
                if !self.stack.is_empty() {
                    self.stack.push(false);
                }
                (Event::Open, i + 1)
            }
            b'}' | b']' | b')' => {
                if !self.stack.is_empty() {
                    self.stack.pop();
                }
                (Event::Close, i + 1)
            }
            b'#' => (Event::Comment, b.len()),
            b'/' if next == Some(b'/') => (Event::Comment, b.len()),
            b'=' | b'!' | b'<' | b'>' if next == Some(b'=') => (Event::Other, i + 2),
            b'=' if next == Some(b'>') => (Event::Other, i + 2),
            b'=' => (Event::Equals, i + 1),
            _ => (Event::Other, i + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn aligns_a_run_of_attributes() {
        let src = "resource \"a\" \"b\" {\n  name = \"x\"\n  longer_name = 1\n\n  z = [1]\n}\n";
        let want = "resource \"a\" \"b\" {\n  name        = \"x\"\n  longer_name = 1\n\n  z = [1]\n}\n";
        assert_eq!(format(src), want);
    }

    #[test]
    fn a_multi_line_value_ends_the_run() {
        let src = "a = 1\ntags = {\n  Name = \"x\"\n  Environment = \"DR\"\n}\nbb = 2\n";
        let want = "a = 1\ntags = {\n  Name        = \"x\"\n  Environment = \"DR\"\n}\nbb = 2\n";
        assert_eq!(format(src), want);
    }

    #[test]
    fn equals_inside_strings_and_templates_is_ignored() {
        let src = "a = \"x = {\"\nlong = \"${join(\"=\", [b])}\"\nc = d == e\n";
        let want = "a    = \"x = {\"\nlong = \"${join(\"=\", [b])}\"\nc    = d == e\n";
        assert_eq!(format(src), want);
    }

    #[test]
    fn objects_in_a_list_are_indented_as_terraform_does() {
        let src = "a = [{\n  b = 1\n}, {\n  c = 2\n}]\n";
        let want = "a = [{\n  b = 1\n  }, {\n  c = 2\n}]\n";
        assert_eq!(format(src), want);
    }

    #[test]
    fn escaped_interpolation_is_text() {
        let src = "a = \"$${x\"\nbbb = 1\n";
        assert_eq!(format(src), "a   = \"$${x\"\nbbb = 1\n");
    }
}
