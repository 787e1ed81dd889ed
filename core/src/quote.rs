//! Bounded quotations of what a file or a peer sent, for log lines: a line that complains about
//! a 10 MB value quotes a few hundred bytes of it, never the whole.

/// The most bytes of a value a log line quotes.
pub const MAX_EXCERPT: usize = 200;

/// `text` itself if it is at most [`MAX_EXCERPT`] bytes; otherwise its first bytes (cut at a
/// character boundary) followed by `...` and its whole length.
pub fn excerpt(text: &str) -> String {
    if text.len() <= MAX_EXCERPT {
        return text.to_owned();
    }
    let mut end = MAX_EXCERPT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

/// How many problems of one file are kept and logged one by one; the rest are counted.
pub const MAX_LISTED_PROBLEMS: usize = 20;

/// The problems found in one file, by line: the first [`MAX_LISTED_PROBLEMS`] kept, the rest
/// only counted, so a file of a million bad lines costs a few log lines and bytes of memory.
#[derive(Debug)]
pub(crate) struct Problems<T> {
    listed: Vec<T>,
    /// The line of the first problem not listed, and how many were not.
    more: Option<(usize, usize)>,
}

impl<T> Default for Problems<T> {
    fn default() -> Self {
        Problems {
            listed: Vec::new(),
            more: None,
        }
    }
}

impl<T> Problems<T> {
    /// A problem on 1-based line `line`; `problem` is built only if it is listed.
    pub(crate) fn push(&mut self, line: usize, problem: impl FnOnce() -> T) {
        if self.listed.len() < MAX_LISTED_PROBLEMS {
            self.listed.push(problem());
        } else {
            self.more.get_or_insert((line, 0)).1 += 1;
        }
    }

    /// The listed problems, then `more(line, count)` for those only counted, if any.
    pub(crate) fn finish(mut self, more: impl FnOnce(usize, usize) -> T) -> Vec<T> {
        if let Some((line, count)) = self.more {
            self.listed.push(more(line, count));
        }
        self.listed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_whole_and_long_text_is_cut_with_its_length() {
        assert_eq!(excerpt("10.0.0.x"), "10.0.0.x");
        let exact = "a".repeat(MAX_EXCERPT);
        assert_eq!(excerpt(&exact), exact);
        let long = "b".repeat(10 << 20);
        assert_eq!(
            excerpt(&long),
            format!("{}... (10485760 bytes)", "b".repeat(200))
        );
    }

    #[test]
    fn problems_past_the_limit_are_counted_from_the_first_one() {
        let mut p = Problems::default();
        for line in 1..=MAX_LISTED_PROBLEMS + 5 {
            p.push(line, || format!("line {line}"));
        }
        let all = p.finish(|line, count| format!("{count} more from line {line}"));
        assert_eq!(all.len(), MAX_LISTED_PROBLEMS + 1);
        assert_eq!(
            all[MAX_LISTED_PROBLEMS - 1],
            format!("line {MAX_LISTED_PROBLEMS}")
        );
        assert_eq!(
            all[MAX_LISTED_PROBLEMS],
            format!("5 more from line {}", MAX_LISTED_PROBLEMS + 1)
        );
        let few = Problems::default();
        assert!(few.finish(|_, _| "more".to_string()).is_empty());
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        // 'é' is two bytes: the 200th byte is inside the 100th 'é' of "xé…".
        let text = format!("x{}", "é".repeat(300));
        let cut = excerpt(&text);
        assert!(cut.starts_with(&format!("x{}...", "é".repeat(99))), "{cut}");
        assert!(cut.ends_with(&format!("({} bytes)", text.len())));
    }
}
