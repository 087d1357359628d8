//! Which watches run: a pure function from the configuration and the registry's kinds to the
//! watches of each enabled kind, with their targets (namespace and field selector), lean
//! shapes, shards, and whether they run always or only while this agent leads. See [`plan`].
//!
//! Every field selector the agent sends is composed here, from three sources: the scope (a
//! node's pods, its Node, the unscheduled pods), the namespace denylist, and the kind's own
//! shape selectors (which this module reads, never defines). Nothing here starts a task or
//! touches the network: the pipeline turns a plan into store shards and watch tasks, and the
//! [`crate::leader`] module runs the leader-only part while this agent leads.

use std::fmt;

use crate::config::{Config, NamespaceFilter, ScopeMode};
use crate::exposition::RenderContext;
use crate::registry::KindInfo;
use crate::resources::{FamilySelection, Scope};
use crate::sharding::Shard;
use crate::watch::{ListOptions, NodeBinding, WatchSpec, WatchTarget};

/// When a watch runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// For as long as its configuration is in effect.
    Local,
    /// Only while this agent holds the Lease: the unscheduled pods and every kind not bound to
    /// a node, on a node agent that takes part in the election.
    LeaderOnly,
}

/// Which of its kind's watch shapes one watch is.
///
/// A kind declares the watches that together cover it (`resources::WatchShape`), each with its
/// own field selector; the selectors of one kind are disjoint, so a selector names its shape.
/// The typed watch loop finds the kind's shape by that name, and with it whether the watch
/// asks for metadata only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// The whole object, one watch per target (`--lean-watches=false`).
    Whole,
    /// The kind's shape whose field selector is `selector` (`""`: the shape without one).
    Lean {
        /// The shape's own field selector, as the kind declares it.
        selector: &'static str,
    },
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Whole => f.write_str("whole"),
            Shape::Lean { selector: "" } => f.write_str("lean"),
            Shape::Lean { selector } => write!(f, "lean {selector}"),
        }
    }
}

/// One watch of the plan: what it asks for and renders, and when it runs.
#[derive(Clone, Debug)]
pub struct PlannedWatch {
    /// When it runs.
    pub role: Role,
    /// What it asks the API server for and renders.
    pub spec: WatchSpec,
}

/// The watches of one enabled kind, in the order their shards join the kind's exposition:
/// the local ones first, then the leader-only ones; each target split by shape.
pub struct KindPlan {
    /// The kind.
    pub kind: &'static dyn KindInfo,
    /// The families rendered (the same in every watch's spec).
    pub selection: FamilySelection,
    /// Never empty.
    pub watches: Vec<PlannedWatch>,
}

/// The watches `config` asks for, kind by kind in the order of `kinds` (the registry's, which
/// is exposition order). Kinds that are not enabled, and enabled kinds no watch of this agent
/// covers (a node agent without an election has no watch of services), are left out.
///
/// - **Scope.** A node agent watches its pods (`spec.nodeName=<node>`) and its Node
///   (`metadata.name=<node>`); with an election it also watches, while leading, the
///   unscheduled pods (`spec.nodeName=`) and every kind not bound to a node. `--scope=cluster`
///   watches every kind whole.
/// - **Namespaces**, as kube-state-metrics builds them: namespaced kinds (pods included) get
///   one watch per `--namespaces` entry, or one cluster-wide watch whose selector excludes the
///   `--namespaces-denylist`; cluster-scoped kinds ignore both lists.
/// - **Node-bound custom resources** (`nodeNameFromPath`): a node agent watches them for its
///   node ([`NodeBinding::Node`]) and, while leading, for no node ([`NodeBinding::NoNode`]);
///   which objects that means is decided at run time, once the API server has said whether
///   it selects on the field.
/// - **Shards.** `--scope=cluster` shards every watch; a node agent shards only its
///   leader-only watches, since a node's own pods are that node agent's alone.
/// - **Shapes.** With `--lean-watches`, each target is split into the kind's shapes, each
///   shape's selector ANDed after the target's; without, one whole watch per target.
pub fn plan(config: &Config, kinds: &[&'static dyn KindInfo]) -> Vec<KindPlan> {
    let list = ListOptions {
        use_apiserver_cache: config.watch.use_apiserver_cache,
        object_limit: config.watch.object_limit,
        encoding: config.watch.encoding,
        timeout_secs: config.watch.timeout_secs,
    };
    kinds
        .iter()
        .copied()
        .filter(|k| k.is_custom() || config.resources.contains(&k.resource()))
        .filter_map(|kind| {
            let resource = kind.resource();
            let selection = FamilySelection::from_fn(&kind.family_headers(), |h| {
                config.metrics.enables(h.name, h.opt_in)
            });
            let render = RenderContext {
                labels: config.labels_for(resource),
                annotations: config.annotations_for(resource),
            };
            let shapes = shapes(&kind.shape_selectors(), config.watch.lean);
            let mut watches = Vec::new();
            let node_bound = kind.node_field().is_some() && config.scope == ScopeMode::Node;
            for (role, selector, shard) in roles(config, kind.scope(), node_bound) {
                let node_binding = match role {
                    _ if !node_bound => NodeBinding::All,
                    Role::Local => NodeBinding::Node(config.node.clone()),
                    Role::LeaderOnly => NodeBinding::NoNode,
                };
                for target in targets(kind.scope(), selector.as_deref(), &config.watch.namespaces) {
                    for &shape in &shapes {
                        let field_selector = match shape {
                            Shape::Whole => target.field_selector.clone(),
                            Shape::Lean { selector } => {
                                and([target.field_selector.as_deref(), Some(selector)])
                            }
                        };
                        watches.push(PlannedWatch {
                            role,
                            spec: WatchSpec {
                                target: WatchTarget {
                                    namespace: target.namespace.clone(),
                                    field_selector,
                                },
                                render: render.clone(),
                                selection: selection.clone(),
                                shape,
                                list,
                                shard,
                                namespaces: if kind.is_custom() {
                                    config.watch.namespaces.clone()
                                } else {
                                    NamespaceFilter::default()
                                },
                                node_binding: node_binding.clone(),
                            },
                        });
                    }
                }
            }
            (!watches.is_empty()).then_some(KindPlan {
                kind,
                selection,
                watches,
            })
        })
        .collect()
}

/// For a kind of `scope`: each role it is watched in, with the scope's field selector and the
/// shard rendered. A node-bound custom resource (`node_bound`, node agents only) is also
/// watched locally, unsharded as a node's pods are; its selector is decided at run time
/// ([`NodeBinding`]).
fn roles(
    config: &Config,
    scope: Scope,
    node_bound: bool,
) -> Vec<(Role, Option<String>, Option<Shard>)> {
    if config.scope == ScopeMode::Cluster {
        return vec![(Role::Local, None, config.watch.shard)];
    }
    let node = &config.node;
    let mut roles = Vec::new();
    match scope {
        Scope::NodeBound => roles.push((Role::Local, Some(format!("spec.nodeName={node}")), None)),
        Scope::NodeSelf => roles.push((Role::Local, Some(format!("metadata.name={node}")), None)),
        Scope::Namespaced | Scope::Cluster if node_bound => roles.push((Role::Local, None, None)),
        Scope::Namespaced | Scope::Cluster => {}
    }
    if config.election.is_some() {
        let shard = config.watch.shard;
        match scope {
            Scope::NodeBound => {
                roles.push((Role::LeaderOnly, Some("spec.nodeName=".to_string()), shard));
            }
            Scope::NodeSelf => {}
            Scope::Namespaced | Scope::Cluster => roles.push((Role::LeaderOnly, None, shard)),
        }
    }
    roles
}

/// The targets of a kind of `scope` watched with `selector`: one per allowed namespace, or one
/// cluster-wide target excluding the denied namespaces, when the kind is namespaced.
pub(crate) fn targets(
    scope: Scope,
    selector: Option<&str>,
    namespaces: &NamespaceFilter,
) -> Vec<WatchTarget> {
    let one = |namespace, field_selector| WatchTarget {
        namespace,
        field_selector,
    };
    match scope {
        Scope::NodeSelf | Scope::Cluster => vec![one(None, and([selector]))],
        Scope::NodeBound | Scope::Namespaced if namespaces.allow.is_empty() => {
            vec![one(
                None,
                and([selector, deny_selector(namespaces).as_deref()]),
            )]
        }
        // A watch in an allowed namespace never sees a denied one: no exclusion needed.
        Scope::NodeBound | Scope::Namespaced => namespaces
            .allow
            .iter()
            .map(|ns| one(Some(ns.clone()), and([selector])))
            .collect(),
    }
}

/// `metadata.namespace!=a,metadata.namespace!=b`: the cluster-wide watch without the denied
/// namespaces, as kube-state-metrics' `GetExcludeNSFieldSelector` writes it.
fn deny_selector(namespaces: &NamespaceFilter) -> Option<String> {
    let terms: Vec<String> = namespaces
        .deny
        .iter()
        .map(|ns| format!("metadata.namespace!={ns}"))
        .collect();
    and(terms.iter().map(|t| Some(t.as_str())))
}

/// The field selector that holds when every term does (`a,b`); empty terms are left out, and
/// no term at all is no selector.
pub(crate) fn and<'a>(terms: impl IntoIterator<Item = Option<&'a str>>) -> Option<String> {
    let terms: Vec<&str> = terms
        .into_iter()
        .flatten()
        .filter(|t| !t.is_empty())
        .collect();
    (!terms.is_empty()).then(|| terms.join(","))
}

/// The shapes each target is split into.
fn shapes(selectors: &[&'static str], lean: bool) -> Vec<Shape> {
    if lean {
        selectors
            .iter()
            .map(|&selector| Shape::Lean { selector })
            .collect()
    } else {
        vec![Shape::Whole]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Args;
    use crate::registry;
    use clap::Parser as _;

    /// The plan of `args` over the registry, one line per watch:
    /// `<resource> <local|leader> <target> [<shape>] [shard i/n]`.
    /// A watch's role, and its shard as ` shard i/n` (empty without sharding), for the plan
    /// listings below.
    fn role_and_shard(w: &PlannedWatch) -> (&'static str, String) {
        let role = match w.role {
            Role::Local => "local",
            Role::LeaderOnly => "leader",
        };
        let shard = w
            .spec
            .shard
            .map(|s| format!(" shard {}/{}", s.index, s.total))
            .unwrap_or_default();
        (role, shard)
    }

    fn planned(args: &[&str]) -> Vec<String> {
        let argv = std::iter::once("kube-state-agent").chain(args.iter().copied());
        let config = Config::from_args(
            Args::try_parse_from(argv).expect("clap accepts"),
            &registry::catalog(),
        )
        .expect("a valid config");
        plan(&config, registry::KINDS)
            .iter()
            .flat_map(|k| {
                k.watches.iter().map(move |w| {
                    let (role, shard) = role_and_shard(w);
                    format!(
                        "{} {role} {} [{}]{shard}",
                        k.kind.resource(),
                        w.spec.target,
                        w.spec.shape
                    )
                })
            })
            .collect()
    }

    /// The selector of the full watch of Secrets of every other type.
    fn other_secret_types() -> String {
        crate::resources::secret::WELL_KNOWN_TYPES
            .iter()
            .map(|t| format!("type!={t}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn the_plan_follows_scope_namespaces_shards_and_shapes() {
        let no_election = "--leader-election=false";
        let rows: &[(&[&str], &[&str])] = &[
            // A node agent without an election: its pods and its Node, whole objects.
            (
                &["--node=n1", no_election, "--resources=pods,nodes,services"],
                &[
                    "pods local spec.nodeName=n1 [lean]",
                    "nodes local metadata.name=n1 [lean]",
                ],
            ),
            // With the election, the leader adds the unscheduled pods and the other kinds.
            (
                &["--node=n1", "--resources=pods,nodes,services,namespaces"],
                &[
                    "pods local spec.nodeName=n1 [lean]",
                    "pods leader spec.nodeName= [lean]",
                    "nodes local metadata.name=n1 [lean]",
                    "namespaces leader all [lean]",
                    "services leader all [lean]",
                ],
            ),
            // Allowed namespaces: one watch each for namespaced kinds, none for the others.
            (
                &[
                    "--node=n1",
                    "--resources=pods,nodes,services,namespaces",
                    "--namespaces=a,b",
                ],
                &[
                    "pods local namespace=a,spec.nodeName=n1 [lean]",
                    "pods local namespace=b,spec.nodeName=n1 [lean]",
                    "pods leader namespace=a,spec.nodeName= [lean]",
                    "pods leader namespace=b,spec.nodeName= [lean]",
                    "nodes local metadata.name=n1 [lean]",
                    "namespaces leader all [lean]",
                    "services leader namespace=a [lean]",
                    "services leader namespace=b [lean]",
                ],
            ),
            // Denied namespaces: excluded by selector, after the scope's selector.
            (
                &[
                    "--node=n1",
                    "--resources=pods,nodes,services,namespaces",
                    "--namespaces-denylist=x,y",
                ],
                &[
                    "pods local spec.nodeName=n1,metadata.namespace!=x,metadata.namespace!=y [lean]",
                    "pods leader spec.nodeName=,metadata.namespace!=x,metadata.namespace!=y [lean]",
                    "nodes local metadata.name=n1 [lean]",
                    "namespaces leader all [lean]",
                    "services leader metadata.namespace!=x,metadata.namespace!=y [lean]",
                ],
            ),
            // Both lists: the allowed namespaces not denied, one watch each, no exclusion.
            (
                &[
                    "--node=n1",
                    "--resources=services",
                    "--namespaces=a,x",
                    "--namespaces-denylist=x",
                ],
                &["services leader namespace=a [lean]"],
            ),
            // A node agent shards its leader-only watches only.
            (
                &[
                    "--node=n1",
                    "--resources=pods,nodes,services",
                    "--shard=1",
                    "--total-shards=3",
                ],
                &[
                    "pods local spec.nodeName=n1 [lean]",
                    "pods leader spec.nodeName= [lean] shard 1/3",
                    "nodes local metadata.name=n1 [lean]",
                    "services leader all [lean] shard 1/3",
                ],
            ),
            // `--scope=cluster`: every kind whole and local, every watch sharded.
            (
                &[
                    "--scope=cluster",
                    "--resources=pods,nodes,services",
                    "--shard=0",
                    "--total-shards=2",
                    "--namespaces-denylist=x",
                ],
                &[
                    "pods local metadata.namespace!=x [lean] shard 0/2",
                    "nodes local all [lean] shard 0/2",
                    "services local metadata.namespace!=x [lean] shard 0/2",
                ],
            ),
            // Lean shapes: a metadata-only ConfigMap watch, Secrets split by type.
            (
                &[
                    "--scope=cluster",
                    "--resources=configmaps,secrets",
                    "--namespaces=a",
                ],
                &[
                    "configmaps local namespace=a [lean]",
                    "secrets local namespace=a,type=Opaque [lean type=Opaque]",
                    "secrets local namespace=a,type=kubernetes.io/service-account-token [lean type=kubernetes.io/service-account-token]",
                    "secrets local namespace=a,type=kubernetes.io/dockercfg [lean type=kubernetes.io/dockercfg]",
                    "secrets local namespace=a,type=kubernetes.io/dockerconfigjson [lean type=kubernetes.io/dockerconfigjson]",
                    "secrets local namespace=a,type=kubernetes.io/basic-auth [lean type=kubernetes.io/basic-auth]",
                    "secrets local namespace=a,type=kubernetes.io/ssh-auth [lean type=kubernetes.io/ssh-auth]",
                    "secrets local namespace=a,type=kubernetes.io/tls [lean type=kubernetes.io/tls]",
                    "secrets local namespace=a,type=bootstrap.kubernetes.io/token [lean type=bootstrap.kubernetes.io/token]",
                    // Placeholder: replaced below by the full selector of the other types.
                    "secrets local namespace=a,OTHER [lean OTHER]",
                ],
            ),
            // Without lean watches: one whole watch per target.
            (
                &[
                    "--node=n1",
                    "--resources=configmaps,secrets",
                    "--lean-watches=false",
                    "--namespaces-denylist=x",
                ],
                &[
                    "configmaps leader metadata.namespace!=x [whole]",
                    "secrets leader metadata.namespace!=x [whole]",
                ],
            ),
        ];
        for (args, expected) in rows {
            let expected: Vec<String> = expected
                .iter()
                .map(|l| l.replace("OTHER", &other_secret_types()))
                .collect();
            assert_eq!(planned(args), expected, "{args:?}");
        }
    }

    #[test]
    fn a_watch_renders_the_kinds_enabled_families_with_its_allowlists() {
        let argv = [
            "kube-state-agent",
            "--node=n1",
            "--resources=pods",
            "--metric-denylist=kube_pod_info",
            "--metric-labels-allowlist=pods=[app]",
            "--use-apiserver-cache",
            "--object-limit=7",
        ];
        let config =
            Config::from_args(Args::try_parse_from(argv).unwrap(), &registry::catalog()).unwrap();
        let plans = plan(&config, registry::KINDS);
        let [pods] = plans.as_slice() else {
            panic!("one kind planned")
        };
        let headers = pods.kind.family_headers();
        let info = headers
            .iter()
            .position(|h| h.name == "kube_pod_info")
            .unwrap();
        assert!(!pods.selection.is_enabled(info));
        assert!(pods.selection.is_enabled(info + 1));
        for w in &pods.watches {
            assert!(!w.spec.selection.is_enabled(info));
            assert!(w.spec.render.labels.allows("app"));
            assert!(!w.spec.render.labels.allows("tier"));
            assert!(w.spec.list.use_apiserver_cache);
            assert_eq!(w.spec.list.object_limit, Some(7));
        }
    }

    #[test]
    fn custom_kinds_get_one_watch_and_the_namespace_filters_for_after_discovery() {
        let custom = "spec:\n  resources:\n    - groupVersionKind: {group: a.io, version: v1, kind: A}\n      metrics:\n        - name: size\n          each: {type: Gauge, gauge: {path: [spec, size]}}\n";
        let argv = [
            "kube-state-agent",
            "--scope=cluster",
            "--resources=services",
            "--namespaces=a,b",
            "--namespaces-denylist=x",
            "--object-limit=5",
            &format!("--custom-resource-state-config={custom}"),
        ];
        let config =
            Config::from_args(Args::try_parse_from(argv).unwrap(), &registry::catalog()).unwrap();
        let custom: Vec<&'static dyn KindInfo> =
            crate::custom::kind::leak(config.custom.as_ref().unwrap())
                .into_iter()
                .map(|k| k as &'static dyn KindInfo)
                .collect();
        let kinds: Vec<&'static dyn KindInfo> =
            registry::KINDS.iter().copied().chain(custom).collect();
        let plans = plan(&config, &kinds);
        let [services, a] = plans.as_slice() else {
            panic!("two kinds planned")
        };
        // A built-in namespaced kind: the filters are in its targets.
        assert_eq!(services.watches.len(), 2);
        assert!(
            services
                .watches
                .iter()
                .all(|w| w.spec.namespaces == NamespaceFilter::default())
        );
        // A custom kind: one whole watch; its watch applies the filters once discovery says
        // whether the resource is namespaced.
        let [w] = a.watches.as_slice() else {
            panic!("one custom watch")
        };
        assert_eq!(w.spec.target.to_string(), "all");
        assert_eq!(w.spec.namespaces.allow, ["a", "b"]);
        assert_eq!(w.spec.namespaces.deny, ["x"]);
        assert_eq!(w.spec.list.object_limit, Some(5));
    }

    /// The custom kinds' watches of an agent run with `args` and a config of two custom
    /// resources, `A` node-bound and `B` not: `<resource> <role> <binding> [shard i/n]`.
    fn custom_watches(args: &[&str]) -> Vec<String> {
        let custom = "spec:\n  resources:\n    - groupVersionKind: {group: a.io, version: v1, kind: A}\n      nodeNameFromPath: [spec, nodeName]\n      metrics:\n        - name: a\n          each: {type: Gauge, gauge: {path: [spec, size]}}\n    - groupVersionKind: {group: a.io, version: v1, kind: B}\n      metrics:\n        - name: b\n          each: {type: Gauge, gauge: {path: [spec, size]}}\n";
        let flag = format!("--custom-resource-state-config={custom}");
        let argv = std::iter::once("kube-state-agent")
            .chain(args.iter().copied())
            .chain(["--resources=services", flag.as_str()]);
        let config =
            Config::from_args(Args::try_parse_from(argv).unwrap(), &registry::catalog()).unwrap();
        let kinds: Vec<&'static dyn KindInfo> =
            crate::custom::kind::leak(config.custom.as_ref().unwrap())
                .into_iter()
                .map(|k| k as &'static dyn KindInfo)
                .collect();
        plan(&config, &kinds)
            .iter()
            .flat_map(|k| {
                k.watches.iter().map(move |w| {
                    let (role, shard) = role_and_shard(w);
                    assert_eq!(w.spec.target.to_string(), "all", "decided at run time");
                    format!(
                        "{} {role} {:?}{shard}",
                        k.kind.resource(),
                        w.spec.node_binding
                    )
                })
            })
            .collect()
    }

    #[test]
    fn a_node_bound_custom_kind_is_watched_for_the_node_and_by_the_leader_for_no_node() {
        assert_eq!(
            custom_watches(&["--node=n1"]),
            ["as local Node(\"n1\")", "as leader NoNode", "bs leader All"]
        );
        // Shards split the leader's part only, as for pods.
        assert_eq!(
            custom_watches(&["--node=n1", "--shard=1", "--total-shards=2"]),
            [
                "as local Node(\"n1\")",
                "as leader NoNode shard 1/2",
                "bs leader All shard 1/2"
            ]
        );
        // Without an election the node agent keeps its own part only.
        assert_eq!(
            custom_watches(&["--node=n1", "--leader-election=false"]),
            ["as local Node(\"n1\")"]
        );
        // One instance watching everything: no binding.
        assert_eq!(
            custom_watches(&["--scope=cluster"]),
            ["as local All", "bs local All"]
        );
    }

    #[test]
    fn every_kinds_shapes_are_named_apart_by_their_selectors() {
        for kind in registry::KINDS {
            let mut selectors = kind.shape_selectors();
            let n = selectors.len();
            selectors.sort_unstable();
            selectors.dedup();
            assert_eq!(selectors.len(), n, "{}", kind.resource());
        }
    }

    #[test]
    fn field_selectors_join_their_non_empty_terms() {
        assert_eq!(and([None, Some("")]), None);
        assert_eq!(
            and([Some("a=1"), None, Some("b!=2")]).as_deref(),
            Some("a=1,b!=2")
        );
        let deny = |d: &[&str]| NamespaceFilter {
            allow: Vec::new(),
            deny: d.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(deny_selector(&deny(&[])), None);
        assert_eq!(
            deny_selector(&deny(&["kube-system", "b"])).as_deref(),
            Some("metadata.namespace!=kube-system,metadata.namespace!=b")
        );
    }
}
