//! Candidacy: whether this agent takes part in the election, decided locally from its own
//! Node's labels (`--leader-candidate-selector`), never by asking the API server.
//!
//! The node watch (which every node agent runs anyway, `metadata.name=<node>`) publishes the
//! Node's labels on [`NodeLabels`] as it renders the Node; [`Candidacy`] reads them. So an
//! agent that is not a candidate makes no election request at all: no Lease GET, LIST, WATCH
//! or write. See [`Candidacy`].

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;

use crate::config::label_selector::LabelSelector;

/// A Node's labels.
pub type Labels = Arc<BTreeMap<String, String>>;

/// The labels of this agent's own Node, as its node watch last rendered them: `None` until the
/// Node is first listed, and again once it is deleted. Cheap to clone; every clone publishes
/// to the same readers.
///
/// NOTE: a reload runs a second node watch next to the first while it lists; both publish the
/// same Node's labels, so the value stays right whichever writes last.
#[derive(Clone, Debug)]
pub struct NodeLabels(Arc<watch::Sender<Option<Labels>>>);

impl Default for NodeLabels {
    fn default() -> Self {
        NodeLabels(Arc::new(watch::channel(None).0))
    }
}

impl NodeLabels {
    /// Publishes the Node's labels (`None`: the Node is gone). Readers wake only on a change.
    pub fn publish(&self, labels: Option<&BTreeMap<String, String>>) {
        self.0.send_if_modified(|current| {
            if current.as_deref() == labels {
                return false;
            }
            *current = labels.map(|l| Arc::new(l.clone()));
            true
        });
    }

    /// A reader of the labels.
    pub fn subscribe(&self) -> watch::Receiver<Option<Labels>> {
        self.0.subscribe()
    }
}

/// Who takes part in the election.
#[derive(Clone, Debug)]
pub enum Candidacy {
    /// Every agent (`--leader-candidate-selector` empty, the default).
    Every,
    /// Only while this agent's Node matches `selector`; an agent whose Node has not been seen
    /// yet (or was deleted) is not a candidate.
    Selected {
        /// `--leader-candidate-selector`.
        selector: LabelSelector,
        /// The Node's labels, from the node watch.
        labels: watch::Receiver<Option<Labels>>,
    },
}

impl Candidacy {
    /// Candidacy by `selector` (every agent when `None`) over `labels`.
    pub fn new(selector: Option<LabelSelector>, labels: &NodeLabels) -> Candidacy {
        match selector {
            None => Candidacy::Every,
            Some(selector) => Candidacy::Selected {
                selector,
                labels: labels.subscribe(),
            },
        }
    }

    /// Whether this agent is a candidate now, and why not when it is not.
    pub fn now(&mut self) -> Result<(), &'static str> {
        match self {
            Candidacy::Every => Ok(()),
            Candidacy::Selected { selector, labels } => match &*labels.borrow_and_update() {
                None => Err("this agent's Node has not been seen (yet)"),
                Some(l) if selector.matches(l) => Ok(()),
                Some(_) => Err("this agent's Node does not match --leader-candidate-selector"),
            },
        }
    }

    /// Completes once [`now`](Self::now) may answer `want` (at once when it does); never when
    /// the labels can no longer change.
    pub async fn until(&mut self, want: bool) {
        loop {
            if self.now().is_ok() == want {
                return;
            }
            match self {
                Candidacy::Every => std::future::pending().await,
                Candidacy::Selected { labels, .. } => {
                    if labels.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::label_selector::tests::labels;

    #[tokio::test(start_paused = true)]
    async fn candidacy_follows_the_nodes_labels_and_starts_as_not_a_candidate() {
        let node = NodeLabels::default();
        let selector = LabelSelector::parse("kube-state-agent.io/leader-candidate=true").unwrap();
        let mut candidacy = Candidacy::new(Some(selector), &node);
        assert!(candidacy.now().is_err(), "the Node has not been seen");

        node.publish(Some(&labels(&[("kubernetes.io/hostname", "n1")])));
        assert!(candidacy.now().is_err(), "not labelled");

        let joined = tokio::spawn({
            let mut c = candidacy.clone();
            async move { c.until(true).await }
        });
        node.publish(Some(&labels(&[
            ("kubernetes.io/hostname", "n1"),
            ("kube-state-agent.io/leader-candidate", "true"),
        ])));
        tokio::time::timeout(Duration::from_secs(1), joined)
            .await
            .expect("labelled: a candidate")
            .unwrap();
        assert!(candidacy.now().is_ok());

        node.publish(None);
        tokio::time::timeout(Duration::from_secs(1), candidacy.until(false))
            .await
            .expect("the Node is gone: not a candidate");
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_selector_every_agent_is_a_candidate_at_once() {
        let mut candidacy = Candidacy::new(None, &NodeLabels::default());
        assert!(candidacy.now().is_ok());
        tokio::time::timeout(Duration::from_secs(1), candidacy.until(true))
            .await
            .unwrap();
        assert!(
            tokio::time::timeout(Duration::from_secs(60), candidacy.until(false))
                .await
                .is_err(),
            "never stops being one"
        );
    }
}
