package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
)

func init() {
	register("room list", "room list <case> [--json]", roomList)
	register("room open", `room open <case> --name "NAME" --with PERSON [--with PERSON …] [--cross-side] [--json]`, roomOpen)
	register("room close", "room close <case> <room> --yes [--json]", roomClose)
}

// people is a repeatable flag.
type people []string

func (p *people) String() string     { return strings.Join(*p, ", ") }
func (p *people) Set(v string) error { *p = append(*p, v); return nil }

// findPerson resolves a mediator or participant by account id or name.
func findPerson(c api.Case, who string) (string, string, error) {
	for _, m := range c.Mediators {
		if m.Recused == nil && (m.AccountID == who || strings.EqualFold(m.Name, strings.TrimSpace(who))) {
			return m.AccountID, m.Name, nil
		}
	}
	p, err := findParticipant(c, who)
	return p.AccountID, p.Name, err
}

func roomList(ctx context.Context, args []string) error {
	fs := newFlags("room list")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	c, x, err := e2eeClient()
	if err != nil {
		return err
	}
	k, err := c.Case(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	listed, err := c.DefinedRooms(ctx, k.ID)
	if err != nil {
		return err
	}
	// Who is in a room and whether it is cross-side come from the verified
	// membership chain (the signed name and statement), never from the
	// server's list; a room no statement names with this person in it is
	// not listed.
	dir, _, err := x.CaseDevices(ctx, k.ID)
	if err != nil {
		return err
	}
	chain, err := x.Statements(ctx, k.ID, dir)
	if err != nil {
		return err
	}
	var rooms []api.DefinedRoom
	if latest := chain.Latest(); latest != nil {
		for _, r := range listed {
			signed, ok := latest.Room(r.Room)
			_, cross, defined := e2ee.DefinedRoom(r.Room)
			if !ok || !defined || !slices.Contains(signed.Members, x.Me.Account) {
				continue
			}
			r.Members, r.CrossSide = signed.Members, cross
			// A signed closing stands whatever the server says now.
			if seq, closed := chain.Closed(r.Room); closed && r.Closed == nil {
				st, _ := chain.Get(seq)
				at := time.UnixMilli(st.Created)
				r.Closed = &at
			}
			rooms = append(rooms, r)
		}
	}
	if *asJSON {
		return printJSON(rooms)
	}
	if len(rooms) == 0 {
		fmt.Println("You are in no room a mediator opened in this case.")
	}
	for _, r := range rooms {
		state := "open"
		if r.Closed != nil {
			state = "closed " + r.Closed.Local().Format("2 Jan 2006 15:04")
		}
		cross := ""
		if r.CrossSide {
			cross = ", cross-side"
		}
		fmt.Printf("%s  %q (%s%s): %s\n", r.Room, r.Label, state, cross, strings.Join(memberNames(k, r.Members), ", "))
	}
	return nil
}

// definedBanner is the audience line of a room a mediator opened, as the
// browser shows it above the room: every person in it by name and, when
// it is cross-side, that people of both sides read each other's words.
// Both come from the verified, signed membership st (its name declares
// cross-side), never from the server's description of the room.
func definedBanner(st *e2ee.Statement, room string, who map[string]string) (string, bool) {
	_, cross, ok := e2ee.DefinedRoom(room)
	signed, in := st.Room(room)
	if !ok || !in {
		return "", false
	}
	names := make([]string, 0, len(signed.Members))
	for _, m := range signed.Members {
		n := who[m]
		if n == "" {
			n = m
		}
		names = append(names, n)
	}
	if cross {
		return "Cross-side room: people of both sides read each other's words here. Only " + strings.Join(names, ", ") + " are in it.", true
	}
	return "Only the people in this room: " + strings.Join(names, ", ") + ".", true
}

// memberNames names the people of a room.
func memberNames(k api.Case, ids []string) []string {
	byID := names(k)
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if n, ok := byID[id]; ok {
			id = n
		}
		out = append(out, id)
	}
	return out
}

func roomOpen(ctx context.Context, args []string) error {
	fs := newFlags("room open")
	name := fs.String("name", "", "the room's name, as its members see it (at most 60 characters)")
	var with people
	fs.Var(&with, "with", "a person to put in the room, by name or account id (repeat it; you are in it)")
	cross := fs.Bool("cross-side", false, "declare that people of different sides are in it: each of them is told they read each other's words")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" || len(with) == 0 {
		return usagef(`expected --name "NAME" and at least one --with PERSON`)
	}
	c, x, err := e2eeClient()
	if err != nil {
		return err
	}
	k, err := c.Case(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	members := []string{x.Me.Account}
	for _, w := range with {
		id, _, err := findPerson(k, w)
		if err != nil {
			return err
		}
		members = append(members, id)
	}
	s, err := x.OpenSecureChat(ctx, k.ID, client.SecureOptions{}) // every room: its signature names their current epochs
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := s.OpenRoom(ctx, *name, members, *cross)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(r)
	}
	kind := "Only they see it"
	if r.CrossSide {
		kind = "Cross-side: people of different sides read each other's words in it, and each of them is told so"
	}
	fmt.Printf("Opened %s %q with %s. %s. Your device signed its membership.\n", r.Room, r.Label, strings.Join(memberNames(k, r.Members), ", "), kind)
	return nil
}

func roomClose(ctx context.Context, args []string) error {
	fs := newFlags("room close")
	yes := fs.Bool("yes", false, "confirm: nothing more can be written in it; its members keep reading its history")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 2, "a case id and a room (room:… or cross:…, see `parley room list`)"); err != nil {
		return err
	}
	if !*yes {
		return usagef("closing %s stops everyone in it writing there for good (they keep its history); add --yes to do it", fs.Arg(1))
	}
	c, x, err := e2eeClient()
	if err != nil {
		return err
	}
	k, err := c.Case(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	// The server closes the room, and this device signs its closing, so
	// every member's client refuses to write in it from then on.
	s, err := x.OpenSecureChat(ctx, k.ID, client.SecureOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := s.CloseRoom(ctx, fs.Arg(1))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(r)
	}
	fmt.Printf("Closed %q: %s keep its history; nothing more is written in it. Your device signed its closing.\n", r.Label, strings.Join(memberNames(k, r.Members), ", "))
	return nil
}
