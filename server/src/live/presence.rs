//! Effective presence: a staff member counts as online when their chosen
//! availability is "online" *and* they have a live socket — or had one less
//! than the grace period ago, so a page reload or a network blip does not
//! flap "Support is online" for every customer. Sockets that stop sending
//! heartbeats are closed by the connection loop, which ends their presence
//! the same way.
//!
//! With several instances (`REDIS_URL`) this book still counts this
//! process's sockets, and also records what the hub must write to Redis
//! (who has sockets here, whose last one just closed, who left for good)
//! and holds the set Redis says is present on *any* instance
//! ([`PresenceBook::set_elsewhere`]): a member counts as connected when
//! either says so. The hub's presence task does the Redis side
//! (`Hub::sync_presence`).

use parley::model::{PersonRef, StaffPresence};
use parley::{Availability, UserId};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone)]
struct StaffState {
    person: PersonRef,
    availability: Availability,
    /// Open sockets right now.
    sockets: usize,
    /// Counts as connected: has a socket, or lost the last one less than the
    /// grace period ago.
    connected: bool,
    /// Bumped on each disconnect so a stale grace timer does nothing.
    generation: u64,
}

/// What everyone is told: whether support can answer, and (staff only) the team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceSnapshot {
    pub support_online: bool,
    pub staff: Vec<StaffPresence>,
}

#[derive(Default)]
pub struct PresenceBook {
    staff: HashMap<UserId, StaffState>,
    last: Option<PresenceSnapshot>,
    /// Present on some instance, as Redis last said (empty without Redis).
    elsewhere: HashSet<UserId>,
    /// Whose presence here changed since the last [`PresenceBook::take_changes`].
    changes: Changes,
}

/// What changed here since Redis was last told (Redis only).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Their last socket here just closed: seen now, and the grace starts.
    pub left: Vec<UserId>,
    /// Gone from here for good (grace over, or access changed).
    pub gone: Vec<UserId>,
    /// Everyone whose presence here changed (including those who connected).
    pub changed: Vec<UserId>,
}

impl PresenceBook {
    /// Starts from the stored availabilities; nobody is connected yet.
    pub fn load(staff: Vec<(PersonRef, Availability)>) -> PresenceBook {
        PresenceBook {
            staff: staff
                .into_iter()
                .map(|(person, availability)| {
                    (
                        person.id,
                        StaffState {
                            person,
                            availability,
                            sockets: 0,
                            connected: false,
                            generation: 0,
                        },
                    )
                })
                .collect(),
            ..PresenceBook::default()
        }
    }

    /// A staff socket opened.
    pub fn connected(&mut self, person: PersonRef, availability: Availability) {
        let id = person.id;
        let state = self.upsert(person, availability);
        state.sockets += 1;
        state.connected = true;
        note(&mut self.changes.changed, id);
    }

    /// Someone's access changed (a new role, or deactivated): they leave the
    /// team at once, without a grace period. If they are still staff, their
    /// next socket brings them back with their stored availability.
    pub fn forget(&mut self, user: UserId) {
        if self.staff.remove(&user).is_some() {
            note(&mut self.changes.gone, user);
            note(&mut self.changes.changed, user);
        }
        self.elsewhere.remove(&user);
    }

    /// A staff socket closed. Returns the generation to pass to
    /// [`PresenceBook::grace_expired`] when the grace period is over, if
    /// that was their last socket.
    pub fn disconnected(&mut self, user: UserId) -> Option<u64> {
        let state = self.staff.get_mut(&user)?;
        state.sockets = state.sockets.saturating_sub(1);
        if state.sockets == 0 {
            state.generation += 1;
            note(&mut self.changes.left, user);
            note(&mut self.changes.changed, user);
            Some(state.generation)
        } else {
            None
        }
    }

    /// The grace period after a last socket closed is over.
    pub fn grace_expired(&mut self, user: UserId, generation: u64) {
        if let Some(state) = self.staff.get_mut(&user) {
            if state.generation == generation && state.sockets == 0 {
                state.connected = false;
                note(&mut self.changes.gone, user);
                note(&mut self.changes.changed, user);
            }
        }
    }

    /// Someone (perhaps only known to another instance) is on the team:
    /// added with this availability if this book has not heard of them.
    pub fn learn(&mut self, person: PersonRef, availability: Availability) {
        if !self.staff.contains_key(&person.id) && person.role.is_staff() {
            self.upsert(person, availability);
        }
    }

    /// Staff with a socket here right now (their presence is refreshed).
    pub fn here(&self) -> Vec<UserId> {
        self.staff
            .iter()
            .filter(|(_, s)| s.sockets > 0)
            .map(|(id, _)| *id)
            .collect()
    }

    /// What changed here since the last call.
    pub fn take_changes(&mut self) -> Changes {
        let mut changes = std::mem::take(&mut self.changes);
        changes.changed.sort_unstable();
        changes.changed.dedup();
        changes
    }

    /// Who and with which availability, for those of `users` this book knows.
    pub fn people(&self, users: &[UserId]) -> Vec<(PersonRef, Availability)> {
        users
            .iter()
            .filter_map(|id| self.staff.get(id))
            .map(|s| (s.person.clone(), s.availability))
            .collect()
    }

    /// Who Redis says is present on any instance (this one included).
    pub fn set_elsewhere(&mut self, present: HashSet<UserId>) {
        self.elsewhere = present;
    }

    pub fn set_availability(&mut self, person: PersonRef, availability: Availability) {
        self.upsert(person, availability);
    }

    /// This staff member's entry, added if new, with their current name and choice.
    fn upsert(&mut self, person: PersonRef, availability: Availability) -> &mut StaffState {
        let state = self.staff.entry(person.id).or_insert_with(|| StaffState {
            person: person.clone(),
            availability,
            sockets: 0,
            connected: false,
            generation: 0,
        });
        state.person = person;
        state.availability = availability;
        state
    }

    pub fn snapshot(&self) -> PresenceSnapshot {
        let mut staff: Vec<StaffPresence> = self
            .staff
            .values()
            .filter(|s| s.person.role.is_staff())
            .map(|s| StaffPresence {
                user: s.person.clone(),
                availability: s.availability,
                online: (s.connected || self.elsewhere.contains(&s.person.id))
                    && s.availability == Availability::Online,
            })
            .collect();
        staff.sort_by(|a, b| a.user.name.cmp(&b.user.name).then(a.user.id.cmp(&b.user.id)));
        PresenceSnapshot {
            support_online: staff.iter().any(|s| s.online),
            staff,
        }
    }

    /// The snapshot if it differs from the last one handed out.
    pub fn changed(&mut self) -> Option<PresenceSnapshot> {
        let now = self.snapshot();
        if self.last.as_ref() == Some(&now) {
            None
        } else {
            self.last = Some(now.clone());
            Some(now)
        }
    }
}

/// Adds `user` to a list of changes unless it is there already. Without
/// Redis nobody takes the changes, and with it a staff member opening
/// thousands of sockets between two syncs would otherwise be listed once per
/// socket: either way the lists stay as long as the team.
fn note(list: &mut Vec<UserId>, user: UserId) {
    if !list.contains(&user) {
        list.push(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley::Role;

    fn ann() -> PersonRef {
        PersonRef {
            id: UserId(1),
            name: "Ann".into(),
            role: Role::Agent,
        }
    }

    #[test]
    fn online_needs_availability_and_a_socket() {
        let mut book = PresenceBook::load(vec![(ann(), Availability::Online)]);
        assert!(!book.snapshot().support_online, "online but not connected");
        book.connected(ann(), Availability::Online);
        assert!(book.snapshot().support_online);
        book.set_availability(ann(), Availability::Away);
        assert!(!book.snapshot().support_online, "connected but away");
        assert_eq!(book.snapshot().staff[0].availability, Availability::Away);
    }

    #[test]
    fn the_last_socket_closing_counts_only_after_the_grace_period() {
        let mut book = PresenceBook::default();
        book.connected(ann(), Availability::Online);
        book.connected(ann(), Availability::Online);
        assert_eq!(book.disconnected(ann().id), None, "another tab is still open");
        let generation = book.disconnected(ann().id).expect("last socket");
        assert!(book.snapshot().support_online, "still within grace");
        // a reconnect within the grace period makes the old timer harmless
        book.connected(ann(), Availability::Online);
        book.grace_expired(ann().id, generation);
        assert!(book.snapshot().support_online);
        let generation = book.disconnected(ann().id).expect("last socket");
        book.grace_expired(ann().id, generation);
        assert!(!book.snapshot().support_online);
    }

    #[test]
    fn a_forgotten_member_is_gone_at_once_and_their_late_disconnect_is_harmless() {
        let mut book = PresenceBook::default();
        book.connected(ann(), Availability::Online);
        assert!(book.snapshot().support_online);
        book.forget(ann().id);
        assert!(!book.snapshot().support_online);
        assert!(book.snapshot().staff.is_empty());
        assert_eq!(book.disconnected(ann().id), None);
    }

    #[test]
    fn presence_elsewhere_counts_and_changes_are_recorded_for_redis() {
        let mut book = PresenceBook::default();
        book.learn(ann(), Availability::Online);
        assert!(!book.snapshot().support_online, "known, connected nowhere");
        book.set_elsewhere(HashSet::from([ann().id]));
        assert!(book.snapshot().support_online, "connected on another instance");
        book.set_elsewhere(HashSet::new());
        assert!(!book.snapshot().support_online);

        book.connected(ann(), Availability::Online);
        assert_eq!(book.here(), vec![ann().id]);
        let changes = book.take_changes();
        assert_eq!(changes.changed, vec![ann().id]);
        assert!(changes.left.is_empty() && changes.gone.is_empty());
        let generation = book.disconnected(ann().id).expect("last socket");
        assert!(book.here().is_empty());
        assert_eq!(book.take_changes().left, vec![ann().id]);
        book.grace_expired(ann().id, generation);
        assert_eq!(book.take_changes().gone, vec![ann().id]);
        assert_eq!(book.take_changes(), Changes::default());
    }

    #[test]
    fn changes_name_each_member_once_however_many_sockets_they_open() {
        let mut book = PresenceBook::default();
        for _ in 0..1000 {
            book.connected(ann(), Availability::Online);
        }
        for _ in 0..1000 {
            book.disconnected(ann().id);
        }
        assert_eq!(book.changes.changed, vec![ann().id]);
        assert_eq!(book.changes.left, vec![ann().id]);
    }

    #[test]
    fn changed_reports_each_change_once() {
        let mut book = PresenceBook::default();
        assert!(book.changed().is_some(), "the first snapshot is news");
        assert!(book.changed().is_none());
        book.connected(ann(), Availability::Online);
        assert!(book.changed().is_some());
        assert!(book.changed().is_none());
    }
}
