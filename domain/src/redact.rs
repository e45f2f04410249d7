//! Words from outside (an AWS service's error, a platform's answer) made fit for logs and
//! timelines: no personal data (invariant 7 in docs/architecture.md). SES names the recipient
//! it refused; serde quotes the value it could not read; either may be a person's address,
//! name or number.

/// `text` with every email address, quoted value and long run of digits replaced by a
/// placeholder; the words around them, which say what went wrong, are kept.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        // A quoted value, as serde and most services quote what they refuse.
        if c == '"' || c == '\'' || c == '`' {
            if let Some(end) = rest[1..].find(c) {
                out.push(c);
                out.push('…');
                out.push(c);
                rest = &rest[end + 2..];
                continue;
            }
        }
        let word_end = rest
            .find(|ch: char| {
                ch.is_whitespace() || matches!(ch, ',' | ';' | '(' | ')' | '<' | '>' | '[' | ']')
            })
            .unwrap_or(rest.len());
        if word_end == 0 {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let word = &rest[..word_end];
        out.push_str(&redact_word(word));
        rest = &rest[word_end..];
    }
    out
}

fn redact_word(word: &str) -> String {
    if let Some(at) = word.find('@') {
        let (local, domain) = (&word[..at], &word[at + 1..]);
        if !local.is_empty() && domain.contains('.') {
            return "<email>".into();
        }
    }
    // A phone number or another long number (7 digits or more, as people write them).
    let digits = word.chars().filter(char::is_ascii_digit).count();
    let phone_like = word
        .chars()
        .all(|ch| ch.is_ascii_digit() || matches!(ch, '+' | '-' | '.' | '/'));
    if digits >= 7 && phone_like {
        return "<number>".into();
    }
    word.to_owned()
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn a_refused_recipient_leaves_no_address_in_the_message() {
        let ses = "MessageRejected: Email address is not verified. The following identities failed the check in region US-EAST-1: ana.ferreira@northwind-logistics.com, leads@acme.io";
        assert_eq!(
            redact(ses),
            "MessageRejected: Email address is not verified. The following identities failed the check in region US-EAST-1: <email>, <email>"
        );
    }

    #[test]
    fn a_value_serde_could_not_read_is_left_out() {
        let serde =
            r#"invalid type: string "Ana Ferreira", expected a sequence at line 1 column 42"#;
        assert_eq!(
            redact(serde),
            r#"invalid type: string "…", expected a sequence at line 1 column 42"#
        );
    }

    #[test]
    fn numbers_a_person_may_own_go_and_small_ones_stay() {
        assert_eq!(
            redact("call +1-415-555-2671 or 4155552671; status 503 after 3 tries"),
            "call <number> or <number>; status 503 after 3 tries"
        );
    }

    #[test]
    fn unicode_and_an_unclosed_quote_are_kept_safely() {
        assert_eq!(redact("Müller's \"oops"), "Müller's \"oops");
        assert_eq!(redact(""), "");
    }
}
