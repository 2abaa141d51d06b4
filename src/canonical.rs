//! The canonical-format pass: turns hcl-rs output into the bytes `terraform fmt` produces.
//!
//! hcl-rs spaces tokens like Terraform, but neither indents a line that closes one bracket and
//! opens another (`}, {`) the way Terraform does nor aligns `=`. This pass re-indents every
//! line by Terraform's bracket-counting rule and aligns the `=` of a run of lines that each hold
//! a whole `key = value` (brackets balanced after the `=`); a line that opens a multi-line
//! value, a block header, a closing bracket or a blank line ends the run.

/// One source line: its text without surrounding space, its indentation depth, and the byte
/// offset (in `text`) of its assignment `=` when it holds a whole attribute.
struct Line<'a> {
    text: &'a str,
    depth: usize,
    cell: Option<usize>,
}

impl Line<'_> {
    /// Columns up to the `=`: indentation plus the key.
    fn key_width(&self, cell: usize) -> usize {
        2 * self.depth + self.text[..cell].trim_end().chars().count()
    }
}

/// Formats one file.
pub fn format(source: &str) -> String {
    let lines = layout(source);
    let mut out = String::with_capacity(source.len() + source.len() / 4);
    let mut i = 0;
    while i < lines.len() {
        let Some(_) = lines[i].cell else {
            push_line(&mut out, &lines[i]);
            i += 1;
            continue;
        };
        let start = i;
        while i < lines.len() && lines[i].cell.is_some() {
            i += 1;
        }
        let run = &lines[start..i];
        let width = run.iter().map(|l| l.key_width(l.cell.unwrap_or(0))).max().unwrap_or(0);
        for line in run {
            let cell = line.cell.expect("in a run");
            push_indent(&mut out, line.depth);
            out.push_str(line.text[..cell].trim_end());
            for _ in line.key_width(cell)..=width {
                out.push(' ');
            }
            out.push_str(line.text[cell..].trim_end());
            out.push('\n');
        }
    }
    out
}

fn push_indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// Indents every line the way Terraform does: a line with more openers than closers opens one
/// indentation level (however many brackets it opens); closers pop levels in the same units;
/// every other line keeps the current level.
fn layout(source: &str) -> Vec<Line<'_>> {
    let mut levels: Vec<i32> = Vec::new();
    let mut out = Vec::new();
    for raw in source.trim_end_matches('\n').split('\n') {
        let text = raw.trim();
        if text.is_empty() {
            out.push(Line { text, depth: 0, cell: None });
            continue;
        }
        let (net, cell) = scan(text);
        if net > 0 {
            out.push(Line { text, depth: levels.len(), cell });
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
        out.push(Line { text, depth: levels.len(), cell });
    }
    out
}

/// Writes a line that is not part of an aligned run; an empty block is written `name {}`.
fn push_line(out: &mut String, line: &Line<'_>) {
    if line.text.is_empty() {
        out.push('\n');
        return;
    }
    push_indent(out, line.depth);
    match line.text.strip_suffix('}').map(str::trim_end) {
        Some(open) if open.len() > 1 && open.ends_with('{') => {
            out.push_str(open);
            out.push('}');
        }
        _ => out.push_str(line.text),
    }
    out.push('\n');
}

/// Scans one trimmed line: openers minus closers outside string literals, and the byte offset
/// of the assignment `=` when the line holds a whole attribute (brackets balanced after it).
fn scan(line: &str) -> (i32, Option<usize>) {
    let bytes = line.as_bytes();
    if !bytes.iter().any(|b| b"\"{}[]()=#/".contains(b)) {
        return (0, None);
    }
    let mut scanner = Scanner::default();
    let mut eq = None;
    let mut net = 0i32;
    let mut total = 0i32;
    let mut seen_token = false;
    let mut i = 0;
    while i < bytes.len() {
        let (event, after) = scanner.step(bytes, i);
        match event {
            Event::Open => {
                net += 1;
                total += 1;
            }
            Event::Close => {
                net -= 1;
                total -= 1;
            }
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
    let cell = match eq {
        Some(pos) if net == 0 => Some(pos),
        _ => None,
    };
    (total, cell)
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
