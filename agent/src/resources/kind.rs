//! What a kind is: its descriptor ([`Kind`]: API type, scope, watch shapes, wire decoders,
//! identity labels and family table), one family ([`Family`]) and the rows one object renders
//! into ([`Rows`]).
//!
//! Everything here is pure: a descriptor is a `static` value and rendering is a function from a
//! decoded object to bytes. Watching a kind is `crate::watch`'s job, reached through the
//! type-erased view in `crate::registry`.

use std::sync::Arc;

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
/// them. Cheap to clone: clones share one immutable buffer.
///
/// # Invariants
/// One allocation per object: family offsets, namespace and samples live in one shared buffer,
/// laid out as little-endian `u32` words `[families, namespace_end, end_0, …, end_{n-1}]`, then
/// the view namespace (up to `namespace_end`, empty for cluster-scoped objects), then the
/// samples: family `i`'s are `buf[end_{i-1}..end_i]` (from `namespace_end` for `i == 0`), each a
/// complete line ending in `\n`. A store, the builder's buckets and the change marks hold the
/// same buffer, never a copy; the previous layout (a header, then a bytes and an offsets
/// allocation) cost three allocations and about 150 B of headers and slack per object.
#[derive(Clone, PartialEq, Eq)]
pub struct Rows {
    buf: Arc<[u8]>,
}

/// Words before the offsets in [`Rows`]' buffer: the family count and the namespace's end.
const ROWS_HEADER_WORDS: usize = 2;

impl Rows {
    /// Word `i` of the header.
    fn word(&self, i: usize) -> usize {
        let w = &self.buf[i * 4..i * 4 + 4];
        u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize
    }

    fn namespace_end(&self) -> usize {
        self.word(1)
    }

    /// The samples of family `i` (empty when it rendered none).
    pub fn family(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            self.namespace_end()
        } else {
            self.word(ROWS_HEADER_WORDS + i - 1)
        };
        &self.buf[start..self.word(ROWS_HEADER_WORDS + i)]
    }

    /// How many families this object was rendered for.
    pub fn family_count(&self) -> usize {
        self.word(0)
    }

    /// Bytes held, for telemetry and sizing.
    pub fn len_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Every sample of every family, concatenated in table order.
    pub fn all(&self) -> &[u8] {
        &self.buf[self.namespace_end()..]
    }

    /// The namespace whose views show these rows: the object's own namespace, a Namespace
    /// object's name, `""` for every other cluster-scoped object (shown in full views only).
    pub fn namespace(&self) -> &str {
        let start = (ROWS_HEADER_WORDS + self.family_count()) * 4;
        // Written from a `&str` by `Kind::render_in`; never split inside a character.
        std::str::from_utf8(&self.buf[start..self.namespace_end()]).unwrap_or_default()
    }

    /// Encodes rows from `render`, which appends the samples of family `i` to the buffer it is
    /// given for each `i` in `0..families`; `scratch` is reused between objects.
    fn encode(
        scratch: &mut Vec<u8>,
        namespace: &str,
        families: usize,
        mut render: impl FnMut(usize, &mut Vec<u8>),
    ) -> Rows {
        let offset = |len: usize| {
            u32::try_from(len)
                .expect("one object's rows exceed 4 GiB")
                .to_le_bytes()
        };
        let header = (ROWS_HEADER_WORDS + families) * 4;
        scratch.clear();
        scratch.resize(header, 0);
        scratch[0..4].copy_from_slice(&offset(families));
        scratch.extend_from_slice(namespace.as_bytes());
        let namespace_end = offset(scratch.len());
        scratch[4..8].copy_from_slice(&namespace_end);
        for i in 0..families {
            render(i, scratch);
            let end = offset(scratch.len());
            let at = (ROWS_HEADER_WORDS + i) * 4;
            scratch[at..at + 4].copy_from_slice(&end);
        }
        Rows {
            buf: Arc::from(&scratch[..]),
        }
    }
}

impl Rows {
    /// Rows of samples rendered elsewhere (a custom resource's
    /// [`Rendered`](crate::custom::Rendered)): family `i`'s lines are `families[i]` when
    /// `selection` enables it, none otherwise; a family missing from `families` is empty.
    /// `count` is the kind's family count, so every object of a kind has the same layout.
    pub fn from_families<T: AsRef<[u8]>>(
        namespace: &str,
        count: usize,
        families: &[T],
        selection: &FamilySelection,
    ) -> Rows {
        let mut scratch = Vec::new();
        Rows::encode(&mut scratch, namespace, count, |i, bytes| {
            if selection.is_enabled(i)
                && let Some(lines) = families.get(i)
            {
                bytes.extend_from_slice(lines.as_ref());
            }
        })
    }
}

impl Default for Rows {
    /// No family, no namespace.
    fn default() -> Self {
        Rows::encode(&mut Vec::new(), "", 0, |_, _| {})
    }
}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows")
            .field("namespace", &self.namespace())
            .field("families", &self.family_count())
            .field("samples", &String::from_utf8_lossy(self.all()))
            .finish()
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
        SCRATCH.with_borrow_mut(|scratch| {
            let rows = Rows::encode(scratch, namespace, self.families.len(), |i, bytes| {
                if selection.is_enabled(i) {
                    let family = &self.families[i];
                    let mut series = Series::new(bytes, family.header.name, &identity, ctx);
                    (family.render)(obj, &mut series);
                }
            });
            // One huge object must not pin its buffer for the life of the thread.
            if scratch.capacity() > 1 << 20 {
                *scratch = Vec::new();
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
        out.push(b'\n');
        self.metric_type.write_type_line(out, name, format);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::Identity;

    /// A thing with a few values; `None` renders no sample.
    struct Thing {
        values: [Option<f64>; 4],
    }

    fn value_of<const I: usize>(t: &Thing, out: &mut Series<'_>) {
        if let Some(v) = t.values[I] {
            out.sample([("i", I.to_string())], v);
        }
    }

    static THINGS: Kind<Thing> = Kind {
        resource: "things",
        api: ApiType::new("example.com", "v1", "Thing", "things"),
        scope: Scope::Namespaced,
        shapes: &[WatchShape::FULL],
        protobuf: None,
        identity: |_| Identity::new([("thing", "t")]),
        families: &[
            Family::stable("thing_a", "A.", MetricType::Gauge, value_of::<0>),
            Family::stable("thing_b", "B.", MetricType::Gauge, value_of::<1>),
            Family::experimental("thing_c", "C.", MetricType::Gauge, value_of::<2>).opt_in(),
            Family::stable("thing_d", "D.", MetricType::Gauge, value_of::<3>),
        ],
    };

    #[test]
    fn rows_hold_each_familys_samples_in_table_order_and_the_namespace() {
        let thing = Thing {
            values: [Some(1.0), None, Some(3.0), Some(4.5)],
        };
        let ctx = RenderContext::default();
        let selection = FamilySelection::new(&THINGS.headers(), |_| false);
        let rows = THINGS.render_in(&thing, "équipe-7", &ctx, &selection);

        assert_eq!(rows.family_count(), 4);
        assert_eq!(rows.namespace(), "équipe-7");
        let expected = [
            "thing_a{thing=\"t\",i=\"0\"} 1\n",
            "",
            "",
            "thing_d{thing=\"t\",i=\"3\"} 4.5\n",
        ];
        for (i, want) in expected.iter().enumerate() {
            assert_eq!(
                String::from_utf8_lossy(rows.family(i)),
                *want,
                "family {i} (an empty one rendered nothing, the opt-in one is not selected)"
            );
        }
        assert_eq!(rows.all(), expected.concat().as_bytes());
        assert_eq!(
            rows.len_bytes(),
            4 * (ROWS_HEADER_WORDS + 4) + "équipe-7".len() + expected.concat().len(),
            "offsets, namespace and samples in one buffer"
        );
    }

    #[test]
    fn every_family_renders_into_rows_as_it_renders_alone() {
        let thing = Thing {
            values: [Some(0.25), Some(2.0), Some(-1.0), Some(1e9)],
        };
        let ctx = RenderContext::default();
        let selection = FamilySelection::new(&THINGS.headers(), |_| true);
        for namespace in ["", "team-1"] {
            let rows = THINGS.render_in(&thing, namespace, &ctx, &selection);
            assert_eq!(rows.namespace(), namespace);
            let mut all = Vec::new();
            for (i, family) in THINGS.families.iter().enumerate() {
                let mut alone = Vec::new();
                let identity = (THINGS.identity)(&thing);
                (family.render)(
                    &thing,
                    &mut Series::new(&mut alone, family.header.name, &identity, &ctx),
                );
                assert!(!alone.is_empty(), "family {i} renders a sample");
                assert_eq!(rows.family(i), &alone[..], "family {i}");
                all.extend_from_slice(&alone);
            }
            assert_eq!(rows.all(), &all[..]);
        }
    }

    #[test]
    fn default_rows_have_no_family_and_no_namespace() {
        let rows = Rows::default();
        assert_eq!(rows.family_count(), 0);
        assert_eq!(rows.namespace(), "");
        assert!(rows.all().is_empty());
    }

    #[test]
    fn clones_share_one_buffer() {
        let thing = Thing {
            values: [Some(1.0); 4],
        };
        let selection = FamilySelection::new(&THINGS.headers(), |_| true);
        let rows = THINGS.render_in(&thing, "ns", &RenderContext::default(), &selection);
        let clone = rows.clone();
        assert!(std::ptr::eq(rows.all(), clone.all()));
        assert_eq!(rows, clone);
    }
}
