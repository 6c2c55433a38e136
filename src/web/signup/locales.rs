//! Language choices on the sign-up form: the languages the server offers,
//! named in their own language, with the person's `ui_locales` preselected.

/// Native names of common language tags; others are shown as their tag.
const NAMES: &[(&str, &str)] = &[
    ("ar", "العربية"),
    ("ca", "Català"),
    ("cs", "Čeština"),
    ("cy", "Cymraeg"),
    ("da", "Dansk"),
    ("de", "Deutsch"),
    ("el", "Ελληνικά"),
    ("en", "English"),
    ("en-GB", "English (UK)"),
    ("eo", "Esperanto"),
    ("es", "Español"),
    ("eu", "Euskara"),
    ("fa", "فارسی"),
    ("fi", "Suomi"),
    ("fr", "Français"),
    ("ga", "Gaeilge"),
    ("gl", "Galego"),
    ("he", "עברית"),
    ("hu", "Magyar"),
    ("id", "Bahasa Indonesia"),
    ("is", "Íslenska"),
    ("it", "Italiano"),
    ("ja", "日本語"),
    ("ko", "한국어"),
    ("nl", "Nederlands"),
    ("no", "Norsk"),
    ("pl", "Polski"),
    ("pt", "Português"),
    ("pt-BR", "Português (Brasil)"),
    ("pt-PT", "Português (Portugal)"),
    ("ro", "Română"),
    ("ru", "Русский"),
    ("sk", "Slovenčina"),
    ("sl", "Slovenščina"),
    ("sv", "Svenska"),
    ("th", "ไทย"),
    ("tr", "Türkçe"),
    ("uk", "Українська"),
    ("vi", "Tiếng Việt"),
    ("zh-CN", "简体中文"),
    ("zh-TW", "繁體中文"),
];

/// One `<option>`.
pub struct Choice {
    pub tag: String,
    pub name: String,
    pub selected: bool,
}

fn name(tag: &str) -> String {
    NAMES
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(tag))
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| tag.to_string())
}

/// The tag among `offered` that fits `chosen` (the form's value) or else the
/// person's preferences, exactly or by primary language.
pub fn pick<'a>(
    offered: &'a [String],
    chosen: Option<&str>,
    preferred: &[String],
) -> Option<&'a str> {
    if let Some(c) = chosen {
        return offered.iter().find(|o| o.as_str() == c).map(String::as_str);
    }
    let primary = |t: &str| t.split('-').next().unwrap_or(t).to_ascii_lowercase();
    preferred.iter().find_map(|p| {
        offered
            .iter()
            .find(|o| o.eq_ignore_ascii_case(p))
            .or_else(|| offered.iter().find(|o| primary(o) == primary(p)))
            .map(String::as_str)
    })
}

pub fn choices(offered: &[String], selected: Option<&str>) -> Vec<Choice> {
    let selected = selected.or(offered.first().map(String::as_str));
    offered
        .iter()
        .map(|tag| Choice {
            tag: tag.clone(),
            name: name(tag),
            selected: Some(tag.as_str()) == selected,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ui_locales_preselect_by_tag_or_primary_language() {
        let offered = tags(&["de", "pt-BR", "en"]);
        assert_eq!(pick(&offered, None, &tags(&["pt-PT", "de"])), Some("pt-BR"));
        assert_eq!(pick(&offered, None, &tags(&["DE-at"])), Some("de"));
        assert_eq!(pick(&offered, None, &tags(&["ja"])), None);
        assert_eq!(pick(&offered, Some("en"), &tags(&["de"])), Some("en"));
        assert_eq!(pick(&offered, Some("xx"), &[]), None, "only offered values");
        let c = choices(&offered, Some("pt-BR"));
        assert_eq!(c[1].name, "Português (Brasil)");
        assert!(c[1].selected && !c[0].selected);
        assert!(
            choices(&offered, None)[0].selected,
            "the server's first language otherwise"
        );
    }
}
