//! What a kind is: its descriptor ([`Kind`]: API type, scope, watch shapes, wire decoders,
//! identity labels and family table), one family ([`Family`]) and the rows one object renders
//! into ([`Rows`]).
//!
//! Everything here is pure: a descriptor is a `static` value and rendering is a function from a
//! decoded object to bytes. Watching a kind is `crate::watch`'s job, reached through the
//! type-erased view in `crate::registry`.

use bytes::Bytes;

use crate::decode::{Decoded, Object};
use crate::exposition::{
    Format, Identity, MetricType, RenderContext, Series, Stability, write_help_text,
};

/// Which agents watch a kind, and with which selector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Bound to a node by `spec.nodeName` (pods): every agent watches its own node's objects;
    /// the leader also watches the unscheduled ones (`spec.nodeName=`).
    NodeBound,
    /// The Node object itself: every agent watches its own node by `metadata.name`.
    NodeSelf,
    /// Namespaced kinds not bound to a node: watched by the leader only.
    Namespaced,
    /// Cluster-scoped kinds: watched by the leader only.
    Cluster,
}

/// Where a kind is served: the API group, version, `kind` and plural resource name, as URLs,
/// RBAC rules and kube-state-metrics' informer types spell them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiType {
    /// API group, `""` for the core group.
    pub group: &'static str,
    /// API version within the group (`v1`, `v2`).
    pub version: &'static str,
    /// `kind` as the API spells it (`Pod`, `HorizontalPodAutoscaler`).
    pub kind: &'static str,
    /// The resource as URLs and RBAC rules spell it (`pods`, `endpointslices`).
    pub plural: &'static str,
}

impl ApiType {
    /// `group`/`version`, `kind`, `plural`.
    pub const fn new(
        group: &'static str,
        version: &'static str,
        kind: &'static str,
        plural: &'static str,
    ) -> Self {
        ApiType {
            group,
            version,
            kind,
            plural,
        }
    }
}

/// One of the watches that together cover a kind (with `--lean-watches`), and what of each
/// object crosses the wire.
///
/// # Invariants
/// The field selectors of a kind's shapes select disjoint sets whose union is every object, so
/// each object arrives through exactly one of them.
pub struct WatchShape<K> {
    /// ANDed with the watch target's field selector; `""` for none.
    pub field_selector: &'static str,
    /// `Some`: only metadata is requested (`PartialObjectMetadata`), and this fills in what the
    /// selector fixed (e.g. a Secret's `type`). `None`: the whole object.
    pub metadata_only: Option<fn(&mut K)>,
}

impl<K> WatchShape<K> {
    /// The whole object, no extra selector.
    pub const FULL: WatchShape<K> = WatchShape {
        field_selector: "",
        metadata_only: None,
    };
}

/// Decodes one object's protobuf message (a list item, or a watch event's object out of its
/// envelope): `crate::wire::decode::<Message>` for the kind's lean message.
pub type ProtobufDecoder<K> = fn(Bytes) -> Decoded<K>;

/// What kube-state-metrics prints in a family's HELP/TYPE lines, plus whether the family must
/// be opted into.
#[derive(Clone, Copy, Debug)]
pub struct FamilyHeader {
    /// The metric name, e.g. `kube_pod_info`.
    pub name: &'static str,
    /// HELP text without the stability prefix.
    pub help: &'static str,
    /// The declared type.
    pub metric_type: MetricType,
    /// `[STABLE]` families get the prefix in HELP.
    pub stability: Stability,
    /// Off unless named in `--metric-opt-in-list`.
    pub opt_in: bool,
}

/// One metric family of kind `K`: its header and the function that renders its samples.
pub struct Family<K: 'static> {
    /// Name, HELP, type, stability and opt-in.
    pub header: FamilyHeader,
    /// Renders this family's samples for one object; identity labels are added by the writer.
    pub render: fn(&K, &mut Series<'_>),
}

impl<K> Family<K> {
    /// A family of the given stability that is not opt-in.
    const fn new(
        name: &'static str,
        help: &'static str,
        metric_type: MetricType,
        stability: Stability,
        render: fn(&K, &mut Series<'_>),
    ) -> Self {
        Family {
            header: FamilyHeader {
                name,
                help,
                metric_type,
                stability,
                opt_in: false,
            },
            render,
        }
    }

    /// A `[STABLE]` family.
    pub const fn stable(
        name: &'static str,
        help: &'static str,
        metric_type: MetricType,
        render: fn(&K, &mut Series<'_>),
    ) -> Self {
        Self::new(name, help, metric_type, Stability::Stable, render)
    }

    /// An experimental family (no HELP prefix).
    pub const fn experimental(
        name: &'static str,
        help: &'static str,
        metric_type: MetricType,
        render: fn(&K, &mut Series<'_>),
    ) -> Self {
        Self::new(name, help, metric_type, Stability::Experimental, render)
    }

    /// The same family, rendered only when named in `--metric-opt-in-list`.
    pub const fn opt_in(mut self) -> Self {
        self.header.opt_in = true;
        self
    }
}

/// A kind's descriptor: everything the agent knows of a kind, in one `static` value per
/// `resources/<kind>.rs` file. Its lean type `K` names it back through
/// [`Object::KIND`](crate::decode::Object::KIND).
///
/// # Invariants
/// - Table order is exposition order.
/// - A metric name appears in exactly one `Family` of one `Kind`.
/// - `shapes` is never empty; one [`WatchShape::FULL`] unless the kind splits its watch.
pub struct Kind<K: 'static> {
    /// The name used by `--resources` and `?resources=` (`"pods"`).
    pub resource: &'static str,
    /// Where the API server serves it.
    pub api: ApiType,
    /// Who watches it, with which selector.
    pub scope: Scope,
    /// The watches that together cover the kind with `--lean-watches`.
    pub shapes: &'static [WatchShape<K>],
    /// The lean protobuf decoder; `None`: listed and watched as JSON whatever
    /// `--api-encoding` says.
    pub protobuf: Option<ProtobufDecoder<K>>,
    /// The identity labels every sample starts with, in kube-state-metrics' order.
    pub identity: fn(&K) -> Identity,
    /// The families, in exposition order.
    pub families: &'static [Family<K>],
}

/// Which families of a kind are rendered in this run.
#[derive(Clone, Debug)]
pub struct FamilySelection {
    enabled: Vec<bool>,
}

impl FamilySelection {
    /// Every family that is not opt-in, plus the opt-in ones `opted_in` accepts.
    pub fn new(headers: &[FamilyHeader], mut opted_in: impl FnMut(&str) -> bool) -> Self {
        Self::from_fn(headers, |h| !h.opt_in || opted_in(h.name))
    }

    /// The families `enabled` accepts, decided once per family (e.g. by the config's
    /// `MetricFilter`): a disabled family is never rendered, so it costs nothing per event or
    /// per scrape.
    pub fn from_fn(headers: &[FamilyHeader], enabled: impl FnMut(&FamilyHeader) -> bool) -> Self {
        FamilySelection {
            enabled: headers.iter().map(enabled).collect(),
        }
    }

    /// Whether family `i` is rendered.
    pub fn is_enabled(&self, i: usize) -> bool {
        self.enabled.get(i).copied().unwrap_or(false)
    }
}

/// The rendered samples of one object, family by family, and the namespace whose views show
/// them.
///
/// # Invariants
/// `ends.len()` equals the kind's family count; `bytes` starts with the view namespace
/// (`namespace_len` bytes, empty for cluster-scoped objects), then family `i`'s samples are
/// `bytes[ends[i-1]..ends[i]]` (from `namespace_len` for `i == 0`), each a complete line ending
/// in `\n`. The namespace shares the samples' allocation: one allocation per object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rows {
    bytes: Box<[u8]>,
    ends: Box<[u32]>,
    namespace_len: u32,
}

impl Rows {
    /// The samples of family `i` (empty when it rendered none).
    pub fn family(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            self.namespace_len as usize
        } else {
            self.ends[i - 1] as usize
        };
        &self.bytes[start..self.ends[i] as usize]
    }

    /// How many families this object was rendered for.
    pub fn family_count(&self) -> usize {
        self.ends.len()
    }

    /// Bytes held, for telemetry and sizing.
    pub fn len_bytes(&self) -> usize {
        self.bytes.len() + self.ends.len() * 4
    }

    /// Every sample of every family, concatenated in table order.
    pub fn all(&self) -> &[u8] {
        &self.bytes[self.namespace_len as usize..]
    }

    /// The namespace whose views show these rows: the object's own namespace, a Namespace
    /// object's name, `""` for every other cluster-scoped object (shown in full views only).
    pub fn namespace(&self) -> &str {
        // Written from a `&str` by `Kind::render_in`; never split inside a character.
        std::str::from_utf8(&self.bytes[..self.namespace_len as usize]).unwrap_or_default()
    }
}

/// The namespace whose tenant views show an object's rows (see [`Rows::namespace`]).
///
/// A Namespace object is cluster-scoped, but its rows (`kube_namespace_*`, labelled
/// `namespace="<its name>"`) describe that namespace alone, so they belong to its tenants'
/// views; every other cluster-scoped object (nodes, persistent volumes, RBAC roles...) belongs
/// to no tenant.
pub fn view_namespace<K: Object>(obj: &K) -> &str {
    let meta = obj.meta();
    match (&meta.namespace, K::KIND.api) {
        (Some(ns), _) => ns,
        (
            None,
            ApiType {
                kind: "Namespace",
                group: "",
                ..
            },
        ) => meta.name.as_deref().unwrap_or_default(),
        (None, _) => "",
    }
}

impl<K> Kind<K> {
    /// The family headers in table order.
    pub fn headers(&self) -> Vec<FamilyHeader> {
        self.families.iter().map(|f| f.header).collect()
    }

    /// Renders every enabled family of `obj`, for the views of `namespace` (see
    /// [`Rows::namespace`]; [`Kind::render`] finds it from the object).
    pub fn render_in(
        &self,
        obj: &K,
        namespace: &str,
        ctx: &RenderContext,
        selection: &FamilySelection,
    ) -> Rows {
        thread_local! {
            /// Rendering goes through one grown buffer per thread and the result is copied out
            /// at its exact size: one allocation per object instead of a chain of regrowths.
            static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let identity = (self.identity)(obj);
        let mut ends = Vec::with_capacity(self.families.len());
        SCRATCH.with_borrow_mut(|bytes| {
            bytes.clear();
            bytes.extend_from_slice(namespace.as_bytes());
            for (i, family) in self.families.iter().enumerate() {
                if selection.is_enabled(i) {
                    let mut series = Series::new(bytes, family.header.name, &identity, ctx);
                    (family.render)(obj, &mut series);
                }
                ends.push(u32::try_from(bytes.len()).expect("one object's rows exceed 4 GiB"));
            }
            let rows = Rows {
                bytes: Box::from(&bytes[..]),
                ends: ends.into_boxed_slice(),
                namespace_len: u32::try_from(namespace.len()).unwrap_or(0),
            };
            // One huge object must not pin its buffer for the life of the thread.
            if bytes.capacity() > 1 << 20 {
                *bytes = Vec::new();
            }
            rows
        })
    }
}

impl<K: Object> Kind<K> {
    /// Renders every enabled family of `obj`, for the views of its namespace.
    pub fn render(&self, obj: &K, ctx: &RenderContext, selection: &FamilySelection) -> Rows {
        self.render_in(obj, view_namespace(obj), ctx, selection)
    }
}

impl FamilyHeader {
    /// Appends `# HELP` and `# TYPE` lines as kube-state-metrics' `generateHeader` writes them:
    /// `[STABLE] ` before the HELP text of stable families; `info`/`stateset` become `gauge`
    /// unless the format is OpenMetrics, which also names a counter family without `_total`
    /// (see [`MetricType::family_name`]).
    pub fn write(&self, out: &mut Vec<u8>, format: Format) {
        let name = self.metric_type.family_name(self.name, format);
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        if self.stability == Stability::Stable {
            out.extend_from_slice(b"[STABLE] ");
        }
        write_help_text(out, self.help);
        out.extend_from_slice(b"\n# TYPE ");
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        out.extend_from_slice(
            match format {
                Format::Text => self.metric_type.text_name(),
                Format::OpenMetrics => self.metric_type.openmetrics_name(),
            }
            .as_bytes(),
        );
        out.push(b'\n');
    }
}

/// Helpers for the kind files' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use crate::exposition::{Identity, RenderContext, Series};

    /// Renders one family function for `obj` under the metric name `m`, as text.
    pub(crate) fn render_family<K>(
        obj: &K,
        identity: Identity,
        ctx: &RenderContext,
        f: fn(&K, &mut Series<'_>),
    ) -> String {
        let mut buf = Vec::new();
        f(obj, &mut Series::new(&mut buf, "m", &identity, ctx));
        String::from_utf8(buf).expect("exposition is UTF-8")
    }
}
