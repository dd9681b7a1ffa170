package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/parley-mediation/parley/agreement"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
)

func init() {
	register("agreement templates", "agreement templates [--json]", agreementTemplates)
	register("agreement start", "agreement start <case> [--template ID] [--partial] [--json]", agreementStart)
	register("agreement save", "agreement save <case> --file PATH|- [--base N] [--json]", agreementSave)
	register("agreement status", "agreement status <case> [--version N] [--text] [--json]", agreementStatus)
	register("agreement sign", "agreement sign <case> --version N --yes [--json]", agreementSign)
	register("agreement file", "agreement file <case> [--sessions N] [--hours H] [--json]", agreementFile)
	register("agreement pdf", "agreement pdf <case> --out FILE", agreementPDF)
	register("agreement verify", "agreement verify FILE [--online] [--json]", agreementVerify)
}

func showAgreement(a api.Agreement, withText bool) {
	fmt.Printf("%s, version %d (saved %s by %s); %s\n", a.Title, a.Current.Version, a.Current.Saved.Local().Format("2 Jan 2006 15:04"),
		a.Current.By, map[string]string{api.AgreementDrafting: "nobody has signed it yet", api.AgreementSigning: "being signed",
			api.AgreementSigned: "signed by everyone"}[a.State])
	fmt.Printf("SHA-256 of its text: %s\n", a.Current.SHA256)
	if withText {
		for _, line := range strings.Split(a.Current.Text, "\n") {
			fmt.Printf("  %s\n", line)
		}
	}
	fmt.Println("Who signs:")
	if len(a.Signers) == 0 {
		fmt.Println("  no party or lawyer has joined yet")
	}
	for _, s := range a.Signers {
		state := "NOT YET"
		if s.Signed != nil {
			state = fmt.Sprintf("signed %s, device %s (key %s)", time.UnixMilli(s.Signed.SignedAt).Local().Format("2 Jan 2006 15:04"),
				s.Signed.Device, s.Signed.Fingerprint)
		}
		fmt.Printf("  %s: %s\n", labelledWords(s.Name, s.Role, s.Side), state)
	}
	if n := len(a.Superseded); n > 0 {
		fmt.Printf("%d signature(s) on earlier versions no longer count.\n", n)
	}
	if a.Filed != "" {
		fmt.Printf("Filed as document %s.\n", a.Filed)
	}
}

func agreementTemplates(ctx context.Context, args []string) error {
	fs := newFlags("agreement templates")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	t, err := c.AgreementTemplates(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(t)
	}
	for _, x := range t.Templates {
		fmt.Printf("%-18s %s\n", x.ID, x.Title)
	}
	return nil
}

func agreementStart(ctx context.Context, args []string) error {
	fs := newFlags("agreement start")
	tmpl := fs.String("template", "", "a template id (parley agreement templates); default: the one for the case's type")
	partial := fs.Bool("partial", false, "the agreement settles part of the dispute (the outcome becomes partial agreement)")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	req := api.AgreementStartRequest{Template: *tmpl, Outcome: api.FullAgreement}
	if *partial {
		req.Outcome = api.PartialAgreement
	}
	a, err := c.StartAgreement(ctx, fs.Arg(0), req)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a)
	}
	showAgreement(a, true)
	fmt.Println("Everyone in the joint room (the parties, their lawyers, observers and the mediators) sees every version.")
	return nil
}

func agreementSave(ctx context.Context, args []string) error {
	fs := newFlags("agreement save")
	file := fs.String("file", "", "the new text (- for standard input)")
	base := fs.Int("base", 0, "the version you edited (default: the current one)")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	if *file == "" {
		return usagef("--file is required (- for standard input)")
	}
	b, err := readInput(*file, agreement.MaxTextLen, "the agreement's text")
	if err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	if *base == 0 {
		cur, err := c.Agreement(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		*base = cur.Current.Version
	}
	// Windows line ends become line feeds (a carriage return is a control
	// character the agreement refuses).
	a, err := c.SaveAgreement(ctx, fs.Arg(0), *base, strings.ReplaceAll(string(b), "\r\n", "\n"))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a)
	}
	showAgreement(a, false)
	fmt.Printf("Saved version %d. Everyone in the joint room sees it; anyone who signed an earlier version signs again.\n", a.Current.Version)
	return nil
}

func agreementStatus(ctx context.Context, args []string) error {
	fs := newFlags("agreement status")
	ver := fs.Int("version", 0, "print this version's text")
	text := fs.Bool("text", false, "print the current version's text")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	if *ver > 0 {
		v, err := c.AgreementVersion(ctx, fs.Arg(0), *ver)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(v)
		}
		fmt.Printf("Version %d, saved %s by %s, SHA-256 %s\n%s", v.Version, v.Saved.Local().Format("2 Jan 2006 15:04"), v.By, v.SHA256, v.Text)
		return nil
	}
	a, err := c.Agreement(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a)
	}
	showAgreement(a, *text)
	return nil
}

func agreementSign(ctx context.Context, args []string) error {
	fs := newFlags("agreement sign")
	ver := fs.Int("version", 0, "the version you read and sign")
	yes := fs.Bool("yes", false, "I have read this version and sign it (without it, the text is printed and nothing is signed)")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	if *ver < 1 {
		return usagef("--version is required: the version you read")
	}
	c, x, err := e2eeClient()
	if errors.Is(err, client.ErrNoDevice) {
		return fmt.Errorf("your signature is made with this device's key, and it has none yet: run `parley keys init` first")
	}
	if err != nil {
		return err
	}
	if !*yes {
		v, err := c.AgreementVersion(ctx, fs.Arg(0), *ver)
		if err != nil {
			return err
		}
		fmt.Print(v.Text)
		fmt.Printf("\nNothing signed. To sign version %d of the agreement, run this again with --yes. Everyone else in the case sees that you signed.\n", *ver)
		return nil
	}
	a, err := x.SignAgreement(ctx, fs.Arg(0), *ver)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a)
	}
	fmt.Printf("You signed version %d of the agreement with device %s. Everyone else in the case sees that you signed.\n", *ver, x.Me.ID)
	showAgreement(a, false)
	return nil
}

func agreementFile(ctx context.Context, args []string) error {
	fs := newFlags("agreement file")
	sessions := fs.Int("sessions", 0, "sessions held (for the outcome, when the case is at closure)")
	hours := fs.Float64("hours", 0, "hours of mediation (for the outcome)")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	out, err := c.FileAgreement(ctx, fs.Arg(0), api.AgreementFileRequest{Sessions: *sessions, Hours: *hours})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out)
	}
	fmt.Printf("The signed agreement is filed as document %s (record class agreement), in the joint room.\n", out.Agreement.Filed)
	if out.Outcome != nil {
		fmt.Printf("The case's outcome is recorded: %s.\n", out.Agreement.Outcome)
		printSurveyLinks(out.Outcome.Surveys)
	} else {
		fmt.Println("The outcome is recorded at closure: move the case to closure and run this again.")
	}
	return nil
}

func agreementPDF(ctx context.Context, args []string) error {
	fs := newFlags("agreement pdf")
	out := fs.String("out", "", "where to write the PDF")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	b, err := c.AgreementPDF(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if err := writeOutput(*out, b); err != nil {
		return err
	}
	fmt.Printf("Wrote %s (%d bytes). Check it with `parley agreement verify %s`.\n", *out, len(b), *out)
	return nil
}

// agreementVerify checks a signed agreement's PDF offline: no server, no
// session. Offline, a signature proves only that the key the file carries
// signed: who that key belongs to is the file's word. With --online it
// also checks, as a person of the case signed in with a device (`parley
// login`, `parley keys init`), that each signing key is its account's own
// registered device in the key directory (the case's devices, verified
// against the log and this device's pins, counting by the account's own
// chain: what the server required of the signature).
func agreementVerify(ctx context.Context, args []string) error {
	fs := newFlags("agreement verify")
	online := fs.Bool("online", false, "also check each signing key against the key directory of the server you are signed in to (as a person of the case)")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a PDF file"); err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(f, agreement.MaxPDF+1))
	f.Close()
	if err != nil {
		return err
	}
	check, err := agreement.Verify(b)
	if err != nil {
		return fmt.Errorf("NOT VERIFIED: %w", err)
	}
	server := ""
	if *online {
		if server, err = checkSigners(ctx, check); err != nil {
			return fmt.Errorf("NOT VERIFIED: %w", err)
		}
	}
	if *asJSON {
		return printJSON(check)
	}
	fmt.Printf("OK: version %d of the agreement for case %s (text SHA-256 %s) carries a valid signature by each key below:\n", check.Version, check.Case, check.SHA256)
	for _, s := range check.Signed {
		fmt.Printf("  account %s, device %s, key %s, signed %s, log entry %d (the file names them %s)\n", s.AccountID, s.Device, s.Fingerprint,
			time.UnixMilli(s.SignedAt).UTC().Format("2006-01-02 15:04 MST"), s.LogIndex, labelledWords(s.Name, s.Role, s.Side))
	}
	if *online {
		fmt.Printf("Each key is its account's own registered device in the key directory of %s.\n", server)
	} else {
		fmt.Println("Who holds each key is checked only against the keys in this file; run again with --online, signed in as a person of the case, to check them against the key directory.")
	}
	return nil
}

// checkSigners checks each signing key against the case's devices in the
// key directory, as this CLI's signed-in device verifies them; it returns
// the server's address.
func checkSigners(ctx context.Context, check api.AgreementCheck) (string, error) {
	c, x, err := e2eeClient()
	if errors.Is(err, client.ErrNoDevice) {
		return "", fmt.Errorf("--online checks keys with this device's verified view of the key directory, and it has no device key: run `parley keys init` first")
	}
	if err != nil {
		return "", err
	}
	dir, _, err := x.CaseDevices(ctx, check.Case)
	if err != nil {
		return "", fmt.Errorf("the case's devices could not be read from the key directory: %w", err)
	}
	for i, s := range check.Signed {
		rec, ok := dir.Record(s.AccountID, s.Device)
		switch {
		case !ok:
			return "", fmt.Errorf("signature %d: device %s is not a registered device of account %s in the key directory", i+1, s.Device, s.AccountID)
		case base64.StdEncoding.EncodeToString(rec.SigPub) != s.DeviceKey:
			return "", fmt.Errorf("signature %d: the key directory holds another key for device %s", i+1, s.Device)
		case !dir.OwnChain(s.AccountID, s.Device):
			return "", fmt.Errorf("signature %d: device %s does not count for account %s by its own chain (it was admitted by a mediator, or never linked)", i+1, s.Device, s.AccountID)
		}
	}
	return c.BaseURL, nil
}
