//! `v1/LimitRange`, lean: the fields the limitrange families read (the JSON twin is the lean
//! `LimitRange` in `resources/limitrange.rs`), at the field numbers of
//! `k8s.io/api/core/v1/generated.proto`.

use std::collections::BTreeMap;

use super::meta::{ObjectMeta, Quantity, always, quantities};
use super::{Message, Result};
use crate::resources::limitrange as lean;

/// `v1.LimitRange`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LimitRange {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<LimitRangeSpec>,
}

/// `v1.LimitRangeSpec`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LimitRangeSpec {
    /// `limits`.
    #[prost(message, repeated, tag = "1")]
    pub limits: Vec<LimitRangeItem>,
}

/// `v1.LimitRangeItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LimitRangeItem {
    /// `type`.
    #[prost(string, optional, tag = "1")]
    pub r#type: Option<String>,
    /// `max`.
    #[prost(btree_map = "string, message", tag = "2")]
    pub max: BTreeMap<String, Quantity>,
    /// `min`.
    #[prost(btree_map = "string, message", tag = "3")]
    pub min: BTreeMap<String, Quantity>,
    /// `default`.
    #[prost(btree_map = "string, message", tag = "4")]
    pub default: BTreeMap<String, Quantity>,
    /// `defaultRequest`.
    #[prost(btree_map = "string, message", tag = "5")]
    pub default_request: BTreeMap<String, Quantity>,
    /// `maxLimitRequestRatio`.
    #[prost(btree_map = "string, message", tag = "6")]
    pub max_limit_request_ratio: BTreeMap<String, Quantity>,
}

impl Message for LimitRange {
    type Object = lean::LimitRange;
    const NAME: &'static str = "v1/LimitRange";

    fn into_object(self) -> Result<lean::LimitRange> {
        Ok(lean::LimitRange {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::LimitRangeSpec {
                limits: self
                    .spec
                    .unwrap_or_default()
                    .limits
                    .into_iter()
                    .map(|l| lean::LimitRangeItem {
                        type_: always(l.r#type),
                        min: quantities(l.min),
                        max: quantities(l.max),
                        default: quantities(l.default),
                        default_request: quantities(l.default_request),
                        max_limit_request_ratio: quantities(l.max_limit_request_ratio),
                    })
                    .collect(),
            },
        })
    }
}
