package caucus

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
)

// Rooms a mediator defines (cases.DefinedRoom): their room is derived from
// the case record like every other room, so RoomNames and roomOf know them;
// policy keeps each to its members (defined-rooms.cedar); the membership
// the clients trust is the one the opening mediator's device signed
// (e2ee: "room:<id>" or "cross:<id>").

// OpenRoom opens a room of chosen people (cases.Service.OpenRoom) and tells
// the case's open connections, so its members' rooms lists can pick it up.
func (s *Service) OpenRoom(ctx context.Context, actor account.Account, caseID string, n cases.NewRoom) (cases.DefinedRoom, error) {
	r, err := s.cases.OpenRoom(ctx, actor, caseID, n)
	if err != nil {
		return r, err
	}
	reason, _ := json.Marshal(membershipEvent{Change: "room.opened", Account: actor.ID})
	s.broker.Publish(context.WithoutCancel(ctx), CaseTopic(caseID), reason)
	return r, nil
}

// CloseRoom closes a defined room (cases.Service.CloseRoom), seals its
// epoch — every member's stream shows the room closing, and nothing more
// is posted: policy refuses room.post in a closed room, and every open
// connection re-checks at once — and keeps its history where every room's
// history is (HistoryPrefix), under the case's retention.
func (s *Service) CloseRoom(ctx context.Context, actor account.Account, caseID, name string) (cases.DefinedRoom, error) {
	r, err := s.cases.CloseRoom(ctx, actor, caseID, name)
	if err != nil {
		return r, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), membershipBudget)
	defer cancel()
	reason, _ := json.Marshal(membershipEvent{Change: "room.closed", Account: actor.ID})
	c, err := s.cases.Load(ctx, caseID)
	if err == nil {
		_, mr, rerr := roomOf(c, name)
		if err = rerr; err == nil {
			err = s.retry(ctx, "seal "+name, caseID, func(ctx context.Context) error {
				return s.msg.Seal(ctx, mr.ID, string(reason))
			})
		}
	}
	s.retry(ctx, "announce", caseID, func(ctx context.Context) error {
		return s.broker.Publish(ctx, CaseTopic(caseID), reason)
	})
	if err != nil {
		// The room is closed (policy refuses posts); only the stream's
		// notice of it failed.
		return r, fmt.Errorf("room closed, but its members' screens could not be told yet: %w", err)
	}
	return r, nil
}

// AddRoomEntry keeps a sealed entry of a defined room for its members
// (cases.Service.AddRoomEntry).
func (s *Service) AddRoomEntry(ctx context.Context, actor account.Account, caseID, name string, raw []byte) (cases.DefinedRoom, error) {
	return s.cases.AddRoomEntry(ctx, actor, caseID, name, raw)
}

// DefinedRooms lists the defined rooms actor is in.
func (s *Service) DefinedRooms(ctx context.Context, actor account.Account, caseID string) ([]cases.DefinedRoom, error) {
	return s.cases.DefinedRooms(ctx, actor, caseID)
}

// definedAudience is a defined room's "Visible to" line: every person in
// it by name, and in plain words when it is cross-side.
func definedAudience(c *cases.Case, d cases.DefinedRoom, members []string) string {
	names := make([]string, 0, len(members))
	for _, m := range members {
		names = append(names, c.PersonName(m))
	}
	who := strings.Join(names, ", ")
	state := ""
	if d.Closed != nil {
		state = fmt.Sprintf(" Closed %s: its messages stay readable to them; nothing more is posted.", d.Closed.UTC().Format(time.DateOnly))
	}
	if d.CrossSide {
		return "Cross-side room: people of both sides read each other's words here. Only " + who + "." + state
	}
	return "Only the people in this room: " + who + "." + state
}
