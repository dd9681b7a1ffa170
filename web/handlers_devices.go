package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/keydir"
)

// Adding a device (docs/protocol.md, "Adding a device"): pairings between
// two devices of one account, and mediators' admissions of a
// participant's new device. The server relays; the endorsement is signed
// by a device and the key share is sealed to the new device.

// MaxPairingBody bounds a pairing's completion (the key share inside).
const MaxPairingBody = 6 << 20

func (a *API) pairingRoutes(r chi.Router) {
	r.Post("/keys/pairings", a.startPairing)
	r.Post("/keys/pairings/claim", a.claimPairing)
	r.Get("/keys/pairings/{pairingID}", a.getPairing)
	r.Post("/keys/pairings/{pairingID}/complete", a.completePairing)
	r.Post("/keys/pairings/{pairingID}/collect", a.collectPairing)
	r.Post("/keys/pairings/{pairingID}/cancel", a.cancelPairing)
}

// pairingCall runs one pairing step and writes its answer.
func (a *API) pairingCall(w http.ResponseWriter, r *http.Request, status int, call func() (*api.Pairing, error)) {
	if !a.keydirReady(w, r) {
		return
	}
	p, err := call()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, status, p)
}

func (a *API) startPairing(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	var req api.PairingStart
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.pairingCall(w, r, http.StatusCreated, func() (*api.Pairing, error) {
		return a.keydir.StartPairing(r.Context(), actor, req.Device)
	})
}

func (a *API) claimPairing(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	var req api.PairingClaim
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.pairingCall(w, r, http.StatusOK, func() (*api.Pairing, error) {
		return a.keydir.ClaimPairing(r.Context(), actor, req.Code, req.Record)
	})
}

func (a *API) getPairing(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	a.pairingCall(w, r, http.StatusOK, func() (*api.Pairing, error) {
		return a.keydir.GetPairing(r.Context(), actor, chi.URLParam(r, "pairingID"))
	})
}

func (a *API) completePairing(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	var req api.PairingComplete
	if err := decodeJSONMax(w, r, &req, MaxPairingBody); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.pairingCall(w, r, http.StatusOK, func() (*api.Pairing, error) {
		return a.keydir.CompletePairing(r.Context(), actor, chi.URLParam(r, "pairingID"), req)
	})
}

func (a *API) collectPairing(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	a.pairingCall(w, r, http.StatusOK, func() (*api.Pairing, error) {
		return a.keydir.CollectPairing(r.Context(), actor, chi.URLParam(r, "pairingID"))
	})
}

func (a *API) cancelPairing(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	a.pairingCall(w, r, http.StatusOK, func() (*api.Pairing, error) {
		return a.keydir.CancelPairing(r.Context(), actor, chi.URLParam(r, "pairingID"))
	})
}

func (a *API) admitDevice(w http.ResponseWriter, r *http.Request) {
	actor, _ := actorFrom(r.Context())
	rec, ok := a.record(w, r)
	if !ok {
		return
	}
	a.proven(w, r, http.StatusCreated, func(since int64) (*keydir.Proven, error) {
		return a.keydir.Admit(r.Context(), actor, chi.URLParam(r, "caseID"), rec, since)
	})
}
