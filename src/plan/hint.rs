//! "did you mean ...?" suggestions for misspelt keys and names.

/// The candidate closest to `word`, when it is close enough to be a likely typo: Jaro-Winkler
/// similarity of at least 0.8, or at most two edits on a word long enough for that to mean
/// something. Case is ignored when comparing.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let word_lower = word.to_lowercase();
    let mut best: Option<(f64, &'a str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        let cand_lower = candidate.to_lowercase();
        let similarity = strsim::jaro_winkler(&word_lower, &cand_lower);
        let edits = strsim::levenshtein(&word_lower, &cand_lower);
        let longest = word_lower.chars().count().max(cand_lower.chars().count());
        let close = similarity >= 0.8 || (edits <= 2 && edits * 3 <= longest);
        if close && best.is_none_or(|(s, _)| similarity > s) {
            best = Some((similarity, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `"; did you mean `x`?"` or nothing.
pub(super) fn suffix<'a, I>(word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    did_you_mean(word, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAGE_KEYS: &[&str] = &[
        "id",
        "needs",
        "environment",
        "run",
        "rollback",
        "timeout",
        "retries",
    ];

    #[test]
    fn suggests_close_words() {
        assert_eq!(
            did_you_mean("tiemout", STAGE_KEYS.iter().copied()),
            Some("timeout")
        );
        assert_eq!(did_you_mean("retry", STAGE_KEYS.iter().copied()), Some("retries"));
        assert_eq!(
            did_you_mean("env", STAGE_KEYS.iter().copied()),
            Some("environment")
        );
        assert_eq!(did_you_mean("ID", STAGE_KEYS.iter().copied()), Some("id"));
        assert_eq!(did_you_mean("prd", ["staging", "prod"]), Some("prod"));
        assert_eq!(did_you_mean("biuld", ["build", "test"]), Some("build"));
        assert_eq!(
            did_you_mean("stages", ["plan", "environments", "stage", "gates"]),
            Some("stage")
        );
    }

    #[test]
    fn stays_quiet_when_nothing_is_close() {
        assert_eq!(did_you_mean("x", STAGE_KEYS.iter().copied()), None);
        assert_eq!(
            did_you_mean("drift", ["plan", "environments", "stage", "gates"]),
            None
        );
        assert_eq!(did_you_mean("owner", STAGE_KEYS.iter().copied()), None);
        assert_eq!(did_you_mean("anything", std::iter::empty()), None);
        assert_eq!(suffix("zzz", ["build"]), "");
        assert_eq!(suffix("buidl", ["build"]), "; did you mean `build`?");
    }
}
