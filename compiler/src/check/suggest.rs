//! "did you mean ...?": the nearest known name to a misspelled one.

/// The candidate closest to `wrong`, when it is close enough to be a
/// plausible typo (Jaro-Winkler similarity, as rustc's typo suggestions
/// use edit distance with a similar cut-off).
pub fn nearest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter(|c| *c != wrong)
        .map(|c| {
            (
                strsim::jaro_winkler(&wrong.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        // Ties go to the alphabetically first name, so that the suggestion
        // does not depend on the order candidates come in.
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

/// `did you mean `x`?` for the nearest candidate.
pub(crate) fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    nearest(wrong, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_but_not_unrelated_names() {
        assert_eq!(
            nearest("outptu_1", ["input", "output_1", "output_2"]),
            Some("output_1")
        );
        assert_eq!(
            nearest("tcp.ot", ["tcp.in", "tcp.out", "stdout"]),
            Some("tcp.out")
        );
        assert_eq!(nearest("prot", ["port", "host"]), Some("port"));
        assert_eq!(nearest("zebra", ["port", "host"]), None);
        assert_eq!(nearest("out_4", ["out_2", "out_1", "out_3"]), Some("out_1"));
        assert_eq!(nearest("out_4", ["out_3", "out_1", "out_2"]), Some("out_1"));
    }
}
