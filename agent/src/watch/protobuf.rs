//! Listing and watching one kind over protobuf: kube-runtime's list/watch protocol, kept whole,
//! with our own decoding, because kube's `watcher` decodes JSON through serde only.
//!
//! The stream it returns has kube's `watcher` item type (`watcher::Event<Decoded<K>>` or a
//! `watcher::Error`), so the watch task, the backoff, the store's resync protocol and the
//! telemetry work on it unchanged. What callers may rely on:
//! - the first events are `Init`, one `InitApply` per listed object (each decoded on its own:
//!   one bad object costs only itself), then `InitDone`;
//! - then `Apply`/`Delete` as the watch reports them; a watch that ends (the server's
//!   `timeoutSeconds`, a cut connection, an idle stream) is reopened from the last
//!   resourceVersion seen, bookmarks included, without a relist;
//! - only 410 Gone (or an event without a resourceVersion) relists, starting again at `Init`;
//! - every error is an `Err` item and the next poll recovers, as with kube's watcher; wrap the
//!   stream in a backoff. Errors are retryable by contract.
//!
//! Requests go through the agent's `kube::Client`, so they are authenticated, gzip-negotiated
//! (lists) and counted on the wire like every other call. See [`watcher`].

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use http::header::{ACCEPT, ACCEPT_ENCODING, CONTENT_TYPE};
use http::{HeaderValue, Response};
use http_body_util::BodyExt;
use kube::Client;
use kube::api::{ListParams, VersionMatch, WatchParams};
use kube::client::Body;
use kube::core::Status;
use kube::runtime::watcher::{self, Event, ListSemantic};

use crate::decode::{Decoded, Object};
use crate::wire::event::EventType;
use crate::wire::{self, envelope, event, list, status};

/// kube-runtime's margin over `timeoutSeconds` before an idle watch is given up on.
const IDLE_MARGIN: Duration = Duration::from_secs(5);
/// kube's `WatchParams` default: the server ends a watch after this long (it is then resumed).
pub(crate) const DEFAULT_TIMEOUT_SECS: u32 = 290;

type Item<K> = Result<Event<Decoded<K>>, watcher::Error>;

/// What of each object a protobuf watch asks the API server for.
pub enum Objects<K> {
    /// The whole object, decoded by the kind's lean message (its
    /// [`Kind::protobuf`](crate::resources::Kind::protobuf)).
    Whole(fn(Bytes) -> Decoded<K>),
    /// Its metadata only, as `PartialObjectMetadata` ([`wire::partial`]); the watch shape's
    /// fill-in is the caller's.
    MetadataOnly,
}

// A derive would ask for `K: Copy`; a function pointer is `Copy` whatever `K`.
impl<K> Clone for Objects<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Objects<K> {}

/// Lists then watches `K` in `namespace` (all when `None`) as `config` says (selectors, list
/// semantic, page size, timeout, bookmarks), over protobuf, asking for and decoding `objects`.
pub fn watcher<K: Object>(
    client: Client,
    namespace: Option<&str>,
    config: &watcher::Config,
    objects: Objects<K>,
) -> impl Stream<Item = Item<K>> + Send + 'static {
    let media = match objects {
        Objects::Whole(decode) => Media {
            list_accept: wire::CONTENT_TYPE,
            watch_accept: wire::WATCH_CONTENT_TYPE,
            api_version: wire::api_version::<K>(),
            kind: K::KIND.api.kind.to_string(),
            list_kind: format!("{}List", K::KIND.api.kind),
            decode,
        },
        Objects::MetadataOnly => Media {
            list_accept: wire::partial::LIST_CONTENT_TYPE,
            watch_accept: wire::partial::WATCH_CONTENT_TYPE,
            api_version: wire::partial::API_VERSION.to_string(),
            kind: wire::partial::KIND.to_string(),
            list_kind: wire::partial::LIST_KIND.to_string(),
            decode: wire::partial::decode::<K>,
        },
    };
    let lister = Lister {
        client,
        url_path: <Decoded<K> as kube::Resource>::url_path(&(), namespace),
        list: list_params(config),
        watch: watch_params(config),
        idle_timeout: Duration::from_secs(u64::from(
            config.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS),
        )) + IDLE_MARGIN,
        media,
    };
    futures::stream::unfold((lister, State::Empty), |(lister, mut state)| async move {
        // Trampoline: steps that change state without an event go round again.
        loop {
            let (item, next) = step(&lister, state).await;
            if let Some(item) = item {
                return Some((item, (lister, next)));
            }
            state = next;
        }
    })
}

/// Where the protocol stands. Each state says what the next [`step`] does.
enum State {
    /// Nothing listed yet (the start, or after 410 Gone): the next step emits `Init` and the
    /// list begins.
    Empty,
    /// Paging through the list: each step emits one listed object as `InitApply`; when the
    /// page is drained, the next page is fetched, or, after the last one, `InitDone` is
    /// emitted.
    Listing {
        /// The token for the next page; `None` once the last page is fetched.
        continue_token: Option<String>,
        /// The fetched page's objects not yet emitted.
        items: VecDeque<Bytes>,
        /// The resourceVersion of the last fetched page; `None` before the first.
        resource_version: Option<String>,
    },
    /// Listed, or a watch ended: the next step opens a watch from `resource_version`.
    Listed {
        /// The last resourceVersion seen.
        resource_version: String,
    },
    /// Watching: each step reads one event; a bookmark only moves `resource_version` on.
    Watching {
        /// The last resourceVersion seen (objects and bookmarks).
        resource_version: String,
        /// The open watch's frames.
        frames: Frames,
    },
}

/// What every step needs: the client, the requests' shape and what the responses hold.
struct Lister<K> {
    client: Client,
    url_path: String,
    list: ListParams,
    watch: WatchParams,
    idle_timeout: Duration,
    media: Media<K>,
}

/// What the requests ask for, what the envelopes of the answers must name, and how each object
/// is decoded: the kind's own types, or `PartialObjectMetadata` for a metadata-only watch.
struct Media<K> {
    /// `Accept` of a list.
    list_accept: &'static str,
    /// `Accept` of a watch.
    watch_accept: &'static str,
    /// The objects' apiVersion, as envelopes name it.
    api_version: String,
    /// A watch event object's kind: `Pod`, `PartialObjectMetadata`.
    kind: String,
    /// A list's kind: `PodList`, `PartialObjectMetadataList`.
    list_kind: String,
    /// Decodes one object (a list item, an event's object out of its envelope).
    decode: fn(Bytes) -> Decoded<K>,
}

/// Moves the protocol one step: at most one item out, and the next state.
async fn step<K: Object>(lister: &Lister<K>, state: State) -> (Option<Item<K>>, State) {
    match state {
        State::Empty => (
            Some(Ok(Event::Init)),
            State::Listing {
                continue_token: None,
                items: VecDeque::new(),
                resource_version: None,
            },
        ),
        State::Listing {
            continue_token,
            mut items,
            resource_version,
        } => {
            if let Some(item) = items.pop_front() {
                let obj = (lister.media.decode)(item);
                return (
                    Some(Ok(Event::InitApply(obj))),
                    State::Listing {
                        continue_token,
                        items,
                        resource_version,
                    },
                );
            }
            if continue_token.is_none()
                && let Some(resource_version) = resource_version
            {
                return (
                    Some(Ok(Event::InitDone)),
                    State::Listed { resource_version },
                );
            }
            match lister.list_page(continue_token).await {
                Ok(page) if page.resource_version.is_none() && page.continue_token.is_none() => {
                    (Some(Err(watcher::Error::NoResourceVersion)), State::Empty)
                }
                Ok(page) => (
                    None,
                    State::Listing {
                        continue_token: page.continue_token,
                        items: page.items.into(),
                        resource_version: page.resource_version,
                    },
                ),
                Err(err) => (
                    Some(Err(watcher::Error::InitialListFailed(err))),
                    State::Empty,
                ),
            }
        }
        State::Listed { resource_version } => match lister.open_watch(&resource_version).await {
            Ok(frames) => (
                None,
                State::Watching {
                    resource_version,
                    frames,
                },
            ),
            Err(err) => (
                Some(Err(watcher::Error::WatchStartFailed(err))),
                State::Listed { resource_version },
            ),
        },
        State::Watching {
            resource_version,
            mut frames,
        } => match tokio::time::timeout(lister.idle_timeout, frames.next()).await {
            Err(_idle) => {
                tracing::debug!(
                    idle = ?lister.idle_timeout,
                    "the watch stayed silent past its timeout; reopening"
                );
                (None, State::Listed { resource_version })
            }
            Ok(None) => (None, State::Listed { resource_version }),
            Ok(Some(Err(err))) => (
                Some(Err(watcher::Error::WatchFailed(err))),
                State::Listed { resource_version },
            ),
            Ok(Some(Ok(frame))) => match event::decode_event(frame) {
                Ok(ev) => lister.on_event(ev, resource_version, frames),
                // The frame was whole, so the stream keeps its framing: read on.
                Err(err) => (
                    Some(Err(watcher::Error::WatchFailed(read_error(err)))),
                    State::Watching {
                        resource_version,
                        frames,
                    },
                ),
            },
        },
    }
}

impl<K: Object> Lister<K> {
    /// What one watch event does to the protocol.
    fn on_event(
        &self,
        ev: event::Event,
        resource_version: String,
        frames: Frames,
    ) -> (Option<Item<K>>, State) {
        let watching = |resource_version| State::Watching {
            resource_version,
            frames,
        };
        if ev.kind == EventType::Error {
            let status = match ev
                .object
                .into_raw(status::API_VERSION, status::KIND)
                .and_then(status::decode_status)
            {
                Ok(status) => status,
                Err(err) => {
                    return (
                        Some(Err(watcher::Error::WatchFailed(read_error(err)))),
                        watching(resource_version),
                    );
                }
            };
            // 410 Gone: the resourceVersion left the server's window; only a relist recovers.
            let next = if status.code == 410 {
                State::Empty
            } else {
                watching(resource_version)
            };
            return (
                Some(Err(watcher::Error::WatchError(Box::new(status)))),
                next,
            );
        }
        let raw = match ev
            .object
            .into_raw(&self.media.api_version, &self.media.kind)
        {
            Ok(raw) => raw,
            Err(err) => {
                return (
                    Some(Err(watcher::Error::WatchFailed(read_error(err)))),
                    watching(resource_version),
                );
            }
        };
        let obj = (self.media.decode)(raw);
        let seen = kube::Resource::meta(&obj)
            .resource_version
            .clone()
            .filter(|rv| !rv.is_empty());
        match (ev.kind, seen) {
            (EventType::Bookmark, Some(rv)) => (None, watching(rv)),
            (EventType::Bookmark, None) => (None, watching(resource_version)),
            (_, None) => (Some(Err(watcher::Error::NoResourceVersion)), State::Empty),
            (EventType::Deleted, Some(rv)) => (Some(Ok(Event::Delete(obj))), watching(rv)),
            (_, Some(rv)) => (Some(Ok(Event::Apply(obj))), watching(rv)),
        }
    }

    /// Fetches one page of the list.
    async fn list_page(&self, continue_token: Option<String>) -> kube::Result<list::Page> {
        let mut params = self.list.clone();
        params.continue_token = continue_token;
        let mut req = kube::core::Request::new(&self.url_path)
            .list(&params)
            .map_err(kube::Error::BuildRequest)?;
        req.headers_mut()
            .insert(ACCEPT, HeaderValue::from_static(self.media.list_accept));
        let res = self.send(req).await?;
        let body = res.into_body().collect().await?.to_bytes();
        envelope::open(body)
            .and_then(|env| env.into_raw(&self.media.api_version, &self.media.list_kind))
            .and_then(list::decode_list)
            .map_err(read_error)
    }

    /// Opens a watch from `resource_version`.
    async fn open_watch(&self, resource_version: &str) -> kube::Result<Frames> {
        let mut req = kube::core::Request::new(&self.url_path)
            .watch(&self.watch, resource_version)
            .map_err(kube::Error::BuildRequest)?;
        let headers = req.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static(self.media.watch_accept));
        // As kube's watches: a gzipped watch would be one gzip member per event, which the
        // decompression layer does not read; the API server then sends it plain.
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        let res = self.send(req).await?;
        Ok(Frames {
            body: res.into_body().into_data_stream().boxed(),
            reader: wire::frame::FrameReader::new(),
        })
    }

    /// Sends `req`; an error status becomes `kube::Error::Api` with the server's `Status`
    /// (protobuf or JSON, whichever it sent), and a success that is not protobuf an error.
    async fn send(&self, req: http::Request<Vec<u8>>) -> kube::Result<Response<Body>> {
        let res = self.client.send(req.map(Body::from)).await?;
        let content_type = res
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let code = res.status();
        if code.is_client_error() || code.is_server_error() {
            let body = res.into_body().collect().await?.to_bytes();
            return Err(kube::Error::Api(Box::new(error_status(code, &body))));
        }
        if !content_type.starts_with(wire::CONTENT_TYPE) {
            return Err(read_error(wire::Error::ContentType(content_type)));
        }
        Ok(res)
    }
}

/// The `Status` of an error response: protobuf, JSON, or (a proxy's page) built from the text.
fn error_status(code: http::StatusCode, body: &Bytes) -> Status {
    if let Ok(status) = envelope::open(body.clone())
        .and_then(|env| env.into_raw(status::API_VERSION, status::KIND))
        .and_then(status::decode_status)
    {
        return status;
    }
    if let Ok(status) = serde_json::from_slice::<Status>(body) {
        return status;
    }
    let text = String::from_utf8_lossy(body);
    Status::failure(text.trim(), "Failed to parse error data").with_code(code.as_u16())
}

/// A wire error as the `kube::Error` kube reports for unreadable event streams.
fn read_error(err: wire::Error) -> kube::Error {
    kube::Error::ReadEvents(std::io::Error::new(std::io::ErrorKind::InvalidData, err))
}

/// An open watch's body, cut into frames.
struct Frames {
    body: BoxStream<'static, kube::Result<Bytes>>,
    reader: wire::frame::FrameReader,
}

impl Frames {
    /// The next whole frame; `None` when the watch ended (by the server, or cut mid-stream,
    /// which kube also treats as an end to resume from).
    ///
    /// Errors: a frame length that breaks the framing (the stream is then dropped by the
    /// caller), or a read error other than the connection's end.
    async fn next(&mut self) -> Option<kube::Result<Bytes>> {
        loop {
            match self.reader.next_frame() {
                Ok(Some(frame)) => return Some(Ok(frame)),
                Ok(None) => {}
                Err(err) => return Some(Err(read_error(err))),
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.reader.push(&chunk),
                Some(Err(err)) if ends_connection(&err) => {
                    tracing::debug!(error = %err, "the watch connection ended mid-stream");
                    return None;
                }
                Some(Err(err)) => return Some(Err(err)),
                None => {
                    if self.reader.pending() > 0 {
                        tracing::debug!(
                            bytes = self.reader.pending(),
                            "the watch ended inside a frame"
                        );
                    }
                    return None;
                }
            }
        }
    }
}

/// Whether a body error is the connection ending (an unexpected EOF somewhere in its chain,
/// or hyper's chunked decoder saying so), which kube's watcher treats as the watch's end.
fn ends_connection(err: &kube::Error) -> bool {
    if err.to_string().contains("unexpected EOF during chunk") {
        return true;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::UnexpectedEof
        {
            return true;
        }
        if e.to_string().contains("unexpected EOF during chunk") {
            return true;
        }
        source = e.source();
    }
    false
}

/// kube-runtime's `Config::to_list_params`: resourceVersion=0 (any) or a quorum read (most
/// recent), paged by `page_size`.
fn list_params(config: &watcher::Config) -> ListParams {
    let (resource_version, version_match) = match config.list_semantic {
        ListSemantic::Any => (Some("0".to_string()), Some(VersionMatch::NotOlderThan)),
        ListSemantic::MostRecent => (None, None),
    };
    ListParams {
        label_selector: config.label_selector.clone(),
        field_selector: config.field_selector.clone(),
        version_match,
        resource_version,
        limit: config.page_size,
        continue_token: None,
        ..ListParams::default()
    }
}

/// kube-runtime's `Config::to_watch_params`, without streaming lists.
fn watch_params(config: &watcher::Config) -> WatchParams {
    WatchParams {
        label_selector: config.label_selector.clone(),
        field_selector: config.field_selector.clone(),
        timeout: config.timeout,
        bookmarks: config.bookmarks,
        send_initial_events: false,
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures::channel::mpsc;
    use http_body::Frame;
    use http_body_util::StreamBody;
    use prost::Message as _;

    use super::*;
    use crate::resources::pod::Pod;
    use crate::wire::event::encode_event;
    use crate::wire::{meta, pod};

    type Chunks = mpsc::UnboundedSender<Result<Frame<Bytes>, Infallible>>;
    type MockBody = StreamBody<mpsc::UnboundedReceiver<Result<Frame<Bytes>, Infallible>>>;
    type Handle = tower_test::mock::Handle<http::Request<Body>, http::Response<MockBody>>;

    fn client() -> (Client, Handle) {
        let (mock, handle) =
            tower_test::mock::pair::<http::Request<Body>, http::Response<MockBody>>();
        (Client::new(mock, "default"), handle)
    }

    /// A response whose body is sent through the returned sender, chunk by chunk; the body
    /// ends when the sender is dropped.
    fn streaming(content_type: &str, code: u16) -> (http::Response<MockBody>, Chunks) {
        let (tx, rx) = mpsc::unbounded();
        let res = http::Response::builder()
            .status(code)
            .header(CONTENT_TYPE, content_type)
            .body(StreamBody::new(rx))
            .unwrap();
        (res, tx)
    }

    fn send(tx: &Chunks, bytes: &[u8]) {
        tx.unbounded_send(Ok(Frame::data(Bytes::copy_from_slice(bytes))))
            .unwrap();
    }

    /// A whole response.
    fn whole(content_type: &str, code: u16, body: &[u8]) -> http::Response<MockBody> {
        let (res, tx) = streaming(content_type, code);
        send(&tx, body);
        res
    }

    fn pod(uid: &str, rv: &str) -> pod::Pod {
        pod::Pod {
            metadata: Some(meta::ObjectMeta {
                name: Some(format!("pod-{uid}")),
                namespace: Some("ns".into()),
                uid: Some(uid.into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn list(rv: &str, continue_token: &str, uids: &[&str]) -> Vec<u8> {
        let items: Vec<Vec<u8>> = uids.iter().map(|u| pod(u, "1").encode_to_vec()).collect();
        envelope::seal(
            "v1",
            "PodList",
            &list::encode_list(rv, continue_token, &items),
        )
    }

    /// One length-delimited frame of a watch event on `obj`.
    fn frame(kind: EventType, obj: &pod::Pod) -> Vec<u8> {
        framed(&encode_event(
            kind,
            &envelope::seal("v1", "Pod", &obj.encode_to_vec()),
        ))
    }

    fn framed(event: &[u8]) -> Vec<u8> {
        let mut out = (event.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(event);
        out
    }

    fn gone() -> Vec<u8> {
        let status = status::encode_status(410, "Expired", "too old resource version: 20 (25)");
        framed(&encode_event(
            EventType::Error,
            &envelope::seal("v1", "Status", &status),
        ))
    }

    /// What an item says, compactly: `Init`, `InitApply u1`, `Apply u4@12`, `Err 410`, ….
    fn describe(item: &Item<Pod>) -> String {
        let obj = |o: &Decoded<Pod>| {
            let meta = kube::Resource::meta(o);
            format!(
                "{}@{}",
                meta.uid.as_deref().unwrap_or("?"),
                meta.resource_version.as_deref().unwrap_or("?")
            )
        };
        match item {
            Ok(Event::Init) => "Init".into(),
            Ok(Event::InitApply(o)) => format!("InitApply {}", obj(o)),
            Ok(Event::InitDone) => "InitDone".into(),
            Ok(Event::Apply(o)) => format!("Apply {}", obj(o)),
            Ok(Event::Delete(o)) => format!("Delete {}", obj(o)),
            Err(watcher::Error::WatchError(s)) => format!("Err {}", s.code),
            Err(watcher::Error::InitialListFailed(kube::Error::Api(s))) => {
                format!("ListFailed {} {}", s.code, s.reason)
            }
            Err(e) => format!("Err {e}"),
        }
    }

    fn query(req: &http::Request<Body>) -> String {
        req.uri().query().unwrap_or("").to_string()
    }

    fn accept(req: &http::Request<Body>) -> &str {
        req.headers()[ACCEPT].to_str().unwrap()
    }

    fn config() -> watcher::Config {
        let mut config = watcher::Config::default().fields("spec.nodeName=n1");
        config.page_size = Some(2);
        config
    }

    fn decode_pod(raw: Bytes) -> Decoded<Pod> {
        wire::decode::<pod::Pod>(raw)
    }

    async fn take(events: &mut (impl Stream<Item = Item<Pod>> + Unpin), n: usize) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..n {
            let item = events.next().await.expect("the stream never ends");
            out.push(describe(&item));
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn pages_are_listed_then_watched_resumed_from_bookmarks_and_relisted_after_gone() {
        let (client, mut handle) = client();
        let server = tokio::spawn(async move {
            // Page 1 of the list.
            let (req, respond) = handle.next_request().await.unwrap();
            let q = query(&req);
            assert_eq!(accept(&req), wire::CONTENT_TYPE);
            assert!(!q.contains("watch"), "{q}");
            assert!(q.contains("limit=2") && !q.contains("continue"), "{q}");
            assert!(q.contains("fieldSelector=spec.nodeName%3Dn1"), "{q}");
            respond.send_response(whole(
                wire::CONTENT_TYPE,
                200,
                &list("10", "c1", &["u1", "u2"]),
            ));
            // Page 2.
            let (req, respond) = handle.next_request().await.unwrap();
            assert!(query(&req).contains("continue=c1"), "{}", query(&req));
            respond.send_response(whole(wire::CONTENT_TYPE, 200, &list("11", "", &["u3"])));
            // The watch, from the list's resourceVersion; its frames split across reads.
            let (req, respond) = handle.next_request().await.unwrap();
            let q = query(&req);
            assert_eq!(accept(&req), wire::WATCH_CONTENT_TYPE);
            assert!(
                q.contains("watch=true") && q.contains("resourceVersion=11"),
                "{q}"
            );
            assert!(q.contains("allowWatchBookmarks=true"), "{q}");
            assert!(q.contains("timeoutSeconds=290"), "{q}");
            assert!(q.contains("fieldSelector=spec.nodeName%3Dn1"), "{q}");
            let (res, tx) = streaming(wire::WATCH_CONTENT_TYPE, 200);
            respond.send_response(res);
            let stream = [
                frame(EventType::Added, &pod("u4", "12")),
                frame(EventType::Modified, &pod("u1", "13")),
                frame(EventType::Bookmark, &pod("", "20")),
            ]
            .concat();
            for chunk in stream.chunks(7) {
                send(&tx, chunk);
            }
            // The connection drops.
            drop(tx);
            // Resumed from the bookmark, without a relist.
            let (req, respond) = handle.next_request().await.unwrap();
            let q = query(&req);
            assert!(
                q.contains("watch=true") && q.contains("resourceVersion=20"),
                "{q}"
            );
            let (res, tx) = streaming(wire::WATCH_CONTENT_TYPE, 200);
            respond.send_response(res);
            send(&tx, &frame(EventType::Deleted, &pod("u2", "21")));
            send(&tx, &gone());
            // 410 Gone: a fresh list, from the most recent state.
            let (req, respond) = handle.next_request().await.unwrap();
            let q = query(&req);
            assert!(
                !q.contains("watch") && !q.contains("resourceVersion"),
                "{q}"
            );
            respond.send_response(whole(
                wire::CONTENT_TYPE,
                200,
                &list("30", "", &["u1", "u3"]),
            ));
            let (req, respond) = handle.next_request().await.unwrap();
            assert!(
                query(&req).contains("resourceVersion=30"),
                "{}",
                query(&req)
            );
            let (res, tx) = streaming(wire::WATCH_CONTENT_TYPE, 200);
            respond.send_response(res);
            // The sender keeps the last watch open.
            (tx, handle)
        });
        let mut events = Box::pin(watcher(client, None, &config(), Objects::Whole(decode_pod)));
        let got = take(&mut events, 13).await;
        assert_eq!(
            got,
            [
                "Init",
                "InitApply u1@1",
                "InitApply u2@1",
                "InitApply u3@1",
                "InitDone",
                "Apply u4@12",
                "Apply u1@13",
                "Delete u2@21",
                "Err 410",
                "Init",
                "InitApply u1@1",
                "InitApply u3@1",
                "InitDone",
            ][..],
            "{got:#?}"
        );
        // The relisted watch opens from the new list's resourceVersion, then stays quiet.
        let quiet = tokio::time::timeout(Duration::from_secs(1), events.next()).await;
        assert!(
            quiet.is_err(),
            "no event on a quiet watch: {:?}",
            quiet.map(|i| i.map(|i| describe(&i)))
        );
        let _open = tokio::time::timeout(Duration::from_secs(1), server)
            .await
            .expect("the server saw every request")
            .expect("every request was as expected");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_watch_is_reopened_after_its_timeout_from_the_same_resource_version() {
        let (client, mut handle) = client();
        let server = tokio::spawn(async move {
            let (_, respond) = handle.next_request().await.unwrap();
            respond.send_response(whole(wire::CONTENT_TYPE, 200, &list("5", "", &[])));
            let (req, respond) = handle.next_request().await.unwrap();
            assert!(query(&req).contains("resourceVersion=5"));
            let (res, silent) = streaming(wire::WATCH_CONTENT_TYPE, 200);
            respond.send_response(res);
            let opened = tokio::time::Instant::now();
            let (req, respond) = handle.next_request().await.unwrap();
            let waited = opened.elapsed();
            assert!(query(&req).contains("resourceVersion=5"), "{}", query(&req));
            let (res, tx) = streaming(wire::WATCH_CONTENT_TYPE, 200);
            respond.send_response(res);
            send(&tx, &frame(EventType::Added, &pod("u1", "6")));
            (waited, silent, tx, handle)
        });
        let mut events = Box::pin(watcher(client, None, &config(), Objects::Whole(decode_pod)));
        assert_eq!(
            take(&mut events, 3).await,
            ["Init", "InitDone", "Apply u1@6"]
        );
        let (waited, ..) = server.await.unwrap();
        assert_eq!(waited, Duration::from_secs(290) + IDLE_MARGIN);
    }

    #[tokio::test(start_paused = true)]
    async fn error_answers_become_errors_the_next_poll_recovers_from() {
        let (client, mut handle) = client();
        let server = tokio::spawn(async move {
            // A protobuf Status, as the API server sends one to a protobuf request.
            let (_, respond) = handle.next_request().await.unwrap();
            let forbidden = envelope::seal(
                "v1",
                "Status",
                &status::encode_status(403, "Forbidden", "pods is forbidden"),
            );
            respond.send_response(whole(wire::CONTENT_TYPE, 403, &forbidden));
            // A JSON Status.
            let (_, respond) = handle.next_request().await.unwrap();
            let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#;
            respond.send_response(whole("application/json", 404, body));
            // A success, but JSON.
            let (_, respond) = handle.next_request().await.unwrap();
            respond.send_response(whole("application/json", 200, br#"{"kind":"PodList"}"#));
            // Another kind's list.
            let (_, respond) = handle.next_request().await.unwrap();
            let nodes = envelope::seal("v1", "NodeList", &list::encode_list("1", "", &[]));
            respond.send_response(whole(wire::CONTENT_TYPE, 200, &nodes));
            // Recovered.
            let (_, respond) = handle.next_request().await.unwrap();
            respond.send_response(whole(wire::CONTENT_TYPE, 200, &list("9", "", &["u1"])));
            handle
        });
        let mut events = Box::pin(watcher(client, None, &config(), Objects::Whole(decode_pod)));
        let got = take(&mut events, 11).await;
        assert_eq!(
            got[..4],
            [
                "Init",
                "ListFailed 403 Forbidden",
                "Init",
                "ListFailed 404 NotFound"
            ]
        );
        assert_eq!(got[4], "Init");
        assert!(
            got[5].contains("\"application/json\", not protobuf"),
            "{}",
            got[5]
        );
        assert_eq!(got[6], "Init");
        assert!(
            got[7].contains("holds v1/NodeList, expected v1/PodList"),
            "{}",
            got[7]
        );
        assert_eq!(got[8..], ["Init", "InitApply u1@1", "InitDone"]);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_pod_watch_over_protobuf_feeds_the_store_and_a_bad_pod_costs_only_itself() {
        use crate::config::ApiEncoding;
        use crate::watch::TestPodWatch;

        let (client, mut handle) = client();
        let server = tokio::spawn(async move {
            let (_, respond) = handle.next_request().await.unwrap();
            let discovery = crate::watch::discovery_json(&["pods"]);
            respond.send_response(whole("application/json", 200, discovery.as_bytes()));
            let (req, respond) = handle.next_request().await.unwrap();
            assert_eq!(accept(&req), wire::CONTENT_TYPE);
            let mut bad = pod("u2", "1").encode_to_vec();
            bad.extend_from_slice(&[0x18, 0x01]); // `status` as a varint: the body is malformed
            let items = [pod("u1", "1").encode_to_vec(), bad, vec![0x0a, 0x7f]];
            let body = envelope::seal("v1", "PodList", &list::encode_list("10", "", &items));
            respond.send_response(whole(wire::CONTENT_TYPE, 200, &body));
            let (req, respond) = handle.next_request().await.unwrap();
            assert_eq!(accept(&req), wire::WATCH_CONTENT_TYPE);
            let (res, tx) = streaming(wire::WATCH_CONTENT_TYPE, 200);
            respond.send_response(res);
            send(&tx, &frame(EventType::Added, &pod("u3", "11")));
            (tx, handle)
        });
        let TestPodWatch {
            reader,
            telemetry,
            stop: stop_tx,
            task,
        } = TestPodWatch::start(client, Some("spec.nodeName=n1"), ApiEncoding::Protobuf);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let text = loop {
            let text: String = reader
                .rows()
                .iter()
                .map(|r| String::from_utf8(r.all().to_vec()).unwrap())
                .collect();
            if reader.state() == crate::store::ShardState::Listed && text.contains("uid=\"u3\"") {
                break text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the store never got the watched pod: {text}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert!(text.contains("pod=\"pod-u1\""), "{text}");
        assert!(
            !text.contains("uid=\"u2\""),
            "the malformed pod has no rows: {text}"
        );
        assert_eq!(
            telemetry.value("ksa_decode_errors_total", &[("resource", "pods")]),
            Some(2.0),
            "the malformed pod and the undecodable item are counted"
        );
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the watch stops when told")
            .unwrap();
        server.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_metadata_only_watch_asks_for_and_reads_partial_object_metadata() {
        use crate::wire::partial;
        // `PartialObjectMetadata` is the metadata of a pod, at the same field number.
        let partial_of = |p: pod::Pod| {
            meta::MetadataOnly {
                metadata: p.metadata,
            }
            .encode_to_vec()
        };
        let (client, mut handle) = client();
        let server = tokio::spawn(async move {
            let (req, respond) = handle.next_request().await.unwrap();
            assert_eq!(accept(&req), partial::LIST_CONTENT_TYPE);
            let items = [partial_of(pod("u1", "1")), partial_of(pod("u2", "1"))];
            let body = envelope::seal(
                partial::API_VERSION,
                partial::LIST_KIND,
                &list::encode_list("10", "", &items),
            );
            respond.send_response(whole(wire::CONTENT_TYPE, 200, &body));
            let (req, respond) = handle.next_request().await.unwrap();
            assert_eq!(accept(&req), partial::WATCH_CONTENT_TYPE);
            assert!(
                query(&req).contains("resourceVersion=10"),
                "{}",
                query(&req)
            );
            let (res, tx) = streaming(wire::WATCH_CONTENT_TYPE, 200);
            respond.send_response(res);
            let event = |kind, api_version, object_kind, obj: pod::Pod| {
                framed(&encode_event(
                    kind,
                    &envelope::seal(api_version, object_kind, &partial_of(obj)),
                ))
            };
            send(
                &tx,
                &event(
                    EventType::Modified,
                    partial::API_VERSION,
                    partial::KIND,
                    pod("u1", "11"),
                ),
            );
            // A whole object where metadata was asked for is an error, not a misread.
            send(
                &tx,
                &event(EventType::Modified, "v1", "Pod", pod("u2", "12")),
            );
            send(
                &tx,
                &event(
                    EventType::Deleted,
                    partial::API_VERSION,
                    partial::KIND,
                    pod("u2", "13"),
                ),
            );
            (tx, handle)
        });
        let mut events = Box::pin(watcher::<Pod>(
            client,
            None,
            &config(),
            Objects::MetadataOnly,
        ));
        let got = take(&mut events, 7).await;
        assert_eq!(
            got[..5],
            [
                "Init",
                "InitApply u1@1",
                "InitApply u2@1",
                "InitDone",
                "Apply u1@11"
            ]
        );
        assert!(got[5].contains("PartialObjectMetadata"), "{}", got[5]);
        assert_eq!(got[6], "Delete u2@13");
        drop(server);
    }
}
