package web

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/fault"
)

// Room controls (package floor): timers, the floor, raised hands. Each
// change is pushed to the case's open WebSockets as a "floor" frame
// carrying what that person may see (socketOptions.Floor).

func (a *API) floorRoutes(r chi.Router) {
	r.Get("/floor", a.floorView)
	r = r.With(a.roomNamed)
	r.Put("/rooms/{room}/timer", a.setTimer)
	r.Delete("/rooms/{room}/timer", a.clearTimer)
	r.Put("/rooms/{room}/floor", a.giveFloor)
	r.Delete("/rooms/{room}/floor", a.takeFloor)
	r.Post("/rooms/{room}/hand", a.raiseHand)
	r.Delete("/rooms/{room}/hand", a.lowerHand)
}

// roomParam is the {room} of the path, unescaped ("caucus%3AA" is
// "caucus:A"; chi matches the escaped path). Routes with a {room} go
// through roomNamed first, so it is of the room-name grammar.
func roomParam(r *http.Request) string {
	room := chi.URLParam(r, "room")
	if u, err := url.PathUnescape(room); err == nil {
		return u
	}
	return room
}

// roomNamed refuses a request whose {room} is not of the room-name
// grammar (api.ValidRoomName: "joint", "caucus:A", "room:<id>", …) with
// 400 problem+json, before any service decides or audits anything: a
// refusal is audited with the room's name, and the audit log never holds
// a string someone typed into the path (nor, over its attribute limit,
// loses the refusal).
func (a *API) roomNamed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, err := url.PathUnescape(chi.URLParam(r, "room"))
		if err != nil || !api.ValidRoomName(name) {
			a.writeError(w, r, fault.Invalid("room", "not a room name"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// maxFloorBody bounds a room-control request.
const maxFloorBody = 1 << 10

func (a *API) floorView(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	v, err := a.floor.View(r.Context(), actor, chi.URLParam(r, "caseID"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) setTimer(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	var req api.TimerRequest
	if err := decodeJSONMax(w, r, &req, maxFloorBody); err != nil {
		a.writeError(w, r, err)
		return
	}
	t, err := a.floor.SetTimer(r.Context(), actor, chi.URLParam(r, "caseID"), roomParam(r), req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (a *API) clearTimer(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	if err := a.floor.ClearTimer(r.Context(), actor, chi.URLParam(r, "caseID"), roomParam(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) giveFloor(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	var req api.FloorRequest
	if err := decodeJSONMax(w, r, &req, maxFloorBody); err != nil {
		a.writeError(w, r, err)
		return
	}
	t, err := a.floor.GiveFloor(r.Context(), actor, chi.URLParam(r, "caseID"), roomParam(r), req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (a *API) takeFloor(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	if err := a.floor.TakeFloor(r.Context(), actor, chi.URLParam(r, "caseID"), roomParam(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) raiseHand(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	h, err := a.floor.RaiseHand(r.Context(), actor, chi.URLParam(r, "caseID"), roomParam(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// lowerHand lowers the caller's own hand, or ?account=<id>'s (a mediator).
func (a *API) lowerHand(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	who := r.URL.Query().Get("account")
	if len(who) > 64 {
		a.writeError(w, r, fault.Invalid("account", "at most 64 characters"))
		return
	}
	if err := a.floor.LowerHand(r.Context(), actor, chi.URLParam(r, "caseID"), roomParam(r), who); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// floorFrame is the "floor" frames of one connection (floorFeed): what
// actor sees of the case's room controls, sent when it changed, and which
// announced changes may change it. Every change of the case's controls
// is announced to every connection, naming its room; a connection reads
// its person's view only for a change in a room that person may join
// (floorFeed.concerns) and sends a frame only when that view changed, so
// side B's socket stays silent, and reads nothing, when side A raises a
// hand or A's caucus timer moves. The frames are made on the connection's
// checker only (one call at a time), never its writer: the reads must not
// hold up frames. actor is the connection's, never changed while it
// lasts: the frames keep the pointer, not a copy of the account.
func (a *API) floorFrame(actor *account.Account, caseID string) *floorFeed {
	if a.floor == nil {
		return nil
	}
	return floorFrames(func(ctx context.Context) (api.FloorView, []string, error) {
		return a.floor.Pushed(ctx, *actor, caseID)
	})
}

// floorCall says why a connection's floor view is read (socketOptions.Floor).
type floorCall uint8

const (
	floorStart  floorCall = iota // the connection opens: record the view, send nothing
	floorChange                  // a floor or membership change was announced
	floorRetry                   // a fallback check: read, send if changed
)

// floorFeed is one connection's floor frames over pushed, which reads the
// person's view and the rooms they may join (floor.Service.Pushed).
//
// The start's read sends nothing. While no view is known — the start's
// read failed, or the read after an announced change did — announcements
// make no read and no frame: the view may have changed (a change in a
// room of the person's whose read failed), and a frame sent on the next
// announcement, whatever room that one names, would go out at the moment
// of someone else's action: side B's page would learn when side A raised
// a hand or A's caucus timer moved (review 352 for the start; review 364
// LOW-1 for a failed read later, which before kept the old view and sent
// B's pending change on A's next action). The next fallback check (about
// a minute, on the connection's own timer, not on anyone's action) reads
// the view and sends it if it is not the one last sent; from then on
// only a view that changed is sent, on an announcement or a fallback
// check. A fallback check reads even while the view is known, and so
// refreshes the rooms the person may join (joins): an announcement lost
// (the broker is at most once) of a room opened or of a membership
// change left joins without a new room, and every later change of that
// room was ignored (review 373 LOW). It runs on the connection's own
// timer, so what it sends tells nobody when anyone acted.
type floorFeed struct {
	pushed func(context.Context) (api.FloorView, []string, error)
	// Of the checker's calls only (one at a time).
	last  [32]byte // the view last sent (or started from), when have
	have  bool
	known bool // the view is known: an announcement reads and compares
	// joins holds the rooms the person may join, as decided by the last
	// view read (nil before one): read by the broker's callback
	// (concerns), which must not read the store.
	joins atomic.Pointer[[]string]
}

func floorFrames(pushed func(context.Context) (api.FloorView, []string, error)) *floorFeed {
	return &floorFeed{pushed: pushed}
}

// concerns reports whether an announced change of room's controls may
// change this connection's view: room is one its person may join as of
// the last view read, or no view was read yet, or the announcement names
// no room (a membership change, a room opened or closed, a node before
// rooms were named: as before, a read). The rooms a person may join
// change only with the case's membership or rooms, announced apart and
// read on. It reads nothing.
func (f *floorFeed) concerns(room string) bool {
	joins := f.joins.Load()
	return room == "" || joins == nil || slices.Contains(*joins, room)
}

// frame returns the "floor" frame for call, or nil (nothing to send).
func (f *floorFeed) frame(ctx context.Context, call floorCall) []byte {
	switch {
	case call == floorChange && !f.known:
		return nil
	}
	v, joins, err := f.pushed(ctx)
	if err != nil {
		// After a change was announced, the view may have changed:
		// not known until the fallback check reads it.
		if call == floorChange {
			f.known = false
		}
		return nil
	}
	f.joins.Store(&joins)
	h := floorHash(v)
	same := f.have && h == f.last
	f.last, f.have, f.known = h, true, true
	if call == floorStart || same {
		return nil
	}
	return encodeFrame(api.ServerFrame{Type: api.FrameFloor, Floor: &v})
}

// floorHash identifies what a view shows (not when it was made).
func floorHash(v api.FloorView) [32]byte {
	v.Now = 0
	b, _ := json.Marshal(v)
	return sha256.Sum256(b)
}
