package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
)

// definedRoomRoutes: the rooms a mediator opens with chosen people
// (issue 23; caucus.OpenRoom, defined-rooms.cedar).
func (a *API) definedRoomRoutes(r chi.Router) {
	r.Get("/defined-rooms", a.listDefinedRooms)
	r.Post("/defined-rooms", a.openDefinedRoom)
	r.With(a.roomNamed).Post("/defined-rooms/{room}/close", a.closeDefinedRoom)
	r.With(a.roomNamed).Post("/defined-rooms/{room}/entries", a.addRoomEntry)
}

// addRoomEntry keeps a room's sealed entry (its signed membership or
// closing) for its members: a mediator in the room hands it over.
func (a *API) addRoomEntry(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	name := roomParam(r) // of the room-name grammar (roomNamed)
	var req api.RecordRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	room, err := a.caucus.AddRoomEntry(r.Context(), actor, chi.URLParam(r, "caseID"), name, req.Record)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, room)
}

func (a *API) listDefinedRooms(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	rooms, err := a.caucus.DefinedRooms(r.Context(), actor, chi.URLParam(r, "caseID"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.List[api.DefinedRoom](rooms))
}

func (a *API) openDefinedRoom(w http.ResponseWriter, r *http.Request) {
	var req api.OpenRoomRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	actor, _ := actorFrom(r.Context())
	room, err := a.caucus.OpenRoom(r.Context(), actor, chi.URLParam(r, "caseID"),
		cases.NewRoom{ID: req.ID, Label: req.Label, Members: req.Members, CrossSide: req.CrossSide})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, room)
}

func (a *API) closeDefinedRoom(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	// A name outside the room-name grammar was refused (400) by roomNamed
	// before anything is audited: the audit log never holds an arbitrary
	// string from the path.
	name := roomParam(r)
	room, err := a.caucus.CloseRoom(r.Context(), actor, chi.URLParam(r, "caseID"), name)
	if err != nil && room.ID == "" {
		a.writeError(w, r, err)
		return
	}
	// Closed even if its members' streams were not told yet (logged by
	// caucus): the room takes no more posts either way.
	writeJSON(w, http.StatusOK, room)
}
