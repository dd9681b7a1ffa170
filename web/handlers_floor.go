package web

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/url"

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

// floorFrame is the "floor" frame for one connection: what actor sees of
// the case's room controls now, or nil when that cannot be read (the
// next change, or the next fallback check if no view is known yet,
// brings it) or when it is the view this connection was last sent. Every change of the case's controls reaches
// every connection; only a person whose own filtered view changed gets a
// frame, so side B's socket stays silent when side A raises a hand or
// A's caucus timer moves. The first call (when the connection opens)
// only records the view. Called from the connection's checker only (one
// call at a time), never its writer: the reads must not hold up frames.
// actor is the connection's, never changed while it lasts: the frames
// keep the pointer, not a copy of the account.
func (a *API) floorFrame(actor *account.Account, caseID string) func(ctx context.Context, call floorCall) []byte {
	if a.floor == nil {
		return nil
	}
	return floorFrames(func(ctx context.Context) (api.FloorView, error) {
		return a.floor.Pushed(ctx, *actor, caseID)
	})
}

// floorCall says why a connection's floor view is read (socketOptions.Floor).
type floorCall uint8

const (
	floorStart  floorCall = iota // the connection opens: record the view, send nothing
	floorChange                  // a floor or membership change was announced
	floorRetry                   // a fallback check: read only if the start is not known
)

// floorFrames is floorFrame over pushed, which reads the person's view.
// The start's read sends nothing. When it fails, no view is known, and
// announcements make no read and no frame until one is: a frame sent on
// an announcement whatever the view (nothing to compare it with) would
// tell side B's page when side A raised a hand or A's caucus timer
// moved. The next fallback check (about a minute, on the connection's
// own timer, not on anyone's action) reads the view and sends it, since
// it may have changed since the page loaded; from then on only a view
// that changed is sent.
func floorFrames(pushed func(context.Context) (api.FloorView, error)) func(ctx context.Context, call floorCall) []byte {
	var last [32]byte
	known := false
	return func(ctx context.Context, call floorCall) []byte {
		switch {
		case call == floorChange && !known, call == floorRetry && known:
			return nil
		}
		v, err := pushed(ctx)
		if err != nil {
			return nil
		}
		h := floorHash(v)
		if known && h == last {
			return nil
		}
		last, known = h, true
		if call == floorStart {
			return nil
		}
		return encodeFrame(api.ServerFrame{Type: api.FrameFloor, Floor: &v})
	}
}

// floorHash identifies what a view shows (not when it was made).
func floorHash(v api.FloorView) [32]byte {
	v.Now = 0
	b, _ := json.Marshal(v)
	return sha256.Sum256(b)
}
