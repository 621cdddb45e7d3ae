//! Authentication-Results headers (RFC 8601), read by the grammar.
//!
//! Only a fallback for the sender's domain authentication (`dkim`): when
//! our own DKIM check cannot reach a result because DNS is unreachable, the
//! topmost header written by the board's own mail server may vouch for the
//! sender. Such a header is a list of `method=result` entries separated by
//! `;`, each with properties (`header.d=example.test`), and anything may
//! hide in its comments (`(…)`, nested, with `\` escapes) and quoted
//! strings (`reason="…"`, a quoted local part in `smtp.mailfrom`). Splitting
//! it on `;` and spaces, as a naive reader does, lets a sender's own text
//! (an SPF comment echoing the envelope sender, a reason) read as a result
//! the server never wrote; here comments are skipped and quoted strings are
//! taken whole, and a header that does not follow the grammar vouches for
//! nothing.

/// One `method=result` entry of a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResInfo {
    /// The method, lower-case: `dkim`, `dmarc`, `spf`, …
    pub method: String,
    /// The result, lower-case: `pass`, `fail`, `none`, …
    pub result: String,
    /// Properties as (`ptype.property` lower-case, value): ("header.d",
    /// "example.test"). Vendor `name=value` extras (Microsoft's `action=`)
    /// are kept under their bare name.
    pub props: Vec<(String, String)>,
}

impl ResInfo {
    /// The value of a property (`header.d`), if given.
    pub fn prop(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// Who wrote it, as written.
    pub authserv_id: String,
    pub results: Vec<ResInfo>,
}

/// The topmost of `headers` (unfolded values, topmost first) written by
/// `authserv_id`, parsed; `None` when there is none. A header of that
/// server that breaks the grammar is `Some(Err)`: it is the topmost, and
/// vouches for nothing (a later one is not consulted).
pub fn topmost<'a>(
    headers: impl IntoIterator<Item = &'a str>,
    authserv_id: &str,
) -> Option<Result<AuthResults, String>> {
    let wanted = authserv_id.trim().trim_end_matches('.');
    headers
        .into_iter()
        .find(|h| id_of(h).is_some_and(|id| id.trim_end_matches('.').eq_ignore_ascii_case(wanted)))
        .map(parse)
}

/// The authserv-id a header starts with, if it starts like one.
pub fn id_of(header: &str) -> Option<String> {
    let mut c = Cursor::new(header);
    c.cfws().ok()?;
    c.value().ok().filter(|id| !id.is_empty())
}

/// Parses one header value (what follows `Authentication-Results:`).
pub fn parse(header: &str) -> Result<AuthResults, String> {
    let mut c = Cursor::new(header);
    c.cfws()?;
    let authserv_id = c.value()?;
    if authserv_id.is_empty() {
        return Err("no authserv-id".into());
    }
    c.cfws()?;
    if c.peek().is_some_and(|b| b.is_ascii_digit()) {
        let version = c.digits();
        if version != "1" {
            return Err(format!("unknown version {version}"));
        }
        c.cfws()?;
    }
    let mut results = Vec::new();
    loop {
        match c.peek() {
            None => break,
            Some(b';') => c.bump(),
            Some(b) => return Err(format!("expected ';', found {:?}", char::from(b))),
        }
        c.cfws()?;
        if c.peek().is_none() {
            // A trailing ';' some servers write.
            break;
        }
        let method = c.keyword()?;
        c.cfws()?;
        if method == "none" && matches!(c.peek(), None | Some(b';')) {
            // "no-result": nothing was checked.
            continue;
        }
        if c.peek() == Some(b'/') {
            c.bump();
            c.cfws()?;
            if c.digits().is_empty() {
                return Err(format!("no version after {method}/"));
            }
            c.cfws()?;
        }
        c.expect(b'=')?;
        c.cfws()?;
        let result = c.keyword()?;
        let mut props = Vec::new();
        loop {
            let spaced = c.cfws()?;
            if matches!(c.peek(), None | Some(b';')) {
                break;
            }
            if !spaced {
                return Err(format!("no space before a property of {method}"));
            }
            let ptype = c.keyword()?;
            c.cfws()?;
            match c.peek() {
                Some(b'.') => {
                    c.bump();
                    c.cfws()?;
                    let property = c.keyword()?;
                    c.cfws()?;
                    c.expect(b'=')?;
                    c.cfws()?;
                    let value = c.pvalue()?;
                    props.push((format!("{ptype}.{property}"), value));
                }
                // reasonspec, or a vendor's name=value.
                Some(b'=') => {
                    c.bump();
                    c.cfws()?;
                    let value = c.value()?;
                    props.push((ptype, value));
                }
                _ => return Err(format!("malformed property {ptype} of {method}")),
            }
        }
        results.push(ResInfo {
            method,
            result,
            props,
        });
    }
    Ok(AuthResults {
        authserv_id,
        results,
    })
}

/// RFC 2045 tspecials, which end a token.
fn tspecial(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')'
            | b'<'
            | b'>'
            | b'@'
            | b','
            | b';'
            | b':'
            | b'\\'
            | b'"'
            | b'/'
            | b'['
            | b']'
            | b'?'
            | b'='
    )
}

fn space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Cursor<'a> {
        Cursor {
            s: s.as_bytes(),
            i: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn bump(&mut self) {
        self.i += 1;
    }

    fn expect(&mut self, want: u8) -> Result<(), String> {
        match self.peek() {
            Some(b) if b == want => {
                self.bump();
                Ok(())
            }
            Some(b) => Err(format!(
                "expected {:?}, found {:?}",
                char::from(want),
                char::from(b)
            )),
            None => Err(format!("expected {:?} at the end", char::from(want))),
        }
    }

    /// Skips folding white space and comments (nested, with quoted
    /// pairs); whether anything was skipped.
    fn cfws(&mut self) -> Result<bool, String> {
        let start = self.i;
        loop {
            match self.peek() {
                Some(b) if space(b) => self.bump(),
                Some(b'(') => self.comment()?,
                _ => return Ok(self.i > start),
            }
        }
    }

    fn comment(&mut self) -> Result<(), String> {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return Err("unterminated comment".into()),
                Some(b'\\') => {
                    self.bump();
                    if self.peek().is_none() {
                        return Err("unterminated comment".into());
                    }
                    self.bump();
                }
                Some(b'(') => {
                    depth += 1;
                    self.bump();
                }
                Some(b')') => {
                    self.bump();
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Some(_) => self.bump(),
            }
        }
    }

    fn quoted(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err("unterminated quoted string".into()),
                Some(b'"') => {
                    self.bump();
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(b'\\') => {
                    self.bump();
                    match self.peek() {
                        Some(b) => out.push(b),
                        None => return Err("unterminated quoted string".into()),
                    }
                    self.bump();
                }
                Some(b) => {
                    out.push(b);
                    self.bump();
                }
            }
        }
    }

    fn run(&mut self, part_of: impl Fn(u8) -> bool) -> &'a str {
        let start = self.i;
        while self.peek().is_some_and(&part_of) {
            self.bump();
        }
        self.s
            .get(start..self.i)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }

    fn digits(&mut self) -> String {
        self.run(|b| b.is_ascii_digit()).to_string()
    }

    /// A method, result or property name.
    fn keyword(&mut self) -> Result<String, String> {
        let k = self.run(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if k.is_empty() {
            return Err(match self.peek() {
                Some(b) => format!("expected a name, found {:?}", char::from(b)),
                None => "expected a name at the end".into(),
            });
        }
        Ok(k.to_ascii_lowercase())
    }

    /// RFC 2045 value: a token or a quoted string.
    fn value(&mut self) -> Result<String, String> {
        if self.peek() == Some(b'"') {
            return self.quoted();
        }
        let t = self.run(|b| b > b' ' && b != 0x7f && !tspecial(b));
        if t.is_empty() {
            return Err("expected a value".into());
        }
        Ok(t.to_string())
    }

    /// A property's value: a value, an address, a domain, with quoted
    /// parts (a quoted local part) taken whole.
    fn pvalue(&mut self) -> Result<String, String> {
        let mut out = String::new();
        loop {
            match self.peek() {
                Some(b'"') => out.push_str(&self.quoted()?),
                Some(b) if b > b' ' && b != 0x7f && !matches!(b, b';' | b'(' | b')') => {
                    out.push_str(
                        self.run(|b| {
                            b > b' ' && b != 0x7f && !matches!(b, b';' | b'(' | b')' | b'"')
                        }),
                    );
                }
                _ => break,
            }
        }
        if out.is_empty() {
            return Err("expected a property value".into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(h: &str) -> Vec<(String, String, Option<String>)> {
        parse(h)
            .unwrap()
            .results
            .into_iter()
            .map(|r| {
                let d = r.prop("header.d").map(str::to_string);
                (r.method, r.result, d)
            })
            .collect()
    }

    fn r(m: &str, res: &str, d: Option<&str>) -> (String, String, Option<String>) {
        (m.into(), res.into(), d.map(str::to_string))
    }

    #[test]
    fn gmail() {
        let h = "mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=20230601 header.b=Tz7f/G+A;\r\n       \
                 spf=pass (google.com: domain of an@example.com designates 209.85.220.41 as permitted sender) smtp.mailfrom=an@example.com;\r\n       \
                 dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.com";
        let a = parse(h).unwrap();
        assert_eq!(a.authserv_id, "mx.google.com");
        assert_eq!(a.results.len(), 3);
        assert_eq!(a.results[0].prop("header.b"), Some("Tz7f/G+A"));
        assert_eq!(a.results[0].prop("header.i"), Some("@example.com"));
        assert_eq!(a.results[1].prop("smtp.mailfrom"), Some("an@example.com"));
        assert_eq!(a.results[2].method, "dmarc");
        assert_eq!(a.results[2].prop("header.from"), Some("example.com"));
    }

    #[test]
    fn postfix_with_opendkim_and_opendmarc() {
        assert_eq!(
            results(
                "mail.xa.vn;\n\tdkim=pass (2048-bit key; unprotected) header.d=xa.vn header.i=@xa.vn header.a=rsa-sha256 header.s=mail header.b=AbCd/+Ef"
            ),
            vec![r("dkim", "pass", Some("xa.vn"))]
        );
        assert_eq!(
            results("mail.xa.vn; dmarc=pass (p=reject dis=none) header.from=xa.vn"),
            vec![r("dmarc", "pass", None)]
        );
        assert_eq!(
            results("mail.xa.vn 1; none"),
            Vec::<(String, String, Option<String>)>::new()
        );
        // rspamd, with a trailing ';'.
        assert_eq!(
            results(
                "mx.xa.vn;\n\tdkim=pass header.d=xa.vn header.s=dkim header.b=\"Ab/c\";\n\tspf=pass (mx.xa.vn: domain of \"a b\"@xa.vn) smtp.mailfrom=\"a b\"@xa.vn;"
            ),
            vec![r("dkim", "pass", Some("xa.vn")), r("spf", "pass", None)]
        );
    }

    #[test]
    fn outlook() {
        // Exchange Online writes no authserv-id: nothing to trust it by.
        let h = "spf=pass (sender IP is 209.85.128.41) smtp.mailfrom=gmail.com; dkim=pass (signature was verified) header.d=gmail.com;dmarc=pass action=none header.from=gmail.com;compauth=pass reason=100";
        assert!(parse(h).is_err());
        assert_eq!(id_of(h).as_deref(), Some("spf"));
        assert!(topmost([h], "gmail.com").is_none());
        // Its ARC-Authentication-Results, with an id and a version.
        let arc = "mx.microsoft.com 1; spf=pass smtp.mailfrom=xa.vn; dmarc=pass action=none header.from=xa.vn; dkim=pass header.d=xa.vn; arc=none";
        let a = parse(arc).unwrap();
        assert_eq!(a.results.len(), 4);
        assert_eq!(a.results[1].prop("action"), Some("none"));
        assert_eq!(a.results[2].prop("header.d"), Some("xa.vn"));
    }

    #[test]
    fn what_hides_in_comments_and_quotes_is_not_a_result() {
        // A result in a comment, nested comments, a comment with a quoted pair.
        assert_eq!(
            results(
                "mx.example.test; dkim=fail (bad) header.d=example.test; x=y (; dkim=pass header.d=example.test )"
            ),
            vec![r("dkim", "fail", Some("example.test")), r("x", "y", None)]
        );
        assert_eq!(
            results(
                "mx.example.test; dkim=fail (a (b; dkim=pass header.d=example.test) \\) ; dkim=pass header.d=example.test) header.d=evil.test"
            ),
            vec![r("dkim", "fail", Some("evil.test"))]
        );
        // A reason.
        assert_eq!(
            results(
                "mx.example.test; dkim=fail reason=\"bad sig; dkim=pass header.d=example.test \" header.d=evil.test"
            ),
            vec![r("dkim", "fail", Some("evil.test"))]
        );
        // A quoted local part echoed in SPF.
        let a = parse(
            "mx.example.test; spf=pass smtp.mailfrom=\"x;dkim=pass header.d=example.test\"@evil.test",
        )
        .unwrap();
        assert_eq!(a.results.len(), 1);
        assert_eq!(
            a.results[0].prop("smtp.mailfrom"),
            Some("x;dkim=pass header.d=example.test@evil.test")
        );
        // A quoted string with an escaped quote.
        assert_eq!(
            results(
                "mx.example.test; spf=pass smtp.mailfrom=\"a\\\";dkim=pass header.d=example.test\"@evil.test"
            ),
            vec![r("spf", "pass", None)]
        );
    }

    #[test]
    fn broken_headers_vouch_for_nothing() {
        for h in [
            "mx.example.test; dkim=pass (unterminated header.d=example.test",
            "mx.example.test; dkim=pass header.d=example.test reason=\"open",
            "mx.example.test; dkim=pass header.d=example.test; =pass header.d=x",
            "mx.example.test; dkim=pass header.d=",
            "mx.example.test; dkim pass header.d=example.test",
            "mx.example.test 2; dkim=pass header.d=example.test",
            "mx.example.test dkim=pass header.d=example.test",
            "mx.example.test; dkim=passheader.d=example.test x",
        ] {
            assert!(parse(h).is_err(), "{h}");
        }
    }

    #[test]
    fn only_the_topmost_header_of_the_server_counts() {
        let headers = [
            "other.example; dkim=pass header.d=example.test",
            "MX.example.test. ; dkim=fail header.d=example.test",
            "mx.example.test; dkim=pass header.d=example.test",
        ];
        let top = topmost(headers, "mx.example.test").unwrap().unwrap();
        assert_eq!(top.results[0].result, "fail");
        assert!(topmost(headers, "none.example").is_none());
        // A broken header of the server is the topmost all the same.
        let headers = [
            "mx.example.test; dkim=pass (header.d=example.test",
            "mx.example.test; dkim=pass header.d=example.test",
        ];
        assert!(topmost(headers, "mx.example.test").unwrap().is_err());
        // The id may be quoted.
        let top = topmost(
            ["\"mx.example.test\"; dkim=pass header.d=a.vn"],
            "mx.example.test",
        );
        assert!(top.unwrap().is_ok());
    }
}
