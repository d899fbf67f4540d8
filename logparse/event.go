package logparse

import (
	"bytes"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/kvops/operator/subject"
)

// Role is the Raft role a peer took.
type Role uint8

// Raft roles, as TiKV's raft lines name them.
const (
	RoleFollower Role = iota + 1
	RoleCandidate
	RolePreCandidate
	RoleLeader
)

var roleNames = [...]string{"", "follower", "candidate", "pre-candidate", "leader"}

// String returns the role as the log spells it ("leader", "pre-candidate").
func (r Role) String() string {
	if r > 0 && int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// RoleChange is a TiKV raft line such as
//
//	[...] [INFO] [raft.rs:1228] ["became leader at term 6"] [term=6] [raft_id=91] [region_id=90]
type RoleChange struct {
	At     time.Time
	Region subject.RegionID
	// Peer is the raft_id (or peer_id) of the peer that changed role.
	Peer uint64
	Term uint64
	Role Role
}

// Change returns the change in the shared vocabulary. Its Source is empty:
// the caller knows which log (which store) the line came from.
func (c RoleChange) Change() subject.LeadershipChange {
	return subject.LeadershipChange{At: c.At, Region: c.Region, Peer: c.Peer, Term: c.Term, Role: c.Role.String()}
}

// LeaderChange is PD's line
//
//	[...] [INFO] [region.go:900] ["leader changed"] [region-id=3713] [from=5] [to=4]
//
// whose from and to are store ids.
type LeaderChange struct {
	At       time.Time
	Region   subject.RegionID
	From, To subject.StoreID
}

// Change returns the change in the shared vocabulary, with an empty Source.
func (c LeaderChange) Change() subject.LeadershipChange {
	return subject.LeadershipChange{At: c.At, Region: c.Region, From: c.From, To: c.To}
}

// StoreEventKind names a step of a store's life cycle that PD logs.
type StoreEventKind uint8

// Store life-cycle steps and the messages PD writes for them.
const (
	// StoreOffline is "store has been offline": the store is being drained.
	StoreOffline StoreEventKind = iota + 1
	// StoreTombstone is "store has been Tombstone": the store was removed.
	StoreTombstone
	// StoreUp is "store has been up": a drain was cancelled.
	StoreUp
	// StoreServing is "store has changed to serving": a new store is ready.
	StoreServing
)

var storeEventNames = [...]string{"", "offline", "tombstone", "up", "serving"}

// String returns "offline", "tombstone", "up" or "serving".
func (k StoreEventKind) String() string {
	if k > 0 && int(k) < len(storeEventNames) {
		return storeEventNames[k]
	}
	return "StoreEventKind(" + strconv.Itoa(int(k)) + ")"
}

// StoreEvent is one of PD's store life-cycle lines, such as
//
//	[...] [WARN] [cluster.go:1625] ["store has been Tombstone"] [store-id=4] [store-address=127.0.0.1:20164] [state=Offline]
type StoreEvent struct {
	At      time.Time
	Store   subject.StoreID
	Address string
	Kind    StoreEventKind
}

// State returns the store state the event leads to.
func (s StoreEvent) State() subject.StoreState {
	switch s.Kind {
	case StoreOffline:
		return subject.StateOffline
	case StoreTombstone:
		return subject.StateTombstone
	case StoreUp, StoreServing:
		return subject.StateUp
	}
	return subject.StateUnknown
}

// EventKind says which of an Event's fields is set.
type EventKind uint8

// Event kinds.
const (
	EventRoleChange EventKind = iota + 1
	EventLeaderChange
	EventStore
)

// Event is a leadership or store event read from a log: exactly one of
// RoleChange, LeaderChange and Store is set, as Kind says. (A struct rather
// than an interface, so that extracting events does not allocate.)
type Event struct {
	Kind         EventKind
	RoleChange   RoleChange
	LeaderChange LeaderChange
	Store        StoreEvent
}

// Time returns when the event's line was written.
func (ev Event) Time() time.Time {
	switch ev.Kind {
	case EventRoleChange:
		return ev.RoleChange.At
	case EventLeaderChange:
		return ev.LeaderChange.At
	}
	return ev.Store.At
}

// Change returns a leadership change in the shared vocabulary; ok is false
// for a store event.
func (ev Event) Change() (c subject.LeadershipChange, ok bool) {
	switch ev.Kind {
	case EventRoleChange:
		return ev.RoleChange.Change(), true
	case EventLeaderChange:
		return ev.LeaderChange.Change(), true
	}
	return subject.LeadershipChange{}, false
}

// EventOf returns the event an entry records, if any. A line with the
// right message but without the fields the event needs (a region id, a
// store id) is no event. Strings of the event do not share the entry's
// memory.
func EventOf(e *Entry) (Event, bool) {
	msg := e.Message
	switch {
	case strings.HasPrefix(msg, "became "):
		return roleChange(e)
	case msg == "leader changed":
		region, ok1 := e.Uint("region-id")
		from, ok2 := e.Uint("from")
		to, ok3 := e.Uint("to")
		if !ok1 || !ok2 || !ok3 {
			return Event{}, false
		}
		return Event{Kind: EventLeaderChange, LeaderChange: LeaderChange{
			At: e.Time, Region: subject.RegionID(region), From: subject.StoreID(from), To: subject.StoreID(to),
		}}, true
	case strings.HasPrefix(msg, "store has "):
		var kind StoreEventKind
		switch msg[len("store has "):] {
		case "been offline":
			kind = StoreOffline
		case "been Tombstone", "been tombstone":
			kind = StoreTombstone
		case "been up":
			kind = StoreUp
		case "changed to serving":
			kind = StoreServing
		default:
			return Event{}, false
		}
		id, ok := e.Uint("store-id")
		if !ok {
			return Event{}, false
		}
		addr, _ := e.Lookup("store-address")
		return Event{Kind: EventStore, Store: StoreEvent{
			At: e.Time, Store: subject.StoreID(id), Address: strings.Clone(addr), Kind: kind,
		}}, true
	}
	return Event{}, false
}

// roleChange reads "became <role> at term <N>".
func roleChange(e *Entry) (Event, bool) {
	rest := e.Message[len("became "):]
	sp := strings.IndexByte(rest, ' ')
	if sp < 0 || !strings.HasPrefix(rest[sp:], " at term ") {
		return Event{}, false
	}
	var role Role
	switch rest[:sp] {
	case "leader":
		role = RoleLeader
	case "follower":
		role = RoleFollower
	case "candidate":
		role = RoleCandidate
	case "pre-candidate":
		role = RolePreCandidate
	default:
		return Event{}, false
	}
	term, ok := parseUint(rest[sp+len(" at term "):])
	if !ok {
		return Event{}, false
	}
	if t, ok := e.Uint("term"); ok {
		term = t
	}
	region, ok := e.Uint("region_id")
	if !ok {
		return Event{}, false
	}
	peer, ok := e.Uint("raft_id")
	if !ok {
		peer, _ = e.Uint("peer_id")
	}
	return Event{Kind: EventRoleChange, RoleChange: RoleChange{
		At: e.Time, Region: subject.RegionID(region), Peer: peer, Term: term, Role: role,
	}}, true
}

// EventReader extracts events from a stream several times faster than a
// Reader parses it: it looks only at where the message of each line starts
// (a JSON line is searched for the messages instead) and parses just the
// lines whose message is an event's. Other lines are skipped unparsed, so
// their syntax errors are not reported; an event line that does not parse
// is.
type EventReader struct {
	l     lines
	p     parser
	entry Entry
}

// NewEventReader returns an EventReader reading from src. Of the options,
// only [WithMaxEntrySize] applies.
func NewEventReader(src io.Reader, opts ...ReaderOption) *EventReader {
	r := &EventReader{}
	r.l.init(src, opts)
	r.l.cfg.follow = false
	return r
}

// Reset makes the reader read from src, dropping what it had buffered.
func (r *EventReader) Reset(src io.Reader) {
	r.l.reset(src)
}

// Next returns the next event, or io.EOF at the end of the source.
func (r *EventReader) Next() (Event, error) {
	l := &r.l
	for {
		nl := bytes.IndexByte(l.buf[l.r:l.w], '\n')
		var line []byte
		switch {
		case nl >= 0:
			line = l.buf[l.r : l.r+nl]
			l.r += nl + 1
		case l.w > l.r && l.srcErr != nil:
			line = l.buf[l.r:l.w] // a last line without its newline
			l.r = l.w
		case l.srcErr != nil:
			return Event{}, l.takeErr()
		case l.w-l.r > l.cfg.max:
			err := l.skipLong()
			err.(*TooLongError).Line = 0 // lines are not counted here
			return Event{}, err
		default:
			l.fill()
			continue
		}
		if !mayBeEvent(line) {
			continue
		}
		if err := r.p.parse(line, &r.entry); err != nil {
			return Event{}, err
		}
		if ev, ok := EventOf(&r.entry); ok {
			return ev, nil
		}
	}
}

var (
	prefixBecame = []byte(`"became `)
	prefixLeader = []byte(`"leader changed"`)
	prefixStore  = []byte(`"store has `)
	jsonBecame   = []byte(`"became `)
	jsonLeader   = []byte(`"leader changed"`)
	jsonStoreHas = []byte(`"store has `)
)

// mayBeEvent reports whether a line's message starts like an event's. For
// a text line it looks at the start of the three tokens after the level
// (the message follows at most a logger name and a source); every event
// message holds a space, so it is quoted.
func mayBeEvent(line []byte) bool {
	if len(line) < 2 {
		return false
	}
	if line[0] == '{' {
		return bytes.Contains(line, jsonLeader) || bytes.Contains(line, jsonBecame) || bytes.Contains(line, jsonStoreHas)
	}
	if line[0] != '[' {
		return false
	}
	// The time: "[2024/07/24 12:47:12.982 +00:00]" has its ']' at 31.
	i := 32
	if len(line) <= i || line[i-1] != ']' {
		j := bytes.IndexByte(line, ']')
		if j < 0 {
			return false
		}
		i = j + 1
	}
	// The level, a short word.
	for i < len(line) && line[i] != ']' {
		i++
	}
	i++
	for range 3 {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i+1 >= len(line) || line[i] != '[' {
			return false
		}
		if line[i+1] == '"' {
			// Most lines are no event: tell by the message's first letter
			// before comparing a whole prefix.
			rest := line[i+1:]
			if len(rest) < 2 {
				return false
			}
			switch rest[1] {
			case 'b':
				return bytes.HasPrefix(rest, prefixBecame)
			case 'l':
				return bytes.HasPrefix(rest, prefixLeader)
			case 's':
				return bytes.HasPrefix(rest, prefixStore)
			}
			return false
		}
		j := bytes.IndexByte(line[i:], ']')
		if j < 0 {
			return false
		}
		i += j + 1
	}
	return false
}

// All returns the events up to the end of the source, with the errors of
// event lines that failed; it stops at io.EOF or an error of the source.
func (r *EventReader) All() iter.Seq2[Event, error] { return all(r.Next) }
