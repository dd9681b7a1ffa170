package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
)

func init() {
	register("keys init", "keys init [--kem xwing|x25519]", keysInit)
	register("keys list", "keys list [--json]", keysList)
	register("keys fingerprint", "keys fingerprint <account> [--case CASE]", keysFingerprint)
	register("keys revoke", "keys revoke <device>", keysRevoke)
}

// e2eeClient returns the signed-in client and this device's end-to-end
// state (keys in the config dir, PARLEY_CONFIG_DIR overriding).
func e2eeClient() (*client.Client, *client.E2EE, error) {
	c, err := apiClient()
	if err != nil {
		return nil, nil, err
	}
	dir, err := configDir()
	if err != nil {
		return nil, nil, err
	}
	x, err := c.E2EE(dir)
	if err != nil {
		return nil, nil, err
	}
	return c, x, nil
}

func keysInit(ctx context.Context, args []string) error {
	fs := newFlags("keys init")
	kem := fs.String("kem", "xwing", "key-delivery KEM: xwing (post-quantum hybrid, default) or x25519 (fallback)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 0, "no arguments"); err != nil {
		return err
	}
	id := map[string]e2ee.KEMID{"xwing": e2ee.KEMXWing, "x25519": e2ee.KEMX25519}[*kem]
	if id == 0 {
		return usagef("--kem: xwing or x25519")
	}
	x, d, dir, err := thisDevice(ctx, id)
	if err != nil {
		return err
	}
	if err := x.Register(ctx); err != nil {
		return err
	}
	fmt.Printf("This device is %s (%s), registered for %s.\nIts private keys stay in %s (mode 0600).\n"+
		"Its device number is %s: if your mediator admits it, read them this number by phone first.\n"+
		"Compare safety numbers with the mediator: parley keys fingerprint <their account>\n", d.ID, d.KEM, d.Account, dir, e2ee.FormatSafetyNumber(client.DeviceNumber(d.Record())))
	return nil
}

func keysList(ctx context.Context, args []string) error {
	fs := newFlags("keys list")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, x, err := e2eeClient()
	if err != nil {
		return err
	}
	devs, v, err := x.MyDevices(ctx)
	if err != nil {
		return err
	}
	type row struct {
		Device  string    `json:"device"`
		KEM     string    `json:"kem"`
		Created time.Time `json:"created"`
		Revoked bool      `json:"revoked"`
		This    bool      `json:"thisDevice"`
	}
	var rows []row
	for _, d := range v.Devices {
		rows = append(rows, row{d.ID, d.KEM.String(), time.UnixMilli(d.Created), devs.Revoked(d.Account, d.ID), d.ID == x.Me.ID})
	}
	slices.SortFunc(rows, func(a, b row) int { return a.Created.Compare(b.Created) })
	if *asJSON {
		return printJSON(rows)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tKEM\tCREATED\tSTATE")
	for _, r := range rows {
		state := "active"
		if r.Revoked {
			state = "revoked"
		}
		if r.This {
			state += " (this device)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Device, r.KEM, r.Created.Local().Format("2006-01-02 15:04"), state)
	}
	tw.Flush()
	fmt.Printf("Checked against the key directory's log (checkpoint of %d entries).\n", v.Checkpoint.Size)
	return nil
}

func keysFingerprint(ctx context.Context, args []string) error {
	fs := newFlags("keys fingerprint")
	caseID := fs.String("case", "", "a case you share with them (default: the first one found)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "the other person's account id"); err != nil {
		return err
	}
	other := fs.Arg(0)
	c, x, err := e2eeClient()
	if err != nil {
		return err
	}
	if *caseID == "" {
		list, err := c.Cases(ctx)
		if err != nil {
			return err
		}
		for _, l := range list {
			k, err := c.Case(ctx, l.ID)
			if err != nil {
				continue
			}
			if inCase(k.Mediators, k.Participants, other) {
				*caseID = k.ID
				break
			}
		}
		if *caseID == "" {
			return fmt.Errorf("you share no case with %s", other)
		}
	}
	n, err := x.SafetyNumber(ctx, *caseID, other)
	if err != nil {
		return err
	}
	fmt.Printf("Safety number with %s:\n\n    %s\n\nRead it out to them (in person or on a call): it must be the same on their screen.\n"+
		"It changes when either of you adds or revokes a device.\n", other, e2ee.FormatSafetyNumber(n))
	return nil
}

func keysRevoke(ctx context.Context, args []string) error {
	fs := newFlags("keys revoke")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "the device id to revoke"); err != nil {
		return err
	}
	_, x, err := e2eeClient()
	if err != nil {
		return err
	}
	if err := x.Revoke(ctx, fs.Arg(0)); err != nil {
		return err
	}
	fmt.Printf("Device %s is revoked: nothing sent from now on is encrypted to it.\n", fs.Arg(0))
	links, err := x.StillLinked(ctx, fs.Arg(0))
	if err != nil {
		return fmt.Errorf("revoked, but the devices it added could not be checked: %w (run 'parley keys list')", err)
	}
	printStillLinked(os.Stdout, fs.Arg(0), links)
	return nil
}

// printStillLinked names the devices of the person's own account that the
// revoked device added (links) and that still count: a device it linked
// keeps reading after its revocation, so a thief who added a device of
// their own from a stolen one keeps it until that one is revoked too.
func printStillLinked(w io.Writer, revoked string, links []e2ee.Link) {
	if len(links) == 0 {
		return
	}
	fmt.Fprintf(w, "\nDevice %s added these devices to your account, and they still work:\n", revoked)
	for _, l := range links {
		fmt.Fprintf(w, "    %s  (%s, added on %s by %s)\n", l.Device.ID, l.Device.KEM, time.UnixMilli(l.Created).Local().Format("2 January 2006"), l.ByDev)
	}
	fmt.Fprintln(w, "Revoking it did not stop them. Revoke each one that is not yours:")
	for _, l := range links {
		fmt.Fprintf(w, "    parley keys revoke %s\n", l.Device.ID)
	}
}

// thisDevice is this config dir's device of the signed-in account, made
// (with kem) when there is none yet, as an E2EE client; it refuses a
// config dir that holds another account's device.
func thisDevice(ctx context.Context, kem e2ee.KEMID) (*client.E2EE, *e2ee.DeviceKeys, string, error) {
	c, err := apiClient()
	if err != nil {
		return nil, nil, "", err
	}
	me, err := c.Me(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	dir, err := configDir()
	if err != nil {
		return nil, nil, "", err
	}
	d, err := client.LoadDevice(dir)
	switch {
	case errors.Is(err, client.ErrNoDevice):
		if d, err = client.InitDevice(dir, me.ID, kem); err != nil {
			return nil, nil, "", err
		}
	case err != nil:
		return nil, nil, "", err
	case d.Account != me.ID:
		return nil, nil, "", fmt.Errorf("this config dir holds the device of another account (%s); use another PARLEY_CONFIG_DIR", d.Account)
	}
	x, err := c.E2EE(dir)
	if err != nil {
		return nil, nil, "", err
	}
	return x, d, dir, nil
}
