package web

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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

// TestSocketAccessLostDuringStartIsRefused: a mediator recused after the
// handshake checked their access to the case but before the connection
// watches the case's topic (so the change's announcement would reach no
// one; here nothing is announced at all) gets no room: the connection's
// authorizer, the real one of package caucus, starts with nothing cached
// and decides each room from the stored case only once the watch is in
// place, so the first subscribe is refused and the connection closed with
// 4003. The test recuses in exactly that window: before the connection
// starts.
func TestSocketAccessLostDuringStartIsRefused(t *testing.T) {
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	meta, err := metastore.New(dir, key)
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
	// No OnMembership: the recusal announces nothing, so only what the
	// connection decides itself can refuse the room.
	cs := cases.NewService(meta, account.NewService(meta, ratelimit.NewMemory()), pol, log)
	bus := messaging.NewMemory()
	svc := messaging.NewService(messaging.NewLog(dir), bus, messaging.Options{})
	t.Cleanup(svc.Close)
	rooms := caucus.NewService(cs, pol, svc, bus, log)

	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	c, err := cs.Create(t.Context(), med, cases.NewCase{Title: "Start", Type: "tenancy", SideLabels: []string{"Tenant", "Landlord"}})
	if err != nil {
		t.Fatal(err)
	}
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.Background()
		// The handshake's access check, as roomSocket makes it.
		if _, err := cs.Get(ctx, med, c.ID); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		auth := rooms.Authorizer(med, c.ID)
		// The access check passed; the mediator is recused now, before
		// the connection watches the case's topic.
		if _, err := cs.Recuse(ctx, med, c.ID, "", "a conflict"); err != nil {
			t.Error(err)
		}
		serveSocket(ctx, svc, ws, socketOptions{User: med.ID, Auth: auth, Watch: caucus.CaseTopic(c.ID)})
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteJSON(api.ClientFrame{Type: api.FrameSub, Room: "joint"}); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err == nil {
			if strings.Contains(string(data), `"subscribed"`) {
				t.Fatalf("a recused mediator's connection was subscribed: %s", data)
			}
			continue
		}
		if !websocket.IsCloseError(err, api.CloseAccessLost) {
			t.Fatalf("subscribe of a recused mediator: %v, want close %d", err, api.CloseAccessLost)
		}
		return
	}
}

// presenceGate is the in-process broker, except that the first presence
// a subscription to room sets waits at gate: Service.Subscribe sets it
// after the subscription is made and before it returns to the socket, so
// the test holds a subscribe between its access decision and the
// connection recording the subscription.
type presenceGate struct {
	*messaging.Memory
	room    string
	entered chan struct{}
	gate    chan struct{}
	once    sync.Once
}

func (b *presenceGate) SetPresence(ctx context.Context, room, conn, user string, ttl time.Duration) {
	if room == b.room && ttl > 0 {
		b.once.Do(func() {
			close(b.entered)
			<-b.gate
		})
	}
	b.Memory.SetPresence(ctx, room, conn, user, ttl)
}

// switchAuth allows every room until access to "joint" is taken away
// (lost), when it answers that access to the case ended. Asked about
// another room once lost, it says so (listed): an access check asks about
// the rooms it listed, so by then the listing is done.
type switchAuth struct {
	lost   atomic.Bool
	listed chan struct{}
	once   sync.Once
}

func (a *switchAuth) Resolve(_ context.Context, name, _ string) (messaging.Room, error) {
	if a.lost.Load() {
		if name == "joint" {
			return messaging.Room{}, messaging.ErrAccessLost
		}
		a.once.Do(func() { close(a.listed) })
	}
	return messaging.Room{ID: "c_race/" + name, Name: name}, nil
}

func (a *switchAuth) Invalidate() {}

// TestSubscribeDuringRecheckIsRechecked: an access change announced while
// a subscribe is between its access decision and the connection recording
// the subscription starts a check that lists the connection's rooms
// without that one; the subscription, allowed on the old answer, must not
// outlive the change until the next announcement. The connection checks
// again once it records it, and closes with 4003. (The connection also
// holds another room, still allowed, whose check shows the listing done.)
func TestSubscribeDuringRecheckIsRechecked(t *testing.T) {
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bus := &presenceGate{Memory: messaging.NewMemory(), room: "c_race/joint", entered: make(chan struct{}), gate: make(chan struct{})}
	svc := messaging.NewService(messaging.NewLog(store), bus, messaging.Options{})
	t.Cleanup(svc.Close)
	auth := &switchAuth{listed: make(chan struct{})}
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serveSocket(context.Background(), svc, ws, socketOptions{User: "u_a", Auth: auth, Watch: "case:c_race"})
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	released := false
	release := func() {
		if !released {
			released = true
			close(bus.gate)
		}
	}
	defer release()
	if err := ws.WriteJSON(api.ClientFrame{Type: api.FrameSub, Room: "other"}); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var f api.ServerFrame
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatal(err)
		}
		if f.Type == api.FrameSubscribed && f.Room == "other" {
			break
		}
	}
	if err := ws.WriteJSON(api.ClientFrame{Type: api.FrameSub, Room: "joint"}); err != nil {
		t.Fatal(err)
	}
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not happen", what)
		}
	}
	// The subscribe was allowed and waits before it is recorded.
	wait(bus.entered, "the subscribe")
	// Access ends and is announced; the check it starts has listed the
	// connection's rooms (without this one) once it asks about "other".
	auth.lost.Store(true)
	svc.Announce(t.Context(), "case:c_race", []byte("membership"))
	wait(auth.listed, "the check")
	release()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, api.CloseAccessLost) {
			t.Fatalf("a subscription allowed before access ended: %v, want close %d", err, api.CloseAccessLost)
		}
		return
	}
}

// TestCaseLeftWithNoRoomSubscribedCloses: a connection that subscribed to
// no room (a page still opening, or one that has only the case's notices)
// has no room whose re-check would notice that its person left the case.
// An access change announced for the case must still close it with 4003
// once the person's access to the case has ended.
func TestCaseLeftWithNoRoomSubscribedCloses(t *testing.T) {
	store, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := messaging.NewService(messaging.NewLog(store), messaging.NewMemory(), messaging.Options{})
	t.Cleanup(svc.Close)
	var gone atomic.Bool
	asked := make(chan struct{}, 16)
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serveSocket(context.Background(), svc, ws, socketOptions{User: "u_a", Auth: &switchAuth{listed: make(chan struct{})}, Watch: "case:c_left",
			CaseGone: func(context.Context) (bool, error) {
				select {
				case asked <- struct{}{}:
				default:
				}
				return gone.Load(), nil
			}})
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	closed := make(chan error, 1)
	go func() {
		ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()
	// The connection watches the case once it has started: announce until
	// a re-check asks (bounded), with access still there — nothing closes.
	deadline := time.Now().Add(10 * time.Second)
	for len(asked) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no re-check asked about the case within 10 s of announcements")
		}
		svc.Announce(t.Context(), "case:c_left", []byte("membership"))
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-closed:
		t.Fatalf("a connection whose person is still in the case closed: %v", err)
	default:
	}
	// The person leaves the case; the change is announced.
	gone.Store(true)
	if err := svc.Announce(t.Context(), "case:c_left", []byte("membership")); err != nil {
		t.Fatal(err)
	}
	err = <-closed
	if !websocket.IsCloseError(err, api.CloseAccessLost) {
		t.Fatalf("connection of a person who left the case: %v, want close %d", err, api.CloseAccessLost)
	}
}
