//! Vietnamese search over procedure names and codes, in memory.
//!
//! Vietnamese writes one syllable per space-separated word, so a name is a list of syllables.
//! Each is kept twice: as written (lower case, NFC) and as matched (its key: no diacritics, `đ` →
//! `d`, and a final `y` after a consonant written `i`, since `ký`/`kí`, `lý`/`lí`, `quy`/`qui`
//! are spelt both ways). A query is split the same way and each of its syllables may match:
//!
//! - a name's syllable with the same key (full weight; when the query has diacritics, a syllable
//!   written differently, e.g. `cáp` for `cấp`, counts a little less: folding never lets a weaker
//!   form tie with the one typed);
//! - for the last syllable, one that begins with it (`khai si` finds `khai sinh`);
//! - for a syllable that no name holds, one within one edit (`snh` finds `sinh`).
//!
//! Everyday phrases are rewritten through a list of synonyms kept as data (`sổ đỏ` → `giấy chứng
//! nhận quyền sử dụng đất`), and a few words people add around a request (`làm`, `xin`, `cách`)
//! are optional. A name then ranks, in this order: its whole name typed ([`Quality::Exact`], a
//! leading `Thủ tục` aside); every syllable of the query, in a row ([`Quality::Phrase`]) or not
//! ([`Quality::AllWords`]); most of them ([`Quality::SomeWords`]). Within a rank the score adds
//! the share of the query matched (weighted by how rare each syllable is), half the share of the
//! name the query covers (the plain procedure before its variants), a quarter of how close
//! together the matches are (1 for a phrase), and the document's prior. A query that looks like a
//! procedure code matches codes by prefix instead ([`Quality::Code`]).

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;

use super::text;

/// How a name matched a query, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Quality {
    /// More than half of the query (by weight), not all of it.
    SomeWords,
    /// Every syllable of the query, in any order.
    AllWords,
    /// The query's syllables in a row.
    Phrase,
    /// The whole name.
    Exact,
    /// The code, or a prefix of it.
    Code,
}

/// The rank a quality gives: a phrase is a strong bonus among the names that hold every word, not
/// a rank of its own, so that `dang ky ho kinh doanh` finds "Đăng ký thành lập hộ kinh doanh"
/// (all words, most of the name) before "Dừng thực hiện thủ tục đăng ký hộ kinh doanh" (the
/// words in a row, half of the name).
fn rank(quality: Quality) -> u8 {
    match quality {
        Quality::SomeWords => 1,
        Quality::AllWords | Quality::Phrase => 2,
        Quality::Exact => 3,
        Quality::Code => 4,
    }
}

/// One matching document, with its rank key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The document's position in the list the index was built from.
    pub doc: usize,
    pub quality: Quality,
    pub score: f32,
}

/// Syllables a query may add around what it asks for; they need not match.
const OPTIONAL: [&str; 12] = [
    "lam", "xin", "cach", "can", "gi", "nao", "dau", "muon", "the", "nhu", "o", "toi",
];
/// A query's syllables beyond this many are ignored.
const MAX_TOKENS: usize = 24;
/// Synonym rewrites tried per query.
const MAX_VARIANTS: usize = 8;
/// A rewrite through a synonym weighs a little less than what was typed.
const SYNONYM_FACTOR: f32 = 0.97;
/// Completions of the last syllable tried, and their weight.
const MAX_COMPLETIONS: usize = 400;
const PREFIX_WEIGHT: f32 = 0.8;
/// The weight of a syllable one edit away from one typed.
const TYPO_WEIGHT: f32 = 0.6;
/// The weight of a syllable with the same key but other diacritics than those typed.
const OTHER_MARKS: f32 = 0.9;
/// The least share of the query (by weight) a partial match must cover.
const MIN_SOME: f32 = 0.5;

/// A syllable as written (lower case, NFC, `y`/`i` as in the key) and the key it matches by.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Syllable {
    written: String,
    key: String,
}

fn is_onset_letter(c: char) -> bool {
    "bcdđghklmnpqrstvx".contains(c)
}

/// `y` as the vowel of a syllable whose onset is only consonants (or `qu`), spelt `i`: the two
/// spellings are interchangeable there (`kỹ`/`kĩ`, `lý`/`lí`, `quy`/`qui`), and nowhere else
/// (`tay` is not `tai`, `huy` is not `hui`).
fn y_as_i(syllable: &str) -> String {
    const Y: [(char, char); 6] = [
        ('y', 'i'),
        ('ý', 'í'),
        ('ỳ', 'ì'),
        ('ỷ', 'ỉ'),
        ('ỹ', 'ĩ'),
        ('ỵ', 'ị'),
    ];
    let mut chars: Vec<char> = syllable.chars().collect();
    let Some(&last) = chars.last() else {
        return String::new();
    };
    let Some(&(_, i)) = Y.iter().find(|(y, _)| *y == last) else {
        return syllable.to_owned();
    };
    let onset: String = chars[..chars.len() - 1].iter().collect();
    if !onset.is_empty() && (onset == "qu" || onset.chars().all(is_onset_letter)) {
        if let Some(slot) = chars.last_mut() {
            *slot = i;
        }
        return chars.into_iter().collect();
    }
    syllable.to_owned()
}

/// The syllables of a text: split on anything but letters and digits.
fn syllables(text_in: &str) -> Vec<Syllable> {
    let lower: String = text_in.nfc().flat_map(char::to_lowercase).collect();
    lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|s| !s.is_empty())
        .map(|s| {
            // `02` and `2` are one number.
            if s.chars().all(|c| c.is_ascii_digit()) {
                let n = s.trim_start_matches('0');
                let n = if n.is_empty() { "0" } else { n };
                return Syllable {
                    written: n.to_owned(),
                    key: n.to_owned(),
                };
            }
            let written = y_as_i(s);
            let key = y_as_i(&text::fold(s));
            Syllable { written, key }
        })
        .collect()
}

/// Whether `a` and `b` are within one edit (insertion, deletion, substitution or the swap of two
/// neighbours) of each other.
fn within_one_edit(a: &[char], b: &[char]) -> bool {
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if prefix == la && prefix == lb {
        return true;
    }
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    match la.cmp(&lb) {
        std::cmp::Ordering::Equal => {
            ra[1..] == rb[1..]
                || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
        std::cmp::Ordering::Less => ra == &rb[1..],
        std::cmp::Ordering::Greater => &ra[1..] == rb,
    }
}

/// Everyday phrases and the catalogue's wording for them, kept as data
/// (`data/search-synonyms.tsv`: `phrase`, then the alternatives separated by `|`).
#[derive(Debug, Clone, Default)]
pub struct Synonyms {
    /// Each phrase's keys, with its alternatives' keys; longest phrase first.
    entries: Vec<(Vec<String>, Vec<Vec<String>>)>,
}

impl Synonyms {
    /// Reads the tab-separated list (a header line, then `phrase<TAB>alternatives[<TAB>note]`),
    /// refusing a line without a phrase or an alternative.
    pub fn parse(tsv: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        for (n, line) in tsv.lines().enumerate().skip(1) {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split('\t');
            let keys =
                |s: &str| -> Vec<String> { syllables(s).into_iter().map(|s| s.key).collect() };
            let phrase = keys(fields.next().unwrap_or_default());
            let alternatives: Vec<Vec<String>> = fields
                .next()
                .unwrap_or_default()
                .split('|')
                .map(keys)
                .filter(|a| !a.is_empty())
                .collect();
            if phrase.is_empty() || alternatives.is_empty() {
                return Err(format!(
                    "line {}: a phrase and at least one alternative are needed",
                    n + 1
                ));
            }
            entries.push((phrase, alternatives));
        }
        entries.sort_by_key(|(phrase, _)| std::cmp::Reverse(phrase.len()));
        Ok(Synonyms { entries })
    }

    /// The query's rewrites: each phrase found (longest first, not overlapping) replaced by one of
    /// its alternatives, at most [`MAX_VARIANTS`] of them.
    fn rewrites(&self, keys: &[String]) -> Vec<Vec<Rewritten>> {
        let mut found: Vec<(usize, usize, &Vec<Vec<String>>)> = Vec::new();
        let mut taken = vec![false; keys.len()];
        for (phrase, alternatives) in &self.entries {
            let n = phrase.len();
            for start in 0..keys.len().saturating_sub(n - 1) {
                if taken[start..start + n].iter().any(|t| *t)
                    || keys[start..start + n] != phrase[..]
                {
                    continue;
                }
                taken[start..start + n].iter_mut().for_each(|t| *t = true);
                found.push((start, n, alternatives));
            }
        }
        found.sort_by_key(|(start, _, _)| *start);
        let mut variants: Vec<Vec<Rewritten>> = vec![Vec::new()];
        for (start, n, alternatives) in found {
            let mut next = Vec::new();
            for variant in &variants {
                for alternative in alternatives {
                    if next.len() == MAX_VARIANTS {
                        break;
                    }
                    let mut v = variant.clone();
                    v.push(Rewritten {
                        start,
                        len: n,
                        keys: alternative.clone(),
                    });
                    next.push(v);
                }
            }
            variants = next;
        }
        variants.retain(|v| !v.is_empty());
        variants
    }
}

/// A span of the query replaced by other keys.
#[derive(Debug, Clone)]
struct Rewritten {
    start: usize,
    len: usize,
    keys: Vec<String>,
}

/// A query syllable: the keys it accepts (by id), each with its weight.
#[derive(Debug)]
struct Term {
    /// How it was typed, when with diacritics (the id of that written form, `u32::MAX` for a form
    /// no name holds).
    written: Option<u32>,
    accept: Vec<(u32, f32)>,
    optional: bool,
    idf: f32,
}

#[derive(Debug)]
struct Doc {
    code: String,
    /// Each syllable's key id, and its written form's id.
    keys: Vec<u32>,
    written: Vec<u32>,
    /// Where the name proper begins (after a leading `Thủ tục`).
    core: usize,
}

/// The index over a list of (code, name) documents.
#[derive(Debug, Default)]
pub struct SearchIndex {
    docs: Vec<Doc>,
    /// Every key, sorted (for completions); its id is its position.
    vocabulary: Vec<String>,
    /// The same as characters, for edits.
    spelled: Vec<Vec<char>>,
    ids: HashMap<String, u32>,
    /// Written forms, by id.
    written_ids: HashMap<String, u32>,
    /// By key id: (document, position) of every syllable with that key.
    postings: Vec<Vec<(u32, u16)>>,
    /// By key id.
    idf: Vec<f32>,
    /// A small weight each document brings whatever the query (see [`SearchIndex::new`]).
    priors: Vec<f32>,
    synonyms: Synonyms,
}

impl SearchIndex {
    /// Indexes `docs` (code, name, prior); hits name them by their position in it. The prior, a
    /// few hundredths at most, decides between names that match equally well (the service gives
    /// one to procedures a commune carries out: what a citizen asking means most often).
    pub fn new<'a>(
        docs: impl IntoIterator<Item = (&'a str, &'a str, f32)>,
        synonyms: Synonyms,
    ) -> Self {
        let named: Vec<(String, Vec<Syllable>, f32)> = docs
            .into_iter()
            .map(|(code, name, prior)| (code.to_lowercase(), syllables(name), prior))
            .collect();
        let mut vocabulary: Vec<String> = named
            .iter()
            .flat_map(|(_, s, _)| s.iter().map(|s| s.key.clone()))
            .collect();
        vocabulary.sort();
        vocabulary.dedup();
        let ids: HashMap<String, u32> = vocabulary
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i as u32))
            .collect();
        let mut written_ids: HashMap<String, u32> = HashMap::new();
        let mut postings: Vec<Vec<(u32, u16)>> = vec![Vec::new(); vocabulary.len()];
        let mut index_docs = Vec::with_capacity(named.len());
        let mut priors = Vec::with_capacity(named.len());
        for (i, (code, syllables, prior)) in named.into_iter().enumerate() {
            let core =
                if syllables.len() > 2 && syllables[0].key == "thu" && syllables[1].key == "tuc" {
                    2
                } else {
                    0
                };
            let keys: Vec<u32> = syllables
                .iter()
                .map(|s| ids.get(&s.key).copied().unwrap_or_default())
                .collect();
            for (pos, key) in keys.iter().enumerate() {
                postings[*key as usize].push((i as u32, pos.min(u16::MAX as usize) as u16));
            }
            let written = syllables
                .into_iter()
                .map(|s| {
                    let next = written_ids.len() as u32;
                    *written_ids.entry(s.written).or_insert(next)
                })
                .collect();
            index_docs.push(Doc {
                code,
                keys,
                written,
                core,
            });
            priors.push(prior);
        }
        let n = index_docs.len() as f32;
        let idf = postings
            .iter()
            .map(|list| {
                let mut docs: Vec<u32> = list.iter().map(|(d, _)| *d).collect();
                docs.dedup();
                let df = docs.len() as f32;
                (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
            })
            .collect();
        SearchIndex {
            docs: index_docs,
            spelled: vocabulary.iter().map(|v| v.chars().collect()).collect(),
            vocabulary,
            ids,
            written_ids,
            postings,
            idf,
            priors,
            synonyms,
        }
    }

    /// Every document matching `query`, best first (ties by code).
    pub fn search(&self, query: &str) -> Vec<Hit> {
        let query = query.trim();
        if let Some(hits) = self.codes(query) {
            return hits;
        }
        let mut typed = syllables(query);
        typed.truncate(MAX_TOKENS);
        if typed.is_empty() {
            return Vec::new();
        }
        let mut best: HashMap<usize, Hit> = HashMap::new();
        let keep = |best: &mut HashMap<usize, Hit>, hit: Hit| {
            let slot = best.entry(hit.doc).or_insert(hit);
            if (rank(hit.quality), hit.score) > (rank(slot.quality), slot.score) {
                *slot = hit;
            }
        };
        let mut cache = HashMap::new();
        for hit in self.score(&self.terms(&typed, None, &mut cache), 1.0) {
            keep(&mut best, hit);
        }
        let keys: Vec<String> = typed.iter().map(|s| s.key.clone()).collect();
        for rewrite in self.synonyms.rewrites(&keys) {
            let terms = self.terms(&typed, Some(&rewrite), &mut cache);
            for hit in self.score(&terms, SYNONYM_FACTOR) {
                keep(&mut best, hit);
            }
        }
        let mut hits: Vec<Hit> = best.into_values().collect();
        hits.sort_by(|a, b| {
            rank(b.quality)
                .cmp(&rank(a.quality))
                .then(b.score.total_cmp(&a.score))
                .then_with(|| self.docs[a.doc].code.cmp(&self.docs[b.doc].code))
        });
        hits
    }

    /// Codes beginning with `query`, when it looks like a procedure code (`1.001193`, `2.0008`).
    fn codes(&self, query: &str) -> Option<Vec<Hit>> {
        let q = query.to_lowercase();
        let looks_like_code = q.starts_with(|c: char| c.is_ascii_digit())
            && q.contains('.')
            && q.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
        if !looks_like_code {
            return None;
        }
        // The national portal also writes a code with its record's suffix
        // (`1.001612.000.00.00.H48`): that is the procedure `1.001612`.
        let mut hits: Vec<Hit> = self
            .docs
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let score = if d.code == q
                    || q.strip_prefix(d.code.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
                {
                    1.0
                } else if d.code.starts_with(&q) {
                    0.5
                } else {
                    return None;
                };
                Some(Hit {
                    doc: i,
                    quality: Quality::Code,
                    score,
                })
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| self.docs[a.doc].code.cmp(&self.docs[b.doc].code))
        });
        (!hits.is_empty()).then_some(hits)
    }

    /// The keys a query syllable accepts besides itself: completions when it is the last one,
    /// neighbours within one edit when no name holds it.
    fn near(&self, key: &str, last: bool) -> Vec<(u32, f32)> {
        let mut out: Vec<(u32, f32)> = Vec::new();
        let known = self.ids.get(key).copied();
        if let Some(id) = known {
            out.push((id, 1.0));
        }
        if last && !key.is_empty() {
            let from = self.vocabulary.partition_point(|v| v.as_str() < key);
            for (offset, _) in self.vocabulary[from..]
                .iter()
                .enumerate()
                .take_while(|(_, v)| v.starts_with(key))
                .take(MAX_COMPLETIONS)
            {
                let id = (from + offset) as u32;
                if Some(id) != known {
                    out.push((id, PREFIX_WEIGHT));
                }
            }
        }
        if known.is_none() && key.chars().count() >= 3 {
            let chars: Vec<char> = key.chars().collect();
            for (id, candidate) in self.spelled.iter().enumerate() {
                if within_one_edit(&chars, candidate) && !out.iter().any(|(k, _)| *k == id as u32) {
                    out.push((id as u32, TYPO_WEIGHT));
                }
            }
        }
        out
    }

    /// The terms of a query, or of its rewrite. `near` keeps what [`Self::near`] found per key.
    fn terms(
        &self,
        typed: &[Syllable],
        rewrite: Option<&[Rewritten]>,
        cache: &mut HashMap<(String, bool), Vec<(u32, f32)>>,
    ) -> Vec<Term> {
        let mut units: Vec<(Option<u32>, String)> = Vec::new();
        let mut i = 0;
        while i < typed.len() {
            match rewrite.and_then(|r| r.iter().find(|w| w.start == i)) {
                Some(w) => {
                    units.extend(w.keys.iter().map(|k| (None, k.clone())));
                    i += w.len;
                }
                None => {
                    let s = &typed[i];
                    let marked = s.written != s.key;
                    let written = marked.then(|| {
                        self.written_ids
                            .get(&s.written)
                            .copied()
                            .unwrap_or(u32::MAX)
                    });
                    units.push((written, s.key.clone()));
                    i += 1;
                }
            }
        }
        units.truncate(MAX_TOKENS);
        let last = units.len().saturating_sub(1);
        units
            .into_iter()
            .enumerate()
            .map(|(i, (written, key))| {
                let accept = cache
                    .entry((key.clone(), i == last))
                    .or_insert_with(|| self.near(&key, i == last))
                    .clone();
                let idf = match self.ids.get(&key) {
                    Some(id) => self.idf[*id as usize],
                    None => accept
                        .iter()
                        .map(|(id, _)| self.idf[*id as usize])
                        .reduce(f32::max)
                        .unwrap_or(1.0),
                };
                Term {
                    optional: OPTIONAL.contains(&key.as_str()),
                    written,
                    accept,
                    idf,
                }
            })
            .collect()
    }

    /// The documents matching `terms`, each with its quality and score (times `factor`).
    fn score(&self, terms: &[Term], factor: f32) -> Vec<Hit> {
        let n = terms.len();
        // Per document: the terms matched, each term's best weight; and which documents.
        let mut masks: Vec<u32> = vec![0; self.docs.len()];
        let mut weights: Vec<f32> = vec![0.0; self.docs.len() * n];
        let mut touched: Vec<u32> = Vec::new();
        // Which terms accept each key: what the arrangement of a name is read with.
        let mut accepted_by: HashMap<u32, u32> = HashMap::new();
        for (t, term) in terms.iter().enumerate() {
            for &(key, weight) in &term.accept {
                *accepted_by.entry(key).or_default() |= 1 << t;
                for &(doc, pos) in &self.postings[key as usize] {
                    let d = doc as usize;
                    let w = match term.written {
                        Some(w) if w != self.docs[d].written[pos as usize] => weight * OTHER_MARKS,
                        _ => weight,
                    };
                    if masks[d] == 0 {
                        touched.push(doc);
                    }
                    let slot = &mut weights[d * n + t];
                    if w > *slot {
                        *slot = w;
                        masks[d] |= 1 << t;
                    }
                }
            }
        }
        let share = |t: &Term| if t.optional { 0.5 } else { 1.0 } * t.idf;
        let shares: Vec<f32> = terms.iter().map(share).collect();
        let total: f32 = shares.iter().sum::<f32>().max(f32::EPSILON);
        let required: u32 = terms
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.optional)
            .fold(0, |mask, (i, _)| mask | (1 << i));
        let required = if required == 0 {
            (1u32 << n) - 1
        } else {
            required
        };
        let mut hits = Vec::new();
        for doc in touched {
            let d = doc as usize;
            let mask = masks[d];
            let all = mask & required == required;
            let covered: f32 = weights[d * n..d * n + n]
                .iter()
                .zip(&shares)
                .map(|(w, s)| w * s)
                .sum::<f32>()
                / total;
            if !all && covered < MIN_SOME {
                continue;
            }
            let doc_ref = &self.docs[d];
            let (quality, closeness) = if all {
                arrangement(doc_ref, &accepted_by, required)
            } else {
                (Quality::SomeWords, 0.0)
            };
            let name_share = (mask.count_ones() as f32
                / (doc_ref.keys.len() - doc_ref.core).max(1) as f32)
                .min(1.0);
            hits.push(Hit {
                doc: d,
                quality,
                score: factor * (covered + 0.5 * name_share + 0.25 * closeness + self.priors[d]),
            });
        }
        hits
    }
}

/// How the required terms lie in a name that holds them all: the whole name, in a row, or
/// scattered; and how close together (1 in a row). `accepted_by` gives, per key, the terms that
/// accept it.
fn arrangement(doc: &Doc, accepted_by: &HashMap<u32, u32>, required: u32) -> (Quality, f32) {
    let wanted: Vec<u32> = (0..MAX_TOKENS as u32)
        .filter(|t| required & (1 << t) != 0)
        .collect();
    let bits: Vec<u32> = doc
        .keys
        .iter()
        .map(|k| accepted_by.get(k).copied().unwrap_or(0))
        .collect();
    let (n, len) = (wanted.len(), bits.len());
    if n <= len {
        for start in 0..=len - n {
            if wanted
                .iter()
                .enumerate()
                .all(|(i, t)| bits[start + i] & (1 << t) != 0)
            {
                let whole = (start == doc.core && n == len - doc.core) || (start == 0 && n == len);
                let quality = if whole {
                    Quality::Exact
                } else {
                    Quality::Phrase
                };
                return (quality, 1.0);
            }
        }
    }
    // The smallest window holding every term, in one pass.
    let mut last_seen: Vec<Option<usize>> = vec![None; n];
    let mut span = usize::MAX;
    for (pos, b) in bits.iter().enumerate() {
        for (i, t) in wanted.iter().enumerate() {
            if b & (1 << t) != 0 {
                last_seen[i] = Some(pos);
            }
        }
        if let Some(lo) = last_seen
            .iter()
            .copied()
            .collect::<Option<Vec<_>>>()
            .and_then(|s| s.into_iter().min())
        {
            span = span.min(pos - lo + 1);
        }
    }
    let closeness = if span == usize::MAX {
        0.0
    } else {
        n as f32 / span as f32
    };
    (Quality::AllWords, closeness)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(names: &[(&str, &str)], synonyms: &str) -> SearchIndex {
        SearchIndex::new(
            names.iter().map(|(c, n)| (*c, *n, 0.0)),
            Synonyms::parse(&format!("phrase\texpands_to\n{synonyms}")).expect("synonyms"),
        )
    }

    fn codes(index: &SearchIndex, names: &[(&str, &str)], q: &str) -> Vec<String> {
        index
            .search(q)
            .iter()
            .map(|h| names[h.doc].0.to_owned())
            .collect()
    }

    const NAMES: [(&str, &str); 6] = [
        ("1.001193", "Thủ tục đăng ký khai sinh"),
        ("2.000528", "Thủ tục đăng ký khai sinh có yếu tố nước ngoài"),
        ("1.004222", "Đăng ký thường trú"),
        ("1.003197", "Xóa đăng ký thường trú"),
        ("1.000894", "Thủ tục đăng ký kết hôn"),
        (
            "1.004859",
            "Thủ tục thay đổi, cải chính, bổ sung thông tin hộ tịch",
        ),
    ];

    #[test]
    fn y_and_i_are_one_letter_only_after_a_consonant_onset() {
        assert_eq!(y_as_i("ký"), "kí");
        assert_eq!(y_as_i("quy"), "qui");
        assert_eq!(y_as_i("lý"), "lí");
        assert_eq!(y_as_i("tay"), "tay");
        assert_eq!(y_as_i("huy"), "huy");
        assert_eq!(y_as_i("y"), "y");
    }

    #[test]
    fn one_edit_covers_a_missing_extra_wrong_or_swapped_letter() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert!(within_one_edit(&c("snh"), &c("sinh")));
        assert!(within_one_edit(&c("sinhh"), &c("sinh")));
        assert!(within_one_edit(&c("sinj"), &c("sinh")));
        assert!(within_one_edit(&c("isnh"), &c("sinh")));
        assert!(!within_one_edit(&c("sn"), &c("sinh")));
        assert!(!within_one_edit(&c("hnis"), &c("sinh")));
    }

    #[test]
    fn the_plain_procedure_comes_before_its_variants_and_kinds_of_match_rank_in_order() {
        let i = index(&NAMES, "");
        assert_eq!(
            codes(&i, &NAMES, "đăng ký khai sinh")[..2],
            ["1.001193", "2.000528"]
        );
        assert_eq!(codes(&i, &NAMES, "dang ky thuong tru")[0], "1.004222");
        assert_eq!(codes(&i, &NAMES, "đăng kí kết hôn")[0], "1.000894");
        assert_eq!(codes(&i, &NAMES, "ket hon dang ky")[0], "1.000894");
        assert_eq!(codes(&i, &NAMES, "dang ky khai snh")[0], "1.001193");
        assert_eq!(codes(&i, &NAMES, "dang ky khai si")[0], "1.001193");
        assert_eq!(codes(&i, &NAMES, "cải chính hộ tịch")[0], "1.004859");
        let hits = i.search("Thủ tục đăng ký khai sinh");
        assert_eq!(hits[0].quality, Quality::Exact);
        assert_eq!(i.search("đăng ký khai sinh")[0].quality, Quality::Exact);
        assert_eq!(i.search("khai sinh có yếu tố")[0].quality, Quality::Phrase);
        assert_eq!(i.search("ket hon dang ky")[0].quality, Quality::AllWords);
    }

    #[test]
    fn codes_match_by_prefix_and_nothing_else_does() {
        let i = index(&NAMES, "");
        assert_eq!(codes(&i, &NAMES, "1.001193"), ["1.001193"]);
        assert_eq!(
            codes(&i, &NAMES, "1.00"),
            ["1.000894", "1.001193", "1.003197", "1.004222", "1.004859"]
        );
        assert!(i.search("xyzzy plugh").is_empty());
        assert!(i.search("  ").is_empty());
    }

    #[test]
    fn synonyms_rewrite_everyday_words_and_filler_words_are_optional() {
        let i = index(
            &NAMES,
            "hộ khẩu\tthường trú|cư trú\ngiấy khai sinh\tđăng ký khai sinh",
        );
        assert_eq!(codes(&i, &NAMES, "nhập hộ khẩu")[0], "1.004222");
        assert_eq!(codes(&i, &NAMES, "làm giấy khai sinh")[0], "1.001193");
        assert!(Synonyms::parse("phrase\texpands_to\nsổ đỏ\t\n").is_err());
    }

    #[test]
    fn typed_diacritics_put_the_same_spelling_first() {
        let names = [("1", "Cấp giấy phép"), ("2", "Cáp giấy phép")];
        let i = index(&names, "");
        assert_eq!(codes(&i, &names, "cáp giấy phép")[0], "2");
        assert_eq!(codes(&i, &names, "cấp giấy phép")[0], "1");
        // Without diacritics both are as good, and the code decides.
        let plain = i.search("cap giay phep");
        assert_eq!(plain[0].score, plain[1].score);
    }
}

/// The judged query set over the bundled catalogue, without HTTP: `cargo test --lib
/// search_quality -- --ignored --nocapture` prints the figures per kind (the HTTP form is
/// `scripts/search_eval.py`).
#[cfg(test)]
mod quality {
    use std::collections::{BTreeMap, HashSet};
    use std::io::Read;

    use super::*;

    const COMMUNE_PRIOR: f32 = 0.03;

    #[test]
    #[ignore = "prints figures; run on purpose"]
    fn search_quality() {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut raw = String::new();
        flate2::read::GzDecoder::new(
            std::fs::File::open(format!("{root}/data/dvcqg-catalogue-2026-06.jsonl.gz"))
                .expect("the catalogue"),
        )
        .read_to_string(&mut raw)
        .expect("the catalogue unpacks");
        let records: Vec<serde_json::Value> = raw
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let docs: Vec<(String, String, bool)> = records
            .iter()
            .map(|r| {
                (
                    r["code"].as_str().unwrap_or_default().to_owned(),
                    r["name"].as_str().unwrap_or_default().to_owned(),
                    r["levels"].to_string().contains("commune"),
                )
            })
            .collect();
        let synonyms = Synonyms::parse(
            &std::fs::read_to_string(format!("{root}/data/search-synonyms.tsv")).expect("synonyms"),
        )
        .expect("synonyms parse");
        let index = SearchIndex::new(
            docs.iter().map(|(c, n, commune)| {
                (
                    c.as_str(),
                    n.as_str(),
                    if *commune { COMMUNE_PRIOR } else { 0.0 },
                )
            }),
            synonyms,
        );
        let queries =
            std::fs::read_to_string(format!("{root}/tests/search/queries.tsv")).expect("queries");
        let mut per_kind: BTreeMap<String, (usize, f64, f64, f64, usize)> = BTreeMap::new();
        let started = std::time::Instant::now();
        let mut searched = 0;
        for line in queries.lines().skip(1) {
            let f: Vec<&str> = line.split('\t').collect();
            let (kind, q, expected, filter) = (f[0], f[1], f[2], f.get(3).copied().unwrap_or(""));
            let expected: Vec<&str> = expected.split('|').filter(|e| !e.is_empty()).collect();
            let commune = filter == "level=commune";
            let mut seen = HashSet::new();
            let ranked: Vec<&str> = index
                .search(q)
                .iter()
                .filter(|h| !commune || docs[h.doc].2)
                .map(|h| docs[h.doc].0.as_str())
                .filter(|c| seen.insert(*c))
                .collect();
            searched += 1;
            let e = per_kind.entry(kind.to_owned()).or_default();
            e.0 += 1;
            if expected.is_empty() {
                e.4 += usize::from(!ranked.is_empty());
                continue;
            }
            // A code prefix is answered by any code it begins (the query set's rule 6).
            let right = |c: &&str| {
                expected.contains(c) || (kind == "code_prefix" && c.starts_with(q.trim()))
            };
            let rank = ranked.iter().take(10).position(right);
            e.1 += f64::from(u8::from(rank == Some(0)));
            e.2 += rank.map_or(0.0, |r| 1.0 / (r as f64 + 1.0));
            e.3 += f64::from(u8::from(rank.is_some()));
            e.4 += usize::from(ranked.is_empty());
            if rank != Some(0) {
                println!(
                    "MISS {kind}\t{q}\texpected {expected:?}\tgot {:?}",
                    &ranked[..ranked.len().min(3)]
                );
            }
        }
        let took = started.elapsed();
        let (mut n, mut h, mut m, mut r, mut z) = (0usize, 0.0, 0.0, 0.0, 0usize);
        println!("kind\tqueries\thit@1\tMRR\trecall@10\tzero (no_answer: with results)");
        for (kind, (count, hit, mrr, recall, zero)) in &per_kind {
            let c = *count as f64;
            println!(
                "{kind}\t{count}\t{:.2}\t{:.2}\t{:.2}\t{zero}",
                hit / c,
                mrr / c,
                recall / c
            );
            if kind != "no_answer" {
                n += count;
                h += hit;
                m += mrr;
                r += recall;
                z += zero;
            }
        }
        let c = n as f64;
        println!(
            "answerable\t{n}\t{:.3}\t{:.3}\t{:.3}\t{z}",
            h / c,
            m / c,
            r / c
        );
        println!("{searched} queries in {took:?}");
        let mut times: Vec<std::time::Duration> = Vec::new();
        let mut slowest: Vec<(std::time::Duration, &str)> = Vec::new();
        for _ in 0..20 {
            for line in queries.lines().skip(1) {
                let q = line.split('\t').nth(1).unwrap_or_default();
                let started = std::time::Instant::now();
                std::hint::black_box(index.search(q));
                times.push(started.elapsed());
                slowest.push((started.elapsed(), q));
            }
        }
        slowest.sort();
        slowest.reverse();
        slowest.dedup_by_key(|(_, q)| *q);
        println!("slowest: {:?}", &slowest[..slowest.len().min(8)]);
        times.sort();
        println!(
            "per query over {} searches: p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
            times.len(),
            times[times.len() / 2],
            times[times.len() * 9 / 10],
            times[times.len() * 99 / 100],
            times[times.len() - 1]
        );
    }
}
