//! The state of one open thread, in signals: the messages held (each seq
//! once, in order), the ones written here that the server has not confirmed
//! (`Pending`, sent by the rules of `outbox`), status and assignee, other
//! people's read markers, and who is typing. The live follow (`follow`) and the composer change it; the views
//! read it. No browser or socket here, so its rules are tested natively.

use super::outbox::Flow;
use leptos::prelude::*;
use parley::model::{ConversationSummary, Message, MessageKind, PersonRef, ReadMarker, ThreadView};
use parley::{ConversationId, ConversationStatus, Role, Seq, Timestamp, UserId};

/// A message the server has not confirmed yet.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub client_id: String,
    pub body: String,
    pub note: bool,
    /// `Some(reason)` once the server refused it.
    pub failed: Option<String>,
}

/// What to do with a message from the stream ([`ThreadState::on_stream`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stream {
    /// It follows what the thread holds: add it.
    Take,
    /// One before it is missing: subscribe again from the cursor.
    Resubscribe,
}

/// The live state of one open thread.
#[derive(Clone, Copy)]
pub struct ThreadState {
    pub id: ConversationId,
    pub me: UserId,
    pub messages: RwSignal<Vec<Message>>,
    pub has_older: RwSignal<bool>,
    pub pending: RwSignal<Vec<Pending>>,
    pub status: RwSignal<ConversationStatus>,
    pub assignee: RwSignal<Option<PersonRef>>,
    /// Other people's read markers, for "Seen".
    pub markers: RwSignal<Vec<ReadMarker>>,
    /// Who is typing, until when (epoch millis).
    pub typing: RwSignal<Vec<(PersonRef, i64)>>,
    /// The highest seq received in the server's message stream: where to
    /// resume after a reconnect. Acks do not move it (an ack can overtake
    /// messages still queued for this socket).
    cursor: RwSignal<Seq>,
    /// The cursor at which a gap in the stream last made this tab
    /// resubscribe (see [`ThreadState::on_stream`]).
    gap_asked: StoredValue<Option<Seq>>,
    /// The highest seq this tab has told the server it has read.
    read_sent: RwSignal<Seq>,
    /// How the outbox (`pending`) is flowing: see `outbox`.
    pub(super) flow: StoredValue<Flow>,
}

impl ThreadState {
    pub fn new(view: &ThreadView, me: UserId) -> ThreadState {
        ThreadState {
            id: view.summary.id,
            me,
            messages: RwSignal::new(view.history.messages.clone()),
            has_older: RwSignal::new(view.history.has_older),
            pending: RwSignal::new(Vec::new()),
            status: RwSignal::new(view.summary.status),
            assignee: RwSignal::new(view.summary.assignee.clone()),
            markers: RwSignal::new(view.read_markers.clone()),
            typing: RwSignal::new(Vec::new()),
            cursor: RwSignal::new(view.last_seq),
            gap_asked: StoredValue::new(None),
            // Opening the thread marked it read up to here.
            read_sent: RwSignal::new(view.last_seq),
            flow: StoredValue::new(Flow::default()),
        }
    }

    /// Adds messages (live, replayed or just acknowledged): each seq once,
    /// in order; a confirmed message replaces its pending copy.
    pub fn add(&self, incoming: impl IntoIterator<Item = Message>) {
        let incoming: Vec<Message> = incoming
            .into_iter()
            .filter(|m| m.conversation_id == self.id)
            .collect();
        if incoming.is_empty() {
            return;
        }
        self.pending.update(|pending| {
            pending.retain(|p| {
                !incoming
                    .iter()
                    .any(|m| m.client_id.as_deref() == Some(p.client_id.as_str()))
            })
        });
        self.typing.update(|typing| {
            typing.retain(|(who, _)| {
                !incoming
                    .iter()
                    .any(|m| m.sender.as_ref().is_some_and(|s| s.id == who.id))
            })
        });
        self.messages.update(|messages| {
            for message in incoming {
                if let Err(at) = messages.binary_search_by_key(&message.seq, |m| m.seq) {
                    messages.insert(at, message);
                }
            }
        });
    }

    /// Applies a changed list row of this conversation (status, assignee).
    pub fn apply_summary(&self, summary: &ConversationSummary) {
        if summary.id != self.id {
            return;
        }
        // Only real changes notify: every new message brings a row, and the
        // composer must not be rebuilt under someone's fingers.
        if self.status.get_untracked() != summary.status {
            self.status.set(summary.status);
        }
        if self.assignee.with_untracked(|a| a.as_ref().map(|a| a.id))
            != summary.assignee.as_ref().map(|a| a.id)
        {
            self.assignee.set(summary.assignee.clone());
        }
    }

    /// Whether the thread was closed (its signals are gone): answers that
    /// arrive after that have nowhere to go.
    pub(super) fn is_gone(&self) -> bool {
        self.messages.try_with_untracked(|_| ()).is_none()
    }

    /// Where to resume the message stream after a reconnect.
    pub(super) fn cursor(&self) -> Seq {
        self.cursor.get_untracked()
    }

    /// Whether a message from the stream (not an ack) with `seq` may be
    /// taken now. Seqs have no gaps, so one beyond the next means one is
    /// missing: with several server instances, a message committed earlier
    /// can arrive later. Then the thread resubscribes from its cursor (the
    /// replay brings the missing one, and the rest again, which `add` keeps
    /// once each), once per cursor: if the replay still skips it, the server
    /// has no such message and what arrives is taken.
    pub(super) fn on_stream(&self, seq: Seq) -> Stream {
        let cursor = self.cursor();
        if seq.0 <= cursor.0 + 1 || self.gap_asked.get_value() == Some(cursor) {
            return Stream::Take;
        }
        self.gap_asked.set_value(Some(cursor));
        Stream::Resubscribe
    }

    /// A message arrived from the stream (not an ack): resume after it.
    pub(super) fn advance_cursor(&self, seq: Seq) {
        self.cursor.update(|c| *c = (*c).max(seq));
    }

    pub(super) fn newest_seq(&self) -> Seq {
        self.messages
            .with_untracked(|m| m.last().map(|m| m.seq).unwrap_or_default())
    }

    /// The newest seq held that the server has not been told is read.
    pub(super) fn unread_newest(&self) -> Option<Seq> {
        let newest = self.newest_seq();
        (newest > self.read_sent.get_untracked()).then_some(newest)
    }

    /// The server was told everything up to `seq` is read.
    pub(super) fn read_sent(&self, seq: Seq) {
        self.read_sent.set(seq);
    }

    /// The seq of my newest text message that the other side has read.
    pub(super) fn seen_seq(&self, me_staff: bool) -> Option<Seq> {
        let read_up_to = self.markers.with(|markers| {
            markers
                .iter()
                .filter(|m| m.user_id != self.me && m.role.is_staff() != me_staff)
                .map(|m| m.seq)
                .max()
        })?;
        self.messages.with(|messages| {
            messages
                .iter()
                .rev()
                .find(|m| m.kind == MessageKind::Text && self.is_mine(m) && m.seq <= read_up_to)
                .map(|m| m.seq)
        })
    }

    /// The seq of my newest text message (where "Sent" shows until "Seen").
    pub(super) fn newest_mine(&self) -> Option<Seq> {
        self.messages.with(|messages| {
            messages
                .iter()
                .rev()
                .find(|m| m.kind == MessageKind::Text && self.is_mine(m))
                .map(|m| m.seq)
        })
    }

    fn is_mine(&self, message: &Message) -> bool {
        message.sender.as_ref().is_some_and(|s| s.id == self.me)
    }

    /// Someone else has read up to `up_to`; markers only move forward.
    pub(super) fn note_read(&self, user_id: UserId, role: Role, up_to: Seq) {
        self.markers.update(
            |markers| match markers.iter_mut().find(|m| m.user_id == user_id) {
                Some(marker) => marker.seq = marker.seq.max(up_to),
                None => markers.push(ReadMarker {
                    user_id,
                    role,
                    seq: up_to,
                }),
            },
        );
    }

    /// `who` is typing until `until` (epoch millis).
    pub(super) fn note_typing(&self, who: &PersonRef, until: i64) {
        self.typing.update(|typing| {
            typing.retain(|(other, _)| other.id != who.id);
            typing.push((who.clone(), until));
        });
    }

    /// Forgets whoever stopped typing before `now`. Called from a timer,
    /// which may fire after the thread was closed: then there is nothing
    /// left to update (`try_update` answers `None`).
    pub(super) fn expire_typing(&self, now: Timestamp) {
        self.typing
            .try_update(|typing| typing.retain(|(_, until)| *until > now.0));
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use parley::model::{ConversationSummary, HistoryPage};
    use parley::MessageId;

    pub(crate) const ME: UserId = UserId(1);
    const AGENT: UserId = UserId(2);
    const THREAD: ConversationId = ConversationId(7);

    fn person(id: UserId, role: Role) -> PersonRef {
        PersonRef {
            id,
            name: format!("user {}", id.0),
            role,
        }
    }

    pub(crate) fn message(seq: i64, sender: UserId, client_id: Option<&str>) -> Message {
        let role = if sender == ME { Role::Customer } else { Role::Agent };
        Message {
            id: MessageId(seq * 10),
            conversation_id: THREAD,
            seq: Seq(seq),
            kind: MessageKind::Text,
            sender: Some(person(sender, role)),
            body: format!("message {seq}"),
            client_id: client_id.map(str::to_owned),
            created_at: Timestamp(seq),
        }
    }

    fn summary(id: ConversationId, status: ConversationStatus) -> ConversationSummary {
        ConversationSummary {
            id,
            title: "A question".to_owned(),
            subject: None,
            status,
            customer: person(ME, Role::Customer),
            assignee: None,
            last_message: None,
            last_activity_at: Timestamp(0),
            unread: 0,
            unanswered: false,
            created_at: Timestamp(0),
        }
    }

    pub(crate) fn thread(messages: Vec<Message>) -> ThreadState {
        // Signals live in an owner's arena; with `sandboxed-arenas` (which a
        // workspace build unifies in through leptos_axum) there is no arena
        // without one. Each test runs on its own thread, so the owner is set
        // for that thread and kept for the test's life.
        let owner = leptos::prelude::Owner::new();
        owner.set();
        std::mem::forget(owner);
        let last_seq = messages.last().map(|m| m.seq).unwrap_or_default();
        let view = ThreadView {
            summary: summary(THREAD, ConversationStatus::Open),
            history: HistoryPage {
                messages,
                has_older: false,
            },
            last_seq,
            read_markers: Vec::new(),
            draft: None,
        };
        ThreadState::new(&view, ME)
    }

    fn seqs(state: &ThreadState) -> Vec<i64> {
        state
            .messages
            .with_untracked(|m| m.iter().map(|m| m.seq.0).collect())
    }

    pub(crate) fn pending(client_id: &str) -> Pending {
        Pending {
            client_id: client_id.to_owned(),
            body: "hello".to_owned(),
            note: false,
            failed: None,
        }
    }

    #[test]
    fn messages_are_kept_once_each_in_seq_order() {
        let state = thread(vec![message(1, ME, None), message(3, AGENT, None)]);
        state.add([
            message(5, AGENT, None),
            message(2, AGENT, None),
            message(3, AGENT, None),
        ]);
        state.add([message(4, ME, None), message(2, AGENT, None)]);
        assert_eq!(seqs(&state), vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn another_conversations_messages_are_ignored() {
        let state = thread(vec![message(1, ME, None)]);
        let mut stray = message(2, AGENT, None);
        stray.conversation_id = ConversationId(8);
        state.add([stray]);
        assert_eq!(seqs(&state), vec![1]);
    }

    #[test]
    fn a_confirmed_message_replaces_its_pending_copy_and_ends_the_senders_typing() {
        let state = thread(vec![message(1, ME, None)]);
        state.queue(pending("c-a"));
        state.queue(pending("c-b"));
        state.note_typing(&person(AGENT, Role::Agent), i64::MAX);
        state.add([message(2, ME, Some("c-a"))]);
        assert_eq!(state.unsent(), vec![pending("c-b")]);
        assert_eq!(state.typing.with_untracked(Vec::len), 1);
        state.add([message(3, AGENT, None)]);
        assert!(state.typing.with_untracked(Vec::is_empty));
    }

    #[test]
    fn a_gap_in_the_stream_resubscribes_once_per_cursor() {
        let state = thread(vec![message(1, ME, None), message(2, AGENT, None)]);
        assert_eq!(state.on_stream(Seq(2)), Stream::Take, "already held");
        assert_eq!(state.on_stream(Seq(3)), Stream::Take, "the next one");
        state.advance_cursor(Seq(3));
        // 4 is missing: ask again from 3, once
        assert_eq!(state.on_stream(Seq(5)), Stream::Resubscribe);
        assert_eq!(
            state.on_stream(Seq(6)),
            Stream::Take,
            "asked already: take what comes"
        );
        state.advance_cursor(Seq(6));
        assert_eq!(state.on_stream(Seq(4)), Stream::Take, "the replay fills the gap");
        // a new gap later is asked about again
        assert_eq!(state.on_stream(Seq(8)), Stream::Resubscribe);
    }

    #[test]
    fn seen_is_my_newest_text_the_other_side_has_read() {
        let state = thread(vec![
            message(1, ME, None),
            message(2, AGENT, None),
            message(3, ME, None),
            message(4, ME, None),
        ]);
        assert_eq!(state.seen_seq(false), None);
        assert_eq!(state.newest_mine(), Some(Seq(4)));
        state.note_read(AGENT, Role::Agent, Seq(3));
        assert_eq!(state.seen_seq(false), Some(Seq(3)));
        // markers never move back
        state.note_read(AGENT, Role::Agent, Seq(1));
        assert_eq!(state.seen_seq(false), Some(Seq(3)));
        // another customer's marker (a staff viewer's own side) does not count
        state.note_read(UserId(9), Role::Customer, Seq(4));
        assert_eq!(state.seen_seq(false), Some(Seq(3)));
    }

    #[test]
    fn the_stream_cursor_only_moves_forward() {
        let state = thread(vec![message(4, AGENT, None)]);
        state.advance_cursor(Seq(6));
        state.advance_cursor(Seq(5));
        assert_eq!(state.cursor(), Seq(6));
    }

    #[test]
    fn only_unreported_messages_are_marked_read() {
        let state = thread(vec![message(1, AGENT, None)]);
        assert_eq!(state.unread_newest(), None);
        state.add([message(2, AGENT, None)]);
        assert_eq!(state.unread_newest(), Some(Seq(2)));
        state.read_sent(Seq(2));
        assert_eq!(state.unread_newest(), None);
    }

    #[test]
    fn a_row_changes_status_and_assignee_of_its_own_thread_only() {
        let state = thread(Vec::new());
        state.apply_summary(&summary(ConversationId(8), ConversationStatus::Resolved));
        assert_eq!(state.status.get_untracked(), ConversationStatus::Open);
        let mut row = summary(THREAD, ConversationStatus::Active);
        row.assignee = Some(person(AGENT, Role::Agent));
        state.apply_summary(&row);
        assert_eq!(state.status.get_untracked(), ConversationStatus::Active);
        assert_eq!(state.assignee.get_untracked().map(|a| a.id), Some(AGENT));
    }

    #[test]
    fn typing_expires_and_a_closed_thread_ignores_late_timers() {
        let state = thread(Vec::new());
        state.note_typing(&person(AGENT, Role::Agent), 100);
        state.expire_typing(Timestamp(50));
        assert_eq!(state.typing.with_untracked(Vec::len), 1);
        state.expire_typing(Timestamp(150));
        assert!(state.typing.with_untracked(Vec::is_empty));

        let owner = Owner::new();
        let closed = owner.with(|| thread(Vec::new()));
        closed.queue(pending("c-a"));
        owner.cleanup();
        // timers that fire after the thread was closed must not panic
        closed.expire_typing(Timestamp(150));
        closed.clear_failure("c-a");
        assert!(closed.next_to_send(0).is_empty());
        closed.held_back("c-a", 0, 1_000);
        assert_eq!(closed.set_timer(0), None);
    }
}
