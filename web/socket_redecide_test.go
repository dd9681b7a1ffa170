package web

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

// caseReads is a real store that counts the reads of case records and,
// once armed, holds each of them until released (or its caller's context
// ends), as a slow store does.
type caseReads struct {
	objstore.Store
	n       atomic.Int32 // case records read
	inside  atomic.Int32 // reads held now
	armed   atomic.Bool
	release chan struct{}
}

func (s *caseReads) Get(ctx context.Context, key string, o objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	if strings.HasPrefix(key, "cases/") && strings.HasSuffix(key, "/case") {
		s.n.Add(1)
		if s.armed.Load() {
			s.inside.Add(1)
			select {
			case <-s.release:
				s.inside.Add(-1)
			case <-ctx.Done():
				s.inside.Add(-1)
				return nil, objstore.Info{}, ctx.Err()
			}
		}
	}
	return s.Store.Get(ctx, key, o)
}

// roomsStack is the real rooms layer (cases, caucus, messaging on one
// in-process broker) over a store whose case reads are counted.
type roomsStack struct {
	store *caseReads
	meta  *metastore.Store
	cases *cases.Service
	rooms *caucus.Service
	svc   *messaging.Service
}

func newRoomsStack(t *testing.T) *roomsStack {
	t.Helper()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &caseReads{Store: dir, release: make(chan struct{})}
	key := make([]byte, 32)
	rand.Read(key)
	meta, err := metastore.New(store, key)
	if err != nil {
		t.Fatal(err)
	}
	seed := sha256.Sum256([]byte("parley web test audit key"))
	signer, err := audit.NewSigner("test/audit", ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(t.Context(), dir, signer)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.New()
	if err != nil {
		t.Fatal(err)
	}
	cs := cases.NewService(meta, account.NewService(meta, ratelimit.NewMemory()), pol, log)
	bus := messaging.NewMemory()
	svc := messaging.NewService(messaging.NewLog(dir), bus, messaging.Options{})
	t.Cleanup(svc.Close)
	return &roomsStack{store: store, meta: meta, cases: cs, rooms: caucus.NewService(cs, pol, svc, bus, log), svc: svc}
}

// framesOf reads ws's frames onto a channel, closed (after its close
// error is sent on ended) when the connection ends.
func framesOf(ws *websocket.Conn) (frames <-chan api.ServerFrame, ended <-chan error) {
	fs, end := make(chan api.ServerFrame, 256), make(chan error, 1)
	go func() {
		defer close(fs)
		for {
			var f api.ServerFrame
			if err := ws.ReadJSON(&f); err != nil {
				end <- err
				return
			}
			fs <- f
		}
	}()
	return fs, end
}

// TestPostAfterOthersRoomChangeReadsNoCase: a mediator opens, then
// closes, a room of themselves and side A's party while side B's party
// posts in the joint room. Each change is announced on the case's topic,
// and B's socket re-checks its rooms; once that re-check has decided, B's
// next post is answered from it — no case read on the post's path: with
// every case read then held, the post is acknowledged. Before, the
// re-check dropped the socket's cached answers and B's next post read the
// case itself (and waited for the re-check's reads, the two sharing one
// lock), so a steady poster on side B could time A's room opening and
// closing by their acks.
func TestPostAfterOthersRoomChangeReadsNoCase(t *testing.T) {
	k := newRoomsStack(t)
	ctx := t.Context()
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	partyA := account.Account{ID: ids.New("u"), Name: "Ann", Role: policy.RoleParticipant}
	partyB := account.Account{ID: ids.New("u"), Name: "Bo", Role: policy.RoleParticipant}
	c, err := k.cases.Create(ctx, med, cases.NewCase{Title: "Timing", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := metastore.Update(ctx, k.meta, "cases/"+c.ID+"/case", func(r *cases.Case) error {
		r.Participants = append(r.Participants,
			cases.Participant{AccountID: partyA.ID, Name: partyA.Name, Role: cases.RoleParty, Side: r.Sides[0].ID},
			cases.Participant{AccountID: partyB.ID, Name: partyB.Name, Role: cases.RoleParty, Side: r.Sides[1].ID})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rechecked := make(chan struct{}, 16)
	ws := optionsSocket(t, k.svc, socketOptions{User: partyB.ID, Auth: k.rooms.Authorizer(partyB, c.ID), Watch: caucus.CaseTopic(c.ID),
		rechecked: func() { rechecked <- struct{}{} }})
	frames, ended := framesOf(ws)
	next := func(what string, want func(api.ServerFrame) bool) {
		t.Helper()
		awaitFrame(t, frames, ended, what, want)
	}
	sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: caucus.JointName})
	next("subscribed", func(f api.ServerFrame) bool { return f.Type == api.FrameSubscribed })
	sendFrame(t, ws, api.ClientFrame{Type: api.FramePub, Room: caucus.JointName, ID: "b-0", Body: []byte("x")})
	next("ack of b-0", func(f api.ServerFrame) bool { return f.Type == api.FrameAck && f.ID == "b-0" })

	var room string
	changes := []struct {
		name   string
		change func() error
	}{
		{"opened", func() error {
			r, err := k.rooms.OpenRoom(ctx, med, c.ID, cases.NewRoom{Label: "Ann alone", Members: []string{med.ID, partyA.ID}})
			room = cases.RoomName(r)
			return err
		}},
		{"closed", func() error {
			_, err := k.rooms.CloseRoom(ctx, med, c.ID, room)
			return err
		}},
	}
	for i, ch := range changes {
		for len(rechecked) > 0 {
			<-rechecked
		}
		if err := ch.change(); err != nil {
			t.Fatalf("room %s: %v", ch.name, err)
		}
		select {
		case <-rechecked:
		case <-time.After(10 * time.Second):
			t.Fatalf("no re-check after the room was %s", ch.name)
		}
		// Every case read now waits; B's post must need none.
		before := k.store.n.Load()
		k.store.armed.Store(true)
		id := "b-" + ch.name
		sendFrame(t, ws, api.ClientFrame{Type: api.FramePub, Room: caucus.JointName, ID: id, Body: []byte("x")})
		timeout := time.After(10 * time.Second)
	wait:
		for {
			select {
			case f, ok := <-frames:
				if !ok {
					t.Fatalf("the connection ended: %v", <-ended)
				}
				if f.Type == api.FrameAck && f.ID == id {
					break wait
				}
				if f.Type == api.FrameError {
					t.Fatalf("B's post after the room was %s: %s %q", ch.name, f.Code, f.Detail)
				}
			case <-time.After(5 * time.Millisecond):
				if k.store.inside.Load() > 0 {
					t.Fatalf("B's post after the room was %s read the case (change %d): its ack would tell B when A's room changed", ch.name, i+1)
				}
			case <-timeout:
				t.Fatalf("no ack for B's post after the room was %s", ch.name)
			}
		}
		if n := k.store.n.Load(); n != before {
			t.Fatalf("B's post after the room was %s read the case %d times", ch.name, n-before)
		}
		k.store.armed.Store(false)
	}
}

// TestPostWhileRecheckReadsIsDecidedAfresh: a post that arrives while the
// socket's re-check is still reading the case after an access change is
// not allowed on the answer cached before the change: a change naming
// the socket's own person holds its frames, and a post while they are held
// is refused at once (review 238), so a mediator recused meanwhile gets no
// ack, and the socket closes with 4003. Before, the post waited behind the
// re-check's read (one lock held across it).
func TestPostWhileRecheckReadsIsDecidedAfresh(t *testing.T) {
	k := newRoomsStack(t)
	ctx := t.Context()
	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	c, err := k.cases.Create(ctx, med, cases.NewCase{Title: "Window", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	ws := optionsSocket(t, k.svc, socketOptions{User: med.ID, Auth: k.rooms.Authorizer(med, c.ID), Watch: caucus.CaseTopic(c.ID)})
	frames, ended := framesOf(ws)
	next := func(what string, want func(api.ServerFrame) bool) {
		t.Helper()
		awaitFrame(t, frames, ended, what, want)
	}
	sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: caucus.JointName})
	next("subscribed", func(f api.ServerFrame) bool { return f.Type == api.FrameSubscribed })
	sendFrame(t, ws, api.ClientFrame{Type: api.FramePub, Room: caucus.JointName, ID: "m-0", Body: []byte("x")})
	next("ack of m-0", func(f api.ServerFrame) bool { return f.Type == api.FrameAck && f.ID == "m-0" })

	// The mediator is recused (announced by hand: this stack wires no
	// OnMembership); the re-check's read of the case is held.
	if _, err := k.cases.Recuse(ctx, med, c.ID, "", "a conflict"); err != nil {
		t.Fatal(err)
	}
	k.store.armed.Store(true)
	released := false
	release := func() {
		if !released {
			released = true
			close(k.store.release)
		}
	}
	t.Cleanup(release)
	if err := k.svc.Announce(ctx, caucus.CaseTopic(c.ID), []byte(`{"change":"mediator.recused","account":"`+med.ID+`"}`)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); k.store.inside.Load() < 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the re-check never read the case")
		}
	}
	sendFrame(t, ws, api.ClientFrame{Type: api.FramePub, Room: caucus.JointName, ID: "m-1", Body: []byte("x")})
	// The post is not answered from before the change: the announcement
	// names the socket's own person, so its frames are held, and a post
	// while they are is refused at once, without a read (review 238); the
	// room's record shows whether it was taken.
	stored := func() bool {
		msgs, _, err := k.svc.Page(ctx, c.ID+"/joint", messaging.Position{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.ID == "m-1" {
				return true
			}
		}
		return false
	}
	// Bounded: a post taken is committed within milliseconds.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if stored() {
			t.Fatal("a post was taken, while the re-check read the case, on the answer cached before the recusal")
		}
	}
	release()
	for f := range frames {
		if f.Type == api.FrameAck && f.ID == "m-1" {
			t.Fatal("a recused mediator's post was acknowledged")
		}
	}
	if err := <-ended; !websocket.IsCloseError(err, api.CloseAccessLost) {
		t.Fatalf("the recused mediator's socket ended with %v, want close %d", err, api.CloseAccessLost)
	}
	if stored() {
		t.Fatal("a recused mediator's post was stored")
	}
}

// awaitFrame reads frames (from framesOf) until one that want accepts,
// failing if the connection ends first or none comes within 10 s.
func awaitFrame(t *testing.T, frames <-chan api.ServerFrame, ended <-chan error, what string, want func(api.ServerFrame) bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("the connection ended before %s: %v", what, <-ended)
			}
			if want(f) {
				return
			}
		case <-timeout:
			t.Fatalf("no %s within 10 s", what)
		}
	}
}
