//! The serde helpers the lean decode types share.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

// ===== decoding =====

/// `deserialize_with` for fields the API may send as `null`: null reads as the default, as
/// Go's `encoding/json` (which the apiserver's clients decode with) leaves the zero value.
///
/// # Errors
/// Fails when a present, non-null value does not decode as `T`.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A quantity as it stands on the wire: a string, or the bare number apimachinery's
/// `Quantity.UnmarshalJSON` also accepts (a YAML fixture turned into JSON makes `cpu: 1` one).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawQuantity {
    Text(String),
    Int(i64),
    Float(f64),
}

impl RawQuantity {
    /// The quantity's text; a number is kept as its text.
    fn into_text(self) -> String {
        match self {
            RawQuantity::Text(s) => s,
            RawQuantity::Int(i) => i.to_string(),
            RawQuantity::Float(f) => f.to_string(),
        }
    }
}

/// `deserialize_with` for a `ResourceList` (resource name → quantity text). Quantities are
/// strings on the wire, but apimachinery's `Quantity.UnmarshalJSON` also accepts a bare number,
/// and a YAML fixture turned into JSON makes `cpu: 1` or `pods: 110` one; numbers are kept as
/// their text. A null list reads as empty.
///
/// # Errors
/// Fails when the list is not a map, or a value is neither a string nor a number.
pub fn quantity_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw: Option<BTreeMap<String, RawQuantity>> = Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_text()))
        .collect())
}

/// `deserialize_with` for an optional quantity: its text, with a bare JSON number kept as its
/// text (apimachinery accepts both); null reads as unset.
///
/// # Errors
/// Fails when a present, non-null value is neither a string nor a number.
pub fn quantity_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<RawQuantity>::deserialize(d)?.map(RawQuantity::into_text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Default, Debug)]
    #[serde(default)]
    struct Lists {
        #[serde(deserialize_with = "null_as_default")]
        items: Vec<String>,
        #[serde(deserialize_with = "quantity_map")]
        resources: BTreeMap<String, String>,
    }

    #[test]
    fn null_collections_read_as_empty_and_numeric_quantities_as_their_text() {
        let l: Lists = serde_json::from_str(r#"{"items":null,"resources":null}"#).unwrap();
        assert!(l.items.is_empty() && l.resources.is_empty());
        let l: Lists = serde_json::from_str(
            r#"{"items":["a"],"resources":{"cpu":1,"memory":1.5e9,"pods":"110","gpu":"250m"}}"#,
        )
        .unwrap();
        assert_eq!(l.items, ["a"]);
        let text: Vec<(&str, &str)> = l
            .resources
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            text,
            [
                ("cpu", "1"),
                ("gpu", "250m"),
                ("memory", "1500000000"),
                ("pods", "110")
            ]
        );
        assert!(serde_json::from_str::<Lists>(r#"{"resources":{"cpu":true}}"#).is_err());
    }
}
