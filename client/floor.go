package client

import (
	"context"
	"net/url"

	"github.com/parley-mediation/parley/api"
)

func roomPath(caseID, room, what string) string {
	return "/api/v1/cases/" + url.PathEscape(caseID) + "/rooms/" + url.PathEscape(room) + "/" + what
}

// Floor returns what this person sees of a case's room controls: timers,
// turns, raised hands.
func (c *Client) Floor(ctx context.Context, caseID string) (api.FloorView, error) {
	var out api.FloorView
	err := c.Do(ctx, "GET", "/api/v1/cases/"+url.PathEscape(caseID)+"/floor", nil, &out)
	return out, err
}

// SetTimer sets, moves or extends a room's timer (a mediator).
func (c *Client) SetTimer(ctx context.Context, caseID, room string, req api.TimerRequest) (api.RoomTimer, error) {
	var out api.RoomTimer
	err := c.Do(ctx, "PUT", roomPath(caseID, room, "timer"), req, &out)
	return out, err
}

// ClearTimer removes a room's timer (a mediator).
func (c *Client) ClearTimer(ctx context.Context, caseID, room string) error {
	return c.Do(ctx, "DELETE", roomPath(caseID, room, "timer"), nil, nil)
}

// GiveFloor gives one side the floor of a room for minutes (a mediator).
func (c *Client) GiveFloor(ctx context.Context, caseID, room, side string, minutes int) (api.FloorTurn, error) {
	var out api.FloorTurn
	err := c.Do(ctx, "PUT", roomPath(caseID, room, "floor"), api.FloorRequest{Side: side, Minutes: minutes}, &out)
	return out, err
}

// TakeFloor ends the running turn in a room (a mediator).
func (c *Client) TakeFloor(ctx context.Context, caseID, room string) error {
	return c.Do(ctx, "DELETE", roomPath(caseID, room, "floor"), nil, nil)
}

// RaiseHand asks for the mediator from a room.
func (c *Client) RaiseHand(ctx context.Context, caseID, room string) (api.Hand, error) {
	var out api.Hand
	err := c.Do(ctx, "POST", roomPath(caseID, room, "hand"), nil, &out)
	return out, err
}

// LowerHand lowers a hand in a room: one's own (account ""), or anyone's
// (a mediator).
func (c *Client) LowerHand(ctx context.Context, caseID, room, account string) error {
	p := roomPath(caseID, room, "hand")
	if account != "" {
		p += "?account=" + url.QueryEscape(account)
	}
	return c.Do(ctx, "DELETE", p, nil, nil)
}
