//! RDF as triples, written by three small serializers (Turtle, RDF/XML, JSON-LD), so the
//! formats the catalog is published in cannot drift apart.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

pub(super) const DCAT: &str = "http://www.w3.org/ns/dcat#";
pub(super) const DCT: &str = "http://purl.org/dc/terms/";
pub(super) const FOAF: &str = "http://xmlns.com/foaf/0.1/";
pub(super) const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
pub(super) const XSD: &str = "http://www.w3.org/2001/XMLSchema#";
pub(super) const VCARD: &str = "http://www.w3.org/2006/vcard/ns#";
pub(super) const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";

/// An RDF term in object position.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Object {
    Iri(String),
    Text { value: String, lang: Option<&'static str> },
    Typed { value: String, datatype: String },
}

#[derive(Debug, Default)]
pub(super) struct Graph {
    triples: Vec<(String, String, Object)>,
}

impl Graph {
    pub(super) fn iri(&mut self, s: &str, p: &str, o: impl Into<String>) {
        self.triples.push((s.to_owned(), p.to_owned(), Object::Iri(o.into())));
    }

    /// `s p o`, and `o a class`: DCAT-AP's shapes check the class of each value.
    pub(super) fn typed_iri(&mut self, s: &str, p: &str, o: String, class: &str) {
        self.iri(&o, RDF_TYPE, class);
        self.iri(s, p, o);
    }

    pub(super) fn text(&mut self, s: &str, p: &str, value: &str, lang: Option<&'static str>) {
        if !value.is_empty() {
            self.triples.push((s.to_owned(), p.to_owned(), Object::Text { value: value.to_owned(), lang }));
        }
    }

    pub(super) fn typed(&mut self, s: &str, p: &str, value: String, datatype: &str) {
        self.literal(s, p, value, format!("{XSD}{datatype}"));
    }

    pub(super) fn literal(&mut self, s: &str, p: &str, value: String, datatype: String) {
        self.triples.push((s.to_owned(), p.to_owned(), Object::Typed { value, datatype }));
    }

    /// `s p concept`, the concept a `skos:Concept` with its English label.
    pub(super) fn concept(&mut self, s: &str, p: &str, concept: String, label: &str) {
        self.text(&concept, &format!("{SKOS}prefLabel"), label, Some("en"));
        self.typed_iri(s, p, concept, &format!("{SKOS}Concept"));
    }

    /// Subjects in first-seen order, each with its predicates and objects.
    fn subjects(&self) -> Vec<(&str, Vec<(&str, &Object)>)> {
        let mut out: Vec<(&str, Vec<(&str, &Object)>)> = Vec::new();
        for (s, p, o) in &self.triples {
            match out.iter_mut().find(|(x, _)| x == s) {
                Some((_, props)) => props.push((p, o)),
                None => out.push((s, vec![(p, o)])),
            }
        }
        out
    }

    pub(super) fn turtle(&self) -> String {
        let mut out = String::new();
        for (s, props) in self.subjects() {
            out.push_str(&format!("{}\n", turtle_iri(s)));
            for (i, (p, o)) in props.iter().enumerate() {
                let end = if i + 1 == props.len() { " .\n\n" } else { " ;\n" };
                out.push_str(&format!("    {} {}{end}", turtle_iri(p), turtle_object(o)));
            }
        }
        out
    }

    pub(super) fn rdf_xml(&self) -> String {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n",
        );
        for (s, props) in self.subjects() {
            out.push_str(&format!("  <rdf:Description rdf:about=\"{}\">\n", xml(s)));
            for (p, o) in props {
                // RDF/XML needs the predicate as a qualified name: split at the last # or /.
                let cut = p.rfind(['#', '/']).map_or(0, |i| i + 1);
                let (ns, local) = p.split_at(cut);
                let open = format!("<p:{local} xmlns:p=\"{}\"", xml(ns));
                match o {
                    Object::Iri(iri) => out.push_str(&format!("    {open} rdf:resource=\"{}\"/>\n", xml(iri))),
                    Object::Text { value, lang: Some(l) } => {
                        out.push_str(&format!("    {open} xml:lang=\"{l}\">{}</p:{local}>\n", xml(value)))
                    }
                    Object::Text { value, lang: None } => {
                        out.push_str(&format!("    {open}>{}</p:{local}>\n", xml(value)))
                    }
                    Object::Typed { value, datatype } => out.push_str(&format!(
                        "    {open} rdf:datatype=\"{}\">{}</p:{local}>\n",
                        xml(datatype),
                        xml(value)
                    )),
                }
            }
            out.push_str("  </rdf:Description>\n");
        }
        out.push_str("</rdf:RDF>\n");
        out
    }

    /// Expanded JSON-LD: no context to fetch, so it parses offline.
    pub(super) fn json_ld(&self) -> Value {
        let nodes: Vec<Value> = self
            .subjects()
            .into_iter()
            .map(|(s, props)| {
                let mut node = Map::new();
                node.insert("@id".into(), json!(s));
                for (p, o) in props {
                    let (key, value) = if p == RDF_TYPE {
                        (
                            "@type".to_owned(),
                            match o {
                                Object::Iri(i) => json!(i),
                                _ => continue,
                            },
                        )
                    } else {
                        (
                            p.to_owned(),
                            match o {
                                Object::Iri(i) => json!({"@id": i}),
                                Object::Text { value, lang: Some(l) } => json!({"@value": value, "@language": l}),
                                Object::Text { value, lang: None } => json!({"@value": value}),
                                Object::Typed { value, datatype } => json!({"@value": value, "@type": datatype}),
                            },
                        )
                    };
                    match node.get_mut(&key) {
                        Some(Value::Array(a)) => a.push(value),
                        _ => {
                            node.insert(key, json!([value]));
                        }
                    }
                }
                Value::Object(node)
            })
            .collect();
        json!({"@graph": nodes})
    }
}

fn turtle_object(o: &Object) -> String {
    let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").replace('\r', "\\r");
    match o {
        Object::Iri(i) => turtle_iri(i),
        Object::Text { value, lang: Some(l) } => format!("\"{}\"@{l}", escape(value)),
        Object::Text { value, lang: None } => format!("\"{}\"", escape(value)),
        Object::Typed { value, datatype } => format!("\"{}\"^^<{datatype}>", escape(value)),
    }
}

/// An IRI in Turtle: the characters that could end it or start another term are written as
/// `\uXXXX` escapes, so no value a publisher gives (a source URL, a license) can add triples.
fn turtle_iri(iri: &str) -> String {
    let mut out = String::with_capacity(iri.len() + 2);
    out.push('<');
    for c in iri.chars() {
        if c <= ' ' || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '^' | '`' | '\\') {
            out.push_str(&format!("\\u{:04X}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out.push('>');
    out
}

/// Text for XML content and attributes (RDF/XML here, Atom in [`super::feeds`]).
/// Characters XML 1.0 cannot hold are left out: one would make the whole document unreadable.
pub(super) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

pub(super) fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_graph_three_serializations() {
        let mut g = Graph::default();
        g.iri("http://x/ds", RDF_TYPE, format!("{DCAT}Dataset"));
        g.text("http://x/ds", &format!("{DCT}title"), "Хүн \"ам\"", Some("mn"));
        g.typed("http://x/ds", &format!("{DCT}modified"), "2024-01-01T00:00:00Z".into(), "dateTime");
        let ttl = g.turtle();
        assert!(ttl.contains("<http://purl.org/dc/terms/title> \"Хүн \\\"ам\\\"\"@mn ;"), "{ttl}");
        let xml = g.rdf_xml();
        assert!(
            xml.contains("<p:title xmlns:p=\"http://purl.org/dc/terms/\" xml:lang=\"mn\">Хүн &quot;ам&quot;</p:title>"),
            "{xml}"
        );
        let ld = g.json_ld();
        assert_eq!(ld["@graph"][0]["@type"], json!([format!("{DCAT}Dataset")]));
        assert_eq!(ld["@graph"][0][format!("{DCT}title")][0]["@language"], "mn");
    }
}
