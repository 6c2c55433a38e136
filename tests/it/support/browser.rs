//! A minimal browser for HTTP-level flow tests: keeps cookies, never follows
//! redirects (the test follows them and checks each hop).

use std::collections::BTreeMap;

pub struct Browser {
    http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> url::Url {
        let l = self
            .headers
            .get("location")
            .expect("a redirect")
            .to_str()
            .unwrap();
        url::Url::parse(l).expect("absolute Location")
    }

    /// The value of a hidden input `name` in the page.
    pub fn input(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no input {name} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        html_unescape(&self.body[start..end])
    }
}

impl Page {
    /// Every `href` in the page, unescaped.
    pub fn hrefs(&self) -> Vec<String> {
        self.body
            .split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(html_unescape)
            .collect()
    }

    /// The page's first form as a browser would submit it: the `action`
    /// and every named `<input>` (hidden ones included), in order.
    pub fn form(&self) -> (String, Vec<(String, String)>) {
        let attr = |tag: &str, name: &str| -> Option<String> {
            let marker = format!("{name}=\"");
            let start = tag.find(&marker)? + marker.len();
            let end = tag[start..].find('"')? + start;
            Some(html_unescape(&tag[start..end]))
        };
        let form_at = self.body.find("<form").expect("a form");
        let form = &self.body[form_at..];
        let form = &form[..form.find("</form>").expect("a closed form")];
        let action = attr(&form[..form.find('>').unwrap()], "action").expect("an action");
        let fields = form
            .split("<input")
            .skip(1)
            .filter_map(|rest| {
                let tag = &rest[..rest.find('>')?];
                Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()))
            })
            .collect();
        (action, fields)
    }
}

fn html_unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

pub fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl Default for Browser {
    fn default() -> Self {
        Self {
            http: super::http(),
            cookies: BTreeMap::new(),
        }
    }
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, res: reqwest::Response) -> Page {
        for v in res.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            let expired = text.to_ascii_lowercase().contains("max-age=0") || val.is_empty();
            if expired {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        Page {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: res.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let res = self
            .http
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(res).await
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let res = self
            .http
            .post(url)
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.finish(res).await
    }
}
