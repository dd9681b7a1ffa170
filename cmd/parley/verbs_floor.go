package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
)

// Room controls (package floor): a room's timer, the floor, raised hands,
// and a mediator's notice to every room.

func init() {
	register("room timer", "room timer <case> --room ROOM (--minutes N | --extend N | --ends HH:MM | --clear) [--json]", roomTimer)
	register("broadcast", "broadcast <case> TEXT (or - to read it from standard input)", broadcast)
	register("hand raise", "hand raise <case> --room ROOM", handRaise)
	register("hand lower", "hand lower <case> --room ROOM [--account ID] (a mediator lowers anyone's)", handLower)
	register("hand list", "hand list <case> [--json]", handList)
	register("floor give", "floor give <case> --side SIDE --minutes N [--room joint]", floorGive)
	register("floor take", "floor take <case> [--room joint]", floorTake)
	register("floor show", "floor show <case> [--json]", floorShow)
}

// roomLabel names a room for people, from the case's side labels.
func roomLabel(k api.Case, room string) string {
	switch room {
	case api.RoomJoint:
		return "the joint session"
	case api.RoomMediators:
		return "the mediators' room"
	}
	if side, ok := strings.CutPrefix(room, api.CaucusRoom); ok {
		for _, s := range k.Sides {
			if s.ID == side {
				return "the " + s.Label + " caucus"
			}
		}
	}
	return room
}

func sideLabel(k api.Case, id string) string {
	for _, s := range k.Sides {
		if s.ID == id {
			return s.Label
		}
	}
	return id
}

func ago(now, since int64) string {
	d := time.Duration(now-since) * time.Millisecond
	if d < time.Minute {
		return "less than a minute"
	}
	return fmt.Sprintf("%d min", int(d.Minutes()))
}

func roomTimer(ctx context.Context, args []string) error {
	fs := newFlags("room timer")
	asJSON := clientFlags(fs)
	room := fs.String("room", "", "room: joint, caucus:<side>, …")
	minutes := fs.Int("minutes", 0, "the room ends this many minutes from now")
	extend := fs.Int("extend", 0, "add this many minutes to the running timer")
	ends := fs.String("ends", "", "the room ends at this local time today (HH:MM; tomorrow if already past)")
	clear := fs.Bool("clear", false, "remove the room's timer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *room == "" {
		return usagef("room timer: a case id and --room")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	if *clear {
		if err := c.ClearTimer(ctx, fs.Arg(0), *room); err != nil {
			return err
		}
		fmt.Printf("the timer of %s is cleared\n", *room)
		return nil
	}
	req := api.TimerRequest{Minutes: *minutes, Extend: *extend}
	if *ends != "" {
		t, err := time.ParseInLocation("15:04", *ends, time.Local)
		if err != nil {
			return usagef("--ends: want HH:MM, e.g. 14:30")
		}
		now := time.Now()
		at := time.Date(now.Year(), now.Month(), now.Day(), t.Hour(), t.Minute(), 0, 0, time.Local)
		if !at.After(now) {
			at = at.AddDate(0, 0, 1)
		}
		req.EndsAt = at.UnixMilli()
	}
	t, err := c.SetTimer(ctx, fs.Arg(0), *room, req)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(t)
	}
	end := time.UnixMilli(t.EndsAt)
	fmt.Printf("%s ends at %s (in %d min); its members see the countdown\n", *room, end.Local().Format("15:04"), int(time.Until(end).Round(time.Minute).Minutes()))
	return nil
}

func broadcast(ctx context.Context, args []string) error {
	fs := newFlags("broadcast")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return usagef("broadcast: a case id and the text")
	}
	text := strings.Join(fs.Args()[1:], " ")
	if text == "-" {
		var err error
		if text, err = readMessage(os.Stdin); err != nil {
			return err
		}
	}
	if strings.TrimSpace(text) == "" {
		return usagef("broadcast: the notice is empty")
	}
	c, x, err := e2eeClient()
	if err != nil {
		return err
	}
	k, err := c.Case(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	s, err := x.OpenSecureChat(ctx, fs.Arg(0), client.SecureOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	// A room the mediator defined is named by its label, not its id.
	labels := map[string]string{}
	if defined, err := c.DefinedRooms(ctx, k.ID); err == nil {
		for _, d := range defined {
			labels[d.Room] = "the “" + d.Label + "” room"
		}
	}
	label := func(r string) string {
		if l, ok := labels[r]; ok {
			return l
		}
		return roomLabel(k, r)
	}
	var to []string
	for _, r := range s.BroadcastRooms() {
		to = append(to, label(r))
	}
	fmt.Printf("This goes to: %s (end-to-end encrypted, one message per room; closed rooms and rooms you are not in get nothing)\n", strings.Join(to, ", "))
	sent, err := s.Broadcast(ctx, text)
	var be *client.BroadcastError
	if errors.As(err, &be) {
		var missed []string
		for _, f := range be.Failed {
			missed = append(missed, label(f.Room))
		}
		return fmt.Errorf("notice sent to %d %s; it could not be sent to %s (%v) — try again", len(sent), roomsWord(len(sent)), strings.Join(missed, ", "), be.Failed[0].Err)
	}
	if err != nil {
		return err
	}
	fmt.Printf("notice sent to %d %s\n", len(sent), roomsWord(len(sent)))
	return nil
}

func roomsWord(n int) string {
	if n == 1 {
		return "room"
	}
	return "rooms"
}

func handRaise(ctx context.Context, args []string) error {
	fs := newFlags("hand raise")
	room := fs.String("room", "", "the room you ask from")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *room == "" {
		return usagef("hand raise: a case id and --room")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	h, err := c.RaiseHand(ctx, fs.Arg(0), *room)
	if err != nil {
		return err
	}
	fmt.Printf("you asked for the mediator from %s %s ago; only the mediators see that you asked\n", *room, ago(time.Now().UnixMilli(), h.Since))
	return nil
}

func handLower(ctx context.Context, args []string) error {
	fs := newFlags("hand lower")
	room := fs.String("room", "", "the room")
	account := fs.String("account", "", "whose hand (a mediator; default your own)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *room == "" {
		return usagef("hand lower: a case id and --room")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	if err := c.LowerHand(ctx, fs.Arg(0), *room, *account); err != nil {
		return err
	}
	fmt.Println("lowered")
	return nil
}

func handList(ctx context.Context, args []string) error {
	c, caseID, v, asJSON, err := floorView(ctx, "hand list", args)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(v.Hands)
	}
	k, err := c.Case(ctx, caseID)
	if err != nil {
		return err
	}
	who := names(k)
	if len(v.Hands) == 0 {
		fmt.Println("nobody is waiting")
	}
	for _, h := range v.Hands {
		name := who[h.Account]
		if name == "" {
			name = h.Account
		}
		fmt.Printf("%s waits in %s for %s (%s)\n", name, roomLabel(k, h.Room), ago(v.Now, h.Since), h.Account)
	}
	return nil
}

func floorGive(ctx context.Context, args []string) error {
	fs := newFlags("floor give")
	room := fs.String("room", api.RoomJoint, "the room")
	side := fs.String("side", "", "the side that speaks (its id, e.g. A)")
	minutes := fs.Int("minutes", 0, "for how long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *side == "" || *minutes == 0 {
		return usagef("floor give: a case id, --side and --minutes")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	t, err := c.GiveFloor(ctx, fs.Arg(0), *room, *side, *minutes)
	if err != nil {
		return err
	}
	fmt.Printf("side %s has the floor in %s until %s; others can still write, and their messages are marked out of turn\n",
		t.Side, *room, time.UnixMilli(t.Until).Local().Format("15:04"))
	return nil
}

func floorTake(ctx context.Context, args []string) error {
	fs := newFlags("floor take")
	room := fs.String("room", api.RoomJoint, "the room")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("floor take: a case id")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	if err := c.TakeFloor(ctx, fs.Arg(0), *room); err != nil {
		return err
	}
	fmt.Printf("you have the floor back in %s\n", *room)
	return nil
}

func floorShow(ctx context.Context, args []string) error {
	c, caseID, v, asJSON, err := floorView(ctx, "floor show", args)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(v)
	}
	k, err := c.Case(ctx, caseID)
	if err != nil {
		return err
	}
	for _, t := range v.Timers {
		left := time.Duration(t.EndsAt-v.Now) * time.Millisecond
		if left <= 0 {
			fmt.Printf("%s: time is up\n", roomLabel(k, t.Room))
		} else {
			fmt.Printf("%s ends in %d min\n", roomLabel(k, t.Room), int(left.Round(time.Minute).Minutes()))
		}
	}
	for _, t := range v.Turns {
		if t.Ended == 0 && v.Now < t.Until {
			fmt.Printf("in %s the %s side has the floor for %d more min\n", roomLabel(k, t.Room), sideLabel(k, t.Side), int((time.Duration(t.Until-v.Now) * time.Millisecond).Round(time.Minute).Minutes()))
		}
	}
	if v.Mediator {
		fmt.Printf("%d raised hands (parley hand list)\n", len(v.Hands))
	}
	return nil
}

// floorView parses a verb's flags (a case id, --json) and reads the
// caller's view of the case's room controls.
func floorView(ctx context.Context, verb string, args []string) (c *client.Client, caseID string, v api.FloorView, asJSON *bool, err error) {
	fs := newFlags(verb)
	asJSON = clientFlags(fs)
	if err = parseFlags(fs, args); err != nil {
		return
	}
	if fs.NArg() != 1 {
		err = usagef("%s: a case id", verb)
		return
	}
	if c, err = apiClient(); err != nil {
		return
	}
	caseID = fs.Arg(0)
	v, err = c.Floor(ctx, caseID)
	return
}
