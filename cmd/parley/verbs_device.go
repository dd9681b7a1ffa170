package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
)

// Adding a device (docs/protocol.md, "Adding a device").
func init() {
	register("device add", "device add   (on the device you have: shows a code for the new one)", deviceAdd)
	register("device link", "device link <code>   (on the new device, signed in to the same account)", deviceLink)
	register("device pending", "device pending <case>   (mediators: participants' new devices waiting)", devicePending)
	register("device admit", "device admit <case> <account> <device>   (mediators: admit a participant's new device)", deviceAdmit)
}

func deviceAdd(ctx context.Context, args []string) error {
	fs := newFlags("device add")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 0, "no arguments"); err != nil {
		return err
	}
	c, x, err := e2eeClient()
	if err != nil {
		return err
	}
	p, err := x.StartPairing(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("On the new device run:  parley device link %s\nThe code works once, for 10 minutes. Waiting…\n", p.Code)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	rec, err := x.WaitClaimed(wctx, p.ID)
	if err != nil {
		return err
	}
	fmt.Printf("Safety number (compare it with the one the new device shows):\n%s\nDo the numbers match? Type yes to add the device: ",
		e2ee.FormatSafetyNumber(client.PairingSafetyNumber(x.Me.Record(), rec)))
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	if strings.TrimSpace(strings.ToLower(line)) != "yes" {
		// The new device stops waiting; if this fails, it waits until the code runs out.
		return errors.New(notAddedWords(ctx, c, x.CancelPairing(ctx, p.ID) == nil))
	}
	list, err := c.Cases(ctx)
	if err != nil {
		return err
	}
	var cases []string
	for _, k := range list {
		cases = append(cases, k.ID)
	}
	sh, err := x.CompletePairing(ctx, p.ID, rec, cases)
	if err != nil {
		return err
	}
	fmt.Printf("Added %s. It received the keys of %d conversations in %d of your cases, encrypted for it alone.\n", rec.ID, sh.Chains, sh.Cases)
	if len(sh.Left) > 0 {
		fmt.Printf("The keys of %d other cases (%s) could not be handed over (not checked or read just now, or more than one device can hand over): there it reads only what is said from now on.\n",
			len(sh.Left), strings.Join(sh.Left, ", "))
	}
	return nil
}

// notAddedWords is what "device add" says when the person does not confirm
// the safety number. Different numbers mean another device than theirs
// entered the code: a party tells their mediator; a mediator (whose
// account nobody admits devices to) the program's administration. The
// pairing is cancelled on the server (cancelled: the new device stops
// waiting; otherwise it waits until the code runs out).
func notAddedWords(ctx context.Context, c *client.Client, cancelled bool) string {
	tell := "tell your mediator"
	if me, err := c.Me(ctx); err == nil && me.Role == api.RoleMediator {
		tell = "someone else may have entered your code: tell the program's administration (not through Parley), and add no device until they have looked into it"
	}
	if cancelled {
		return "not added. If the numbers differed, " + tell + ". The other device is told it was cancelled"
	}
	return "not added. If the numbers differed, " + tell + ". The other device keeps waiting until its code runs out (10 minutes)"
}

func deviceLink(ctx context.Context, args []string) error {
	fs := newFlags("device link")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "the code shown on your other device"); err != nil {
		return err
	}
	x, d, _, err := thisDevice(ctx, e2ee.KEMXWing)
	if err != nil {
		return err
	}
	p, old, err := x.ClaimPairing(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Printf("Safety number (compare it with the one your other device shows, and confirm there):\n%s\nWaiting…\n",
		e2ee.FormatSafetyNumber(client.PairingSafetyNumber(old, x.Me.Record())))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	n, err := x.CollectPairing(wctx, p.ID, old)
	if err != nil {
		return err
	}
	fmt.Printf("This device (%s) is added to your account and received the keys of %d conversations.\n", d.ID, n)
	return nil
}

func devicePending(ctx context.Context, args []string) error {
	fs := newFlags("device pending")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	_, x, err := e2eeClient()
	if err != nil {
		return err
	}
	pending, err := x.PendingDevices(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if len(pending) == 0 {
		fmt.Println("No new devices are waiting.")
	}
	for acct, devs := range pending {
		for _, d := range devs {
			fmt.Printf("%s  %s  device number %s\n  Call the person and ask them to read you the number their new device shows; admit only if it matches:\n  parley device admit %s %s %s\n",
				acct, d.ID, e2ee.FormatSafetyNumber(client.DeviceNumber(d)), fs.Arg(0), acct, d.ID)
		}
	}
	return nil
}

func deviceAdmit(ctx context.Context, args []string) error {
	fs := newFlags("device admit")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 3, "<case> <account> <device>"); err != nil {
		return err
	}
	_, x, err := e2eeClient()
	if err != nil {
		return err
	}
	if err := x.AdmitDevice(ctx, fs.Arg(0), fs.Arg(1), fs.Arg(2)); err != nil {
		return err
	}
	fmt.Printf("Admitted %s of %s in case %s: it reads what is said from now on (not earlier messages), and every document they may see, earlier ones included.\n", fs.Arg(2), fs.Arg(1), fs.Arg(0))
	return nil
}
